"""``salesforce apply`` against the local stand-in: exactly the plan, Tasks exactly once.

Plan of the shared world (tests/salesforce_standin.py, worked out in test_salesforce_plan.py):
A1 tier P3 -> Neighborhood; A2 six fields from blank; A4 NPS 8.0 -> cleared. Tasks:
A2 escalation, A3 escalation, A1 renewal_risk, A2 renewal_risk (Jane: A1, A2; Sam: A3).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from salesforce_standin import (
    IDS,
    JANE,
    ROOT,
    SAM,
    StandIn,
    config_text,
    environment,
    plan_args,
    write_data,
)

from pendo_segments.cli import main

ESCALATION = "Pendo: Health below 25 [escalation 2026-11-01]"
RENEWAL = "Pendo: Renewal within 90 days with health below 60 [renewal_risk 2026-11-01]"
TIER_LOCKED = {
    "statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
    "message": "Tier is locked during renewal",
    "fields": ["Pendo_Tier__c"],
}


@pytest.fixture
def world(org: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    return _world(org, tmp_path, monkeypatch)


def _world(
    org: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str = ""
) -> dict[str, Path]:
    config = tmp_path / "pendo-segments.toml"
    config.write_text(config_text(tmp_path / "state.sqlite", extra))
    for key, value in environment(org, config).items():
        monkeypatch.setenv(key, value)
    return {
        "config": config,
        "data": write_data(tmp_path / "data"),
        "plan": tmp_path / "plan.json",
        "state": tmp_path / "state.sqlite",
    }


def _plan(world: dict[str, Path]) -> None:
    result = CliRunner().invoke(
        main, plan_args(world["data"], "--out", str(world["plan"]), "--format", "csv")
    )
    assert result.exit_code == 3, result.output


def _apply(world: dict[str, Path], *extra: str):
    return CliRunner().invoke(main, ["salesforce", "apply", "--plan", str(world["plan"]), *extra])


def _tasks(org: StandIn) -> list[tuple[str, str, str, str | None, str]]:
    return sorted(
        (t["WhatId"], t["Subject"], t["OwnerId"], t.get("ActivityDate"), t["Priority"])
        for t in org.tasks.values()
    )


EXPECTED_TASKS = sorted(
    [
        (IDS["A2"], ESCALATION, JANE, "2026-11-04", "High"),
        (IDS["A3"], ESCALATION, SAM, "2026-11-04", "High"),
        (IDS["A1"], RENEWAL, JANE, "2026-11-04", "High"),
        (IDS["A2"], RENEWAL, JANE, "2026-11-04", "High"),
    ]
)


def test_apply_writes_the_plan_and_a_rerun_writes_nothing(org: StandIn, world) -> None:
    _plan(world)
    result = _apply(world)
    assert result.exit_code == 0, result.output
    assert org.accounts[IDS["A1"]]["Pendo_Tier__c"] == "Neighborhood"
    assert {k: v for k, v in org.accounts[IDS["A2"]].items() if k.startswith("Pendo")} == {
        "Pendo_Health_Score__c": 22.1,
        "Pendo_Tier__c": "P2",
        "Pendo_Last_Login__c": "2026-10-12",
        "Pendo_Feature_Adoption_Rate__c": 0.0,
        "Pendo_Session_Count_30d__c": 3,
        "Pendo_At_Risk__c": True,
    }
    assert org.accounts[IDS["A4"]]["Pendo_NPS_Score__c"] is None
    assert _tasks(org) == EXPECTED_TASKS
    assert [m for m, p in org.log if m == "PATCH"] == ["PATCH"]  # one collection of 3
    assert result.stdout.splitlines()[0] == (
        "Accounts: 3 updated (sObject Collections), 0 already up to date, 0 failed"
    )
    assert result.stdout.splitlines()[-1].startswith("Done: plan ")

    again = _apply(world)
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines()[:2] == [
        "Accounts: 0 updated (sObject Collections), 3 already up to date, 0 failed",
        "Tasks: 0 created, 0 found from an earlier run, 4 already created, 0 failed; "
        "0 cleared alerts closed",
    ]
    assert len(org.tasks) == 4
    replan = CliRunner().invoke(main, plan_args(world["data"], "--format", "json"))
    assert replan.exit_code == 0, replan.output
    assert json.loads(replan.stdout)["changes"] == 0


def test_a_refused_row_is_reported_and_the_rerun_finishes(org: StandIn, world) -> None:
    _plan(world)
    org.row_errors[IDS["A2"][:15]] = TIER_LOCKED
    result = _apply(world)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[:2] == [
        "Accounts: 2 updated (sObject Collections), 0 already up to date, 1 failed",
        f"  failed: A2 {IDS['A2']}: FIELD_CUSTOM_VALIDATION_EXCEPTION: Tier is locked during "
        "renewal (Pendo_Tier__c)",
    ]
    assert result.stderr.splitlines() == [
        "Error: apply finished with 1 Account and 0 Tasks failed (listed above); fix them and "
        "run the same command again (nothing is written twice)"
    ]
    assert org.accounts[IDS["A1"]]["Pendo_Tier__c"] == "Neighborhood"
    assert "Pendo_Tier__c" not in org.accounts[IDS["A2"]]
    del org.row_errors[IDS["A2"][:15]]
    again = _apply(world)
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines()[0] == (
        "Accounts: 1 updated (sObject Collections), 2 already up to date, 0 failed"
    )
    assert org.accounts[IDS["A2"]]["Pendo_Tier__c"] == "P2"
    assert _tasks(org) == EXPECTED_TASKS


def test_a_plan_is_refused_when_salesforce_changed_since(org: StandIn, world) -> None:
    _plan(world)
    org.accounts[IDS["A1"]]["Pendo_Tier__c"] = "P1"  # a person edited the Account
    result = _apply(world)
    assert result.exit_code == 1
    plan_id = json.loads(world["plan"].read_text())["plan_id"]
    assert result.stderr.splitlines() == [
        f"Error: plan {plan_id} is stale: 1 Account changed in Salesforce since it was made "
        f"(A1 ({IDS['A1']}) Pendo_Tier__c: planned from 'P3', now 'P1'); nothing was "
        "written: run salesforce plan again"
    ]
    assert [m for m, _ in org.log if m != "GET"] == []
    assert org.tasks == {}


def test_an_edited_plan_is_refused(org: StandIn, world) -> None:
    _plan(world)
    raw = json.loads(world["plan"].read_text())
    raw["updates"][0]["values"]["Pendo_Tier__c"] = "P1"
    world["plan"].write_text(json.dumps(raw))
    result = _apply(world)
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {world['plan']}: the plan was edited after it was made (its id does not "
        "match its content); run salesforce plan again\n"
    )


def test_bulk_api_above_the_threshold(org: StandIn, tmp_path: Path, monkeypatch) -> None:
    world = _world(org, tmp_path, monkeypatch, "bulk_threshold = 2")
    _plan(world)
    assert json.loads(world["plan"].read_text())["write_with"] == "bulk"
    org.row_errors[IDS["A2"][:15]] = TIER_LOCKED
    result = _apply(world, "--format", "json")
    assert result.exit_code == 1
    (job,) = org.jobs.values()
    # Only changed cells are filled: empty leaves a field alone, #N/A clears it.
    assert job.data == (
        "Id,Pendo_Health_Score__c,Pendo_Tier__c,Pendo_Last_Login__c,"
        "Pendo_Feature_Adoption_Rate__c,Pendo_Session_Count_30d__c,Pendo_NPS_Score__c,"
        "Pendo_At_Risk__c\n"
        f"{IDS['A1']},,Neighborhood,,,,,\n"
        f"{IDS['A2']},22.1,P2,2026-10-12,0.0,3,,true\n"
        f"{IDS['A4']},,,,,,#N/A,\n"
    )
    report = json.loads(result.stdout)
    assert report["updated"] == ["A1", "A4"]
    assert report["failed"] == [
        {
            "account_id": "A2",
            "record_id": IDS["A2"],
            "error": "FIELD_CUSTOM_VALIDATION_EXCEPTION:Tier is locked during renewal:Pendo_Tier__c",
        }
    ]
    assert org.accounts[IDS["A4"]]["Pendo_NPS_Score__c"] is None
    assert org.accounts[IDS["A1"]]["Pendo_Tier__c"] == "Neighborhood"
    assert not any(m == "PATCH" and "composite" in p for m, p in org.log)


def test_a_refused_task_is_retried_by_the_next_apply(org: StandIn, world) -> None:
    _plan(world)
    org.users[SAM + "AAA"]["IsActive"] = False
    result = _apply(world)
    assert result.exit_code == 1
    assert (
        "  failed: A3 escalation: HTTP 400: INVALID_CROSS_REFERENCE_KEY: Assigned To ID: "
        "owner cannot be blank"
    ) in result.stdout.splitlines()
    assert len(org.tasks) == 3
    org.users[SAM + "AAA"]["IsActive"] = True
    again = _apply(world)
    assert again.exit_code == 0, again.output
    assert _tasks(org) == EXPECTED_TASKS


def test_a_lost_answer_finds_the_task_instead_of_creating_it_again(org: StandIn, world) -> None:
    """The first Task POST creates the Task but answers 503 (it is never repeated blindly):
    apply looks it up by Account and Subject and records it."""
    _plan(world)
    org.lose_task_answers = 1
    result = _apply(world)
    assert result.exit_code == 0, result.output
    assert _tasks(org) == EXPECTED_TASKS
    assert sum(1 for m, p in org.log if m == "POST" and "Task" in p) == 4
    assert "Tasks: 4 created, 0 found from an earlier run" in result.stdout


@pytest.mark.parametrize("gate", ["after", "before"], ids=["created-then-killed", "killed-first"])
def test_kill_9_mid_request_never_makes_two_tasks(org: StandIn, world, gate: str) -> None:
    """kill -9 while the first Task POST is in flight (Salesforce created it, or not yet);
    the next apply of the same plan ends with exactly one Task per alert."""
    _plan(world)
    org.task_gate = gate
    env = {**os.environ, **environment(org, world["config"])}
    code = "import sys; from pendo_segments.cli import main; main(sys.argv[1:])"
    args = ["salesforce", "apply", "--plan", str(world["plan"])]
    child = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:  # bounded wait for the POST; stop early if the child died on its own
        for _ in range(450):
            if org.task_arrived.wait(0.2) or child.poll() is not None:
                break
        assert org.task_arrived.is_set(), child.stderr.read() if child.poll() is not None else ""
        os.kill(child.pid, signal.SIGKILL)
        child.wait(60)
    finally:
        if child.poll() is None:
            child.kill()
        child.stderr.close()
    org.task_gate = None
    org.task_release.set()
    with sqlite3.connect(world["state"]) as db:
        claimed = db.execute("SELECT account_id, alert, state FROM tasks").fetchall()
    assert claimed == [("A2", "escalation", "claimed")]  # claimed before it was sent
    assert len(org.tasks) == (1 if gate == "after" else 0)
    result = _apply(world)
    assert result.exit_code == 0, result.output
    assert _tasks(org) == EXPECTED_TASKS
    found = "1 found from an earlier run" if gate == "after" else "0 found from an earlier run"
    assert found in result.stdout


def test_two_applies_at_once(org: StandIn, world) -> None:
    from pendo_segments.salesforce.state import apply_lock

    _plan(world)
    with apply_lock(world["state"]):
        result = _apply(world)
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"Error: {world['state']}.lock: another salesforce apply is running (pid {os.getpid()} on "
    )
    assert result.stderr.endswith("); nothing was done\n")
    assert [m for m, _ in org.log if m != "GET"] == []


def test_a_cleared_alert_gets_a_new_task_when_it_fires_again(org: StandIn, world) -> None:
    """A5 had an escalation Task; it no longer fires, so apply closes the episode; when
    it fires again, the plan asks for a new Task (library level: the data cannot flip)."""
    from pendo_segments.config import load_config
    from pendo_segments.data.loaders import load_dataset
    from pendo_segments.salesforce import load_salesforce_settings
    from pendo_segments.salesforce.apply import apply_plan
    from pendo_segments.salesforce.org import connect
    from pendo_segments.salesforce.plan import make_plan
    from pendo_segments.salesforce.state import open_state
    from pendo_segments.salesforce.values import HighAlert, desired_values

    with open_state(world["state"]) as state:
        row, fresh = state.claim(
            account_id="A5",
            alert="escalation",
            record_id=IDS["A5"],
            subject="Pendo: Health below 25 [escalation 2026-10-01]",
            fired_on="2026-10-01",
            plan_id="old",
        )
        state.mark_created(row.id, "00T5e00000OLD01AAA")
    settings = load_salesforce_settings(load_config())
    org_client = connect(settings)
    desired = desired_values(
        load_dataset(world["data"]),
        ROOT / "segment_defs",
        keys=list(settings.fields),
        as_of=dt.date(2026, 11, 1),
    )
    plan = make_plan(org_client, desired, settings)
    assert plan.cleared == [{"account_id": "A5", "alert": "escalation"}]
    result = apply_plan(plan, org_client, settings)
    assert result.ok and result.cleared == 1
    with open_state(world["state"], read_only=True) as state:
        assert ("A5", "escalation") not in state.open_rows()
    desired.alerts.append(
        HighAlert("A5", "escalation", "Health below 25", "Escalate", "", 20.0, "P2")
    )
    again = make_plan(org_client, desired, settings)
    assert [(t.account_id, t.alert, t.resume, t.owner_id) for t in again.tasks] == [
        ("A5", "escalation", False, SAM)
    ]
    assert again.cleared == []
    apply_plan(again, org_client, settings)
    assert sum(1 for t in org.tasks.values() if t["WhatId"] == IDS["A5"]) == 1


def test_claims_are_unique_per_open_episode(tmp_path: Path) -> None:
    from pendo_segments.salesforce.state import open_state

    args = dict(account_id="A1", alert="x", record_id="001", subject="s", fired_on="d", plan_id="p")
    with open_state(tmp_path / "s.sqlite") as state:
        first, fresh = state.claim(**args)
        second, again = state.claim(**args)
        assert fresh and not again and first.id == second.id
        assert state.clear("A1", "x", "2026-11-02")
        third, new = state.claim(**args)
        assert new and third.id != first.id
    assert (tmp_path / "s.sqlite").stat().st_mode & 0o777 == 0o600
