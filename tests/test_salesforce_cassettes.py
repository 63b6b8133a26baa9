"""Replay the recorded check → plan → apply → plan session (cassettes/salesforce_*.yaml).

``record_mode="none"``: a request that was not recorded fails instead of going out.
The cassettes were recorded against the stand-in (tests/salesforce_standin.py,
``python tests/salesforce_standin.py record``), whose settings this test imports, with
the ``Authorization`` header filtered out and the stand-in's address rewritten to
https://sf.test. The apply cassette holds a 503 on the sObject Collections PATCH and
the retry that followed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from salesforce_standin import (
    AUTH_HEADER,
    CASSETTES,
    EXIT_CODES,
    PLAN_FILE,
    SESSION,
    SESSION_ID,
    STABLE_URL,
    commands,
    config_text,
    make_vcr,
    write_data,
)

from pendo_segments.cli import main
from pendo_segments.salesforce.plan import load_plan


@pytest.fixture
def replay_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The recording's folder layout and settings, a session id that was never recorded."""
    write_data(tmp_path / "data")
    config = tmp_path / "pendo-segments.toml"
    config.write_text(config_text(tmp_path / "state.sqlite"))
    monkeypatch.setenv("PENDO_SEGMENTS_CONFIG", str(config))
    monkeypatch.setenv("SALESFORCE_INSTANCE_URL", STABLE_URL)
    monkeypatch.setenv("SALESFORCE_SESSION_ID", "replay-session-not-recorded")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _replay(name: str, args: list[str]):
    with make_vcr("none").use_cassette(f"{name}.yaml") as cassette:
        result = CliRunner().invoke(main, args)
    return result, cassette


def test_the_session_replays_request_for_request(replay_env: Path) -> None:
    calls = commands(PLAN_FILE)
    fresh_plan = replay_env / "plan.json"
    calls["salesforce_plan"][calls["salesforce_plan"].index("--out") + 1] = str(fresh_plan)
    outputs = {}
    for name in SESSION:
        result, cassette = _replay(name, calls[name])
        assert result.exit_code == EXIT_CODES[name], (name, result.output)
        assert cassette.all_played, name
        outputs[name] = result.stdout
    planned = json.loads(outputs["salesforce_plan"])
    recorded = load_plan(PLAN_FILE)  # checks its id against its content
    assert [(u["account_id"], u["values"]) for u in planned["updates"]] == [
        (u.account_id, u.values) for u in recorded.updates
    ]
    assert [u.account_id for u in recorded.updates] == ["A1", "A2", "A4"]
    applied = json.loads(outputs["salesforce_apply"])
    assert applied["ok"] and applied["updated"] == ["A1", "A2", "A4"]
    assert [(t["account_id"], t["alert"]) for t in applied["tasks_created"]] == [
        ("A2", "escalation"),
        ("A3", "escalation"),
        ("A1", "renewal_risk"),
        ("A2", "renewal_risk"),
    ]
    assert json.loads(outputs["salesforce_plan_after"])["changes"] == 0


def test_a_request_that_was_not_recorded_fails(replay_env: Path) -> None:
    config = replay_env / "pendo-segments.toml"  # no tier field: another SOQL query
    config.write_text(config.read_text() + '[salesforce.fields]\ntier = ""\n')
    result, _ = _replay("salesforce_plan_after", commands(PLAN_FILE)["salesforce_plan_after"])
    assert result.exit_code != 0
    assert "CannotOverwriteExistingCassette" in type(result.exception).__name__


def test_the_apply_cassette_shows_the_retry() -> None:
    data = yaml.safe_load((CASSETTES / "salesforce_apply.yaml").read_text())
    patches = [
        i["response"]["status"]["code"]
        for i in data["interactions"]
        if i["request"]["method"] == "PATCH"
    ]
    assert patches == [503, 200]


def test_recordings_hold_no_session_id() -> None:
    files = [CASSETTES / f"{name}.yaml" for name in SESSION] + [PLAN_FILE]
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert SESSION_ID not in text, path
        assert SESSION_ID.split("!")[1] not in text, path
        if path.suffix == ".yaml":
            assert AUTH_HEADER not in text.lower(), f"{path}: the session header was recorded"
            assert "127.0.0.1" not in text, path
