"""Assign every account one tier with a reason: policy, then overrides.

Rules are applied as whole-array masks in policy order; an account keeps
the first tier that matched. Overrides replace the result and say what the
policy would have said. Renewal risk is a flag added to the reason, not a
tier.
"""

from __future__ import annotations

import datetime as dt
import math
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pendo_segments.data.history import fields_for
from pendo_segments.errors import DefinitionError
from pendo_segments.health.config import HealthConfig
from pendo_segments.health.rules import (
    HEALTH_NAMES,
    SIGNALS,
    Facts,
    evaluate_segments,
    mask,
    segment_names,
)
from pendo_segments.health.score import HealthResult, compute_health
from pendo_segments.health.wording import renewal_text
from pendo_segments.tiers.capacity import capacity_table
from pendo_segments.tiers.policy import Rule, TierPolicy

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset

TIER_COLUMNS = ["account_id", "tier", "reason"]
MOVE_COLUMNS = ["previous_tier", "move"]
OVERRIDE_RULE = -1


@dataclass
class TierResult:
    """One tier and reason per account (arrays aligned to ``account_ids``)."""

    policy: TierPolicy
    health: HealthResult
    facts: Facts
    tier: np.ndarray
    reason: np.ndarray
    rule: np.ndarray  # index of the matching rule; OVERRIDE_RULE for overrides
    overridden: np.ndarray
    renewal_risk: np.ndarray
    unknown_overrides: list[str]

    @property
    def as_of(self) -> dt.date:
        return self.health.as_of

    @property
    def account_ids(self) -> pd.Index:
        return self.health.account_ids

    @property
    def subjects(self) -> np.ndarray:
        """Per account: a subject at the as-of day, so tiered (docs/semantics.md §2b);
        the others keep their place with no tier (None)."""
        return self.health.subject_mask()

    def frame(self, previous: pd.DataFrame | None = None) -> pd.DataFrame:
        """``account_id,tier,reason`` (+ ``previous_tier,move``) of the subject accounts,
        sorted by account."""
        keep = self.subjects
        ids = self.account_ids[keep]
        out = pd.DataFrame(
            {
                "account_id": np.asarray(ids, dtype=object),
                "tier": self.tier[keep],
                "reason": self.reason[keep],
            }
        )
        if previous is not None:
            prev, move = moves(self.tier[keep], ids, previous, self.policy)
            out["previous_tier"], out["move"] = prev, move
        return out.sort_values("account_id", kind="stable").reset_index(drop=True)

    def capacity(self, ratios: dict[str, float] | None = None) -> pd.DataFrame:
        arr = pd.to_numeric(self.facts.ds.accounts["arr"], errors="coerce").to_numpy(dtype=float)
        keep = self.subjects
        return capacity_table(self.tier[keep], arr[keep], self.policy, ratios)


def moves(
    tier: np.ndarray, account_ids: pd.Index, previous: pd.DataFrame, policy: TierPolicy
) -> tuple[np.ndarray, np.ndarray]:
    """Previous tier and ``up`` / ``down`` / ``unchanged`` / ``new`` per account.

    Up means towards the first tier of the policy (more touch).
    """
    prev = pd.Series(previous["tier"].to_numpy(), index=previous["account_id"].to_numpy())
    before: np.ndarray = prev.reindex(np.asarray(account_ids)).to_numpy(dtype=object)
    rank = {name: i for i, name in enumerate(policy.names)}
    now_rank = np.array([rank[t] for t in tier])
    was = pd.isna(before)
    before_rank = np.array([rank.get(t, -1) if isinstance(t, str) else -1 for t in before])
    move = np.where(
        was,
        "new",
        np.where(
            now_rank < before_rank, "up", np.where(now_rank > before_rank, "down", "unchanged")
        ),
    )
    previous_tier = before.copy()
    previous_tier[was] = None
    return previous_tier, move.astype(object)


def removed_accounts(account_ids: pd.Index, previous: pd.DataFrame) -> list[str]:
    """Accounts of the previous run that are no longer in the data."""
    gone = ~previous["account_id"].isin(np.asarray(account_ids))
    return sorted(previous.loc[gone, "account_id"].astype(str))


def assign_tiers(
    ds: Dataset,
    policy: TierPolicy,
    *,
    defs: Any = None,
    as_of: dt.date | None = None,
    health: HealthResult | None = None,
    health_config: HealthConfig | None = None,
    overrides: pd.DataFrame | None = None,
    masks: Mapping[str, np.ndarray] | None = None,
) -> TierResult:
    """Tier every account of ``ds`` that exists at the as-of day: first matching policy
    rule, then overrides (the others get no tier, docs/semantics.md §2b).

    ``masks``: segment masks already evaluated at this as-of day (not evaluated again).
    """
    health = health or compute_health(ds, as_of=as_of, config=health_config)
    ds = fields_for(ds, health.as_of)  # account fields of D−1 (history files)
    conds = [r.when for r in policy.rules]
    segments = evaluate_segments(ds, defs, segment_names(conds), health.as_of, conds, masks)
    facts = Facts(
        ds=ds,
        health=health,
        segments=segments,
        renewal=(policy.renewal_risk.within_days, policy.renewal_risk.score_below),
    )
    n = len(health.account_ids)
    tier = np.empty(n, dtype=object)
    reason = np.empty(n, dtype=object)
    rule_of = np.full(n, -2, dtype=np.int64)
    open_ = health.subject_mask().copy()
    for i, rule in enumerate(policy.rules):
        hit = open_ & (mask(rule.when, facts) if rule.when is not None else True)
        tier[hit] = rule.tier
        reason[hit] = render_reasons(rule, facts, np.flatnonzero(hit))
        rule_of[hit] = i
        open_ &= ~hit
    return finish_tiers(policy, facts, tier, reason, rule_of, facts.renewal_risk, overrides)


def finish_tiers(
    policy: TierPolicy,
    facts: Facts,
    tier: np.ndarray,
    reason: np.ndarray,
    rule_of: np.ndarray,
    risk: np.ndarray,
    overrides: pd.DataFrame | None,
) -> TierResult:
    """Overrides over the policy's tiers, then the renewal-risk flag in the reason.

    Shared by the pandas path and the SQL engines (tiers/sql.py), which decide
    ``tier``, ``rule_of`` and ``risk`` in the engine.
    """
    health = facts.health
    overridden = np.zeros(len(tier), dtype=bool)
    unknown: list[str] = []
    if overrides is not None and len(overrides):
        unknown = _apply_overrides(
            overrides,
            health.account_ids,
            health.subject_mask(),
            (tier, reason, rule_of, overridden),
        )
    for k in np.flatnonzero(risk).tolist():
        reason[k] = f"{reason[k]}; {renewal_text(facts, k)}"
    return TierResult(
        policy=policy,
        health=health,
        facts=facts,
        tier=tier,
        reason=reason,
        rule=rule_of,
        overridden=overridden,
        renewal_risk=risk,
        unknown_overrides=unknown,
    )


def _apply_overrides(
    overrides: pd.DataFrame,
    ids: pd.Index,
    subjects: np.ndarray,
    arrays: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> list[str]:
    """Overrides into ``arrays`` (tier, reason, rule, overridden); the accounts that are
    not in the data or not subjects at the as-of day are returned, not tiered."""
    tier, reason, rule_of, overridden = arrays
    pos = ids.get_indexer(overrides["account_id"].astype(str))
    pos[pos >= 0] = np.where(subjects[pos[pos >= 0]], pos[pos >= 0], -1)
    for row, i in enumerate(pos.tolist()):
        if i < 0:
            continue
        new, note = overrides["tier"].iloc[row], str(overrides["note"].iloc[row] or "").strip()
        said = f"policy said {tier[i]}: {reason[i]}"
        reason[i] = f"Override: {note} ({said})" if note else f"Override, no note ({said})"
        tier[i] = new
        rule_of[i] = OVERRIDE_RULE
        overridden[i] = True
    return sorted(overrides["account_id"].astype(str)[pos < 0])


# -- reason texts ----------------------------------------------------------------


def render_reasons(rule: Rule, facts: Facts, rows: np.ndarray) -> list[str] | str:
    """The rule's reason per matched account, placeholders filled in."""
    if not rule.placeholders:
        return rule.reason
    getters = {name: _getter(name, rule, facts) for name in set(rule.placeholders)}
    parts = list(string.Formatter().parse(rule.reason))  # parsed once, not per account
    return [_render(rule, parts, {k: g(int(i)) for k, g in getters.items()}) for i in rows]


def _getter(name: str, rule: Rule, facts: Facts) -> Callable[[int], Any]:
    if name in HEALTH_NAMES:
        values = facts.health_value(name)
        return lambda i: values[i]
    if name in SIGNALS:
        values = facts.signal(name)
        return lambda i: values[i]
    accounts = facts.ds.accounts
    if name not in accounts.columns:
        from pendo_segments.definitions.yaml_lines import suggest

        options = [*map(str, accounts.columns), *HEALTH_NAMES, *SIGNALS]
        raise DefinitionError(
            f"{rule.where}.{rule.key_of(name)}: unknown placeholder '{{{name}}}'"
            f"{suggest(name, options)} (an accounts column, score, a "
            "component or a signal)"
        )
    column = accounts[name].tolist()  # Python values, like .iloc's after .item()
    return lambda i: column[i]


def _render(rule: Rule, parts: list[tuple[str, Any, Any, Any]], values: dict[str, Any]) -> str:
    out = []
    for literal, name, spec, conv in parts:
        out.append(literal)
        if name is None:
            continue
        value = values[name]
        if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
            out.append("unknown")
            continue
        if isinstance(value, pd.Timestamp):
            value = value.date()
        elif hasattr(value, "item"):
            value = value.item()
        try:
            out.append(format(str(value) if conv == "s" else value, spec or ""))
        except (ValueError, TypeError):
            raise DefinitionError(
                f"{rule.where}.reason: format '{{{name}:{spec}}}' does not fit the value {value!r}"
            ) from None
    return "".join(out)
