"""What the report takes from the definitions besides the numbers: how it names
segments and alerts, tier reasons and alert texts in the page's language, and
the window of the new users segment.

Names people chose (segments, alerts, tiers, plans) are shown as written; a
Japanese page shows a segment's or an alert's ``title_ja`` instead when it has
one, an alert's ``action_ja`` and a tier rule's ``reason_ja``. Texts the
product writes around them (signals, the renewal-risk flag, overrides) are
translated by :mod:`pendo_segments.report.signals_ja`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from pendo_segments.backtest.usage import LOOKBACK, NEW_USER_DAYS
from pendo_segments.definitions.models import AllOf, MetricCondition
from pendo_segments.report.i18n import Words
from pendo_segments.report.signals_ja import SignalsJa

NEW_USERS = "new_users"


@dataclass(frozen=True)
class NewUsers:
    """Who counts as a new user: first visit within ``days`` days before the as-of day."""

    days: int
    segment: str | None  # the segment this is the window of (None: no such segment)
    members: int | None = None  # its members at the as-of day


def new_users(defs: Any) -> NewUsers:
    """The window of the ``new_users`` segment (``days_since_first_visit <= N``, alone or
    in an ``all``), so time to first use counts the segment's members; the shipped
    30 days when there is no such segment or its rule has no such bound."""
    if NEW_USERS not in getattr(defs, "segments", {}):
        return NewUsers(NEW_USER_DAYS, None)
    seg = defs.get(NEW_USERS)
    parts = seg.rule.all if isinstance(seg.rule, AllOf) else [seg.rule]
    for c in parts:
        if not isinstance(c, MetricCondition) or c.metric != "days_since_first_visit":
            continue
        if c.op in ("<=", "<") and c.value is not None:
            # whole days: "< 30" is "<= 29"
            days = math.ceil(c.value) - 1 if c.op == "<" else math.floor(c.value)
            if 1 <= days <= LOOKBACK and seg.subject == "visitor":
                return NewUsers(days, NEW_USERS)
    return NewUsers(NEW_USER_DAYS, None)


class Names:
    """Segment, alert and tier-reason texts as the page's locale shows them."""

    def __init__(self, w: Words, defs: Any, alert_rules: Any = None) -> None:
        self.w = w
        self.ja = w.locale == "ja"
        self.segments = {s.name: s.title_ja for s in defs if s.title_ja} if self.ja else {}
        specs = [a.spec for a in alert_rules.alerts] if alert_rules is not None else []
        self.alerts = {s.name: s.title_ja for s in specs if s.title_ja} if self.ja else {}
        self.actions = {s.name: s.action_ja for s in specs if s.action_ja} if self.ja else {}
        self.signals = SignalsJa(self.segment, lambda day: w.date(day)) if self.ja else None

    def segment(self, name: str) -> str:
        return self.segments.get(name, name)

    def alert(self, name: str) -> str:
        return self.alerts.get(name, name)

    def alert_rows(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Alert records with ``alert``, ``action`` and ``signals`` as the page shows them
        (alerts.csv keeps the names and English texts); English records are returned as
        they are."""
        if not self.ja:
            return records
        assert self.signals is not None
        out = []
        for r in records:
            name = str(r["alert"])
            out.append(
                {
                    **r,
                    "alert": self.alert(name),
                    "action": self.actions.get(name, r["action"]),
                    "signals": self.signals(str(r["signals"] or "")),
                }
            )
        return out

    def tier_reasons(self, tiers: Any, rows: np.ndarray) -> list[str]:
        """The tier reasons of the accounts at ``rows`` (``tiers``: a TierResult).

        A rule's ``reason_ja`` is filled in once for all its accounts (a placeholder
        reads a whole accounts column: 18,486 P1 accounts at 1M visitors).
        """
        reasons = [str(r) for r in tiers.reason[rows]]
        if not self.ja:
            return reasons
        from pendo_segments.health.wording import renewal_text
        from pendo_segments.tiers.assign import render_reasons

        assert self.signals is not None
        rules = tiers.policy.rules
        out = [self._reason(r) for r in reasons]  # overrides, rules without reason_ja
        of_rule = tiers.rule[rows]
        for r, rule in enumerate(rules):
            mine = np.flatnonzero(of_rule == r)
            if not rule.reason_ja or not len(mine):
                continue
            ja = dataclasses.replace(rule, reason=rule.reason_ja)
            texts = render_reasons(ja, tiers.facts, rows[mine])
            for k, text in zip(mine.tolist(), _each(texts, len(mine)), strict=True):
                i = int(rows[k])
                if tiers.renewal_risk[i]:
                    text = f"{text}。{self.signals(renewal_text(tiers.facts, i))}"
                out[k] = text
        return out

    def _reason(self, text: str) -> str:
        assert self.signals is not None
        said = self.signals.override(text, self._reason)
        if said is not None:
            return said
        head, sep, tail = text.rpartition("; renewal risk: ")
        if sep:
            return f"{head}。{self.signals('renewal risk: ' + tail)}"
        return text


def _each(texts: list[str] | str, n: int) -> list[str]:
    """``render_reasons`` gives one text for a reason without placeholders."""
    return [texts] * n if isinstance(texts, str) else texts
