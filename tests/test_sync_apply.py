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
from types import SimpleNamespace
from typing import Any

import pytest
from fake_pendo import FakePendo
from handmade import frames
from test_sync_plan import EXPECTED, by_name, expected_visitors, plan_for

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
    assert (
        f"another sync apply is running for this Pendo subscription (pid {os.getpid()} on "
        f"{socket.gethostname()} since"
    ) in message
    with ApplyLock(path):  # released when the holder left
        pass


def test_an_unusable_state_folder_is_one_line_and_nothing_is_written(
    sync_world: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("PENDO_SEGMENTS_STATE_DIR", str(blocker / "state"))
    plan = plan_for(sync_world, names=["smb"], metadata=False)
    with pytest.raises(SyncError) as err:
        apply(sync_world, plan)
    message = str(err.value)
    assert message.startswith(f"{blocker / 'state'}/sync-apply-") and "\n" not in message
    assert message.endswith(
        ".lock: cannot take the sync apply lock (Not a directory); nothing was written: set "
        "PENDO_SEGMENTS_STATE_DIR or XDG_STATE_HOME to a writable folder"
    )
    assert sync_world.fake.calls("POST", UPLOAD) == []


def test_the_state_folder_follows_xdg() -> None:
    from pendo_segments.sync.lock import state_dir

    assert state_dir({"XDG_STATE_HOME": "/srv/state"}) == Path("/srv/state/pendo-segments")
    home = Path.home() / ".local" / "state" / "pendo-segments"
    assert state_dir({"XDG_STATE_HOME": "relative/state"}) == home  # the spec: ignored
    assert state_dir({}) == home
    assert state_dir({"PENDO_SEGMENTS_STATE_DIR": "/tmp/x", "XDG_STATE_HOME": "/srv"}) == Path(
        "/tmp/x"
    )


def test_the_lock_names_the_subscription_not_the_key() -> None:
    def sid(url: str, key: str) -> str:
        return PendoClient(url, key).subscription_id()

    key = "1c4c5a2e-0000-4000-8000-00000000abcd.eu"
    assert sid("https://app.eu.pendo.io/", key) == sid("https://app.eu.pendo.io", key)
    assert sid("https://app.eu.pendo.io", key) != sid("https://app.pendo.io", key)
    assert sid("https://app.eu.pendo.io", key) != sid("https://app.eu.pendo.io", key + "x")
    assert key not in sid("https://app.eu.pendo.io", key)


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
        "PENDO_TIMEZONE": "UTC",  # the fake's zone (live work needs it set)
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


def cli(env: dict[str, str], *args: str) -> SimpleNamespace:
    """A run after the processes' race, in-process (CliRunner, from the project folder as
    conftest.py sets it): its ``returncode``, ``stdout`` and ``stderr``."""
    from click.testing import CliRunner

    from pendo_segments.cli import main

    result = CliRunner().invoke(main, list(args), env={**env, "PENDO_REGION": None})
    return SimpleNamespace(returncode=result.exit_code, stdout=result.stdout, stderr=result.stderr)


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
            assert "another sync apply is running for this Pendo subscription (pid " in err, err
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


# --- two runs that do not share a lock: one list per name all the same -------------------
class Racing(PendoClient):
    """A client whose upload races another run's upload of the same name: the other list
    is made just before ours (a lower id) or just after (a higher one)."""

    def __init__(self, fake: FakePendo, *, theirs_first: bool) -> None:
        super().__init__(
            fake.url, fake.key, rate_limit_per_second=None, max_retries=1, sleep=lambda s: None
        )
        self.fake, self.theirs_first = fake, theirs_first
        self.ours, self.theirs = "", ""

    def upload_visitor_segment(self, name: str, visitor_ids: list[str], **kw: Any) -> Any:
        if self.theirs_first:
            self.theirs = self.fake.add_segment(name, visitors=visitor_ids, created_by_api=True)
        answer = super().upload_visitor_segment(name, visitor_ids, **kw)
        self.ours = answer["segmentId"]
        if not self.theirs_first:
            self.theirs = self.fake.add_segment(name, visitors=visitor_ids, created_by_api=True)
        return answer


@pytest.mark.parametrize("theirs_first", [True, False])
def test_a_duplicate_made_by_another_run_is_deleted_keeping_the_lowest_id(
    sync_world: Any, theirs_first: bool
) -> None:
    w = sync_world
    plan = plan_for(w, names=["smb"], metadata=False)
    client = Racing(w.fake, theirs_first=theirs_first)
    result = apply(w, plan, client)
    assert result.ok, result.to_dict()
    # the fake numbers its ids in order: the one made first is the lowest
    ours, theirs = client.ours, client.theirs
    keep, extra = (theirs, ours) if theirs_first else (ours, theirs)
    assert list(w.fake.segments) == [keep]
    assert managed(w.fake) == {"[ps] smb": ["a1v1", "a1v2"]}
    assert result.created == {"[ps] smb": keep}
    deleted = [e for e in w.audit.entries() if e["action"] == "delete_duplicate"]
    assert [(e["target"], e["segment_id"], e["kept"], e["result"]) for e in deleted] == [
        ("[ps] smb", extra, keep, "ok")
    ]
    assert by_name(plan_for(w, names=["smb"], metadata=False))["smb"].action == "unchanged"


def relative_audit_world(cli_world: dict[str, Any], tmp_path: Path) -> list[Path]:
    """The config of cli_world with the default, relative audit log; two working folders."""
    config = Path(cli_world["env"]["PENDO_SEGMENTS_CONFIG"])
    text = config.read_text(encoding="utf-8")
    config.write_text(
        "\n".join(line for line in text.splitlines() if not line.startswith("audit_log")) + "\n",
        encoding="utf-8",
    )
    folders = [tmp_path / "ops-a", tmp_path / "ops-b"]
    for folder in folders:
        folder.mkdir()
    return folders


def popen_in(env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", "from pendo_segments.cli import main; main()", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )


def audit_lines(folder: Path) -> list[dict[str, Any]]:
    path = folder / "pendo-sync-audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_two_applies_from_two_folders_write_once(cli_world: dict[str, Any], tmp_path: Path) -> None:
    """The lock used to be ``<audit_log>.lock`` relative to the working folder: two folders,
    two locks, every segment twice. It is per subscription now."""
    fake = cli_world["fake"]
    fake.upload_polls = 1000
    fake.build_seconds = 0.1
    folders = relative_audit_world(cli_world, tmp_path)
    args = ("sync", "apply", "--plan", str(cli_world["plan"]))
    procs = [popen_in(cli_world["env"], folder, *args) for folder in folders]
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    assert managed(fake) == wanted()
    assert len(fake.calls("POST", UPLOAD)) == len(wanted())
    assert sorted(code for code, _ in results) in ([0, 0], [0, 1])
    for code, err in results:
        if code == 1:
            assert err.startswith("Error: ") and err.count("\n") == 1, err
            assert "another sync apply is running for this Pendo subscription (pid " in err
    state = Path(cli_world["env"]["PENDO_SEGMENTS_STATE_DIR"])
    [lock] = state.glob("sync-apply-*.lock")
    assert fake.key not in lock.name and fake.key not in lock.read_text(encoding="utf-8")
    assert all(not (f / "pendo-sync-audit.jsonl.lock").exists() for f in folders)


def test_two_applies_without_a_common_lock_leave_one_list_per_name(
    cli_world: dict[str, Any], tmp_path: Path
) -> None:
    """Two machines (two state folders, so two locks) racing through one plan: every
    duplicate is found after the create and deleted, the lowest id kept."""
    fake = cli_world["fake"]
    fake.upload_polls = 1000
    fake.build_seconds = 0.1
    folders = relative_audit_world(cli_world, tmp_path)
    args = ("sync", "apply", "--plan", str(cli_world["plan"]))
    procs = [
        popen_in(
            {**cli_world["env"], "PENDO_SEGMENTS_STATE_DIR": str(folder / "state")}, folder, *args
        )
        for folder in folders
    ]
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    assert managed(fake) == wanted()  # one list per name, with the planned members
    for code, err in results:
        assert code in (0, 1), err
        assert "Traceback" not in err
    assert 0 in [code for code, _ in results]
    uploads = len(fake.calls("POST", UPLOAD))
    deleted = [
        e
        for folder in folders
        for e in audit_lines(folder)
        if e["action"] == "delete_duplicate" and e["result"] == "ok"
    ]
    assert len(deleted) == uploads - len(wanted())
    for entry in deleted:  # the lowest id of its name survived
        kept = entry["kept"]
        assert kept in fake.segments and (len(kept), kept) < (
            len(entry["segment_id"]),
            entry["segment_id"],
        )
    again = cli(
        cli_world["env"],
        "sync",
        "plan",
        "segment_defs",
        "--data",
        cli_world["data"],
        "--as-of",
        "2026-11-01",
    )
    assert again.returncode == 0, again.stdout + again.stderr
