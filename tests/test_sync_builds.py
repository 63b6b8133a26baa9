"""A list whose build Pendo reports as failed (or with a word we do not know) is not
applied: the re-run does not call it "Already applied", the next plan does not call it
"unchanged", and a whole-list PUT rebuilds it."""

from __future__ import annotations

import dataclasses
from typing import Any

from test_sync_apply import UPLOAD, apply, managed
from test_sync_plan import by_name, plan_for

from pendo_segments.pendo.client import PendoClient

SMB = ["a1v1", "a1v2"]  # tests/handmade.py: the two visitors of the one SMB account


def smb_id(fake: Any) -> str:
    [sid] = [s for s, seg in fake.segments.items() if seg["name"] == "[ps] smb"]
    return sid


def test_a_failed_build_is_not_applied_until_pendo_builds_it(sync_world: Any) -> None:
    w = sync_world
    plan = plan_for(w, names=["smb"], metadata=False)
    w.fake.build_outcome = "failed"
    first = apply(w, plan)
    assert not first.ok
    assert first.failed == [
        f"create segment '[ps] smb': segment {smb_id(w.fake)}: Pendo reports that building "
        "it failed"
    ]
    again = apply(w, plan)  # the members are there, the build is not
    assert again.already == []
    assert not again.ok and again.failed[0].startswith("create segment '[ps] smb': ")
    assert len(w.fake.calls("POST", UPLOAD)) == 1  # never a second list

    replan = by_name(plan_for(w, names=["smb"], metadata=False))["smb"]
    assert (replan.action, replan.method, replan.segment_id) == ("update", "put", smb_id(w.fake))
    assert replan.notes == ["Pendo reports that building it failed: the whole list is sent again"]
    assert replan.detail() == (
        "+0 / -0 visitors (PUT whole list; list of 2); Pendo reports that building it "
        "failed: the whole list is sent again"
    )

    w.fake.build_outcome = "complete"  # Pendo builds the next write
    fixed = apply(w, plan_for(w, names=["smb"], metadata=False))
    assert fixed.ok and fixed.applied == ["update segment '[ps] smb'"]
    # one PUT from the failing re-run above, one now; both the whole list
    puts = w.fake.calls("PUT", f"/api/v1/segment/{smb_id(w.fake)}")
    assert [p.body for p in puts] == [{"name": "[ps] smb", "visitors": SMB}] * 2
    assert managed(w.fake) == {"[ps] smb": SMB}
    assert by_name(plan_for(w, names=["smb"], metadata=False))["smb"].action == "unchanged"


def test_the_rerun_of_the_same_plan_rebuilds_a_failed_create(sync_world: Any) -> None:
    w = sync_world
    plan = plan_for(w, names=["smb"], metadata=False)
    w.fake.build_outcome = "failed"
    assert not apply(w, plan).ok
    w.fake.build_outcome = "complete"
    rerun = apply(w, plan)
    assert rerun.ok and rerun.already == [] and rerun.applied == ["create segment '[ps] smb'"]
    assert len(w.fake.calls("POST", UPLOAD)) == 1
    assert len(w.fake.calls("PUT", f"/api/v1/segment/{smb_id(w.fake)}")) == 1
    rebuilt = [e for e in w.audit.entries() if e["result"] == "rebuilt"]
    assert [(e["target"], e["segment_id"]) for e in rebuilt] == [("[ps] smb", smb_id(w.fake))]
    assert by_name(plan_for(w, names=["smb"], metadata=False))["smb"].action == "unchanged"


class SimClock:
    """Simulated time for the client: ``sleep`` moves ``clock`` on, nothing waits."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_an_unknown_build_status_is_polled_to_the_timeout_then_not_applied(
    sync_world: Any,
) -> None:
    w = sync_world
    sim = SimClock()
    w.client = PendoClient(
        w.fake.url,
        w.fake.key,
        rate_limit_per_second=None,
        max_retries=1,
        timeout=5.0,
        sleep=sim.sleep,
        clock=sim.clock,
    )
    w.settings = dataclasses.replace(w.settings, poll_interval=1.0, upload_timeout=3.0)
    plan = plan_for(w, names=["smb"], metadata=False)
    w.fake.build_outcome = "mystery"  # a status word nobody documented
    w.fake.clear_log()
    first = apply(w, plan)
    sid = smb_id(w.fake)
    # Polled like a build in progress: checks at 0, 1, 2 and 3 s, then the 3 s are up.
    why = (
        "Pendo still answered build status 'mystery' after 3 s (4 status checks), a word "
        "pendo-segments does not know, so it is not counted as built; run the same command "
        "again later"
    )
    assert first.failed == [f"create segment '[ps] smb': segment {sid}: {why}"]
    assert len(w.fake.calls("GET", f"/api/v1/segment/{sid}/status")) == 4
    assert sim.now == 3.0
    again = apply(w, plan)
    assert again.already == [] and not again.ok
    replan = by_name(plan_for(w, names=["smb"], metadata=False))["smb"]
    assert (replan.action, replan.method) == ("update", "put")
    assert replan.notes == [f"{why}: the whole list is sent again"]
