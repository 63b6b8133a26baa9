"""The state file and its lock on their own: claims, recovery, keys, versions."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pendo_segments.campaign.state import StateLock, open_state
from pendo_segments.errors import CampaignError

DAY = dt.date(2026, 11, 1)


def item(visitor: str, lapse: str = "2026-09-15") -> dict:
    return {
        "visitor_id": visitor,
        "lapse_day": dt.date.fromisoformat(lapse),
        "account_id": "A1",
        "email": f"{visitor}@x.example",
        "locale": "en",
        "tier": None,
        "days_since_last_visit": 47,
        "segment": "no_login_30d",
        "message_id": f"<{visitor}.{lapse}@x.example>",
        "subject": "s",
        "body_text": "t",
        "body_html": "<p>t</p>",
        "guide_id": "welcome_back",
        "guide_locale": "en",
        "guide_title": "Welcome back",
    }


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state.sqlite"


def test_one_row_per_visitor_and_lapse(path: Path) -> None:
    state = open_state(path, "no_login")
    run = state.start_run(DAY)
    assert state.enqueue([item("v1"), item("v2")], run) == 2
    assert state.enqueue([item("v1"), item("v1", "2026-10-20")], run) == 1  # new lapse only
    assert sorted((r.visitor_id, r.lapse_day.isoformat()) for r in state.outbox_rows()) == [
        ("v1", "2026-09-15"),
        ("v1", "2026-10-20"),
        ("v2", "2026-09-15"),
    ]


def test_only_one_of_two_writers_wins_a_claim(path: Path) -> None:
    """The second line of defence when the lock does not work (e.g. NFS)."""
    a, b = open_state(path, "no_login"), open_state(path, "no_login")
    run = a.start_run(DAY)
    a.enqueue([item("v1")], run)
    row_id = a.outbox_rows()[0].id
    assert a.claim(row_id, run, DAY) is True
    assert b.claim(row_id, run, DAY) is False


def test_recovery_turns_sending_into_unconfirmed_contacts(path: Path) -> None:
    state = open_state(path, "no_login")
    run = state.start_run(DAY)
    state.enqueue([item("v1"), item("v2")], run)
    v1 = state.outbox_rows()[0]
    state.claim(v1.id, run, DAY)
    state.close()  # the process "dies" here: run still 'running', v1 still 'sending'

    state = open_state(path, "no_login")
    recovered = state.recover()
    assert [r.visitor_id for r in recovered] == ["v1"]
    assert {r.visitor_id: r.state for r in state.outbox_rows()} == {
        "v1": "unconfirmed",
        "v2": "pending",
    }
    assert state.last_contact_days() == {"v1": DAY}  # the cooldown applies
    status = state.conn.execute("SELECT status FROM runs WHERE id = ?", (run,)).fetchone()[0]
    assert status == "crashed"
    assert state.claim(v1.id, run, DAY) is False  # never claimable again
    assert state.recover() == []


def test_failures_count_attempts_then_give_up(path: Path) -> None:
    state = open_state(path, "no_login")
    run = state.start_run(DAY)
    state.enqueue([item("v1")], run)
    row = state.outbox_rows()[0]
    assert state.mark_failed(row, "refused", 2, claimed=False) == "failed"
    assert state.claim(row.id, run, DAY)
    assert state.mark_failed(row, "451", 2, claimed=True) == "gave_up"
    assert state.outbox_rows()[0].attempts == 2


def test_dry_runs_never_create_or_change_the_file(path: Path) -> None:
    state = open_state(path, "no_login", read_only=True)
    assert state.outbox_rows() == []
    state.close()
    assert not path.exists()
    open_state(path, "no_login").close()
    ro = open_state(path, "no_login", read_only=True)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        ro.start_run(DAY)


def test_a_newer_schema_or_a_foreign_file_is_refused(path: Path, tmp_path: Path) -> None:
    state = open_state(path, "no_login")
    state.set_meta("schema_version", "2")
    state.close()
    with pytest.raises(
        CampaignError,
        match=r"state schema version 2 is newer than this "
        r"pendo-segments understands \(1\); upgrade it",
    ):
        open_state(path, "no_login")
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(CampaignError, match="not a pendo-segments campaign state file"):
        open_state(other, "no_login", read_only=True)


def test_the_lock_excludes_a_second_run_and_dies_with_its_process(path: Path) -> None:
    with StateLock(path), pytest.raises(CampaignError) as err, StateLock(path):
        pass  # pragma: no cover
    assert str(err.value).startswith(f"{path}.lock: another campaign run is in progress (pid ")
    assert str(err.value).endswith("); nothing was done")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
        import sys, time
        from pendo_segments.campaign.state import StateLock
        with StateLock({str(path)!r}):
            print("locked", flush=True)
            time.sleep(60)
    """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"  # type: ignore[union-attr]
        with pytest.raises(CampaignError):
            StateLock(path).__enter__()
        holder.kill()  # like kill -9: no cleanup code runs
        holder.wait(10)
        with StateLock(path, wait=5):
            pass
    finally:
        holder.kill()


def test_a_state_path_under_a_file_is_one_line_naming_it(tmp_path: Path) -> None:
    """``--state afile/x.sqlite``: the parent is a file, not a folder (was FileExistsError)."""
    (tmp_path / "afile").write_text("not a folder\n", encoding="utf-8")
    path = tmp_path / "afile" / "x.sqlite"
    with pytest.raises(CampaignError) as lock_err, StateLock(path):
        pass  # pragma: no cover
    assert str(lock_err.value) == (
        f"{path}.lock: cannot create the campaign lock: {tmp_path / 'afile'} is not a folder"
    )
    with pytest.raises(CampaignError) as open_err:
        open_state(path, "no_login")
    assert str(open_err.value) == (
        f"{path}: cannot create the campaign state: {tmp_path / 'afile'} is not a folder"
    )
    assert (tmp_path / "afile").read_text(encoding="utf-8") == "not a folder\n"


def test_a_folder_where_the_lock_or_state_should_be_is_one_line(path: Path) -> None:
    """A directory at ``state.lock`` (was IsADirectoryError) or at the state path itself."""
    Path(f"{path}.lock").mkdir()
    with pytest.raises(CampaignError) as lock_err, StateLock(path):
        pass  # pragma: no cover
    assert str(lock_err.value) == f"{path}.lock: cannot create the campaign lock: it is a folder"
    path.mkdir()
    with pytest.raises(CampaignError) as open_err:
        open_state(path, "no_login")
    assert str(open_err.value) == f"{path}: cannot create the campaign state: it is a folder"
    with pytest.raises(CampaignError) as read_err:
        open_state(path, "no_login", read_only=True)
    assert str(read_err.value) == f"{path}: cannot read the campaign state: it is a folder"
