"""What ``alerts notify`` has posted: one SQLite file (``0600``) and a lock beside it.

Tables (``schema_version`` 1):

``episodes``  one row per time an account's alert fires: ``fired_on`` the as-of
              day it was first seen, ``cleared_on`` the first as-of day it no
              longer fired (NULL while it still does). At most one open episode
              per (account, alert): a partial ``UNIQUE`` index.
``messages``  one row per (episode, kind), ``UNIQUE``: kind ``alert`` (it fired)
              or ``recovered`` (it cleared). The alert key is thus account +
              alert + state (fired / cleared) + episode: a re-run finds the row
              and posts nothing; an alert that clears and fires again is a new
              episode and posts again. ``state``: pending → sending → sent, or
              failed (not posted; tried again by the next run), unconfirmed (a
              run died between posting and recording: never re-posted unless
              released), cancelled (the alert cleared before it was posted).
              ``webhook`` is the webhook's label (``default``, ``csm:NAME``),
              never its URL; ``payload`` is the JSON body as posted.
``runs``      one row per ``--send`` run, ``running`` → ``ok`` | ``failed``
              (``crashed`` when the next run finds it still running).

Every change is its own committed transaction (autocommit connection,
``synchronous=FULL``); the claim (``pending|failed → sending``) is committed
before the request goes out. The campaign's state (:mod:`pendo_segments.campaign.state`)
works the same way; both open, lock and version their files with
:mod:`pendo_segments.base.statefile`.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pendo_segments.base.statefile import RunsState, StateFile, StateFileLock, now_utc
from pendo_segments.base.statefile import placeholders as _q
from pendo_segments.errors import NotifyError

SCHEMA_VERSION = 1
KIND_ALERT, KIND_RECOVERED = "alert", "recovered"
#: states whose message may still be posted (by this run or the next)
OPEN_STATES = ("pending", "failed")
UNCONFIRMED_CRASH = (
    "a run stopped between posting this message and recording Slack's answer; "
    "it may be in the channel, so it is not posted again (--release posts it again)"
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  as_of TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  status TEXT NOT NULL,
  pid INTEGER,
  posted INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0,
  message TEXT
);
CREATE TABLE IF NOT EXISTS episodes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  account_id TEXT NOT NULL,
  alert TEXT NOT NULL,
  severity TEXT NOT NULL,
  fired_on TEXT NOT NULL,
  cleared_on TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS episodes_open
  ON episodes (account_id, alert) WHERE cleared_on IS NULL;
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  episode_id INTEGER NOT NULL REFERENCES episodes (id),
  kind TEXT NOT NULL,
  webhook TEXT NOT NULL,
  payload TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  sending_at TEXT,
  sent_at TEXT,
  send_run INTEGER,
  UNIQUE (episode_id, kind)
);
CREATE INDEX IF NOT EXISTS messages_state ON messages (state);
"""
STATE_FILE = StateFile("notify state", NotifyError, SCHEMA, SCHEMA_VERSION, ("messages",))


@dataclass
class Episode:
    id: int
    account_id: str
    alert: str
    severity: str
    fired_on: dt.date
    alert_state: str | None  # the state of its alert message (None: there is none)


@dataclass
class Planned:
    """What one run adds to the state (see :meth:`NotifyState.record`)."""

    #: (account_id, alert, severity, webhook label, payload): a new episode and its message
    fired: list[tuple[str, str, str, str, dict[str, Any]]] = field(default_factory=list)
    #: (episode_id, kind, webhook label, payload): today's text for an unposted message
    refreshed: list[tuple[int, str, str, dict[str, Any]]] = field(default_factory=list)
    cleared: list[int] = field(default_factory=list)  # episodes whose alert no longer fires
    #: (episode_id, webhook label, payload): a cleared problem alert's recovered message
    recovered: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)


@dataclass
class Message:
    """One message row with its episode's account and alert."""

    id: int
    episode_id: int
    account_id: str
    alert: str
    severity: str
    fired_on: dt.date
    kind: str
    webhook: str
    payload: dict[str, Any]
    state: str
    attempts: int
    last_error: str | None

    @classmethod
    def from_sql(cls, row: sqlite3.Row) -> Message:
        return cls(
            id=row["id"],
            episode_id=row["episode_id"],
            account_id=row["account_id"],
            alert=row["alert"],
            severity=row["severity"],
            fired_on=dt.date.fromisoformat(row["fired_on"]),
            kind=row["kind"],
            webhook=row["webhook"],
            payload=json.loads(row["payload"]),
            state=row["state"],
            attempts=row["attempts"],
            last_error=row["last_error"],
        )


_MESSAGES = (
    "SELECT m.*, e.account_id, e.alert, e.severity, e.fired_on "
    "FROM messages m JOIN episodes e ON e.id = m.episode_id"
)


class NotifyLock(StateFileLock):
    """An exclusive lock on ``STATE.lock``: one ``--send`` run per state file at a time."""

    def __init__(self, state_file: Path, wait: float = 0.0) -> None:
        super().__init__(
            state_file,
            error=NotifyError,
            what="notify lock",
            busy="another alerts notify run is in progress ({holder}); nothing was posted",
            wait=wait,
        )


class NotifyState(RunsState):
    """Queries and transitions on the state file. Use :func:`open_notify_state`."""

    # -- runs ---------------------------------------------------------------------
    def finish_run(self, run_id: int, status: str, posted: int, failed: int) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET status = ?, finished_at = ?, posted = ?, failed = ? WHERE id = ?",
                (status, now_utc(), posted, failed, run_id),
            )

    def recover(self) -> list[Message]:
        """After a crash: runs left ``running`` are ``crashed``; messages left ``sending``
        become ``unconfirmed`` — never posted again by themselves.

        Only call this while holding the :class:`NotifyLock` (no live run owns them).
        """
        with self.transaction() as db:
            self.crash_runs(db)
            stuck = [
                Message.from_sql(r) for r in db.execute(f"{_MESSAGES} WHERE m.state = 'sending'")
            ]
            db.execute(
                "UPDATE messages SET state = 'unconfirmed', last_error = ?, updated_at = ? "
                "WHERE state = 'sending'",
                (UNCONFIRMED_CRASH, now_utc()),
            )
        for m in stuck:
            m.state, m.last_error = "unconfirmed", UNCONFIRMED_CRASH
        return stuck

    def release(self, account_id: str, alert: str) -> int:
        """Unconfirmed messages of the account's alert → failed: the next post sends them."""
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE messages SET state = 'failed', last_error = 'released by --release', "
                "updated_at = ? WHERE state = 'unconfirmed' AND episode_id IN "
                "(SELECT id FROM episodes WHERE account_id = ? AND alert = ?)",
                (now_utc(), account_id, alert),
            )
            return cur.rowcount

    # -- episodes -----------------------------------------------------------------
    def open_episodes(self) -> list[Episode]:
        """Alerts firing at the last run, with the state of their alert message."""
        rows = self.conn.execute(
            "SELECT e.id, e.account_id, e.alert, e.severity, e.fired_on, m.state "
            "FROM episodes e LEFT JOIN messages m ON m.episode_id = e.id AND m.kind = ? "
            "WHERE e.cleared_on IS NULL ORDER BY e.id",
            (KIND_ALERT,),
        )
        return [
            Episode(r[0], r[1], r[2], r[3], dt.date.fromisoformat(r[4]), r[5] if r[5] else None)
            for r in rows
        ]

    def record(self, plan: Planned, as_of: dt.date) -> None:
        """Write a run's plan in one transaction: new episodes with their alert message,
        today's text for messages not posted yet, cleared episodes (their unposted alert
        message cancelled) and recovered messages."""
        stamp, day = now_utc(), as_of.isoformat()
        with self.transaction() as db:
            for account_id, alert, severity, webhook, payload in plan.fired:
                cur = db.execute(
                    "INSERT INTO episodes (account_id, alert, severity, fired_on) "
                    "VALUES (?, ?, ?, ?)",
                    (account_id, alert, severity, day),
                )
                _enqueue(db, int(cur.lastrowid), KIND_ALERT, webhook, payload, stamp)  # type: ignore[arg-type]
            for episode_id, kind, webhook, payload in plan.refreshed:
                _enqueue(db, episode_id, kind, webhook, payload, stamp)
            for episode_id in plan.cleared:
                db.execute(
                    "UPDATE episodes SET cleared_on = ? WHERE id = ? AND cleared_on IS NULL",
                    (day, episode_id),
                )
                db.execute(
                    "UPDATE messages SET state = 'cancelled', last_error = 'the alert cleared "
                    "before it was posted', updated_at = ? WHERE episode_id = ? AND kind = ? "
                    f"AND state IN ({_q(OPEN_STATES)})",  # noqa: S608
                    (stamp, episode_id, KIND_ALERT, *OPEN_STATES),
                )
            for episode_id, webhook, payload in plan.recovered:
                _enqueue(db, episode_id, KIND_RECOVERED, webhook, payload, stamp)

    # -- messages -----------------------------------------------------------------
    def messages(self, states: tuple[str, ...] = OPEN_STATES) -> list[Message]:
        rows = self.conn.execute(
            f"{_MESSAGES} WHERE m.state IN ({_q(states)}) ORDER BY m.id",  # noqa: S608
            states,
        )
        return [Message.from_sql(r) for r in rows]

    def claim(self, message_id: int, run_id: int) -> bool:
        """pending|failed → sending, committed before the request: the point of no return
        (a crash leaves it ``sending`` → ``unconfirmed``). False: another run has it."""
        stamp = now_utc()
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE messages SET state = 'sending', sending_at = ?, updated_at = ?, "
                f"send_run = ? WHERE id = ? AND state IN ({_q(OPEN_STATES)})",  # noqa: S608
                (stamp, stamp, run_id, message_id, *OPEN_STATES),
            )
            return cur.rowcount == 1

    def mark_sent(self, message_id: int) -> None:
        stamp = now_utc()
        with self.transaction() as db:
            db.execute(
                "UPDATE messages SET state = 'sent', sent_at = ?, updated_at = ?, "
                "attempts = attempts + 1, last_error = NULL WHERE id = ? AND state = 'sending'",
                (stamp, stamp, message_id),
            )

    def mark_failed(self, message_id: int, error: str) -> None:
        """Slack did not take it (an error answer, no answer, or throttled): posted by a
        later run."""
        with self.transaction() as db:
            db.execute(
                "UPDATE messages SET state = 'failed', attempts = attempts + 1, last_error = ?, "
                "updated_at = ?, sending_at = NULL, send_run = NULL "
                "WHERE id = ? AND state = 'sending'",
                (error, now_utc(), message_id),
            )


def _enqueue(
    db: sqlite3.Connection,
    episode_id: int,
    kind: str,
    webhook: str,
    payload: dict[str, Any],
    stamp: str,
) -> None:
    """Add the message; one not posted yet gets today's text and webhook (a sent,
    sending or unconfirmed one is left as it is)."""
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True)
    db.execute(
        "INSERT INTO messages (episode_id, kind, webhook, payload, state, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, 'pending', ?, ?) "
        "ON CONFLICT (episode_id, kind) DO UPDATE SET webhook = excluded.webhook, "
        "payload = excluded.payload, updated_at = excluded.updated_at "
        f"WHERE messages.state IN ({_q(OPEN_STATES)})",  # noqa: S608
        (episode_id, kind, webhook, body, stamp, stamp, *OPEN_STATES),
    )


def open_notify_state(path: Path, *, read_only: bool = False) -> NotifyState:
    """Open (creating when writable) the state file.

    ``read_only`` (a dry run): an in-memory copy of the file (empty when there is
    none), so a dry run plans exactly like a send run and writes nothing.
    """
    path = Path(path)
    if read_only:
        return NotifyState(STATE_FILE.snapshot(path), None)
    return NotifyState(STATE_FILE.open(path), path)
