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

Failures by whose they are (:func:`~pendo_segments.campaign.smtp.reply_scope`):

* the server's or the network's — cannot connect, refused or timed out at
  connect, login or ``MAIL FROM`` refused, ``421`` anywhere, a ``4xx`` / ``5xx``
  at ``RCPT`` or ``DATA`` that is not about this mailbox (``451``, ``452``
  insufficient storage or ``4.5.3`` too many recipients, ``5.7.1`` relaying
  denied, ``554 5.7.1`` spam at ``DATA``), the connection dropped or timed out before
  ``DATA``: → ``not_attempted``; the row keeps (or, refused at ``DATA`` after
  the claim, goes back to) its state and its attempt count, and the run stops
  sending: the rest are ``not_attempted`` too, left for the next run. An outage
  of any length never makes anyone ``gave_up``.
* this mailbox, for now (``450``, ``4.2.2`` mailbox full, ``4.1.x``; an
  address needing SMTPUTF8 from a server without it): → ``deferred``, no
  attempt spent; the run goes on to the next email.
* this mailbox, for good (``550`` / ``551`` / ``553`` at ``RCPT``, ``5.1.x``,
  ``5.2.x``): nothing was transmitted → ``failed``, one attempt; retried by the
  next run; after ``max_attempts`` → ``gave_up`` (reported by ``status``).
* the stored address is not exactly one mailbox (a row written before
  addresses were validated): ``invalid_address``, never sent, never retried.

Emails go out in queue order, except that those whose last try failed go
last, least recently tried first: a recipient whose refusal looks like the
server's (greylisting answers ``451 4.7.1`` per recipient) stops one run, not
every run, and the others are not held behind it.

Failures after the claim:

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
from pendo_segments.campaign.smtp import (
    DEFERRED,
    RECIPIENT,
    MaybeDelivered,
    NotDelivered,
    SmtpSender,
    SmtpSettings,
)
from pendo_segments.campaign.state import OutboxRow, State

Progress = Callable[[int, int], None]


class _ClaimedElsewhere(Exception):
    """Another run claimed the row between planning and sending."""


@dataclass
class Outcome:
    """What happened to one row in this run: sent | failed | gave_up | unconfirmed |
    deferred | not_attempted | claimed_elsewhere | invalid_address."""

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
    confirm is written — the crash-injection point for tests. A failure of the
    server's stops the sending: the rest are ``not_attempted``, untouched.
    """
    outcomes: list[Outcome] = []
    stopped: str | None = None
    for done, row in enumerate(sorted(rows, key=_send_order), start=1):
        if stopped:
            outcomes.append(Outcome(row, "not_attempted", stopped))
            continue
        outcomes.append(
            _deliver_one(state, row, sender, smtp, run_id, contact_day, max_attempts, after_send)
        )
        if outcomes[-1].result == "not_attempted":
            stopped = f"not attempted: sending stopped after {outcomes[-1].detail}"
        if progress:
            progress(done, len(rows))
    return outcomes


def _send_order(row: OutboxRow) -> tuple[bool, str, int]:
    """Untried emails first in queue order, then those that failed, least recently first."""
    failed = row.last_error is not None
    return failed, row.updated_at if failed else "", row.id


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
        if err.scope == RECIPIENT:  # this mailbox refused for good: one attempt
            new_state = state.mark_failed(row, str(err), max_attempts, claimed=claimed)
            return Outcome(row, new_state, str(err))
        state.note_error(row, str(err), claimed=claimed)  # no attempt spent
        return Outcome(row, "deferred" if err.scope == DEFERRED else "not_attempted", str(err))
    except MaybeDelivered as err:
        state.mark_unconfirmed(row, run_id, contact_day, str(err))
        return Outcome(row, "unconfirmed", str(err))
    if after_send is not None:
        after_send(row)
    state.mark_sent(row, run_id, contact_day)
    return Outcome(row, "sent")
