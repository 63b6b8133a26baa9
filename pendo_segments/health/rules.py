"""Account rules of ``tiers.yaml`` and ``alerts.yaml``: the rule language over health.

The conditions are the segment rule tree (``pendo_segments.definitions``),
parsed by the same parser with four more leaf kinds that read the health
result (docs/semantics.md §5, §6)::

    {health: score, op: "<", value: 40}            # score or a component, 0–100
    {signal: days_since_last_login, op: ">", value: 14}
    {signal: renewal_risk}                          # a true/false signal
    {previous: score, op: "<", value: 40}           # from --previous (health csv)
    {tier: P1}  /  {tier: [P1, P2]}                 # alerts only: the assigned tier

This module owns their vocabulary and evaluates them on numpy arrays with the
engine's comparison table. Comparisons with unknown values are false
(docs/semantics.md §2). Health values are compared after rounding to 1
decimal, so the decision agrees with the number users see.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from pendo_segments.definitions.models import (
    AllOf,
    AnyOf,
    FieldCondition,
    HealthCondition,
    NotOf,
    PreviousCondition,
    SegmentRef,
    SignalCondition,
    TierCondition,
    walk,
)
from pendo_segments.definitions.rules import Mention, RuleParser, Vocabulary
from pendo_segments.definitions.yaml_lines import key_path, suggest
from pendo_segments.errors import DefinitionError
from pendo_segments.evaluate.fields import COMPARE, field_mask, resolve_column
from pendo_segments.health.config import COMPONENTS
from pendo_segments.health.configfile import Problems
from pendo_segments.health.score import HealthResult, round1

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset

HEALTH_NAMES: tuple[str, ...] = ("score", *COMPONENTS)
#: signal → (label, unit) used in explanations
SIGNALS: dict[str, tuple[str, str]] = {
    "active_days": ("active days", ""),
    "feature_adoption": ("key feature adoption", " %"),
    "breadth": ("share of features used", " %"),
    "nps": ("NPS mean", "/10"),
    "nps_responses": ("NPS responses", ""),
    "tickets": ("support tickets", ""),
    "sessions": ("sessions", ""),
    "usage_growth": ("usage growth on the window before", " %"),
    "days_since_last_login": ("days since last login", ""),
    "renewal_in_days": ("days to renewal", ""),
    "renewal_risk": ("renewal risk", ""),
}
BOOL_SIGNALS = frozenset({"renewal_risk"})
#: the component each raw signal feeds (an explanation names one or the other)
SIGNAL_COMPONENT = {
    "active_days": "login_frequency",
    "feature_adoption": "core_feature_adoption",
    "breadth": "breadth",
    "nps": "nps",
    "tickets": "support_tickets",
}


def vocabulary(tiers: Sequence[str] | None = None) -> Vocabulary:
    """What health / signal / previous / tier leaves may name."""
    return Vocabulary(
        health=HEALTH_NAMES,
        signals=tuple(SIGNALS),
        flags=BOOL_SIGNALS,
        tiers=tuple(tiers) if tiers is not None else None,
    )


@dataclass(frozen=True)
class AccountRule:
    """A parsed condition of tiers.yaml / alerts.yaml and where its parts are written."""

    rule: Any  # a node of the definitions tree
    where: dict[int, str]  # FILE:LINE: path per node, by id
    mentions: tuple[Mention, ...]
    file: str

    def walk(self) -> list[Any]:
        return walk(self.rule)

    def kinds(self) -> set[str]:
        return {node.kind for node in self.walk()}

    def segment_names(self) -> list[str]:
        return [n.segment for n in self.walk() if isinstance(n, SegmentRef)]

    def where_of(self, node: Any) -> str:
        return self.where.get(id(node), self.file)


def parse_account_rule(
    parent: Any,
    key: Any,
    base: tuple[Any, ...],
    problems: Problems,
    *,
    leaves: Sequence[str],
    tiers: Sequence[str] | None = None,
    segments: Mapping[str, Any] | None = None,
) -> AccountRule | None:
    """Parse ``parent[key]`` (key path ``base + (key,)``) with the one rule parser.

    ``segments`` (name → subject), when given, checks the segments the rule names.
    """
    parser = RuleParser(
        problems.file,
        lambda line, path, message: problems.add(path, message, line=line),
        leaves=tuple(leaves),
        vocabulary=vocabulary(tiers),
    )
    rule = parser.parse(parent[key], parent, (key,), base, subject="account")
    if segments is not None:
        for m in parser.mentions:
            if m.kind == "segment" and m.name not in segments:
                problems.add(
                    m.path, f"unknown segment '{m.name}'{suggest(m.name, segments)}", line=m.line
                )
            elif m.kind == "segment" and segments[m.name] == "visitor":
                problems.add(
                    m.path,
                    f"segment '{m.name}' is a visitor segment; conditions here need account "
                    "segments",
                    line=m.line,
                )
    if rule is None:
        return None
    return AccountRule(rule, parser.where, tuple(parser.mentions), problems.file)


# -- evaluation ------------------------------------------------------------------


@dataclass
class Facts:
    """Everything a condition can read, aligned to ``health.account_ids``."""

    ds: Dataset
    health: HealthResult
    segments: dict[str, np.ndarray] = field(default_factory=dict)
    previous: dict[str, np.ndarray] | None = None
    tier: np.ndarray | None = None
    #: (within_days, score_below) of the tier policy's renewal risk
    renewal: tuple[int, float] | None = None
    _cache: dict[Any, np.ndarray] = field(default_factory=dict, repr=False)

    def cached(self, key: Any, compute: Callable[[], np.ndarray]) -> np.ndarray:
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    @property
    def as_of(self) -> dt.date:
        return self.health.as_of

    def health_value(self, name: str) -> np.ndarray:
        values = self.health.score if name == "score" else self.health.components[name]
        return self.cached(("health", name), lambda: round1(values))

    @property
    def renewal_risk(self) -> np.ndarray:
        """Renews within N days (as-of day included) with a score below the threshold."""
        within, below = self.renewal or (90, 60.0)
        days = self.health.signals["renewal_in_days"]

        def compute() -> np.ndarray:
            with np.errstate(invalid="ignore"):
                return (days >= 0) & (days <= within) & (self.health_value("score") < below)

        return self.cached(("renewal_risk",), compute)

    def signal(self, name: str) -> np.ndarray:
        if name == "renewal_risk":
            return self.renewal_risk.astype(np.float64)
        return self.health.signals[name]

    def previous_value(self, name: str, where: str) -> np.ndarray:
        if self.previous is None:
            raise DefinitionError(f"{where}: needs a previous health run (--previous FILE)")
        return self.previous["health_score" if name == "score" else name]


def segment_names(rules: Sequence[AccountRule | None]) -> list[str]:
    return sorted({n for r in rules if r is not None for n in r.segment_names()})


def evaluate_segments(
    ds: Dataset,
    defs: Any,
    names: Sequence[str],
    as_of: dt.date,
    rules: Sequence[AccountRule | None],
    known: Mapping[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Account masks of the segments ``rules`` mention, with FILE:LINE on unknown ones.

    ``known``: masks already evaluated on ``ds`` at ``as_of`` (the report's
    backtest has every segment's); only the others are evaluated.
    """
    if not names:
        return {}
    check_segments(defs, names, rules)
    known = known or {}
    missing = [n for n in names if n not in known]
    if missing:
        from pendo_segments.evaluate import evaluate

        known = {**known, **evaluate(defs, ds, as_of=as_of, names=missing).masks}
    return {n: known[n] for n in names}


def check_segments(defs: Any, names: Sequence[str], rules: Sequence[AccountRule | None]) -> None:
    """Every named segment exists and is an account segment (FILE:LINE of the mention)."""
    if not names:
        return
    where = {
        m.name: f"{r.file}:{m.line}: {key_path(m.path)}"
        for r in reversed([r for r in rules if r is not None])
        for m in reversed(r.mentions)
        if m.kind == "segment"
    }
    if defs is None:
        raise DefinitionError(
            f"{where[names[0]]}: segment '{names[0]}' needs the segment definitions (defs=…)"
        )
    known = set(defs.segments)
    for name in names:
        if name not in known:
            raise DefinitionError(f"{where[name]}: unknown segment '{name}'{suggest(name, known)}")
        if defs.get(name).subject != "account":
            raise DefinitionError(
                f"{where[name]}: segment '{name}' is a visitor segment; "
                "conditions here need account segments"
            )


def mask(rule: AccountRule, facts: Facts, node: Any = None) -> np.ndarray:
    """Which accounts satisfy ``node`` of ``rule`` (its root by default), cached per node."""
    node = rule.rule if node is None else node
    return facts.cached(("mask", id(node)), lambda: _mask(rule, node, facts))


def _mask(rule: AccountRule, node: Any, facts: Facts) -> np.ndarray:
    n = len(facts.health.account_ids)
    if isinstance(node, AllOf):
        out = np.ones(n, dtype=bool)
        for child in node.all:
            out &= mask(rule, facts, child)
        return out
    if isinstance(node, AnyOf):
        out = np.zeros(n, dtype=bool)
        for child in node.any:
            out |= mask(rule, facts, child)
        return out
    if isinstance(node, NotOf):
        return ~mask(rule, facts, node.not_)
    if isinstance(node, SegmentRef):
        return facts.segments[node.segment]
    if isinstance(node, FieldCondition):
        where = rule.where_of(node)
        column = resolve_column(facts.ds.accounts, node.column, "accounts", where)
        return field_mask(node, column.reset_index(drop=True), facts.as_of, where)
    if isinstance(node, TierCondition):
        if facts.tier is None:
            raise DefinitionError(f"{rule.where_of(node)}: needs tiers (tiers.yaml)")
        return np.isin(facts.tier, node.names)
    if isinstance(node, SignalCondition) and node.signal in BOOL_SIGNALS:
        return leaf_values(rule, node, facts) > 0
    if isinstance(node, HealthCondition | SignalCondition | PreviousCondition):
        return compare(leaf_values(rule, node, facts), node.op, node.value)
    raise DefinitionError(f"{rule.where_of(node)}: cannot evaluate a '{node.kind}' condition here")


def leaf_values(rule: AccountRule, node: Any, facts: Facts) -> np.ndarray:
    """The numbers a health / previous / signal leaf compares, per account."""
    if isinstance(node, HealthCondition):
        return facts.health_value(node.health)
    if isinstance(node, PreviousCondition):
        return facts.previous_value(node.previous, rule.where_of(node))
    return facts.signal(node.signal)


def compare(values: np.ndarray, op: str | None, value: float | None) -> np.ndarray:
    """``values OP value`` with unknown (NaN) values false; ``exists`` tests for them."""
    known = ~np.isnan(values)
    if op == "exists":
        return known
    if op == "not_exists":
        return ~known
    with np.errstate(invalid="ignore"):
        hit: np.ndarray = COMPARE[str(op)](values, float(value or 0))
    return hit.astype(bool) & known
