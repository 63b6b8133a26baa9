"""The lapsed visitors the campaign does not email because of their tier, as alerts for CSMs.

"For P1 customers no interaction happens by accident": the no-login campaign
excludes P1 by default, and its lapsed visitors go to the account's CSM
instead. One alert per account, named after the tier (``p1_lapsed_visitors``),
in the shape of ``pendo-segments alerts`` (its first seven columns are the
same: ``account_id, alert, severity, tier, health_score, action, signals``), so
both can feed the same task queue or CRM import; then ``csm_owner``, the
number of visitors and their ids. The signals name every lapsed visitor with
their email address and days since their last visit, most recent lapse first
(the likeliest to come back).

Like every alert, the list is today's picture: a run lists every such visitor
who is still lapsed, not only the ones new since the last run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pendo_segments.base.words import plural
from pendo_segments.campaign.eligibility import EXCLUDED_TIER, Candidate, Candidates, alert_name
from pendo_segments.campaign.settings import TIER_NAMES, NoLoginSettings
from pendo_segments.tiers.alerts import ALERT_COLUMNS

CSM_ALERT_COLUMNS = [*ALERT_COLUMNS, "csm_owner", "visitors", "visitor_ids"]
SEVERITY = "medium"  # as the playbook's no_login_p1 alert


def csm_alerts(
    found: Candidates,
    settings: NoLoginSettings,
    health: Mapping[str, float] | None = None,
) -> list[dict[str, Any]]:
    """One alert per account whose lapsed visitors were skipped for their tier.

    Sorted by tier (P1 first), then account id, as ``alerts`` sorts by account.
    ``health``: account id → health score, when the tiers were computed here.
    """
    by_account: dict[str, list[Candidate]] = {}
    for c in found.items:
        if c.skip and c.skip.startswith(f"{EXCLUDED_TIER} ") and c.account_id and c.tier:
            by_account.setdefault(c.account_id, []).append(c)
    order = {t: i for i, t in enumerate(TIER_NAMES)}
    rows: list[dict[str, Any]] = []
    for account_id, people in by_account.items():
        people.sort(key=lambda c: (c.days_since_last_visit, c.visitor_id))
        tier = people[0].tier or ""
        rows.append(
            {
                "account_id": account_id,
                "alert": alert_name(tier),
                "severity": SEVERITY,
                "tier": tier,
                "health_score": (health or {}).get(account_id),
                "action": (
                    f"CSM reaches out to these users personally; the no-login campaign "
                    f"does not email {tier} accounts"
                ),
                "signals": _signals(people, settings.window_days),
                "csm_owner": people[0].account.get("csm_owner"),
                "visitors": len(people),
                "visitor_ids": " ".join(c.visitor_id for c in people),
            }
        )
    rows.sort(key=lambda r: (order.get(str(r["tier"]), len(order)), r["tier"], r["account_id"]))
    return rows


def _signals(people: list[Candidate], window_days: int) -> str:
    shown = "; ".join(_who(c) for c in people)
    return f"{plural(len(people), 'user')} without a login for over {window_days} days: {shown}"


def _who(c: Candidate) -> str:
    days = plural(c.days_since_last_visit, "day")
    who = f"{c.name} <{c.email}>" if c.name and c.email else c.name or c.email or c.visitor_id
    notes = [days] + (["opted out of campaign email"] if c.opted_out else [])
    notes += [] if c.email else ["no email address"]
    return f"{who}, {', '.join(notes)}"


def summary(alerts: list[dict[str, Any]]) -> str:
    """ "p1_lapsed_visitors alerts for their CSMs: 332 visitors at 31 accounts" per alert name."""
    counts: dict[str, list[int]] = {}
    for row in alerts:
        seen = counts.setdefault(row["alert"], [0, 0])
        seen[0] += 1
        seen[1] += row["visitors"]
    return "; ".join(
        f"{name} alerts for their CSMs: {plural(v, 'visitor')} at {plural(n, 'account')}"
        for name, (n, v) in counts.items()
    )


def policy(settings: NoLoginSettings, alerts: list[dict[str, Any]]) -> str:
    """The run's policy in one line, for the summary: who is never emailed, and where instead."""
    parts = []
    if settings.exclude_tiers:
        order = {t: i for i, t in enumerate(TIER_NAMES)}
        tiers = " and ".join(sorted(settings.exclude_tiers, key=lambda t: order.get(t, 99)))
        parts.append(f"tier {tiers} ({summary(alerts) or 'no lapsed visitors there today'})")
    parts.append(f"visitors lapsed over {settings.max_days_lapsed} days")
    return (
        f"Not emailed by policy: {' and '.join(parts)}; set exclude_tiers and "
        "max_days_lapsed in [campaign.no_login] to change it."
    )
