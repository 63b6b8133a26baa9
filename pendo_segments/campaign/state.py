"""The campaign's memory: one SQLite file with runs, the outbox and contacts, plus a lock.

Tables (``schema_version`` 1):

``runs``      one row per ``--send`` run: as-of day, start / end, status
              (``running`` → ``ok`` | ``failed``; a run found ``running`` by the
              next run died and becomes ``crashed``) and its counts.
``outbox``    one row per (campaign, visitor, lapse) — ``UNIQUE``, so no second
              row, hence no second email, can exist for one lapse. The rendered
              message and its Message-ID are stored before anything is sent.
              ``state``: pending → sending → sent, or failed (retried) →
              gave_up, or unconfirmed (see :mod:`pendo_segments.campaign.outbox`),
              or cancelled (no longer eligible before it was sent), or
              invalid_address (never sent).
``contacts``  one row per email that reached (or may have reached) the visitor:
              the contact day drives the cooldown, ``returned_on`` the success
              rate, ``enrol_state`` the welcome-back guide enrolment.
``meta``      key/value: schema version, the Pendo segment id once known.

The file holds names and email addresses: it (and SQLite's ``-wal`` /
``-journal`` files, which take its mode) is created ``0600``.

Every state change is its own committed transaction (autocommit connection,
``synchronous=FULL``), so a crash loses at most the step in flight. Dry runs
open the file read-only (or use an empty in-memory copy when it does not exist
yet) and never write.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pendo_segments.base.statefile import RunsState, StateFile, StateFileLock, now_utc
from pendo_segments.base.statefile import placeholders as _q
from pendo_segments.errors import CampaignError

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  campaign TEXT NOT NULL,
  as_of TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  status TEXT NOT NULL,
  pid INTEGER,
  eligible INTEGER NOT NULL DEFAULT 0,
  queued INTEGER NOT NULL DEFAULT 0,
  sent INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0,
  unconfirmed INTEGER NOT NULL DEFAULT 0,
  cancelled INTEGER NOT NULL DEFAULT 0,
  enrolled INTEGER NOT NULL DEFAULT 0,
  message TEXT
);
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  campaign TEXT NOT NULL,
  visitor_id TEXT NOT NULL,
  lapse_day TEXT NOT NULL,
  account_id TEXT,
  email TEXT NOT NULL,
  locale TEXT NOT NULL,
  tier TEXT,
  days_since_last_visit INTEGER,
  segment TEXT NOT NULL,
  message_id TEXT NOT NULL UNIQUE,
  subject TEXT NOT NULL,
  body_text TEXT NOT NULL,
  body_html TEXT NOT NULL,
  guide_id TEXT,
  guide_locale TEXT,
  guide_title TEXT,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  created_run INTEGER,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  sending_at TEXT,
  send_run INTEGER,
  contact_day TEXT,
  UNIQUE (campaign, visitor_id, lapse_day)
);
CREATE INDEX IF NOT EXISTS outbox_state ON outbox (campaign, state);
CREATE TABLE IF NOT EXISTS contacts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  campaign TEXT NOT NULL,
  visitor_id TEXT NOT NULL,
  lapse_day TEXT NOT NULL,
  outbox_id INTEGER NOT NULL UNIQUE REFERENCES outbox (id),
  run_id INTEGER,
  contact_day TEXT NOT NULL,
  contacted_at TEXT NOT NULL,
  confirmed INTEGER NOT NULL,
  message_id TEXT NOT NULL,
  enrol_state TEXT NOT NULL DEFAULT 'pending',
  enrolled_at TEXT,
  enrol_error TEXT,
  returned_on TEXT
);
CREATE INDEX IF NOT EXISTS contacts_visitor ON contacts (campaign, visitor_id, contact_day);
"""
STATE_FILE = StateFile(
    "campaign state", CampaignError, SCHEMA, SCHEMA_VERSION, ("runs", "outbox"), tighten=True
)

#: Outbox states whose email may still go out on a later run.
OPEN_STATES = ("pending", "failed")
UNCONFIRMED_CRASH = (
    "a run stopped between claiming this email for SMTP DATA and recording "
    "the server's answer; it may have been delivered, so it is not re-sent"
)
#: Outbox states meaning the email was (or may have been) delivered.
CONTACTED_STATES = ("sent", "unconfirmed")


@dataclass
class OutboxRow:
    """One outbox row as stored (the fields the campaign reads back)."""

    id: int
    visitor_id: str
    lapse_day: dt.date
    account_id: str | None
    email: str
    locale: str
    tier: str | None
    days_since_last_visit: int | None
    segment: str
    message_id: str
    subject: str
    body_text: str
    body_html: str
    state: str
    attempts: int
    last_error: str | None
    updated_at: str = ""

    @classmethod
    def from_sql(cls, row: sqlite3.Row) -> OutboxRow:
        data = {k: row[k] for k in cls.__dataclass_fields__}
        data["lapse_day"] = dt.date.fromisoformat(row["lapse_day"])
        return cls(**data)


class StateLock(StateFileLock):
    """An exclusive lock on ``STATE.lock``: one sending run per state file at a time.

    The outbox's conditional claim (:meth:`State.claim`) is the second line of
    defence where ``flock`` cannot help (NFS).
    """

    def __init__(self, state_file: Path, wait: float = 0.0) -> None:
        super().__init__(
            state_file,
            error=CampaignError,
            what="campaign lock",
            busy="another campaign run is in progress ({holder}); nothing was done",
            wait=wait,
        )


class State(RunsState):
    """Queries and transitions on the state file. Use :func:`open_state`."""

    def __init__(
        self, conn: sqlite3.Connection, path: Path | None, campaign: str, read_only: bool
    ) -> None:
        super().__init__(conn, path)
        self.campaign = campaign
        self.read_only = read_only

    def run_scope(self) -> dict[str, str]:
        return {"campaign": self.campaign}

    # -- meta ---------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # -- runs ---------------------------------------------------------------------
    def finish_run(
        self, run_id: int, status: str, counts: dict[str, int], message: str | None = None
    ) -> None:
        columns = ("eligible", "queued", "sent", "failed", "unconfirmed", "cancelled", "enrolled")
        values = [int(counts.get(c, 0)) for c in columns]
        sets = ", ".join(f"{c} = ?" for c in columns)
        with self.transaction() as db:
            db.execute(
                f"UPDATE runs SET status = ?, finished_at = ?, message = ?, {sets} "  # noqa: S608
                "WHERE id = ?",
                (status, now_utc(), message, *values, run_id),
            )

    def recover(self) -> list[OutboxRow]:
        """After a crash: runs left ``running`` become ``crashed``; outbox rows left
        ``sending`` become ``unconfirmed`` and count as contacted — never re-sent.

        Only call this while holding the :class:`StateLock` (no live run can own them).
        """
        with self.transaction() as db:
            self.crash_runs(db)
            stuck = list(
                db.execute(
                    "SELECT * FROM outbox WHERE campaign = ? AND state = 'sending' ORDER BY id",
                    (self.campaign,),
                )
            )
            for raw in stuck:
                self._mark_contacted(
                    db,
                    OutboxRow.from_sql(raw),
                    "unconfirmed",
                    raw["send_run"],
                    dt.date.fromisoformat(raw["contact_day"]),
                    UNCONFIRMED_CRASH,
                )
        return [OutboxRow.from_sql(r) for r in stuck]

    # -- outbox -------------------------------------------------------------------
    def outbox_rows(
        self, visitor_ids: Iterable[str] | None = None, states: Iterable[str] | None = None
    ) -> list[OutboxRow]:
        """Rows of the given visitors *or* in the given states (all rows when neither)."""
        where, args = [], [self.campaign]
        if visitor_ids is not None:
            where.append("visitor_id IN (SELECT value FROM json_each(?))")
            args.append(json.dumps(sorted(set(visitor_ids))))
        if states is not None:
            states = list(states)
            where.append(f"state IN ({','.join('?' * len(states))})")
            args += states
        sql = "SELECT * FROM outbox WHERE campaign = ?"
        if where:
            sql += f" AND ({' OR '.join(where)})"
        return [OutboxRow.from_sql(r) for r in self.conn.execute(sql + " ORDER BY id", args)]

    def enqueue(self, items: list[dict[str, Any]], run_id: int) -> int:
        """Insert pending rows; a row whose (visitor, lapse) already exists is left alone."""
        stamp = now_utc()
        added = 0
        with self.transaction() as db:
            for item in items:
                cur = db.execute(
                    "INSERT INTO outbox (campaign, visitor_id, lapse_day, account_id, email, "
                    "locale, tier, days_since_last_visit, segment, message_id, subject, "
                    "body_text, body_html, guide_id, guide_locale, guide_title, state, "
                    "created_run, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                    "?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?) "
                    "ON CONFLICT (campaign, visitor_id, lapse_day) DO NOTHING",
                    (
                        self.campaign,
                        item["visitor_id"],
                        item["lapse_day"].isoformat(),
                        item["account_id"],
                        item["email"],
                        item["locale"],
                        item["tier"],
                        item["days_since_last_visit"],
                        item["segment"],
                        item["message_id"],
                        item["subject"],
                        item["body_text"],
                        item["body_html"],
                        item["guide_id"],
                        item["guide_locale"],
                        item["guide_title"],
                        run_id,
                        stamp,
                        stamp,
                    ),
                )
                added += cur.rowcount
        return added

    def reopen(self, row_id: int) -> None:
        """A cancelled row whose visitor is eligible again (it was never sent)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE outbox SET state = 'pending', last_error = NULL, updated_at = ? "
                "WHERE id = ? AND state = 'cancelled'",
                (now_utc(), row_id),
            )

    def cancel(self, row_id: int, reason: str) -> bool:
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE outbox SET state = 'cancelled', last_error = ?, updated_at = ? "
                f"WHERE id = ? AND state IN ({_q(OPEN_STATES)})",  # noqa: S608
                (reason, now_utc(), row_id, *OPEN_STATES),
            )
            return cur.rowcount == 1

    def claim(self, row_id: int, run_id: int, contact_day: dt.date) -> bool:
        """pending|failed → sending, committed; False when another run got there first.

        This is the point of no return: once it is committed, the row is never
        sent again automatically (a crash leaves it ``sending`` → ``unconfirmed``).
        """
        stamp = now_utc()
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE outbox SET state = 'sending', sending_at = ?, "
                "updated_at = ?, send_run = ?, contact_day = ? "
                f"WHERE id = ? AND state IN ({_q(OPEN_STATES)})",  # noqa: S608
                (stamp, stamp, run_id, contact_day.isoformat(), row_id, *OPEN_STATES),
            )
            return cur.rowcount == 1

    def mark_sent(self, row: OutboxRow, run_id: int, contact_day: dt.date) -> None:
        with self.transaction() as db:
            self._mark_contacted(db, row, "sent", run_id, contact_day, None)

    def mark_unconfirmed(
        self, row: OutboxRow, run_id: int, contact_day: dt.date, reason: str
    ) -> None:
        with self.transaction() as db:
            self._mark_contacted(db, row, "unconfirmed", run_id, contact_day, reason)

    def _mark_contacted(
        self,
        db: sqlite3.Connection,
        row: OutboxRow,
        state: str,
        run_id: int | None,
        contact_day: dt.date,
        reason: str | None,
    ) -> None:
        stamp = now_utc()
        db.execute(
            "UPDATE outbox SET state = ?, last_error = ?, updated_at = ? "
            "WHERE id = ? AND state = 'sending'",
            (state, reason, stamp, row.id),
        )
        db.execute(
            "INSERT INTO contacts (campaign, visitor_id, lapse_day, outbox_id, run_id, "
            "contact_day, contacted_at, confirmed, message_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (outbox_id) DO NOTHING",
            (
                self.campaign,
                row.visitor_id,
                row.lapse_day.isoformat(),
                row.id,
                run_id,
                contact_day.isoformat(),
                stamp,
                int(state == "sent"),
                row.message_id,
            ),
        )

    def note_error(self, row: OutboxRow, error: str, *, claimed: bool = False) -> None:
        """Not delivered, and not this recipient's fault (the server's failure, or a
        refusal for now): keep the attempts; a claimed row (refused at ``DATA``) goes
        back to the state it was claimed from."""
        with self.transaction() as db:
            if claimed:
                db.execute(
                    "UPDATE outbox SET state = ?, last_error = ?, updated_at = ?, "
                    "sending_at = NULL, send_run = NULL, contact_day = NULL "
                    "WHERE id = ? AND state = 'sending'",
                    (row.state, error, now_utc(), row.id),
                )
                return
            db.execute(
                "UPDATE outbox SET last_error = ?, updated_at = ? "
                f"WHERE id = ? AND state IN ({_q(OPEN_STATES)})",  # noqa: S608
                (error, now_utc(), row.id, *OPEN_STATES),
            )

    def mark_invalid(self, row: OutboxRow, reason: str) -> None:
        """The stored address is not one mailbox: never sent, never retried."""
        with self.transaction() as db:
            db.execute(
                "UPDATE outbox SET state = 'invalid_address', last_error = ?, updated_at = ? "
                f"WHERE id = ? AND state IN ({_q(OPEN_STATES)})",  # noqa: S608
                (reason, now_utc(), row.id, *OPEN_STATES),
            )

    def mark_failed(self, row: OutboxRow, error: str, max_attempts: int, *, claimed: bool) -> str:
        """Nothing was delivered (refused, or the server never reached): count the failed
        attempt. Returns the new state, ``failed`` (retried next run) or ``gave_up``."""
        from_states = ("sending",) if claimed else OPEN_STATES
        with self.transaction() as db:
            db.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, updated_at = ?, "
                "state = CASE WHEN attempts + 1 >= ? THEN 'gave_up' ELSE 'failed' END "
                f"WHERE id = ? AND state IN ({_q(from_states)})",  # noqa: S608
                (error, now_utc(), max_attempts, row.id, *from_states),
            )
            return str(db.execute("SELECT state FROM outbox WHERE id = ?", (row.id,)).fetchone()[0])

    # -- contacts -----------------------------------------------------------------
    def last_contact_days(self) -> dict[str, dt.date]:
        """Latest contact day per visitor (cooldown)."""
        rows = self.conn.execute(
            "SELECT visitor_id, MAX(contact_day) FROM contacts WHERE campaign = ? "
            "GROUP BY visitor_id",
            (self.campaign,),
        )
        return {v: dt.date.fromisoformat(d) for v, d in rows}

    def last_contact_by_email(self) -> dict[str, dt.date]:
        """Latest contact day per stored address (the cooldown of a shared mailbox)."""
        rows = self.conn.execute(
            "SELECT o.email, MAX(c.contact_day) FROM contacts c JOIN outbox o "
            "ON o.id = c.outbox_id WHERE c.campaign = ? GROUP BY o.email",
            (self.campaign,),
        )
        return {e: dt.date.fromisoformat(d) for e, d in rows}

    def unreturned_contacts(self) -> list[tuple[int, str, dt.date]]:
        rows = self.conn.execute(
            "SELECT id, visitor_id, contact_day FROM contacts WHERE campaign = ? "
            "AND returned_on IS NULL",
            (self.campaign,),
        )
        return [(i, v, dt.date.fromisoformat(d)) for i, v, d in rows]

    def set_returned(self, returns: dict[int, dt.date]) -> None:
        if not returns:
            return
        with self.transaction() as db:
            db.executemany(
                "UPDATE contacts SET returned_on = ? WHERE id = ? AND returned_on IS NULL",
                [(d.isoformat(), i) for i, d in returns.items()],
            )

    def enrolment(self, since: dt.date) -> tuple[list[str], list[int]]:
        """Visitors contacted on or after ``since`` (the welcome-back segment), and the
        contact ids whose enrolment is not confirmed yet."""
        members = [
            v
            for (v,) in self.conn.execute(
                "SELECT DISTINCT visitor_id FROM contacts WHERE campaign = ? AND contact_day >= ? "
                "ORDER BY visitor_id",
                (self.campaign, since.isoformat()),
            )
        ]
        waiting = [
            i
            for (i,) in self.conn.execute(
                "SELECT id FROM contacts WHERE campaign = ? AND enrol_state != 'done' "
                "AND contact_day >= ?",
                (self.campaign, since.isoformat()),
            )
        ]
        return members, waiting

    def set_enrolment(self, contact_ids: list[int], state: str, error: str | None) -> None:
        stamp = now_utc() if state == "done" else None
        with self.transaction() as db:
            db.executemany(
                "UPDATE contacts SET enrol_state = ?, enrol_error = ?, "
                "enrolled_at = COALESCE(?, enrolled_at) WHERE id = ?",
                [(state, error, stamp, i) for i in contact_ids],
            )


def open_state(path: Path, campaign: str, *, read_only: bool = False) -> State:
    """Open (creating when writable) the state file; read-only opens never write."""
    path = Path(path)
    if read_only:
        conn, where = STATE_FILE.open_read_only(path)
        return State(conn, where, campaign, read_only=True)
    return State(STATE_FILE.open(path), path, campaign, read_only=False)
