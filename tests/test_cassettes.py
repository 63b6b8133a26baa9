"""Replay the recorded pull → sync plan → sync apply → sync plan session (cassettes/).

``record_mode="none"``: a request that was not recorded fails instead of going
out, so these tests never touch the network. The cassettes were recorded
against tests/fake_pendo.py by scripts/record_cassettes.py (see
cassettes/README.md); its settings are imported so replay cannot drift from
recording. The cassettes pin the wire shapes too: uploads carry plain id strings
and a name, and no request creates a rule segment.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pendo_segments.cli import main
from pendo_segments.data.loaders import load_dataset
from pendo_segments.definitions import load_definitions

ROOT = Path(__file__).resolve().parents[1]


def _recorder() -> Any:
    spec = importlib.util.spec_from_file_location(
        "record_cassettes", ROOT / "scripts" / "record_cassettes.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("record_cassettes", module)
    spec.loader.exec_module(module)
    return module


rec = _recorder()
SESSION = json.loads((rec.SESSION_FILE).read_text())


@pytest.fixture
def replay_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """CLI settings of the recording, a key that was never recorded, the checkout as cwd."""
    config = tmp_path / "pendo-segments.toml"
    config.write_text(rec.CONFIG_TOML.format(audit=(tmp_path / "audit.jsonl").as_posix()))
    monkeypatch.setenv("PENDO_BASE_URL", SESSION["base_url"])
    monkeypatch.setenv("PENDO_INTEGRATION_KEY", "replay-key-not-recorded")
    monkeypatch.setenv("PENDO_SEGMENTS_CONFIG", str(config))
    monkeypatch.chdir(ROOT)
    return tmp_path


def replay(name: str, args: list[str]) -> tuple[Any, Any]:
    with rec.make_vcr("none").use_cassette(f"{name}.yaml") as cassette:
        result = CliRunner().invoke(main, args)
    return result, cassette


def test_the_whole_session_replays_request_for_request(replay_env: Path) -> None:
    data = replay_env / "pulled"
    commands = rec.commands(data)
    commands["sync_plan"][commands["sync_plan"].index("--out") + 1] = str(replay_env / "p.json")

    pulled, cassette = replay("pull", commands["pull"])
    assert pulled.exit_code == 0, pulled.output
    assert cassette.all_played
    ds = load_dataset(data)
    assert (len(ds.accounts), len(ds.visitors), len(ds.features)) == (
        SESSION["source"]["accounts"],
        SESSION["source"]["visitors"],
        SESSION["source"]["features"],
    )
    assert ds.usage_daily["date"].max().date().isoformat() == "2026-10-31"  # before as-of

    planned, cassette = replay("sync_plan", commands["sync_plan"])
    assert planned.exit_code == 3, planned.output
    assert cassette.all_played
    summary = json.loads(planned.stdout)
    if SESSION["recorded_against"] == "fake":  # a fresh subscription: everything is new
        shipped = len(load_definitions(ROOT / "segment_defs"))
        empty = [s for s in summary["segments"] if s["visitors"] == 0]
        assert summary["counts"]["create"] == shipped - len(empty)
        assert all(s["action"] == "unchanged" for s in empty)  # never an empty upload
        assert summary["counts"]["metadata_updates"] == SESSION["source"]["accounts"]

    applied, cassette = replay("sync_apply", commands["sync_apply"])
    assert applied.exit_code == 0, applied.output
    assert cassette.all_played
    report = json.loads(applied.stdout)
    recorded_plan = json.loads(rec.PLAN_FILE.read_text())
    creates = [s["pendo_name"] for s in recorded_plan["segments"] if s["action"] == "create"]
    assert report["ok"] and sorted(report["created"]) == sorted(creates)

    after, cassette = replay("sync_plan_after", commands["sync_plan_after"])
    assert cassette.all_played
    assert {s["action"] for s in json.loads(after.stdout)["segments"]} == {"unchanged"}


def test_a_request_that_was_not_recorded_fails_instead_of_going_out(replay_env: Path) -> None:
    args = ["pull", "--out", str(replay_env / "x"), "--days", "3", "--as-of", "2026-11-01"]
    result, _ = replay("pull", args)
    assert result.exit_code != 0
    assert "CannotOverwriteExistingCassette" in type(result.exception).__name__


def test_recorded_plan_is_valid_and_points_at_the_stable_host() -> None:
    from pendo_segments.sync import load_plan

    plan = load_plan(rec.PLAN_FILE)  # checks its id against its content
    assert plan.base_url == SESSION["base_url"] == rec.STABLE_BASE_URL
    assert plan.as_of == SESSION["as_of"]


def test_cassettes_hold_only_documented_segment_writes() -> None:
    import yaml

    writes = []
    for name in rec.SESSION:
        data = yaml.safe_load((rec.CASSETTES / f"{name}.yaml").read_text())
        for item in data["interactions"]:
            request = item["request"]
            path = request["uri"].split("pendo.test", 1)[-1].split("?")[0]
            if request["method"] != "GET" and path.startswith("/api/v1/segment"):
                writes.append((request["method"], path, json.loads(request["body"])))
    assert writes, "the session wrote no segment"
    for method, path, body in writes:
        assert (method, path) == ("POST", "/api/v1/segment/upload"), (method, path)
        assert isinstance(body["name"], str) and body["name"].startswith("[ps] ")
        assert body["visitors"] and all(isinstance(v, str) for v in body["visitors"])
