"""One run of the no-login campaign: plan, and with ``send=True`` deliver and enrol.

A dry run (the default) reads the state file without writing it and returns
the plan: who would be emailed and why, who is skipped and why, which open
emails would be cancelled. A send run takes the lock, recovers what a
crashed run left behind, records returns, queues new emails, sends them
through the outbox (:mod:`pendo_segments.campaign.outbox`), updates the
welcome-back segment, and records the run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pendo_segments.base.words import plural
from pendo_segments.campaign.address import INVALID_ADDRESS, mailbox_key
from pendo_segments.campaign.csm_alerts import csm_alerts
from pendo_segments.campaign.eligibility import (
    Candidates,
    Plan,
    PlanItem,
    find_candidates,
    make_plan,
)
from pendo_segments.campaign.enrol import Enroller
from pendo_segments.campaign.messages import Renderer, outbox_item
from pendo_segments.campaign.optout import load_opt_outs
from pendo_segments.campaign.outbox import Outcome, deliver
from pendo_segments.campaign.returns import find_returns
from pendo_segments.campaign.settings import NoLoginSettings
from pendo_segments.campaign.smtp import SmtpSender, SmtpSettings
from pendo_segments.campaign.state import OPEN_STATES, State, StateLock, open_state
from pendo_segments.campaign.tiers_link import tiers_and_health
from pendo_segments.errors import CampaignError, PendoSegmentsError

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset
    from pendo_segments.engines import Engine

Progress = Callable[[str, int, int], None]

REPORT_COLUMNS = [
    "visitor_id",
    "email",
    "account_id",
    "tier",
    "segment",
    "days_since_last_visit",
    "locale",
    "action",
    "result",
    "detail",
]
_MEMBERS_KEY = "welcome_back_members_sha256"


@dataclass
class RunReport:
    """What a run did (or, dry, would do): one row per visitor plus counts."""

    as_of: dt.date
    send: bool
    segment: str
    rows: list[dict[str, Any]]
    counts: dict[str, int]
    skipped_by_reason: dict[str, int]
    run_id: int | None = None
    enrolment: str | None = None
    problems: list[str] = field(default_factory=list)
    #: worth reading but not a failure of the run (e.g. invalid addresses in the data)
    notes: list[str] = field(default_factory=list)
    #: lapsed visitors of excluded tiers, one alert per account (campaign/csm_alerts.py)
    csm_alerts: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> str:
        c = self.counts
        if not self.send:
            text = (
                f"Dry run as of {self.as_of}: would email {plural(c['eligible'], 'visitor')} "
                f"in {self.segment}"
            )
            if c.get("cancel"):
                text += f", cancel {plural(c['cancel'], 'open email')}"
        else:
            text = (
                f"Run {self.run_id} as of {self.as_of}: sent {c['sent']}, failed "
                f"{c['failed']}, unconfirmed {c['unconfirmed']}, cancelled {c['cancelled']}"
            )
        skipped = ", ".join(f"{n} {why}" for why, n in self.skipped_by_reason.items())
        return text + (f"; skipped {skipped}" if skipped else "") + "."


def run_no_login(
    ds: Dataset | None,
    settings: NoLoginSettings,
    *,
    as_of: dt.date | None = None,
    send: bool = False,
    defs: Any = None,
    smtp: SmtpSettings | None = None,
    enroller: Enroller | None = None,
    progress: Progress | None = None,
    lock_wait: float = 0.0,
    after_send: Callable[[Any], None] | None = None,
    engine: Engine | None = None,
) -> RunReport:
    """Plan (dry run) or run the campaign on ``ds``; see the module docstring.

    ``smtp`` and ``enroller`` are required when ``send``; ``after_send`` is the
    crash-injection point of :func:`~pendo_segments.campaign.outbox.deliver`.
    ``engine`` (with ``ds`` None): the command's engine; the members, visit days,
    tiers, health and returns come from it (pandas: from its frames).
    """
    if engine is not None and engine.in_memory is not None:
        ds, engine = engine.in_memory, None
    source: Any = engine if engine is not None else ds
    as_of = as_of or source.default_as_of()
    defs_path = _defs_path(settings)
    if defs is None:
        from pendo_segments.definitions import load_definitions

        defs = load_definitions(defs_path)
    tiers = tiers_and_health(
        ds,
        as_of,
        defs=defs,
        defs_path=defs_path,
        tiers_file=settings.tiers_file,
        overrides_file=settings.tier_overrides,
        engine=engine,
    )
    found = find_candidates(
        ds,
        defs,
        settings,
        as_of,
        tiers=tiers.tier,
        opt_outs=load_opt_outs(settings.opt_out_file),
        engine=engine,
    )
    alerts = csm_alerts(found, settings, tiers.health)
    renderer = Renderer(settings, as_of)
    if not send:
        state = open_state(settings.state_file, settings.campaign, read_only=True)
        try:
            plan = _plan(state, found, settings)
        finally:
            state.close()
        rendered = _render_new(plan, renderer, progress)
        rows = [
            _report_row(
                i, rendered.get(i.visitor_id) if i.action == "email" else None, None, send=False
            )
            for i in plan.items
        ]
        return RunReport(
            as_of,
            False,
            found.segment,
            rows,
            _counts(plan, [], send=False),
            plan.skipped_by_reason(),
            csm_alerts=alerts,
        )
    if smtp is None or enroller is None:
        raise CampaignError("a send run needs SMTP settings and a Pendo enrolment target")
    with StateLock(settings.state_file, wait=lock_wait):
        state = open_state(settings.state_file, settings.campaign)
        try:
            report = _send_run(
                state,
                source,
                found,
                renderer,
                settings,
                smtp,
                enroller,
                as_of,
                progress,
                after_send,
            )
            report.csm_alerts = alerts
            return report
        finally:
            state.close()


def _send_run(
    state: State,
    ds: Any,
    found: Candidates,
    renderer: Renderer,
    settings: NoLoginSettings,
    smtp: SmtpSettings,
    enroller: Enroller,
    as_of: dt.date,
    progress: Progress | None,
    after_send: Callable[[Any], None] | None,
) -> RunReport:
    recovered = state.recover()
    run_id = state.start_run(as_of)
    counts: dict[str, int] = {}
    try:
        state.set_returned(
            find_returns(ds, state.unreturned_contacts(), as_of, settings.return_window_days)
        )
        plan = _plan(state, found, settings)
        rendered = _queue(state, plan, renderer, settings, smtp, run_id, progress)
        for item in plan.of("cancel"):
            state.cancel(item.row.id, item.detail)  # type: ignore[union-attr]
        for item in plan.of("email") + plan.of("retry"):
            if item.row is not None and item.row.state == "cancelled":
                state.reopen(item.row.id)
        wanted = {i.key for i in plan.of("email") + plan.of("retry")}
        sendable = [
            r
            for r in state.outbox_rows(states=OPEN_STATES)
            if (r.visitor_id, r.lapse_day) in wanted
        ]
        with SmtpSender(smtp) as sender:
            outcomes = deliver(
                state,
                sendable,
                sender,
                smtp,
                run_id=run_id,
                contact_day=as_of,
                max_attempts=settings.max_attempts,
                after_send=after_send,
                progress=(lambda d, t: progress("Sending", d, t)) if progress else None,
            )
        enrolment, enrol_error, enrolled = _enrol(state, enroller, as_of, settings)
        counts = _counts(
            plan,
            outcomes,
            send=True,
            recovered=len(recovered),
            enrolled=enrolled,
            queued=len(rendered),
        )
        problems = _problems(outcomes, recovered, enrol_error)
        notes = _notes(plan, outcomes)
        state.finish_run(
            run_id,
            "partial" if problems else "ok",
            counts,
            "; ".join(problems + notes) or None,
        )
    except BaseException as err:
        state.finish_run(run_id, "failed", counts, str(err) or type(err).__name__)
        raise
    by_key = {(o.row.visitor_id, o.row.lapse_day): o for o in outcomes}
    rows = [
        _report_row(
            i,
            rendered.get(i.visitor_id) if i.action == "email" else None,
            by_key.get(i.key),
            send=True,
        )
        for i in plan.items
    ]
    for row in recovered:
        rows.append(
            {
                **_row_fields(row),
                "action": "recover",
                "result": "unconfirmed",
                "detail": f"{row.message_id}: interrupted run; not re-sent",
            }
        )
    return RunReport(
        as_of,
        True,
        found.segment,
        rows,
        counts,
        plan.skipped_by_reason(),
        run_id=run_id,
        enrolment=enrolment,
        problems=problems,
        notes=notes,
    )


def _plan(state: State, found: Candidates, settings: NoLoginSettings) -> Plan:
    rows = state.outbox_rows(visitor_ids=[c.visitor_id for c in found.items], states=OPEN_STATES)
    by_mailbox: dict[str, dt.date] = {}
    for email, day in state.last_contact_by_email().items():
        key = mailbox_key(email)
        by_mailbox[key] = max(day, by_mailbox.get(key, day))
    return make_plan(found, rows, state.last_contact_days(), settings, by_mailbox)


def _queue(
    state: State,
    plan: Plan,
    renderer: Renderer,
    settings: NoLoginSettings,
    smtp: SmtpSettings,
    run_id: int,
    progress: Progress | None,
) -> dict[str, Any]:
    """Render every new email first (a broken template stops the run before any send),
    then store them all as pending outbox rows."""
    rendered = _render_new(plan, renderer, progress)
    items = [
        outbox_item(i.candidate, rendered[i.visitor_id], settings.campaign, smtp.sender_domain)
        for i in plan.of("email")
        if i.row is None and i.candidate is not None and i.visitor_id in rendered
    ]
    state.enqueue(items, run_id)
    return rendered


def _render_new(plan: Plan, renderer: Renderer, progress: Progress | None) -> dict[str, Any]:
    """Copy for every new email (not for retries: their copy is already in the outbox)."""
    new = [i for i in plan.of("email") if i.row is None and i.candidate is not None]
    rendered = {}
    for n, item in enumerate(new, start=1):
        rendered[item.visitor_id] = renderer.render(item.candidate)  # type: ignore[arg-type]
        if progress:
            progress("Rendering", n, len(new))
    return rendered


def _enrol(
    state: State, enroller: Enroller, as_of: dt.date, settings: NoLoginSettings
) -> tuple[str | None, str | None, int]:
    """Push the welcome-back list when it changed or has unconfirmed members."""
    since = as_of - dt.timedelta(days=settings.enrol_days - 1)
    members, waiting = state.enrolment(since)
    signature = hashlib.sha256("\n".join(members).encode()).hexdigest()
    if not waiting and signature == state.meta(_MEMBERS_KEY):
        return None, None, 0
    try:
        description = enroller.push(members, state)
    except PendoSegmentsError as err:
        state.set_enrolment(waiting, "failed", str(err))
        return None, f"welcome-back enrolment failed (retried next run): {err}", 0
    state.set_enrolment(waiting, "done", None)
    state.set_meta(_MEMBERS_KEY, signature)
    return description, None, len(waiting)


def _counts(
    plan: Plan,
    outcomes: list[Outcome],
    *,
    send: bool,
    recovered: int = 0,
    enrolled: int = 0,
    queued: int = 0,
) -> dict[str, int]:
    results = [o.result for o in outcomes]
    return {
        "eligible": plan.eligible,
        "queued": queued,
        "retry": len(plan.of("retry")),
        "skipped": len(plan.of("skip")),
        "cancel": len(plan.of("cancel")),
        "sent": results.count("sent"),
        "failed": results.count("failed")
        + results.count("gave_up")
        + results.count("deferred")
        + results.count("not_attempted"),
        "gave_up": results.count("gave_up"),
        "unconfirmed": results.count("unconfirmed") + recovered,
        "cancelled": len(plan.of("cancel")) if send else 0,
        "enrolled": enrolled,
    }


def _notes(plan: Plan, outcomes: list[Outcome]) -> list[str]:
    """Invalid addresses: reported (summary, status) but not a failure of the run."""
    invalid = [(i.visitor_id, i.detail) for i in plan.of("skip") if _is_invalid(i.detail)]
    invalid += [(o.row.visitor_id, o.detail) for o in outcomes if o.result == INVALID_ADDRESS]
    if not invalid:
        return []
    return [
        f"{len(invalid)} invalid email address(es) skipped, never retried "
        f"(first: {invalid[0][0]}: {invalid[0][1]}); fix them in the data"
    ]


def _problems(outcomes: list[Outcome], recovered: list[Any], enrol_error: str | None) -> list[str]:
    problems = []
    failed = [o for o in outcomes if o.result in ("failed", "gave_up", "deferred")]
    if failed:
        problems.append(
            f"{plural(len(failed), 'email')} not delivered (first: {failed[0].row.visitor_id}: "
            f"{failed[0].detail}); they are retried on the next run"
        )
    stopped = [o for o in outcomes if o.result == "not_attempted"]
    if stopped:
        problems.append(
            f"sending stopped, no attempt spent: {stopped[0].detail}; "
            f"{plural(len(stopped), 'email')} left for the next run"
        )
    gave_up = [o for o in outcomes if o.result == "gave_up"]
    if gave_up:
        problems.append(f"{plural(len(gave_up), 'email')} given up after too many failures")
    unconfirmed = [o for o in outcomes if o.result == "unconfirmed"]
    if unconfirmed or recovered:
        problems.append(
            f"{plural(len(unconfirmed) + len(recovered), 'email')} unconfirmed (may have "
            "been delivered; not re-sent) — see `campaign no-login status`"
        )
    if enrol_error:
        problems.append(enrol_error)
    return problems


def _row_fields(row: Any) -> dict[str, Any]:
    return {
        "visitor_id": row.visitor_id,
        "email": row.email,
        "account_id": row.account_id,
        "tier": row.tier,
        "segment": row.segment,
        "days_since_last_visit": row.days_since_last_visit,
        "locale": row.locale,
    }


def _report_row(
    item: PlanItem, rendered: Any, outcome: Outcome | None, *, send: bool
) -> dict[str, Any]:
    c = item.candidate
    if c is not None:
        base = {
            "visitor_id": c.visitor_id,
            "email": c.email,
            "account_id": c.account_id,
            "tier": c.tier,
            "segment": c.segment,
            "days_since_last_visit": c.days_since_last_visit,
            "locale": rendered.locale if rendered else (item.row.locale if item.row else None),
        }
    else:
        base = _row_fields(item.row)
    detail = item.detail
    if rendered is not None:
        detail = f"{detail}; subject: {rendered.subject}"
    result = INVALID_ADDRESS if item.action == "skip" and _is_invalid(detail) else None
    if outcome is not None:
        result = outcome.result
        detail = outcome.detail or detail
    elif send and item.action == "cancel":
        result = "cancelled"
    return {**base, "action": item.action, "result": result, "detail": detail}


def _is_invalid(detail: str | None) -> bool:
    return bool(detail) and str(detail).startswith(INVALID_ADDRESS)


def _defs_path(settings: NoLoginSettings) -> Any:
    from pendo_segments.shipped import shipped_path

    return settings.defs or shipped_path("segment_defs")
