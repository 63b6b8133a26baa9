"""``sync apply`` against the fake Pendo: create, no-op, idempotent re-apply, stale plans,
unmanaged segments untouched, failures part-way and the re-run that finishes the job."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest
from fake_pendo import FakePendo

from pendo_segments.errors import PendoAPIError, SyncError
from pendo_segments.pendo.client import PendoClient
from pendo_segments.sync import Plan, SyncSettings, apply_plan, make_plan

UPLOAD = "/api/v1/segment/upload"
CREATE = "/api/v1/segment"
METADATA = "/api/v1/metadata/account/custom/value"


def plan_for(w: Any, **kwargs: Any) -> Plan:
    kwargs.setdefault("as_of", w.as_of)
    return make_plan(w.defs, w.ds, w.client, kwargs.pop("settings", w.settings), **kwargs)


def apply(w: Any, plan: Plan, client: PendoClient | None = None, **kwargs: Any) -> Any:
    return apply_plan(
        plan, client or w.client, kwargs.pop("settings", w.settings), audit=w.audit, **kwargs
    )


def managed(fake: FakePendo) -> dict[str, dict[str, Any]]:
    """Pendo name → segment, asserting no name appears twice (no duplicates)."""
    names = [s["name"] for s in fake.segments.values() if s["name"].startswith("[ps] ")]
    assert len(names) == len(set(names)), names
    return {s["name"]: s for s in fake.segments.values() if s["name"].startswith("[ps] ")}


def writes(fake: FakePendo) -> list[tuple[str, str]]:
    return [
        (c.method, c.path)
        for c in fake.log
        if c.method in ("POST", "PUT") and c.path != "/api/v1/aggregation"
    ]


# -- create, then nothing to do ---------------------------------------------------------------
def test_apply_creates_segments_lists_and_metadata(sync_world: Any) -> None:
    fake = sync_world.fake
    result = apply(sync_world, plan_for(sync_world))
    assert result.ok and len(result.applied) == 18 + 1  # 18 segments, one metadata batch
    segs = managed(fake)
    assert len(segs) == 18
    assert fake.segment_visitors(segs["[ps] contract_anniversary"]["id"]) == ["a1v1", "a1v2"]
    assert fake.segment_visitors(segs["[ps] anniversary"]["id"]) == ["a1v1", "x1"]
    # the reference rows carry the ids of the segments created just before
    rows = [g[0] for g in segs["[ps] at_risk_enterprise"]["definition"]["filters"]]
    assert [r["segmentId"] for r in rows] == [
        segs["[ps] at_risk"]["id"],
        segs["[ps] enterprise"]["id"],
    ]
    plans = {a: r["metadata"]["custom"]["plan"] for a, r in fake.accounts.items()}
    assert plans == {
        "A1": "Starter",
        "A2": "Growth",
        "A3": "Enterprise",
        "A4": "Growth",
        "A5": "Enterprise",
    }


def test_second_plan_has_no_changes(sync_world: Any) -> None:
    apply(sync_world, plan_for(sync_world))
    again = plan_for(sync_world)
    assert again.change_count == 0 and not again.has_changes
    assert {s.action for s in again.segments} == {"unchanged"}


def test_reapplying_the_same_plan_writes_nothing(sync_world: Any) -> None:
    plan = plan_for(sync_world)
    apply(sync_world, plan)
    sync_world.fake.clear_log()
    result = apply(sync_world, plan)
    assert result.ok and result.applied == []
    assert len(result.already) == 18 + 1
    assert writes(sync_world.fake) == []


def test_updates_replace_rules_and_members_in_place(sync_world: Any) -> None:
    fake = sync_world.fake
    rule = {
        "name": "arr",
        "kind": "account",
        "schema": "number",
        "group": "agent",
        "field": "arr",
        "operator": "<=",
        "value": 20000,
    }
    fake.add_segment(
        "[ps] smb", definition={"filters": [[rule]]}, created_by_api=True, segment_id="S1"
    )
    fake.add_segment("[ps] anniversary", visitors=["a2v1"], created_by_api=True, segment_id="L1")
    plan = plan_for(sync_world, names=["smb", "anniversary"], metadata=False)
    assert [s.action for s in plan.segments] == ["update", "update"]
    assert apply(sync_world, plan).ok
    assert fake.segments["S1"]["definition"]["filters"][0][0]["value"] == 15000
    assert fake.segment_visitors("L1") == ["a1v1", "x1"]
    assert ("PUT", "/api/v1/segment/S1") in writes(fake) and len(managed(fake)) == 2


def test_metadata_goes_in_batches(sync_world: Any) -> None:
    settings = SyncSettings(metadata_fields=("plan",), batch_size=2, poll_interval=0.0)
    result = apply(
        sync_world, plan_for(sync_world, segments=False, settings=settings), settings=settings
    )
    assert result.applied == [
        "set account metadata, batch 1 of 3 (2 accounts)",
        "set account metadata, batch 2 of 3 (2 accounts)",
        "set account metadata, batch 3 of 3 (1 accounts)",
    ]
    assert [len(c.body) for c in sync_world.fake.calls("POST", METADATA)] == [2, 2, 1]


# -- what is not ours ---------------------------------------------------------------------------
def test_unmanaged_segments_are_never_touched(sync_world: Any) -> None:
    fake = sync_world.fake
    rule = {
        "name": "arr",
        "kind": "account",
        "schema": "number",
        "group": "agent",
        "field": "arr",
        "operator": "<=",
        "value": 1,
    }
    fake.add_segment("smb", definition={"filters": [[rule]]}, created_by_api=True, segment_id="U1")
    fake.add_segment("anniversary", visitors=["a3v1"], created_by_api=True, segment_id="U2")
    before = copy.deepcopy({k: fake.segments[k] for k in ("U1", "U2")})
    assert apply(sync_world, plan_for(sync_world, metadata=False)).ok
    assert {k: fake.segments[k] for k in ("U1", "U2")} == before
    assert fake.segment_visitors("U2") == ["a3v1"]
    assert not any(path.endswith(("/U1", "/U2")) for _m, path in writes(fake))


# -- stale plans ---------------------------------------------------------------------------------
def test_stale_plan_is_refused_before_any_write(sync_world: Any) -> None:
    fake = sync_world.fake
    plan = plan_for(sync_world)
    fake.add_segment("[ps] smb", visitors=["a1v1"], created_by_api=True)  # someone was faster
    fake.accounts["A3"]["metadata"]["custom"]["plan"] = "Trial"
    fake.clear_log()
    with pytest.raises(SyncError) as err:
        apply(sync_world, plan)
    assert str(err.value) == (
        "the plan is stale, Pendo changed since it was made: segment '[ps] smb' was created "
        "in Pendo since the plan; account 'A3' plan is 'Trial' in Pendo, the plan expected "
        "None; run sync plan again and review the new plan"
    )
    assert writes(fake) == []
    last = sync_world.audit.entries()[-1]
    assert (last["action"], last["result"]) == ("apply", "refused: stale plan")


def test_plan_for_another_subscription_is_refused(sync_world: Any) -> None:
    plan = plan_for(sync_world, metadata=False)
    plan.base_url = "https://app.eu.pendo.io"
    with pytest.raises(
        SyncError, match="the plan was made for https://app.eu.pendo.io, not http://127.0.0.1:"
    ):
        apply(sync_world, plan)


# -- failures part-way, then the re-run -------------------------------------------------------
def test_server_gone_mid_apply_then_rerun_finishes_without_duplicates(sync_world: Any) -> None:
    fake = sync_world.fake
    plan = plan_for(sync_world)

    def kill_at_fifth_step(label: str, done: int, total: int) -> None:
        if done == 4 and label != "done":
            fake.drop_next(1)  # the create (a POST) is cut off and not retried

    first = apply(sync_world, plan, progress=kill_at_fifth_step)
    assert not first.ok
    assert len(first.applied) == 4 and len(first.failed) == 1
    assert first.failed[0].startswith(
        "create segment '[ps] anniversary': Pendo API POST "
        "/api/v1/segment/upload failed: connection closed"
    )
    assert len(first.not_attempted) == 19 - 5
    assert len(managed(fake)) == 4
    second = apply(sync_world, plan)
    assert second.ok and len(second.already) == 4 and len(second.applied) == 19 - 4
    assert len(managed(fake)) == 18
    assert plan_for(sync_world).change_count == 0
    results = [(e["action"], e["result"]) for e in sync_world.audit.entries(plan.plan_id)]
    assert ("apply", "partial") in results and results[-1] == ("apply", "ok")


def test_lost_response_to_a_create_is_not_created_twice(sync_world: Any) -> None:
    fake = sync_world.fake
    plan = plan_for(sync_world, names=["smb"], metadata=False)
    impatient = PendoClient(
        fake.url,
        fake.key,
        rate_limit_per_second=None,
        max_retries=1,
        timeout=0.2,
        sleep=lambda _s: None,
    )

    def slow_create(label: str, done: int, total: int) -> None:
        if done == 0 and label != "done":
            fake.slow_next(1, 0.5)  # Pendo creates the segment, the answer comes too late

    first = apply(sync_world, plan, client=impatient, progress=slow_create)
    assert first.failed == [
        "create segment '[ps] smb': Pendo API POST /api/v1/segment failed: no response within 0.2 s"
    ]
    deadline = time.monotonic() + 5
    while "[ps] smb" not in managed(fake) and time.monotonic() < deadline:
        time.sleep(0.02)
    second = apply(sync_world, plan)
    assert second.ok and second.already == ["create segment '[ps] smb'"]
    assert len(fake.calls("POST", CREATE)) == 1 and len(managed(fake)) == 1


class _DropsStatusPolls(PendoClient):
    """A client whose first wait for an upload dies (the job was killed while polling)."""

    def follow_upload(self, status_url: str, **kwargs: Any) -> dict[str, Any]:
        raise PendoAPIError("connection lost while waiting")


def test_upload_submitted_before_a_crash_is_followed_not_sent_again(sync_world: Any) -> None:
    fake = sync_world.fake
    plan = plan_for(sync_world, names=["anniversary"], metadata=False)
    crashy = _DropsStatusPolls(fake.url, fake.key, rate_limit_per_second=None)
    first = apply(sync_world, plan, client=crashy)
    assert not first.ok
    submitted = [e for e in sync_world.audit.entries(plan.plan_id) if e["result"] == "submitted"]
    assert len(submitted) == 1 and "/upload/status/" in submitted[0]["status_url"]
    second = apply(sync_world, plan)
    assert second.ok and len(fake.calls("POST", UPLOAD)) == 1
    assert fake.segment_visitors(managed(fake)["[ps] anniversary"]["id"]) == ["a1v1", "x1"]
    ok = [
        e
        for e in sync_world.audit.entries(plan.plan_id)
        if e["result"] == "ok" and e["action"] == "create_segment"
    ]
    assert ok[0]["resumed"] is True


def test_accounts_pendo_reports_missing_are_listed(sync_world: Any) -> None:
    plan = plan_for(sync_world, segments=False)
    del sync_world.fake.accounts["A2"]  # deleted in Pendo after the plan
    result = apply(sync_world, plan)
    assert result.ok and result.missing == ["A2"]
    line = next(
        e
        for e in sync_world.audit.entries()
        if e["action"] == "set_metadata" and e["result"] == "incomplete"
    )
    assert line["missing"] == ["A2"]
    assert line["counts"] == {"sent": 5, "updated": 4, "failed": 1, "missing": 1}


def test_audit_lines_have_the_documented_keys(sync_world: Any) -> None:
    plan = plan_for(sync_world, names=["smb"])
    apply(sync_world, plan)
    lines = sync_world.audit.path.read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    assert all({"time", "plan", "action", "target", "counts", "result"} <= set(e) for e in entries)
    assert [(e["action"], e["target"], e["result"]) for e in entries] == [
        ("apply", plan.plan_id, "started"),
        ("create_segment", "[ps] smb", "started"),
        ("create_segment", "[ps] smb", "ok"),
        ("set_metadata", "account/custom", "started"),
        ("set_metadata", "account/custom", "ok"),
        ("apply", plan.plan_id, "ok"),
    ]


def test_a_submitted_upload_that_failed_in_pendo_is_sent_again_next_time(sync_world: Any) -> None:
    fake = sync_world.fake
    plan = plan_for(sync_world, names=["anniversary"], metadata=False)
    apply(
        sync_world, plan, client=_DropsStatusPolls(fake.url, fake.key, rate_limit_per_second=None)
    )
    fake.upload_outcome = "failed"
    second = apply(sync_world, plan)
    assert not second.ok and "failed in Pendo" in second.failed[0]
    fake.upload_outcome = "complete"
    third = apply(sync_world, plan)
    assert third.ok and len(fake.calls("POST", UPLOAD)) == 2 and len(managed(fake)) == 1
    results = [
        e["result"]
        for e in sync_world.audit.entries(plan.plan_id)
        if e["action"] == "create_segment"
    ]
    assert results == [
        "started",
        "submitted",
        "failed",
        "started",
        "abandoned",
        "failed",
        "started",
        "submitted",
        "ok",
    ]
