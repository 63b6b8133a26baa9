"""Sending through the outbox: mark, send, confirm — and what a crash in between means.

The guarantee, precisely
------------------------
*No visitor is emailed twice for the same lapse, and none within the cooldown
of an earlier email*, as long as the state file survives (keep it on a
persistent disk, back it up). The price: an email whose run died at the
wrong moment is reported as ``unconfirmed`` instead of being re-sent; for a
re-engagement nudge a duplicate is worse than a miss.

How:

1. **Key.** One outbox row per (campaign, visitor, lapse), ``UNIQUE`` in
   SQLite; the lapse is the visitor's last active day. The message and its
   Message-ID (a hash of the key) are stored in the row before anything is
   sent, so every attempt sends the same message under the same Message-ID.
2. **Lock.** A sending run holds an exclusive ``flock`` on ``STATE.lock``;
   a second run on the same machine stops with "another campaign run is in
   progress" and does nothing.
3. **Mark.** For each row the run connects and sends ``MAIL FROM`` / ``RCPT
   TO``; only then does it *claim* the row — a conditional ``UPDATE … SET
   state='sending' WHERE state IN ('pending','failed')``, committed to disk.
   Only one process can win a claim, even without the lock.
4. **Send.** ``DATA``, the message, the final ``.``.
5. **Confirm.** On the server's ``250`` the row becomes ``sent`` and a
   contact is recorded, in one transaction.

Failures by where they happen:

* the server or the network fails before the claim (cannot connect, refused
  or timed out at connect, login or sender refused, connection lost before
  ``DATA``): not the recipient's failure → ``not_attempted``; the row keeps
  its state and its attempt count, so an outage of any length never makes
  anyone ``gave_up``. When the server cannot be reached at all, the rest of
  the run's emails are left for the next run untouched.
* the server refuses this recipient (``RCPT TO``): nothing was transmitted →
  ``failed``, retried by the next run; after ``max_attempts`` failures →
  ``gave_up`` (reported by ``status``).
* the stored address is not exactly one mailbox (a row written before
  addresses were validated): ``invalid_address``, never sent, never retried.
* the server answers ``DATA`` or the final ``.`` with an error code: it did
  not accept the message → ``failed``, retried.
* the connection breaks after ``DATA`` began (timeout, reset), or the
  final reply is neither 2xx nor 4xx/5xx: the server may have accepted the
  message → ``unconfirmed`` at once; never re-sent.
* the process dies between the claim and the confirm (kill -9, power loss,
  OOM): the row stays ``sending``. The next run, holding the lock (so no
  live run owns that row), turns it into ``unconfirmed``, records the
  contact (cooldown and enrolment apply) and reports it. It is not re-sent:
  the message either was delivered once or was not delivered. Its
  Message-ID is in ``status`` so the mail server's log can settle which.
* the process dies before the claim: the row is still ``pending`` and no
  ``DATA`` was ever sent for it, so the next run sends it normally.
* the process dies after the confirm: nothing is lost; the row is ``sent``.

Outside the guarantee: an SMTP server that answers ``250`` and then loses
the message; a lost or replaced state file; two machines sharing one state
file over a network filesystem (``flock`` is unreliable there — schedule one
runner, e.g. a CI concurrency group).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from pendo_segments.campaign.address import INVALID_ADDRESS, check_address
from pendo_segments.campaign.messages import build_email
from pendo_segments.campaign.smtp import MaybeDelivered, NotDelivered, SmtpSender, SmtpSettings
from pendo_segments.campaign.state import OutboxRow, State

Progress = Callable[[int, int], None]


class _ClaimedElsewhere(Exception):
    """Another run claimed the row between planning and sending."""


@dataclass
class Outcome:
    """What happened to one row in this run: sent | failed | gave_up | unconfirmed |
    not_attempted | claimed_elsewhere | invalid_address."""

    row: OutboxRow
    result: str
    detail: str = ""


def deliver(
    state: State,
    rows: list[OutboxRow],
    sender: SmtpSender,
    smtp: SmtpSettings,
    *,
    run_id: int,
    contact_day: dt.date,
    max_attempts: int,
    progress: Progress | None = None,
    after_send: Callable[[OutboxRow], None] | None = None,
) -> list[Outcome]:
    """Send ``rows`` one by one through the mark / send / confirm protocol above.

    ``after_send`` runs after the server accepted a message and before the
    confirm is written — the crash-injection point for tests.
    """
    outcomes: list[Outcome] = []
    unreachable: str | None = None
    for done, row in enumerate(rows, start=1):
        if unreachable:
            outcomes.append(Outcome(row, "not_attempted", unreachable))
            continue
        outcomes.append(
            _deliver_one(state, row, sender, smtp, run_id, contact_day, max_attempts, after_send)
        )
        if outcomes[-1].result == "not_attempted" and sender.unreachable:
            unreachable = f"not attempted: {outcomes[-1].detail}"
        if progress:
            progress(done, len(rows))
    return outcomes


def _deliver_one(
    state: State,
    row: OutboxRow,
    sender: SmtpSender,
    smtp: SmtpSettings,
    run_id: int,
    contact_day: dt.date,
    max_attempts: int,
    after_send: Callable[[OutboxRow], None] | None,
) -> Outcome:
    claimed = False

    def claim() -> None:
        nonlocal claimed
        if not state.claim(row.id, run_id, contact_day):
            raise _ClaimedElsewhere
        claimed = True

    _, bad_address = check_address(row.email)
    if bad_address:
        reason = f"{INVALID_ADDRESS}: {bad_address}"
        state.mark_invalid(row, reason)
        return Outcome(row, INVALID_ADDRESS, reason)
    try:
        sender.send(build_email(row, smtp, state.campaign), before_data=claim)
    except _ClaimedElsewhere:
        return Outcome(row, "claimed_elsewhere", "another run is sending this email")
    except NotDelivered as err:
        if err.connection and not claimed:  # the server's failure, not this recipient's
            state.note_error(row, str(err))
            return Outcome(row, "not_attempted", str(err))
        new_state = state.mark_failed(row, str(err), max_attempts, claimed=claimed)
        return Outcome(row, new_state, str(err))
    except MaybeDelivered as err:
        state.mark_unconfirmed(row, run_id, contact_day, str(err))
        return Outcome(row, "unconfirmed", str(err))
    if after_send is not None:
        after_send(row)
    state.mark_sent(row, run_id, contact_day)
    return Outcome(row, "sent")
