"""``campaign no-login status``: recent runs, the success rate, and what needs attention.

Read-only; dry runs write nothing, so only send runs are listed. "Returned" =
a contacted visitor was active within ``return_window_days`` (default 14) of
the contact day, as recorded by the send runs from their usage data. The
return rate only counts contacts whose window is over (or who already
returned): a contact from yesterday that has not come back *yet* is
"undecided", not a failure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pendo_segments.campaign.settings import NoLoginSettings
from pendo_segments.campaign.state import open_state
from pendo_segments.errors import CampaignError

RUN_COLUMNS = [
    "run_id",
    "as_of",
    "started_at",
    "finished_at",
    "status",
    "eligible",
    "sent",
    "failed",
    "unconfirmed",
    "cancelled",
    "enrolled",
    "contacted",
    "returned",
    "message",
]
#: What a terminal shows of a run (csv and json have every column).
TERMINAL_RUN_COLUMNS = [
    "run_id",
    "as_of",
    "started_at",
    "status",
    "eligible",
    "sent",
    "failed",
]
ATTENTION_COLUMNS = [
    "visitor_id",
    "email",
    "lapse_day",
    "state",
    "attempts",
    "message_id",
    "last_error",
]
#: Outbox states listed under "needs attention / pending".
ATTENTION_STATES = ("pending", "failed", "sending", "unconfirmed", "gave_up", "invalid_address")


@dataclass
class StatusReport:
    state_file: Path
    as_of: dt.date | None
    runs: list[dict[str, Any]]
    summary: dict[str, Any]
    attention: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "state_file": str(self.state_file),
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "summary": self.summary,
            "runs": self.runs,
            "outbox": self.attention,
        }


def campaign_status(
    settings: NoLoginSettings, *, limit: int = 10, as_of: dt.date | None = None
) -> StatusReport:
    """Read the state file; ``as_of`` (default: the latest run's) decides "undecided"."""
    path = Path(settings.state_file)
    if not path.exists():
        raise CampaignError(
            f"{path}: no campaign state yet (it is created by the first "
            "`campaign no-login run --send`; see --state)"
        )
    state = open_state(path, settings.campaign, read_only=True)
    try:
        db, campaign = state.conn, settings.campaign
        runs = [
            dict(r)
            for r in db.execute(
                "SELECT r.id AS run_id, r.as_of, r.started_at, r.finished_at, r.status, r.eligible, "
                "r.sent, r.failed, r.unconfirmed, r.cancelled, r.enrolled, "
                "(SELECT COUNT(*) FROM contacts c WHERE c.run_id = r.id) AS contacted, "
                "(SELECT COUNT(*) FROM contacts c WHERE c.run_id = r.id "
                " AND c.returned_on IS NOT NULL) AS returned, r.message "
                "FROM runs r WHERE r.campaign = ? ORDER BY r.id DESC LIMIT ?",
                (campaign, limit),
            )
        ]
        if as_of is None:
            latest = db.execute(
                "SELECT MAX(as_of) FROM runs WHERE campaign = ?", (campaign,)
            ).fetchone()[0]
            as_of = dt.date.fromisoformat(latest) if latest else None
        summary = _summary(db, campaign, as_of, settings.return_window_days)
        attention = [
            dict(r)
            for r in db.execute(
                f"SELECT {', '.join(ATTENTION_COLUMNS)} FROM outbox WHERE campaign = ? "  # noqa: S608
                f"AND state IN ({','.join('?' * len(ATTENTION_STATES))}) ORDER BY state, visitor_id",
                (campaign, *ATTENTION_STATES),
            )
        ]
    finally:
        state.close()
    return StatusReport(path, as_of, runs, summary, attention)


def _summary(db: Any, campaign: str, as_of: dt.date | None, window: int) -> dict[str, Any]:
    contacts = list(
        db.execute(
            "SELECT contact_day, confirmed, returned_on, enrol_state FROM contacts "
            "WHERE campaign = ?",
            (campaign,),
        )
    )
    returned = sum(1 for c in contacts if c["returned_on"])
    undecided = 0
    if as_of is not None:
        undecided = sum(
            1
            for c in contacts
            if not c["returned_on"]
            and dt.date.fromisoformat(c["contact_day"]) + dt.timedelta(days=window) > as_of
        )
    decided = len(contacts) - undecided
    states = dict(
        db.execute(
            "SELECT state, COUNT(*) FROM outbox WHERE campaign = ? GROUP BY state", (campaign,)
        ).fetchall()
    )
    return {
        "contacted": len(contacts),
        "confirmed": sum(1 for c in contacts if c["confirmed"]),
        "unconfirmed": sum(1 for c in contacts if not c["confirmed"]),
        "returned": returned,
        "undecided": undecided,
        "return_rate": round(returned / decided, 4) if decided else None,
        "return_window_days": window,
        "enrolled": sum(1 for c in contacts if c["enrol_state"] == "done"),
        "enrol_pending": sum(1 for c in contacts if c["enrol_state"] != "done"),
        "outbox": {
            s: int(states.get(s, 0))
            for s in (
                "pending",
                "sending",
                "sent",
                "failed",
                "unconfirmed",
                "cancelled",
                "gave_up",
                "invalid_address",
            )
        },
    }
