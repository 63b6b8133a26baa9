"""Account conditions for tier rules and alerts, over fields, segments and health.

The language is the segment one (``all`` / ``any`` / ``not``, ``field``,
``segment``) plus leaves that read the health result::

    {health: score, op: "<", value: 40}            # score or a component, 0–100
    {signal: days_since_last_login, op: ">", value: 14}
    {signal: renewal_risk}                          # a true/false signal
    {previous: score, op: "<", value: 40}           # from --previous (health csv)
    {tier: P1}  /  {tier: [P1, P2]}                 # alerts only: the assigned tier

Comparisons with unknown values are false (CONTRACT.md §2). Health values are
compared after rounding to 1 decimal, so the decision agrees with the number
users see. Every parsed node keeps ``where`` (``FILE:LINE: path``) for errors
that only the data can reveal (unknown segment or column).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from pendo_segments.definitions.models import FieldCondition, SegmentRef
from pendo_segments.definitions.yaml_lines import LineDict, LineList, key_path, line_of, suggest
from pendo_segments.errors import DefinitionError
from pendo_segments.evaluate.fields import field_mask, resolve_column
from pendo_segments.health.config import COMPONENTS, LABELS
from pendo_segments.health.configfile import Problems, validate
from pendo_segments.health.score import HealthResult, round1

CompareOp = Literal["=", "!=", "<", "<=", ">", ">=", "exists", "not_exists"]
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
LEAF_KEYS = ("field", "segment", "health", "signal", "previous", "tier")
GROUP_KEYS = ("all", "any", "not")
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "=": np.equal,
    "!=": np.not_equal,
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
}


class _Leaf(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HealthLeaf(_Leaf):
    health: str
    op: CompareOp
    value: float | None = None


class PreviousLeaf(_Leaf):
    previous: str
    op: CompareOp
    value: float | None = None


class SignalLeaf(_Leaf):
    signal: str
    op: CompareOp | None = None
    value: float | None = None


class TierLeaf(_Leaf):
    tier: str | list[str] = Field(min_length=1)

    @property
    def names(self) -> list[str]:
        return [self.tier] if isinstance(self.tier, str) else list(self.tier)


_LEAF_MODELS: dict[str, type[BaseModel]] = {
    "field": FieldCondition,
    "segment": SegmentRef,
    "health": HealthLeaf,
    "signal": SignalLeaf,
    "previous": PreviousLeaf,
    "tier": TierLeaf,
}


@dataclass(frozen=True)
class Cond:
    """A parsed condition: a group (``all``/``any``/``not``) or one leaf."""

    kind: str
    children: tuple[Cond, ...] = ()
    leaf: Any = None
    where: str = ""

    def walk(self) -> list[Cond]:
        out = [self]
        for child in self.children:
            out.extend(child.walk())
        return out

    def names(self, kind: str) -> list[str]:
        """Segment / tier / … names the condition mentions."""
        found: list[str] = []
        for node in self.walk():
            if node.kind == kind == "segment":
                found.append(node.leaf.segment)
            elif node.kind == kind == "tier":
                found.extend(node.leaf.names)
            elif node.kind == kind:
                found.append(getattr(node.leaf, kind))
        return found


# -- parsing ---------------------------------------------------------------------


def parse_condition(
    node: Any,
    path: tuple[Any, ...],
    problems: Problems,
    *,
    tiers: Sequence[str] | None = None,
    allowed: Sequence[str] = LEAF_KEYS,
) -> Cond | None:
    """Parse the condition found at ``path`` of the file; problems get their own lines."""
    line = line_of(problems.doc, path)
    where = f"{problems.file}:{line}: {key_path(path)}"
    if not isinstance(node, LineDict):
        problems.add(
            path, f"expected a condition mapping with one of {' / '.join((*allowed, *GROUP_KEYS))}"
        )
        return None
    present = [k for k in node if k in (*LEAF_KEYS, *GROUP_KEYS)]
    if len(present) != 1:
        keys = ", ".join(f"'{k}'" for k in node) or "none"
        hint = next(
            (
                suggest(str(k), (*allowed, *GROUP_KEYS))
                for k in node
                if suggest(str(k), (*allowed, *GROUP_KEYS))
            ),
            "",
        )
        what = (
            f"found {', '.join(present)} (nest them under all/any)"
            if present
            else f"keys {keys}{hint}"
        )
        problems.add(
            path,
            f"a condition has exactly one of {' / '.join((*allowed, *GROUP_KEYS))}; {what}",
            line=node.line,
        )
        return None
    kind = present[0]
    if kind in GROUP_KEYS:
        return _parse_group(kind, node, path, problems, tiers, allowed, where)
    if kind not in allowed:
        problems.add(
            (*path, kind), f"'{kind}' conditions are not available here (use {', '.join(allowed)})"
        )
        return None
    leaf = validate(_LEAF_MODELS[kind], dict(node), problems, path)
    if leaf is None or not _check_leaf(kind, leaf, path, problems, tiers):
        return None
    return Cond(kind=kind, leaf=leaf, where=where)


def _parse_group(
    kind: str,
    node: LineDict,
    path: tuple[Any, ...],
    problems: Problems,
    tiers: Sequence[str] | None,
    allowed: Sequence[str],
    where: str,
) -> Cond | None:
    extra = [k for k in node if k != kind]
    if extra:
        problems.add((*path, extra[0]), f"unexpected key '{extra[0]}' beside '{kind}'")
        return None
    if kind == "not":
        inner = parse_condition(node["not"], (*path, "not"), problems, tiers=tiers, allowed=allowed)
        return None if inner is None else Cond(kind="not", children=(inner,), where=where)
    items = node[kind]
    if not isinstance(items, LineList) or not items:
        problems.add((*path, kind), f"'{kind}' needs a non-empty list of conditions")
        return None
    parsed = [
        parse_condition(item, (*path, kind, i), problems, tiers=tiers, allowed=allowed)
        for i, item in enumerate(items)
    ]
    if any(p is None for p in parsed):
        return None
    return Cond(kind=kind, children=tuple(parsed), where=where)  # type: ignore[arg-type]


def _check_leaf(
    kind: str, leaf: Any, path: tuple[Any, ...], problems: Problems, tiers: Sequence[str] | None
) -> bool:
    def bad(key: str, message: str) -> bool:
        problems.add((*path, key), message)
        return False

    if kind in ("health", "previous"):
        name = getattr(leaf, kind)
        if name not in HEALTH_NAMES:
            return bad(
                kind,
                f"unknown health value '{name}'{suggest(name, HEALTH_NAMES)} "
                f"(one of {', '.join(HEALTH_NAMES)})",
            )
        return _check_compare(leaf, path, problems)
    if kind == "signal":
        if leaf.signal not in SIGNALS:
            return bad(
                "signal",
                f"unknown signal '{leaf.signal}'{suggest(leaf.signal, SIGNALS)}"
                f" (one of {', '.join(SIGNALS)})",
            )
        if leaf.signal in BOOL_SIGNALS:
            if leaf.op is not None or leaf.value is not None:
                return bad(
                    "op",
                    f"signal '{leaf.signal}' is true/false; write "
                    f"{{signal: {leaf.signal}}} or wrap it in 'not'",
                )
            return True
        if leaf.op is None:
            return bad("signal", f"signal '{leaf.signal}' needs 'op' and 'value'")
        return _check_compare(leaf, path, problems)
    if kind == "tier" and tiers is not None:
        for name in leaf.names:
            if name not in tiers:
                return bad(
                    "tier",
                    f"unknown tier '{name}'{suggest(name, tiers)} (tiers: {', '.join(tiers)})",
                )
    if kind == "field" and leaf.on_account:
        return bad(
            "field", f"'{leaf.field}': conditions here are about accounts; use '{leaf.column}'"
        )
    return True


def _check_compare(leaf: Any, path: tuple[Any, ...], problems: Problems) -> bool:
    if leaf.op in ("exists", "not_exists"):
        if leaf.value is not None:
            problems.add((*path, "value"), f"op '{leaf.op}' takes no value")
            return False
    elif leaf.value is None:
        problems.add((*path, "op"), f"op '{leaf.op}' needs a numeric value")
        return False
    return True


# -- evaluation ------------------------------------------------------------------


@dataclass
class Facts:
    """Everything a condition can read, aligned to ``health.account_ids``."""

    ds: Any
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


def segment_names(conds: Sequence[Cond | None]) -> list[str]:
    return sorted({n for c in conds if c is not None for n in c.names("segment")})


def evaluate_segments(
    ds: Any, defs: Any, names: Sequence[str], as_of: dt.date, conds: Sequence[Cond | None]
) -> dict[str, np.ndarray]:
    """Account masks of the segments ``conds`` mention, with FILE:LINE on unknown ones."""
    if not names:
        return {}
    where = {
        n.leaf.segment: n.where
        for c in conds
        if c is not None
        for n in c.walk()
        if n.kind == "segment"
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
    from pendo_segments.evaluate import evaluate

    result = evaluate(defs, ds, as_of=as_of, names=list(names))
    return {n: result.masks[n] for n in names}


def mask(cond: Cond, facts: Facts) -> np.ndarray:
    """Which accounts satisfy ``cond`` (cached per condition node)."""
    return facts.cached(("mask", id(cond)), lambda: _mask(cond, facts))


def _mask(cond: Cond, facts: Facts) -> np.ndarray:
    n = len(facts.health.account_ids)
    if cond.kind == "all":
        out = np.ones(n, dtype=bool)
        for child in cond.children:
            out &= mask(child, facts)
        return out
    if cond.kind == "any":
        out = np.zeros(n, dtype=bool)
        for child in cond.children:
            out |= mask(child, facts)
        return out
    if cond.kind == "not":
        return ~mask(cond.children[0], facts)
    if cond.kind == "segment":
        return facts.segments[cond.leaf.segment]
    if cond.kind == "field":
        column = resolve_column(facts.ds.accounts, cond.leaf.column, "accounts", cond.where)
        return field_mask(cond.leaf, column.reset_index(drop=True), facts.as_of, cond.where)
    if cond.kind == "tier":
        if facts.tier is None:
            raise DefinitionError(f"{cond.where}: needs tiers (tiers.yaml)")
        return np.isin(facts.tier, cond.leaf.names)
    values = leaf_values(cond, facts)
    if cond.kind == "signal" and cond.leaf.signal in BOOL_SIGNALS:
        return values > 0
    return compare(values, cond.leaf.op, cond.leaf.value)


def leaf_values(cond: Cond, facts: Facts) -> np.ndarray:
    if cond.kind == "health":
        return facts.health_value(cond.leaf.health)
    if cond.kind == "previous":
        return facts.previous_value(cond.leaf.previous, cond.where)
    return facts.signal(cond.leaf.signal)


def compare(values: np.ndarray, op: str, value: float | None) -> np.ndarray:
    known = ~np.isnan(values)
    if op == "exists":
        return known
    if op == "not_exists":
        return ~known
    with np.errstate(invalid="ignore"):
        hit: np.ndarray = _COMPARE[op](values, float(value or 0))
    return hit.astype(bool) & known


# -- explanations ----------------------------------------------------------------


def describe(cond: Cond, facts: Facts, i: int) -> list[str]:
    """Plain-language texts of the parts of ``cond`` that hold for account ``i``."""
    if cond.kind in ("all", "any"):
        return [
            text
            for child in cond.children
            if mask(child, facts)[i]
            for text in describe(child, facts, i)
        ]
    if cond.kind == "not":
        texts = [leaf_text(c, facts, i) for c in cond.children[0].walk() if not c.children]
        return [f"not ({'; '.join(texts)})" if len(texts) > 1 else f"not {texts[0]}"]
    return [leaf_text(cond, facts, i)]


def leaf_text(cond: Cond, facts: Facts, i: int) -> str:
    leaf = cond.leaf
    if cond.kind == "segment":
        return f"in segment {leaf.segment}"
    if cond.kind == "tier":
        return f"tier {facts.tier[i] if facts.tier is not None else '?'}"
    if cond.kind == "field":
        actual = facts.ds.accounts[leaf.column].iloc[i]
        return f"{leaf.column} {fmt(actual)}" + (
            "" if leaf.op == "=" else f" ({leaf.op} {fmt(leaf.value)})"
        )
    values = leaf_values(cond, facts)
    if cond.kind == "signal" and leaf.signal in BOOL_SIGNALS:
        return renewal_text(facts, i) if leaf.signal == "renewal_risk" else leaf.signal
    if cond.kind == "signal" and leaf.signal == "days_since_last_login":
        return last_login_text(values[i])
    name = getattr(leaf, cond.kind)
    label = value_label(cond.kind, name)
    if leaf.op in ("exists", "not_exists"):
        return f"{label} {'known' if leaf.op == 'exists' else 'unknown'}"
    unit = SIGNALS[name][1] if cond.kind == "signal" else ""
    return f"{label} {fmt(values[i])}{unit} {leaf.op} {fmt(leaf.value)}{unit}"


def value_label(kind: str, name: str) -> str:
    if kind == "signal":
        return SIGNALS[name][0]
    base = "health score" if name == "score" else LABELS[name]
    return f"previous {base}" if kind == "previous" else base


def component_text(facts: Facts, name: str, i: int) -> str:
    """A component's raw meaning for account ``i`` ("2 active days in the last 30")."""
    sig, cfg = facts.health.signals, facts.health.config
    if name == "login_frequency":
        days = sig["active_days"][i]
        unit = "day" if days == 1 else "days"
        return f"{fmt(days)} active {unit} in the last {cfg.login_frequency.window_days}"
    if name == "core_feature_adoption":
        return f"{fmt(sig['feature_adoption'][i])} % of key features used"
    if name == "breadth":
        return f"{fmt(sig['breadth'][i])} % of all features used"
    if name == "nps":
        return f"NPS mean {fmt(sig['nps'][i])}/10 from {fmt(sig['nps_responses'][i])} responses"
    unit = "ticket" if sig["tickets"][i] == 1 else "tickets"
    return f"{fmt(sig['tickets'][i])} support {unit} in {cfg.support_tickets.window_days} days"


def last_login_text(days: float) -> str:
    if days is None or math.isnan(days):
        return "no login recorded"
    d = int(days)
    return "last login yesterday" if d == 1 else f"last login {d} days ago"


def renewal_text(facts: Facts, i: int) -> str:
    days = facts.health.signals["renewal_in_days"][i]
    score = facts.health_value("score")[i]
    when = facts.as_of + dt.timedelta(days=int(days)) if not math.isnan(days) else None
    below = (facts.renewal or (90, 60.0))[1]
    return (
        f"renewal risk: renews {when.isoformat() if when else '?'} (in {fmt(days)} days) "
        f"with health {fmt(score)} < {fmt(below)}"
    )


def fmt(value: Any) -> str:
    """Numbers without noise (12, 52.5), dates ISO, unknown as 'unknown'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "unknown"
    try:
        if pd.isna(value):
            return "unknown"
    except (TypeError, ValueError):
        pass
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | float | np.integer | np.floating):
        v = float(round1(float(value)))
        return str(int(v)) if v.is_integer() else f"{v:.1f}"
    if hasattr(value, "date") and callable(value.date):
        return value.date().isoformat()
    return str(value)
