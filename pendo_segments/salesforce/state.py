"""Which alerts already have a Salesforce Task: a SQLite file (0600) beside the config.

One row per alert *episode*: (account, alert) from the day it fires until the
day it no longer does. ``UNIQUE`` over the open episodes makes the claim
atomic: the row is written (``claimed``) and committed **before** the Task is
sent, and becomes ``created`` with the Task's Id once Salesforce answers. So:

* a re-run, or the same plan applied twice, finds the open ``created`` row and
  creates nothing;
* a run killed between claim and answer leaves ``claimed``: the next apply
  (holding the lock, so no live run owns the row) first looks in Salesforce
  for a Task on that Account with the row's exact Subject, records it when it
  is there and creates it only when it is not: never two Tasks;
* an alert that no longer fires closes its episode (``cleared_on``); if it
  fires again later, that is a new episode and a new Task.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from pendo_segments.base.statefile import SQLiteState, StateFile, StateFileLock, now_utc
from pendo_segments.salesforce.errors import SalesforceError

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
    id INTEGER PRIMARY KEY,
    account_id TEXT NOT NULL,
    alert TEXT NOT NULL,
    record_id TEXT NOT NULL,          -- the Account's Salesforce Id (the Task's WhatId)
    subject TEXT NOT NULL,            -- the Task's Subject: how an unconfirmed Task is found
    fired_on TEXT NOT NULL,           -- as-of day the episode was first planned
    state TEXT NOT NULL CHECK (state IN ('claimed', 'created')),
    task_id TEXT,
    plan_id TEXT,
    claimed_at TEXT NOT NULL,
    created_at TEXT,
    cleared_on TEXT,
    last_error TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS tasks_open ON tasks (account_id, alert) WHERE cleared_on IS NULL;
"""
STATE_FILE = StateFile("Salesforce task state", SalesforceError, SCHEMA, SCHEMA_VERSION, ("tasks",))


@dataclass(frozen=True)
class TaskRow:
    id: int
    account_id: str
    alert: str
    record_id: str
    subject: str
    fired_on: str
    state: str
    task_id: str | None
    last_error: str | None

    @classmethod
    def of(cls, row: sqlite3.Row) -> TaskRow:
        return cls(**{k: row[k] for k in cls.__dataclass_fields__})


class TaskState(SQLiteState):
    """Reads and transitions of the state file; use :func:`open_state`."""

    def open_rows(self) -> dict[tuple[str, str], TaskRow]:
        """The open episodes by (account_id, alert)."""
        rows = self.conn.execute("SELECT * FROM tasks WHERE cleared_on IS NULL").fetchall()
        return {(r["account_id"], r["alert"]): TaskRow.of(r) for r in rows}

    def claim(
        self,
        *,
        account_id: str,
        alert: str,
        record_id: str,
        subject: str,
        fired_on: str,
        plan_id: str,
    ) -> tuple[TaskRow, bool]:
        """The open row of this alert, claiming it first when there is none.

        Returns (row, fresh): ``fresh`` is True only for a row this call created, i.e.
        no earlier run can have sent its Task.
        """
        with self.transaction() as db:
            row = db.execute(
                "SELECT * FROM tasks WHERE account_id = ? AND alert = ? AND cleared_on IS NULL",
                (account_id, alert),
            ).fetchone()
            if row is not None:
                return TaskRow.of(row), False
            cursor = db.execute(
                "INSERT INTO tasks (account_id, alert, record_id, subject, fired_on, state, "
                "plan_id, claimed_at) VALUES (?, ?, ?, ?, ?, 'claimed', ?, ?)",
                (account_id, alert, record_id, subject, fired_on, plan_id, now_utc()),
            )
            new = db.execute("SELECT * FROM tasks WHERE id = ?", (cursor.lastrowid,)).fetchone()
        return TaskRow.of(new), True

    def mark_created(self, row_id: int, task_id: str) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE tasks SET state = 'created', task_id = ?, created_at = ?, "
                "last_error = NULL WHERE id = ?",
                (task_id, now_utc(), row_id),
            )

    def note_error(self, row_id: int, error: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE tasks SET last_error = ? WHERE id = ?", (error[:500], row_id))

    def clear(self, account_id: str, alert: str, day: str) -> bool:
        """Close the open episode of this alert (False: there was none)."""
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE tasks SET cleared_on = ? WHERE account_id = ? AND alert = ? "
                "AND cleared_on IS NULL",
                (day, account_id, alert),
            )
        return cursor.rowcount > 0


def open_state(path: Path, *, read_only: bool = False) -> TaskState:
    """Open (creating when writable) the state file; a missing file reads as empty."""
    path = Path(path)
    if read_only:
        return TaskState(*STATE_FILE.open_read_only(path))
    return TaskState(STATE_FILE.open(path), path)


def apply_lock(state_file: Path, wait: float = 0.0) -> StateFileLock:
    """One ``salesforce apply`` at a time per state file (``STATE.lock``)."""
    return StateFileLock(
        state_file,
        error=SalesforceError,
        what="Salesforce apply lock",
        busy="another salesforce apply is running ({holder}); nothing was done",
        wait=wait,
    )
