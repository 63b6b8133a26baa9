"""The three send-once state files (campaign, alerts notify, Salesforce Tasks) open,
refuse and lock alike: base/statefile.py is their one implementation."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pendo_segments.campaign.state import open_state as open_campaign_state
from pendo_segments.errors import CampaignError, NotifyError
from pendo_segments.notify.state import open_notify_state
from pendo_segments.salesforce.errors import SalesforceError
from pendo_segments.salesforce.state import apply_lock
from pendo_segments.salesforce.state import open_state as open_task_state

KINDS = [
    pytest.param(
        lambda p: open_campaign_state(p, "no_login"),
        CampaignError,
        "campaign state",
        id="campaign",
    ),
    pytest.param(open_notify_state, NotifyError, "notify state", id="notify"),
    pytest.param(open_task_state, SalesforceError, "Salesforce task state", id="salesforce"),
]


def _foreign(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("CREATE TABLE t (x)")
    db.close()


def _tables(path: Path) -> set[str]:
    db = sqlite3.connect(path)
    try:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        db.close()


@pytest.mark.parametrize(("opener", "error", "what"), KINDS)
def test_another_programs_file_is_refused_before_anything_is_written(
    tmp_path: Path, opener, error, what
) -> None:
    """A --state pointing at some other SQLite file (even one with a ``meta`` table) is
    refused, and none of our tables is created in it."""
    path = tmp_path / "other.sqlite"
    _foreign(path)
    with pytest.raises(error) as err:
        opener(path)
    assert str(err.value) == f"{path}: not a pendo-segments {what} file"
    assert _tables(path) == {"meta", "t"}


def test_a_dry_run_reads_an_empty_state_file_as_empty(tmp_path: Path) -> None:
    """An empty file (a first run killed right after creating it) is a state with
    nothing in it, as a missing one is, not another program's file."""
    path = tmp_path / "state.sqlite"
    path.touch()
    state = open_campaign_state(path, "no_login", read_only=True)
    assert state.outbox_rows() == []
    state.close()
    with open_task_state(path, read_only=True) as tasks:
        assert tasks.open_rows() == {}
    assert path.stat().st_size == 0


def test_the_salesforce_lock_path_in_the_way_is_one_line(tmp_path: Path) -> None:
    """A folder at ``STATE.lock`` (was IsADirectoryError with a traceback)."""
    state = tmp_path / "tasks.sqlite"
    Path(f"{state}.lock").mkdir()
    with pytest.raises(SalesforceError) as err, apply_lock(state):
        pass  # pragma: no cover
    assert (
        str(err.value) == f"{state}.lock: cannot create the Salesforce apply lock: it is a folder"
    )
