"""``salesforce check``: one line per finding, read-only, exit 0 only when apply can run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from salesforce_standin import SAM, StandIn, config_text, environment

from pendo_segments.cli import main


@pytest.fixture
def org(org: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StandIn:
    """conftest's stand-in, with a config file and the login in the environment."""
    config = tmp_path / "pendo-segments.toml"
    config.write_text(config_text(tmp_path / "state.sqlite"))
    for key, value in environment(org, config).items():
        monkeypatch.setenv(key, value)
    return org


def _check(*args: str):
    return CliRunner().invoke(main, ["salesforce", "check", "--format", "csv", *args])


def test_a_ready_org(org: StandIn, tmp_path: Path) -> None:
    result = _check()
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "check,ok,detail",
        f"login,yes,{org.url} (session id for {org.url})",
        'field health_score,yes,"Pendo_Health_Score__c (double, editable)"',
        'field tier,yes,"Pendo_Tier__c (picklist, editable)"',
        'field last_login,yes,"Pendo_Last_Login__c (date, editable)"',
        'field feature_adoption,yes,"Pendo_Feature_Adoption_Rate__c (percent, editable)"',
        'field sessions_30d,yes,"Pendo_Session_Count_30d__c (double, editable)"',
        'field nps,yes,"Pendo_NPS_Score__c (double, editable)"',
        'field at_risk,yes,"Pendo_At_Risk__c (boolean, editable)"',
        'Task,yes,"Tasks can be created (Subject, WhatId, OwnerId, Description, Priority, '
        'ActivityDate)"',
        "owners,yes,2 active users",
        f"state file,yes,{tmp_path / 'state.sqlite'} (created by the first apply)",
    ]
    assert {m for m, _ in org.log} == {"GET"}  # read-only


def test_every_problem_says_what_to_do(org: StandIn) -> None:
    del org.fields["Pendo_NPS_Score__c"]
    org.read_only_fields.add("Pendo_Tier__c")
    org.fields["Pendo_At_Risk__c"]["type"] = "string"
    org.task_createable = False
    org.users[SAM + "AAA"]["IsActive"] = False
    result = _check("--format", "json")
    assert result.exit_code == 1
    checks = {c["name"]: (c["ok"], c["detail"]) for c in json.loads(result.stdout)["checks"]}
    assert checks["field nps"] == (
        False,
        "Account has no field Pendo_NPS_Score__c: create it as Number(3, 1), or set nps under "
        "[salesforce.fields] to its API name",
    )
    assert checks["field tier"] == (
        False,
        "Pendo_Tier__c exists but this user cannot edit it: give the integration user edit "
        "access (field-level security), or it is a formula field",
    )
    assert checks["field at_risk"] == (
        False,
        "Pendo_At_Risk__c is a string field, which cannot hold this value: make it Checkbox",
    )
    assert checks["Task"] == (False, "this user cannot create Tasks (profile: Edit Tasks)")
    assert checks["owners"] == (False, f"cannot own Tasks: Sam Ortiz ({SAM}: inactive)")
    assert checks["field health_score"][0] and checks["login"][0]


def test_a_refused_session_skips_the_rest(org: StandIn) -> None:
    org.expire_session()
    result = _check()
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[1].startswith('login,NO,"Salesforce describe of Account: the session was refused')
    assert lines[2:] == [
        f"{name},NO,not checked (no login)"
        for name in [
            "field health_score",
            "field tier",
            "field last_login",
            "field feature_adoption",
            "field sessions_30d",
            "field nps",
            "field at_risk",
            "Task",
            "owners",
            "state file",
        ]
    ]
