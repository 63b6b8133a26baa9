"""The segment write path against the strict fake: PATCH diffs in bounded batches
("Add/remove small batches of visitors to a segment", Pendo's collection), a re-run
that finishes a PATCH cut short, a managed list made private (the segment list holds
only segments shared with Everyone) and lists that share a ``rootVersionId``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from test_sync_apply import apply, managed
from test_sync_plan import by_name, plan_for

from pendo_segments.config import load_config
from pendo_segments.errors import ConfigError, PendoAPIError, SyncError
from pendo_segments.pendo import api_shapes
from pendo_segments.sync.duplicates import settle
from pendo_segments.sync.settings import load_sync_settings

NAME = "never_used_path_reports"
#: tests/handmade.py: never_used_path_reports holds these six visitors.
WANTED = ["a1v2", "a2v1", "a2v2", "a3v1", "a4v1", "x1"]
#: In Pendo before: a1v1 and a5v1 must go, a3v1, a4v1 and x1 must come.
BEFORE = ["a1v1", "a5v1", "a1v2", "a2v1", "a2v2"]


def patch(add: list[str] | None = None, remove: list[str] | None = None) -> dict[str, Any]:
    ops = [("add", add), ("remove", remove)]
    return {"patch": [{"op": op, "path": "/visitors", "value": ids} for op, ids in ops if ids]}


def planned_patch(w: Any) -> Any:
    sid = w.fake.add_segment(f"[ps] {NAME}", visitors=BEFORE, created_by_api=True)
    plan = plan_for(w, names=[NAME], metadata=False)
    row = by_name(plan)[NAME]
    # 3 adds + 2 removes = 5 ids, the whole list is 6: a PATCH
    assert (row.action, row.method, row.add, row.remove) == (
        "update",
        "patch",
        ["a3v1", "a4v1", "x1"],
        ["a1v1", "a5v1"],
    )
    return sid, plan


def test_batches_split_the_ids_adds_first() -> None:
    assert api_shapes.segment_patch_batches(["a", "b", "c"], ["r", "s"], 2) == [
        (["a", "b"], []),
        (["c"], ["r"]),
        ([], ["s"]),
    ]
    assert api_shapes.segment_patch_batches(["a"], ["r"], 500) == [(["a"], ["r"])]
    with pytest.raises(ValueError, match="a PATCH batch holds 1 to 1000 ids, not 1001"):
        api_shapes.segment_patch_batches(["a"], [], 1001)


def test_a_patch_is_sent_in_batches_each_after_the_last_is_built(sync_world: Any) -> None:
    w = sync_world
    w.settings = dataclasses.replace(w.settings, patch_batch_size=2)
    sid, plan = planned_patch(w)
    w.fake.clear_log()
    result = apply(w, plan)
    assert result.ok, result.to_dict()
    assert [c.body for c in w.fake.calls("PATCH")] == [
        patch(add=["a3v1", "a4v1"]),
        patch(add=["x1"], remove=["a1v1"]),
        patch(remove=["a5v1"]),
    ]
    # each PATCH waited for the build before it (the fake answers 409 during a build):
    # no PATCH was sent twice, and Pendo was asked for the status after each one
    statuses = w.fake.calls("GET", f"/api/v1/segment/{sid}/status")
    assert len(statuses) >= 3
    assert managed(w.fake) == {f"[ps] {NAME}": WANTED}
    (ok,) = [
        e for e in w.audit.entries() if e["action"] == "update_segment" and e["result"] == "ok"
    ]
    assert (ok["method"], ok["requests"]) == ("patch", 3)


def test_the_default_batch_sends_a_small_diff_in_one_patch(sync_world: Any) -> None:
    w = sync_world
    assert w.settings.patch_batch_size == 500
    _, plan = planned_patch(w)
    w.fake.clear_log()
    assert apply(w, plan).ok
    assert [c.body for c in w.fake.calls("PATCH")] == [
        patch(add=["a3v1", "a4v1", "x1"], remove=["a1v1", "a5v1"])
    ]


def test_a_rerun_sends_only_the_batches_a_failed_run_did_not(sync_world: Any) -> None:
    w = sync_world
    w.settings = dataclasses.replace(w.settings, patch_batch_size=2)
    sid, plan = planned_patch(w)
    w.fake.build_outcome = "failed"  # the first batch is taken, then its build fails
    w.fake.clear_log()
    first = apply(w, plan)
    assert first.failed == [
        f"update segment '[ps] {NAME}': segment {sid}: Pendo reports that building it "
        "failed (PATCH 1 of 3, ids 1-2 of 5)"
    ]
    assert sorted(w.fake.segment_visitors(sid)) == sorted([*BEFORE, "a3v1", "a4v1"])

    w.fake.build_outcome = "complete"
    w.fake.clear_log()
    again = apply(w, plan)  # the same plan: neither its before nor its after state
    assert again.ok, again.to_dict()
    assert [c.body for c in w.fake.calls("PATCH")] == [
        patch(add=["x1"], remove=["a1v1"]),
        patch(remove=["a5v1"]),
    ]
    assert managed(w.fake) == {f"[ps] {NAME}": WANTED}
    resumed = [e for e in w.audit.entries() if e.get("resumed") and e["result"] == "ok"]
    assert [e["target"] for e in resumed] == [f"[ps] {NAME}"]


def test_a_list_changed_beyond_the_planned_diff_is_still_stale(sync_world: Any) -> None:
    w = sync_world
    sid, plan = planned_patch(w)
    w.fake._members[sid] = [*BEFORE, "a3v1", "x1", "a4v1"][1:]  # a1v1 gone, x1 in: fine so far
    w.fake._members[sid].remove("a2v1")  # but a2v1 was never to be removed
    w.fake.clear_log()
    with pytest.raises(SyncError, match=r"changed \(members or kind\) in Pendo since the plan"):
        apply(w, plan)
    assert w.fake.calls("PATCH") == []


def test_a_managed_list_made_private_is_named_not_called_deleted(sync_world: Any) -> None:
    w = sync_world
    sid, plan = planned_patch(w)
    w.fake.private.add(sid)  # Visibility set to someone only: gone from the list
    w.fake.clear_log()
    with pytest.raises(SyncError) as err:
        apply(w, plan)
    assert str(err.value) == (
        "the plan is stale, Pendo changed since it was made: segment "
        f"'[ps] {NAME}' (id {sid}) is no longer in Pendo's list of segments shared with "
        "Everyone (GET /api/v1/segment lists only those); set its Visibility to Everyone "
        "in Pendo; run sync plan again and review the new plan"
    )
    assert w.fake.calls("PATCH") == [] and w.fake.calls("POST", "/api/v1/segment/upload") == []
    w.fake.private.discard(sid)
    del w.fake.segments[sid]  # really deleted: said so
    with pytest.raises(SyncError, match=f"segment '\\[ps\\] {NAME}' was deleted in Pendo"):
        apply(w, plan)


def test_lists_sharing_a_root_version_id_are_never_deleted_as_duplicates() -> None:
    found = [
        {"id": "s2", "name": "[ps] smb", "createdByApi": True, "rootVersionId": "r1"},
        {"id": "s1", "name": "[ps] smb", "createdByApi": True, "rootVersionId": "r1"},
    ]

    class NoWrites:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"{name} must not be called")

    with pytest.raises(SyncError) as err:
        settle(found, NoWrites(), NoWrites(), "[ps] smb", lambda *a, **k: None)
    assert str(err.value) == (
        "Pendo lists segments s1, s2 named '[ps] smb' with one rootVersionId: they may be "
        "versions of one segment, so none is deleted as a duplicate; keep one in Pendo, "
        "then run sync plan again"
    )


def test_lists_with_their_own_root_version_ids_are_duplicates_as_before(sync_world: Any) -> None:
    w = sync_world
    first = w.fake.add_segment("[ps] smb", visitors=["a1v1", "a1v2"], created_by_api=True)
    second = w.fake.add_segment("[ps] smb", visitors=["a1v1", "a1v2"], created_by_api=True)
    found = [s for s in w.client.list_segments() if s["name"] == "[ps] smb"]
    assert {s["rootVersionId"] for s in found} == {first, second}  # the fake: its own id
    from pendo_segments.sync.remote import Remote

    logged: list[tuple[Any, ...]] = []
    kept = settle(
        found, w.client, Remote(w.client, w.settings), "[ps] smb", lambda *a, **k: logged.append(a)
    )
    assert kept == first and list(w.fake.segments) == [first]
    assert logged == [("delete_duplicate", "[ps] smb", "ok")]


def test_patch_batch_size_is_read_and_bounded(tmp_path: Path) -> None:
    path = tmp_path / "pendo-segments.toml"
    path.write_text("[sync]\npatch_batch_size = 200\n", encoding="utf-8")
    assert load_sync_settings(load_config(path, env={})).patch_batch_size == 200
    path.write_text("[sync]\npatch_batch_size = 5000\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_sync_settings(load_config(path, env={}))
    assert str(err.value) == (
        f"{path}: [sync].patch_batch_size: must be a whole number from 1 to 1000, got 5000"
    )


def test_a_batch_size_outside_pendos_bound_is_refused_by_the_client(sync_world: Any) -> None:
    with pytest.raises(PendoAPIError, match="a PATCH batch holds 1 to 1000 ids, not 0"):
        sync_world.client.patch_segment_visitors("s1", ["a"], [], batch_size=0)
