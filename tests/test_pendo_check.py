"""``pendo check`` (read-only probe) and ``pendo fake-server`` (the newcomer's fake Pendo)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fake_pendo import FakePendo

from pendo_segments.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def ready(fake: FakePendo) -> None:
    fake.add_account("acme", agent={"arr": 1, "plan": "P"})
    fake.add_visitor("u1", "acme")
    fake.add_events([{"visitorId": "u1", "accountId": "acme", "day": "2026-10-31", "numEvents": 1}])
    fake.add_metadata_field("account", "custom", "tier", "string")
    fake.add_metadata_field("account", "custom", "health_score", "number")


def test_check_passes_when_sync_can_run(
    fake_pendo: FakePendo, pendo_env: dict[str, str], tmp_path: Path
) -> None:
    ready(fake_pendo)
    config = Path(pendo_env["PENDO_SEGMENTS_CONFIG"])
    config.write_text("[pendo]\nmax_retries = 0\n")  # default metadata fields
    result = run("pendo", "check", "--day", "2026-10-31", "--format", "json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["ok"] is True
    assert [c["check"] if "check" in c else c["name"] for c in body["checks"]] == [
        "key and region",
        "segments",
        "events",
        "time zone",
        "data mappings",
    ]
    writes = [c for c in fake_pendo.calls() if c.method != "GET" and "aggregation" not in c.path]
    assert writes == []  # read-only
    (agg,) = fake_pendo.calls("POST", "/api/v1/aggregation")
    assert agg.body["request"]["pipeline"][0]["source"]["events"]["appId"] == 'expandAppIds("*")'


def test_check_names_the_fields_to_add_and_exits_1(
    fake_pendo: FakePendo, pendo_env: dict[str, str]
) -> None:
    ready(fake_pendo)
    del fake_pendo.schema["account"]["custom"]["health_score"]
    Path(pendo_env["PENDO_SEGMENTS_CONFIG"]).write_text("[pendo]\nmax_retries = 0\n")
    result = run("pendo", "check", "--day", "2026-10-31", "--format", "csv")
    assert result.exit_code == 1
    assert (
        "data mappings,NO,add these account fields in Pendo under Settings > Data Mappings > "
        "Add Custom Field (group custom): health_score (number)"
    ) in result.stdout


def test_check_with_a_refused_key_says_so(fake_pendo: FakePendo, pendo_env: dict[str, str]) -> None:
    os.environ["PENDO_INTEGRATION_KEY"] = "wrong-key"
    Path(pendo_env["PENDO_SEGMENTS_CONFIG"]).write_text("[pendo]\nmax_retries = 0\n")
    result = run("pendo", "check", "--format", "json")
    assert result.exit_code == 1
    first = json.loads(result.stdout)["checks"][0]
    assert first["ok"] is False and "Pendo refused the integration key at" in first["detail"]
    assert "wrong-key" not in result.output


def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_check_with_no_server_says_pendo_could_not_be_reached(
    fake_pendo: FakePendo, pendo_env: dict[str, str]
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    os.environ["PENDO_BASE_URL"] = url
    Path(pendo_env["PENDO_SEGMENTS_CONFIG"]).write_text("[pendo]\nmax_retries = 0\n")
    result = run("pendo", "check", "--format", "json")
    assert result.exit_code == 1
    checks = json.loads(result.stdout)["checks"]
    assert checks[0] == {
        "name": "key and region",
        "ok": False,
        "detail": f"could not reach Pendo at {url} (connection refused); check [pendo] "
        "base_url / PENDO_BASE_URL, the region and the network",
    }
    assert [c["detail"] for c in checks[1:]] == ["not checked (Pendo could not be reached)"] * 4
    assert "key" not in " ".join(c["detail"] for c in checks[1:])


def test_check_without_events_that_day_fails(
    fake_pendo: FakePendo, pendo_env: dict[str, str]
) -> None:
    ready(fake_pendo)
    Path(pendo_env["PENDO_SEGMENTS_CONFIG"]).write_text("[pendo]\nmax_retries = 0\n")
    result = run("pendo", "check", "--day", "2026-10-20", "--format", "csv")
    assert result.exit_code == 1
    assert 'events,NO,"2026-10-20 (UTC, every app): no events' in result.stdout


def test_fake_server_command_serves_plan_apply_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's keyless try-out: fake-server, then plan -> apply -> plan against it."""
    from handmade import frames

    from pendo_segments.data.loaders import dataset_from_frames, write_dataset

    data = tmp_path / "usage"
    write_dataset(dataset_from_frames(frames()), data)
    code = "from pendo_segments.cli import main; main()"
    server = subprocess.Popen(
        [sys.executable, "-c", code, "pendo", "fake-server", "--port", "0", "--data", str(data)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert first.startswith("Fake Pendo on http://127.0.0.1:"), first
        url = first.split()[3]
        assert server.stdout.readline() == "  " + f"export PENDO_BASE_URL={url}\n".lstrip()
        server.stdout.readline()  # the key
        assert server.stdout.readline() == "  export PENDO_TIMEZONE=UTC\n"
        # The banner names a day with events (the data's last usage day), and the check passes
        # on it (without --day it looks at yesterday, when the bundled data has no traffic).
        check_line = server.stdout.readline().split("#")[0].split()
        last_day = str(max(frames()["usage_daily"]["date"]))[:10]
        assert check_line == ["pendo-segments", "pendo", "check", "--day", last_day]
        for name in ("PENDO_SEGMENTS_CONFIG", "PENDO_REGION", "PENDO_TIMEZONE"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        monkeypatch.setenv("PENDO_BASE_URL", url)
        monkeypatch.setenv("PENDO_INTEGRATION_KEY", "fake-local-key")
        monkeypatch.setenv("PENDO_TIMEZONE", "UTC")
        monkeypatch.chdir(tmp_path)  # the audit log and lock land here
        plan = ["sync", "plan", str(ROOT / "segment_defs"), "--data", str(data)]
        plan += ["--as-of", "2026-11-01"]
        assert run(*plan, "--out", "plan.json").exit_code == 3
        applied = run("sync", "apply", "--plan", "plan.json")
        assert applied.exit_code == 0, applied.output
        again = run(*plan, "--format", "table")
        assert again.exit_code == 0, again.output
        assert again.stdout.endswith("No changes.\n")
        checked = run("pendo", "check", "--day", last_day, "--format", "csv")
        assert checked.exit_code == 0, checked.output
        assert f'events,yes,"{last_day} (UTC, every app): events found"' in checked.stdout
    finally:
        server.terminate()
        server.wait(timeout=10)
