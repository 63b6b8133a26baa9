"""Who the no-login campaign contacts today, and why everyone else is left out.

Two steps, both pure (no I/O):

1. :func:`find_candidates` — the data rules. Visitors in the no-login segment
   (``no_login_30d`` re-targeted to ``window_days``, see :func:`derive_segment`),
   each with a skip reason when an excluded account or tier (P1 by default: the
   CSM gets an alert instead, :mod:`.csm_alerts`), a lapse longer than
   ``max_days_lapsed`` (365 by default), too short a tenure, an opt-out, a
   missing email address or an ``invalid_address`` rules them out. An address must be exactly one mailbox (email-validator, no DNS
   lookup): no display name, no list, no CR/LF; it is sent in its normalised
   form.
2. :func:`make_plan` — the state rules. A visitor already contacted for this
   lapse, or within the cooldown, is skipped; an earlier failed email of the
   same lapse is retried; an open outbox row whose visitor is no longer
   eligible (typically: came back and logged in) is cancelled. One mailbox
   (normalised address, compared case-insensitively) gets one email per run
   and none within the cooldown of an earlier one, however many visitor ids
   share it.

The lapse key is the visitor's last active day: a visitor who comes back and
lapses again has a new lapse and may be contacted again, after the cooldown.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pendo_segments.campaign.address import INVALID_ADDRESS, check_address, mailbox_key
from pendo_segments.campaign.optout import OptOuts
from pendo_segments.campaign.settings import NoLoginSettings
from pendo_segments.campaign.state import CONTACTED_STATES, OPEN_STATES, OutboxRow
from pendo_segments.errors import ConfigError
from pendo_segments.guides.context import OBJECT_FIELDS, plain_value

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset
    from pendo_segments.engines import Engine

#: Account columns the templates may use (their id is set apart).
ACCOUNT_FIELDS = tuple(f for f in OBJECT_FIELDS["account"] if f != "account_id")
#: How a skip for an excluded tier starts ("excluded tier P1: for the CSM …").
EXCLUDED_TIER = "excluded tier"


def alert_name(tier: str) -> str:
    """The CSM alert the lapsed visitors of an excluded tier become: ``p1_lapsed_visitors``."""
    return re.sub(r"[^a-z0-9]+", "_", tier.lower()).strip("_") + "_lapsed_visitors"


@dataclass
class Candidate:
    """A visitor in the no-login segment, with what the copy and the report need."""

    visitor_id: str
    account_id: str | None
    email: str | None
    name: str | None
    language: str | None
    first_visit: dt.date | None
    tier: str | None
    days_since_last_visit: int
    lapse_day: dt.date
    segment: str
    account: dict[str, Any] = field(default_factory=dict)
    skip: str | None = None
    #: on the opt-out list, whatever the skip reason says (a CSM alert mentions it)
    opted_out: bool = False

    @property
    def mailbox(self) -> str | None:
        """The key one mailbox is known by (see :func:`mailbox_key`)."""
        return mailbox_key(self.email) if self.email else None

    def context(self, as_of: dt.date) -> dict[str, Any]:
        """The guide render context (pendo_segments/guides/context.py)."""
        return {
            "visitor": {
                "visitor_id": self.visitor_id,
                "name": self.name,
                "email": self.email,
                "language": self.language,
                "first_visit": self.first_visit,
            },
            "account": {"account_id": self.account_id, **self.account},
            "tier": self.tier,
            "days_since_last_visit": self.days_since_last_visit,
            "as_of": as_of,
        }


@dataclass
class Candidates:
    segment: str
    as_of: dt.date
    items: list[Candidate]
    #: last active day of every visitor in the data (None: never active)
    last_active: dict[str, dt.date | None]


@dataclass
class PlanItem:
    """One line of the plan: ``email`` (new), ``retry``, ``skip`` or ``cancel``."""

    action: str
    detail: str
    candidate: Candidate | None = None
    row: OutboxRow | None = None

    @property
    def visitor_id(self) -> str:
        return self.candidate.visitor_id if self.candidate else self.row.visitor_id  # type: ignore[union-attr]

    @property
    def key(self) -> tuple[str, dt.date]:
        """(visitor, lapse): the outbox key this line is about."""
        source = self.candidate or self.row
        return source.visitor_id, source.lapse_day  # type: ignore[union-attr]


@dataclass
class Plan:
    segment: str
    as_of: dt.date
    items: list[PlanItem]

    def of(self, action: str) -> list[PlanItem]:
        return [i for i in self.items if i.action == action]

    @property
    def eligible(self) -> int:
        return len(self.of("email")) + len(self.of("retry"))

    def skipped_by_reason(self) -> dict[str, int]:
        """Skip counts by the reason's leading words ("opted out", "in cooldown" …)."""
        out: dict[str, int] = {}
        for item in self.of("skip"):
            key = item.detail.split(":")[0].split(" (")[0]
            out[key] = out.get(key, 0) + 1
        return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


def derive_segment(base: Any, window_days: int) -> Any:
    """``base`` with every ``days_since_last_visit >`` threshold set to ``window_days``
    (``>=`` to ``window_days + 1``), renamed ``…_{N}d``. Other conditions stay."""
    from pendo_segments.definitions.models import AllOf, AnyOf, MetricCondition, NotOf

    changed = 0

    def retarget(node: Any) -> Any:
        nonlocal changed
        if (
            isinstance(node, MetricCondition)
            and node.metric == "days_since_last_visit"
            and node.op in (">", ">=")
        ):
            changed += 1
            return node.model_copy(update={"value": window_days + (node.op == ">=")})
        if isinstance(node, AllOf):
            return node.model_copy(update={"all": [retarget(n) for n in node.all]})
        if isinstance(node, AnyOf):
            return node.model_copy(update={"any": [retarget(n) for n in node.any]})
        if isinstance(node, NotOf):
            return node.model_copy(update={"not_": retarget(node.not_)})
        return node

    rule = retarget(base.rule)
    if base.subject != "visitor" or not changed:
        raise ConfigError(
            f"{base.source}: segment '{base.name}' cannot drive the no-login "
            "campaign: it must be a visitor segment with a condition "
            "'days_since_last_visit >' (or '>=') N"
        )
    name = re.sub(r"_?\d+d$", "", base.name) + f"_{window_days}d"
    return base.model_copy(update={"rule": rule, "name": name})


@dataclass
class VisitFacts:
    """What the data says about the no-login segment at the as-of day, whichever engine read it.

    ``members``: the derived segment's visitor ids; ``since_last`` / ``since_first``:
    days since each visitor's last / first visit (absent: never); ``visitors`` /
    ``accounts``: the subject tables as the pandas loader types them.
    """

    members: list[str]
    since_last: dict[str, int]
    since_first: dict[str, int]
    visitors: Any
    accounts: Any


def find_candidates(
    ds: Dataset | None,
    defs: Any,
    settings: NoLoginSettings,
    as_of: dt.date,
    *,
    tiers: Mapping[str, str] | None,
    opt_outs: OptOuts,
    engine: Engine | None = None,
) -> Candidates:
    """Visitors in the (derived) no-login segment, with static skip reasons set.

    ``engine``: an engine that does not hold the usage in memory (DuckDB, Spark)
    answers the members and visit days; ``ds`` is not read then.
    """
    from pendo_segments.definitions import DefinitionSet

    segment = derive_segment(defs.get(settings.segment), settings.window_days)
    if settings.exclude_tiers and tiers is None:
        raise ConfigError(
            f"campaign.no_login.exclude_tiers ({', '.join(sorted(settings.exclude_tiers))}; "
            "P1 unless set) needs account tiers: a tiers.yaml policy in the definitions "
            "folder, or campaign.no_login.tiers_file; set exclude_tiers = [] to email every tier"
        )
    derived = DefinitionSet(segments={**defs.segments, segment.name: segment}, files=defs.files)
    if engine is not None and engine.in_memory is not None:
        ds = engine.in_memory
    if ds is None:
        assert engine is not None, "find_candidates needs ds or an engine"
        facts = engine_facts(engine, derived, segment.name, as_of)
    else:
        facts = frame_facts(ds, derived, segment.name, as_of)
    return _candidates(facts, segment.name, settings, as_of, tiers, opt_outs)


def frame_facts(ds: Dataset, derived: Any, name: str, as_of: dt.date) -> VisitFacts:
    """:class:`VisitFacts` from frames in memory (the numpy evaluator)."""
    import numpy as np

    from pendo_segments.evaluate import evaluate

    result = evaluate(derived, ds, as_of=as_of, names=[name])
    ids = [str(v) for v in result.metrics.visitor_ids]

    def days(metric: str) -> dict[str, int]:
        values = result.metrics.metric("visitor", metric)
        return {v: int(d) for v, d in zip(ids, values, strict=True) if not np.isnan(d)}

    members = [ids[pos] for pos in np.flatnonzero(result.masks[name])]
    since_last, since_first = days("days_since_last_visit"), days("days_since_first_visit")
    return VisitFacts(members, since_last, since_first, ds.visitors, ds.accounts)


def engine_facts(engine: Engine, derived: Any, name: str, as_of: dt.date) -> VisitFacts:
    """:class:`VisitFacts` from an engine: members, and the semantic core's visit days as
    one query per rule (``visitor_id, days``), so the usage stays where it is."""
    engine.check_day(derived, as_of)  # frame_facts' evaluate() warns and checks alike
    members = [str(v) for v in engine.memberships(derived, names=[name], as_of=as_of).members(name)]
    shape = engine.shape()
    since = {
        metric: visit_days(engine, metric, as_of, shape.has_column("visitors", column))
        for metric, column in (
            ("days_since_last_visit", "last_visit"),
            ("days_since_first_visit", "first_visit"),
        )
    }
    visitors, accounts = engine.subjects("visitor"), engine.subjects("account")
    return VisitFacts(
        members, since["days_since_last_visit"], since["days_since_first_visit"], visitors, accounts
    )


def visit_days(
    engine: Engine, metric: str, as_of: dt.date, declared: bool | None = None
) -> dict[str, int]:
    """Visitor id → days since its last / first visit (``metric``) at ``as_of``, one query
    of the semantic core's visit-day rule (``declared``: visitors.last_visit /
    first_visit present; default: read from the engine's shape)."""
    if declared is None:
        column = "last_visit" if metric == "days_since_last_visit" else "first_visit"
        declared = engine.shape().has_column("visitors", column)
    from pendo_segments.semantics.catalogue import visit_day_sql
    from pendo_segments.semantics.lazy import exp
    from pendo_segments.semantics.rules import col, days_since_sql, params, with_params

    days = exp.alias_(days_since_sql(col("value", "x")), "days")
    select = exp.select(exp.alias_(col("subject_id", "x"), "visitor_id"), days).from_(
        visit_day_sql(metric, "visitor", declared).subquery("x", copy=False)
    )
    known = exp.Not(this=exp.Is(this=col("value", "x"), expression=exp.Null()))
    query = with_params(select).where(known).with_("params", as_=params(as_of))
    frame = engine.query(query, at=as_of)
    return {str(v): int(d) for v, d in zip(frame["visitor_id"], frame["days"], strict=True)}


def _candidates(
    facts: VisitFacts,
    segment: str,
    settings: NoLoginSettings,
    as_of: dt.date,
    tiers: Mapping[str, str] | None,
    opt_outs: OptOuts,
) -> Candidates:
    """One :class:`Candidate` per member (sorted by id), with its static skip reason."""
    visitors = facts.visitors.set_index(facts.visitors["visitor_id"].astype(str))
    accounts = facts.accounts.set_index(facts.accounts["account_id"].astype(str))
    last_active = {
        str(v): (
            as_of - dt.timedelta(days=facts.since_last[str(v)])
            if str(v) in facts.since_last
            else None
        )
        for v in visitors.index
    }
    items = [
        _candidate(visitors.loc[v], v, facts, segment, settings, as_of, tiers, accounts, opt_outs)
        for v in sorted(facts.members)
    ]
    return Candidates(segment, as_of, items, last_active)


def _candidate(
    row: Any,
    visitor_id: str,
    facts: VisitFacts,
    segment: str,
    settings: NoLoginSettings,
    as_of: dt.date,
    tiers: Mapping[str, str] | None,
    accounts: Any,
    opt_outs: OptOuts,
) -> Candidate:
    account_id = plain_value(row.get("account_id"))
    email = plain_value(row.get("email"))
    bad_address = None
    if isinstance(email, str) and email:
        normalised, bad_address = check_address(email)
        email = normalised or email
    elif email is not None:
        email, bad_address = str(email), "not text"
    days = facts.since_last[visitor_id]
    candidate = Candidate(
        visitor_id=visitor_id,
        account_id=account_id,
        email=email,
        name=plain_value(row.get("name")),
        language=plain_value(row.get("language")),
        first_visit=_date(row.get("first_visit")),
        tier=(tiers or {}).get(account_id) if account_id else None,
        days_since_last_visit=days,
        lapse_day=as_of - dt.timedelta(days=days),
        segment=segment,
        account=_account(accounts, account_id),
    )
    since_first = facts.since_first.get(visitor_id, float("nan"))
    candidate.opted_out = (candidate.visitor_id, candidate.email) in opt_outs
    candidate.skip = _static_skip(candidate, since_first, settings, opt_outs)
    if candidate.skip is None and bad_address:
        candidate.skip = f"{INVALID_ADDRESS}: {bad_address}"
    return candidate


def _static_skip(
    c: Candidate, days_since_first: float, settings: NoLoginSettings, opt_outs: OptOuts
) -> str | None:
    if c.account_id and c.account_id in settings.exclude_accounts:
        return f"excluded account: {c.account_id}"
    if c.tier and c.tier in settings.exclude_tiers:
        return f"{EXCLUDED_TIER} {c.tier}: for the CSM (alert {alert_name(c.tier)})"
    if c.days_since_last_visit > settings.max_days_lapsed:
        return (
            f"lapsed over {settings.max_days_lapsed} days: last visit "
            f"{c.days_since_last_visit} days ago"
        )
    if settings.min_tenure_days and not days_since_first >= settings.min_tenure_days:
        return (
            f"tenure too short: first visit {int(days_since_first)} days ago "
            f"(minimum {settings.min_tenure_days})"
        )
    if (c.visitor_id, c.email) in opt_outs:
        return "opted out"
    if not c.email:
        return "no email address"
    return None


def make_plan(
    found: Candidates,
    rows: list[OutboxRow],
    last_contact: Mapping[str, dt.date],
    settings: NoLoginSettings,
    last_mailbox_contact: Mapping[str, dt.date] | None = None,
) -> Plan:
    """Apply the state rules; ``rows`` are the outbox rows of the candidates plus every
    open row, ``last_contact`` the latest contact day per visitor and
    ``last_mailbox_contact`` per :func:`mailbox_key` (the cooldown applies to both)."""
    as_of = found.as_of
    by_mailbox = last_mailbox_contact or {}
    by_key = {(r.visitor_id, r.lapse_day): r for r in rows}
    items: list[PlanItem] = []
    handled: set[int] = set()
    skipped_now: dict[tuple[str, dt.date], str] = {}
    taken: dict[str, str] = {}  # mailbox -> visitor emailed (or retried) in this run
    # Retries first: an email already queued for a mailbox keeps it.
    ordered = sorted(
        found.items,
        key=lambda c: (by_key.get((c.visitor_id, c.lapse_day)) is None, c.visitor_id),
    )
    planned: dict[str, PlanItem] = {}
    for c in ordered:
        row = by_key.get((c.visitor_id, c.lapse_day))
        if row is not None:
            handled.add(row.id)
        last = last_contact.get(c.visitor_id)
        mailbox = c.mailbox
        shared = by_mailbox.get(mailbox) if mailbox else None
        if shared is not None and (last is None or shared > last):
            last = shared
        item = _plan_one(c, row, last, as_of, settings)
        if item.action in ("email", "retry") and mailbox is not None:
            if mailbox in taken:
                item = PlanItem(
                    "skip", f"duplicate address: same mailbox as {taken[mailbox]}", c, row
                )
            else:
                taken[mailbox] = c.visitor_id
        planned[c.visitor_id] = item
    for c in found.items:
        item = planned[c.visitor_id]
        if item.action == "skip":
            skipped_now[(c.visitor_id, c.lapse_day)] = item.detail
        items.append(item)
    for row in rows:
        if row.id in handled and (row.visitor_id, row.lapse_day) not in skipped_now:
            continue
        if row.state not in OPEN_STATES:
            continue
        reason = skipped_now.get((row.visitor_id, row.lapse_day)) or _gone_reason(
            row, found.last_active, found.segment
        )
        items.append(PlanItem("cancel", reason, row=row))
    return Plan(found.segment, as_of, items)


def _plan_one(
    c: Candidate,
    row: OutboxRow | None,
    last: dt.date | None,
    as_of: dt.date,
    settings: NoLoginSettings,
) -> PlanItem:
    why = f"{c.segment}: {c.days_since_last_visit} days since last visit"
    if c.skip:
        return PlanItem("skip", c.skip, c, row)
    if row is not None:
        if row.state in CONTACTED_STATES or row.state == "sending":
            return PlanItem("skip", f"already contacted for this lapse ({row.state})", c, row)
        if row.state == "gave_up":
            return PlanItem(
                "skip", f"gave up after {row.attempts} failed attempts ({row.last_error})", c, row
            )
        if row.attempts:
            return PlanItem(
                "retry", f"{why}; attempt {row.attempts + 1} (last error: {row.last_error})", c, row
            )
        return PlanItem("email", why, c, row)
    if last is not None and (as_of - last).days <= settings.cooldown_days:
        return PlanItem(
            "skip",
            f"in cooldown: contacted on {last.isoformat()} ({(as_of - last).days} days ago)",
            c,
        )
    return PlanItem("email", why, c)


def _gone_reason(row: OutboxRow, last_active: Mapping[str, dt.date | None], segment: str) -> str:
    if row.visitor_id not in last_active:
        return "visitor no longer in the data"
    last = last_active[row.visitor_id]
    if last is not None and last > row.lapse_day:
        return f"came back: logged in on {last.isoformat()}"
    return f"no longer in {segment}"


def _account(accounts: Any, account_id: str | None) -> dict[str, Any]:
    if account_id is None or account_id not in accounts.index:
        return {}
    row = accounts.loc[account_id]
    return {k: plain_value(row[k]) for k in ACCOUNT_FIELDS if k in row.index}


def _date(value: Any) -> dt.date | None:
    value = plain_value(value)
    if value is None:
        return None
    if hasattr(value, "date"):
        return value.date()
    return value if isinstance(value, dt.date) else None
