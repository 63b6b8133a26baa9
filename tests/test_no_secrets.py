"""The integration key never lands in a cassette, a plan, an audit log, a log line or output."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_pendo import FakePendo
from handmade import frames

from pendo_segments.cli import main
from pendo_segments.data.loaders import dataset_from_frames, write_dataset

ROOT = Path(__file__).resolve().parents[1]
CASSETTES = ROOT / "cassettes"
RECORDING_KEY = "fake-recording-key-7f3c9a1e5b2d4c6a"  # scripts/record_cassettes.py
HEADER = "x-pendo-integration-key"


def secrets_in(text: str, keys: list[str]) -> list[str]:
    return [k for k in keys if k and k in text]


def test_every_cassette_file_is_free_of_keys() -> None:
    files = sorted(p for p in CASSETTES.rglob("*") if p.is_file())
    assert any(p.suffix == ".yaml" for p in files), "no cassettes recorded"
    keys = [RECORDING_KEY, os.environ.get("PENDO_INTEGRATION_KEY", "")]
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert not secrets_in(text, keys), path
        if path.suffix == ".yaml":  # recordings (the README may name the header)
            assert HEADER not in text.lower(), f"{path}: the key header was recorded"


def test_a_whole_session_leaves_no_key_behind(
    handmade_pendo: FakePendo,
    pendo_env: dict[str, str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    key = pendo_env["PENDO_INTEGRATION_KEY"]
    data, plan_file, pulled = tmp_path / "usage", tmp_path / "plan.json", tmp_path / "pulled"
    write_dataset(dataset_from_frames(frames()), data)
    handmade_pendo.fail_next(1, status=503)  # a retry, so the transport logs a warning
    runner = CliRunner()
    outputs = [
        runner.invoke(
            main, ["pull", "--out", str(pulled), "--days", "31", "--as-of", "2026-11-01"]
        ),
        runner.invoke(
            main,
            [
                "sync",
                "plan",
                "segment_defs",
                "--data",
                str(data),
                "--as-of",
                "2026-11-01",
                "--out",
                str(plan_file),
                "--format",
                "json",
            ],
        ),
        runner.invoke(main, ["sync", "apply", "--plan", str(plan_file)]),
    ]
    assert [r.exit_code for r in outputs] == [0, 3, 0], [r.output for r in outputs]
    assert any("retry" in r.getMessage() for r in caplog.records)
    audit = Path(pendo_env["PENDO_SEGMENTS_CONFIG"]).parent / "audit.jsonl"
    texts = {
        "audit log": audit.read_text(),
        "plan": plan_file.read_text(),
        "log": "\n".join(r.getMessage() for r in caplog.records),
    }
    texts.update({f"output {i}": r.stdout + r.stderr for i, r in enumerate(outputs)})
    texts.update({p.name: p.read_text() for p in pulled.iterdir()})
    for where, text in texts.items():
        assert key not in text, where


def test_a_rejected_key_is_not_echoed(
    handmade_pendo: FakePendo,
    pendo_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    wrong = "wrong-key-0123456789abcdef"
    monkeypatch.setenv("PENDO_INTEGRATION_KEY", wrong)  # the fake echoes it in its 403 body
    result = CliRunner().invoke(main, ["pull", "--out", str(tmp_path / "x")])
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: Pendo API GET /api/v1/metadata/schema/account failed: HTTP 403"
    )
    assert wrong not in result.stdout + result.stderr
