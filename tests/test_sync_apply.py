"""``sync apply`` against the strict fake: the plan -> apply -> plan round, 409s, deletes,
stale plans, a create Pendo finished after we gave up, kill -9 and concurrent applies
(real processes), and the apply lock."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fake_pendo import FakePendo
from handmade import frames
from test_sync_plan import EXPECTED, expected_visitors, plan_for

from pendo_segments.data.loaders import dataset_from_frames, write_dataset
from pendo_segments.errors import SyncError
from pendo_segments.pendo.client import PendoClient
from pendo_segments.sync import apply_plan
from pendo_segments.sync.lock import ApplyLock

UPLOAD = "/api/v1/segment/upload"


def apply(w: Any, plan: Any, client: PendoClient | None = None) -> Any:
    return apply_plan(plan, client or w.client, w.settings, audit=w.audit)


def managed(fake: FakePendo) -> dict[str, list[str]]:
    """Pendo name -> sorted members of every managed list (a duplicate name fails)."""
    out: dict[str, list[str]] = {}
    for sid, seg in fake.segments.items():
        if seg["name"].startswith("[ps] "):
            assert seg["name"] not in out, f"duplicate {seg['name']}"
            out[seg["name"]] = sorted(fake.segment_visitors(sid))
    return out


def wanted() -> dict[str, list[str]]:
    return {f"[ps] {n}": expected_visitors(n) for n in EXPECTED if expected_visitors(n)}


def test_plan_apply_plan_holds_exactly_the_evaluated_members(sync_world: Any) -> None:
    w = sync_world
    hand = w.fake.add_segment("Hand made", visitors=["a1v1"], created_by_api=True)
    rule = w.fake.add_segment("CS rule", definition={"filters": []}, pipeline=[])
    before = json.dumps([w.fake.segments[hand], w.fake.segments[rule]], sort_keys=True)
    w.settings = type(w.settings)(
        metadata_fields=("tier", "health_score"), poll_interval=0.0, audit_log=w.audit.path
    )
    plan = plan_for(w)
    assert plan.has_changes and plan.problems == []
    w.fake.conflict_next(1)  # a 409 "Operation in progress" in the middle
    result = apply(w, plan)
    assert result.ok, result.to_dict()
    assert managed(w.fake) == wanted()
    for account in ("A1", "A2", "A3", "A4", "A5"):
        custom = w.fake.accounts[account]["metadata"]["custom"]
        assert {"tier", "health_score"} <= set(custom), account
    assert json.dumps([w.fake.segments[hand], w.fake.segments[rule]], sort_keys=True) == before
    assert w.fake.segment_visitors(hand) == ["a1v1"]
    again = plan_for(w)
    assert not again.has_changes and again.problems == []
    # every write carried plain id strings and a name
    for call in w.fake.calls("POST", UPLOAD):
        assert isinstance(call.body["name"], str) and call.body["visitors"]
        assert all(isinstance(v, str) for v in call.body["visitors"])


def test_patch_put_and_delete_reach_pendo(sync_world: Any) -> None:
    w, fake = sync_world, sync_world.fake
    smb = fake.add_segment("[ps] smb", visitors=["a1v1", "a2v1"], created_by_api=True)
    ent = fake.add_segment("[ps] enterprise", visitors=["x1", "a2v1", "a4v1"], created_by_api=True)
    gone = fake.add_segment("[ps] expansion_ready", visitors=["a1v1"], created_by_api=True)
    plan = plan_for(w, names=["smb", "enterprise", "expansion_ready"], metadata=False)
    assert apply(w, plan).ok
    assert [c.path for c in fake.calls("PATCH")] == [f"/api/v1/segment/{smb}/visitor"]
    (put,) = fake.calls("PUT")
    assert put.body == {"name": "[ps] enterprise", "visitors": ["a3v1", "a5v1"]}
    assert fake.segment_visitors(smb) == ["a1v1", "a1v2"]
    assert fake.segment_visitors(ent) == ["a3v1", "a5v1"]
    assert gone not in fake.segments
    assert not plan_for(
        w, names=["smb", "enterprise", "expansion_ready"], metadata=False
    ).has_changes


def test_stale_plan_is_refused_before_any_write(sync_world: Any) -> None:
    w = sync_world
    plan = plan_for(w, names=["smb"], metadata=False)
    w.fake.add_segment("[ps] smb", visitors=["a2v1"], created_by_api=True)
    w.fake.clear_log()
    with pytest.raises(SyncError, match="segment '\\[ps\\] smb' was created in Pendo since"):
        apply(w, plan)
    writes = [c for c in w.fake.calls() if c.method != "GET" and c.path != "/api/v1/aggregation"]
    assert writes == []


def test_create_that_timed_out_but_finished_is_adopted_not_duplicated(sync_world: Any) -> None:
    w = sync_world
    plan = plan_for(w, names=["smb"], metadata=False)
    impatient = PendoClient(
        w.fake.url, w.fake.key, rate_limit_per_second=None, max_retries=0, timeout=0.3
    )
    w.fake.answer_late("POST", UPLOAD, 0.6)  # Pendo creates it, answers too late
    result = apply(w, plan, impatient)
    assert result.ok, result.to_dict()
    assert len(w.fake.calls("POST", UPLOAD)) == 1
    assert managed(w.fake) == {"[ps] smb": ["a1v1", "a1v2"]}
    adopted = [e for e in w.audit.entries() if e["result"] == "adopted"]
    assert [e["target"] for e in adopted] == ["[ps] smb"]


def test_apply_lock_names_its_holder(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl.lock"
    with ApplyLock(path), pytest.raises(SyncError) as err, ApplyLock(path, wait=0.1):
        pass
    message = str(err.value)
    assert "\n" not in message
    assert f"another sync apply is running (pid {os.getpid()} on {socket.gethostname()} since" in (
        message
    )
    with ApplyLock(path):  # released when the holder left
        pass


# --- real processes ------------------------------------------------------------------------
@pytest.fixture
def cli_world(handmade_pendo: FakePendo, tmp_path: Path) -> dict[str, Any]:
    data = tmp_path / "usage"
    write_dataset(dataset_from_frames(frames()), data)
    config = tmp_path / "pendo-segments.toml"
    config.write_text(
        "[pendo]\nrate_limit_per_second = 0\nmax_retries = 8\ntimeout = 5\n"
        f'[sync]\npoll_interval = 0.05\naudit_log = "{(tmp_path / "audit.jsonl").as_posix()}"\n'
        'metadata_fields = ["plan"]\n',
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "PENDO_INTEGRATION_KEY": handmade_pendo.key,
        "PENDO_BASE_URL": handmade_pendo.url,
        "PENDO_SEGMENTS_CONFIG": str(config),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    env.pop("PENDO_REGION", None)
    plan_file = tmp_path / "plan.json"
    from click.testing import CliRunner

    from pendo_segments.cli import main

    args = ["sync", "plan", str(Path(__file__).parent.parent / "segment_defs"), "--data"]
    args += [str(data), "--as-of", "2026-11-01", "--out", str(plan_file), "--format", "json"]
    first = CliRunner().invoke(main, args, env=env)
    assert first.exit_code == 3, first.output
    return {"env": env, "plan": plan_file, "fake": handmade_pendo, "data": str(data)}


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from pendo_segments.cli import main; main()", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parent.parent,
    )


def popen(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", "from pendo_segments.cli import main; main()", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent.parent,
    )


def test_kill_9_during_apply_then_rerun_finishes_without_duplicates(
    cli_world: dict[str, Any],
) -> None:
    fake = cli_world["fake"]
    fake.upload_polls = 1000  # each list takes build_seconds to build
    fake.build_seconds = 0.3
    proc = popen(cli_world["env"], "sync", "apply", "--plan", str(cli_world["plan"]))
    deadline = time.monotonic() + 60
    while len(fake.calls("POST", UPLOAD)) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    made = len(fake.calls("POST", UPLOAD))
    assert 3 <= made < len(wanted())
    fake.upload_polls = 0
    rerun = cli(cli_world["env"], "sync", "apply", "--plan", str(cli_world["plan"]))
    assert rerun.returncode == 0, rerun.stderr
    assert managed(fake) == wanted()
    assert len(fake.calls("POST", UPLOAD)) == len(wanted())  # none sent twice


def test_two_applies_at_once_write_once(cli_world: dict[str, Any]) -> None:
    fake = cli_world["fake"]
    fake.upload_polls = 1000
    fake.build_seconds = 0.1
    procs = [
        popen(cli_world["env"], "sync", "apply", "--plan", str(cli_world["plan"])) for _ in range(2)
    ]
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    assert managed(fake) == wanted()
    assert len(fake.calls("POST", UPLOAD)) == len(wanted())
    codes = sorted(code for code, _ in results)
    assert codes in ([0, 0], [0, 1])  # the second waited out, or found everything done
    for code, err in results:
        if code == 1:
            assert "another sync apply is running (pid " in err and " on " in err, err
    assert (
        cli(
            cli_world["env"],
            "sync",
            "plan",
            "segment_defs",
            "--data",
            cli_world["data"],
            "--as-of",
            "2026-11-01",
        ).returncode
        == 0
    )
