"""Plain-language texts for account rules: why a tier or an alert holds for an account."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd

from pendo_segments.definitions.models import (
    AllOf,
    AnyOf,
    FieldCondition,
    NotOf,
    SegmentRef,
    SignalCondition,
    TierCondition,
    children,
    walk,
)
from pendo_segments.health.config import LABELS
from pendo_segments.health.rules import (
    BOOL_SIGNALS,
    SIGNALS,
    AccountRule,
    Facts,
    leaf_values,
    mask,
)
from pendo_segments.semantics.score import round1, round1_float


def describe(rule: AccountRule, facts: Facts, i: int, node: Any = None) -> list[str]:
    """Texts of the parts of ``rule`` that hold for account ``i``."""
    node = rule.rule if node is None else node
    if isinstance(node, AllOf | AnyOf):
        return [
            text
            for child in children(node)
            if mask(rule, facts, child)[i]
            for text in describe(rule, facts, i, child)
        ]
    if isinstance(node, NotOf):
        texts = [leaf_text(rule, c, facts, i) for c in walk(node.not_) if not children(c)]
        return [f"not ({'; '.join(texts)})" if len(texts) > 1 else f"not {texts[0]}"]
    return [leaf_text(rule, node, facts, i)]


def leaf_text(rule: AccountRule, node: Any, facts: Facts, i: int) -> str:
    if isinstance(node, SegmentRef):
        return f"in segment {node.segment}"
    if isinstance(node, TierCondition):
        return f"tier {facts.tier[i] if facts.tier is not None else '?'}"
    if isinstance(node, FieldCondition):
        column = facts.cached(("column", node.column), lambda: _values(facts, node.column))
        actual = column[i]
        return f"{node.column} {fmt(actual)}" + (
            "" if node.op == "=" else f" ({node.op} {fmt(node.value)})"
        )
    values = leaf_values(rule, node, facts)
    if isinstance(node, SignalCondition) and node.signal in BOOL_SIGNALS:
        return renewal_text(facts, i) if node.signal == "renewal_risk" else node.signal
    if isinstance(node, SignalCondition) and node.signal == "days_since_last_login":
        return last_login_text(values[i])
    name = getattr(node, node.kind)
    label = value_label(node.kind, name)
    if node.op in ("exists", "not_exists"):
        return f"{label} {'known' if node.op == 'exists' else 'unknown'}"
    unit = SIGNALS[name][1] if node.kind == "signal" else ""
    return f"{label} {fmt(values[i])}{unit} {node.op} {fmt(node.value)}{unit}"


def _values(facts: Facts, column: str) -> Any:
    """An accounts column as Python values (one lookup per text, not a pandas ``iloc``)."""
    return np.asarray(facts.ds.accounts[column].tolist(), dtype=object)


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


#: texts of the numbers seen (signals and components take few distinct values:
#: 51,847 alerts at 1M visitors format 430,000 numbers)
_NUMBER_TEXTS: dict[float, str] = {}


def fmt(value: Any) -> str:
    """Numbers without noise (12, 52.5), dates ISO, unknown as 'unknown'."""
    if type(value) is float or type(value) is np.float64:  # most calls: one per signal text
        text = _NUMBER_TEXTS.get(value)
        if text is not None:
            return text
        v = float(value)
        if math.isfinite(v):
            v = round1_float(v)
            text = str(int(v)) if v.is_integer() else f"{v:.1f}"
            if len(_NUMBER_TEXTS) < 100_000:
                _NUMBER_TEXTS[float(value)] = text
            return text
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
