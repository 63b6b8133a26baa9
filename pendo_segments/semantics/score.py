"""The health score's arithmetic of docs/semantics.md §5: one SQL tree and one numpy function each.

A component is 0–100 (a count saturating at a full mark, or a count
falling to zero); the score is the weighted mean of the components an
account has data for (missing ones are dropped and the remaining weights
renormalised); shown values are rounded half up to one decimal. The health
SQL (health/sql.py), the tier policy SQL and the pandas scorer
(health/score.py) all compute these, so they are written here once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from pendo_segments.semantics.rules import fn, num

if TYPE_CHECKING:
    from sqlglot import exp
else:
    from pendo_segments.semantics.lazy import exp

#: ``np.round`` and SQL ROUND differ on halves and float noise (72.35 is stored as
#: 72.34999…); half up after a nudge far below 0.05 is the same everywhere.
ROUND_NUDGE = "1e-7"
_NUDGE = float(ROUND_NUDGE)


def round1_sql(value: exp.Expr) -> exp.Expr:
    """``(FLOOR(value * 10 + 0.5 + 1e-7) / 10)``."""
    shifted = exp.Add(
        this=exp.Add(this=exp.Mul(this=value, expression=num(10)), expression=num("0.5")),
        expression=num(ROUND_NUDGE),
    )
    return exp.paren(exp.Div(this=exp.Floor(this=shifted), expression=num(10)), copy=False)


def round1(values: Any) -> np.ndarray:
    """Half up to 1 decimal (56.25 → 56.3); NaN stays NaN."""
    arr = np.asarray(values, dtype=np.float64)
    return np.floor(arr * 10 + 0.5 + _NUDGE) / 10


def round1_float(value: float) -> float:
    """:func:`round1` of one finite float, with the same IEEE steps (no array round trip)."""
    return math.floor(value * 10 + 0.5 + _NUDGE) / 10


# -- component curves ------------------------------------------------------------------
def saturate_sql(value: exp.Expr, full: float) -> exp.Expr:
    """``LEAST(1.0, value / full) * 100``: 100 from ``full`` up."""
    share = fn("LEAST", num("1.0"), exp.Div(this=value, expression=num(float(full))))
    return exp.Mul(this=share, expression=num(100))


def saturate(value: np.ndarray, full: float) -> np.ndarray:
    return np.minimum(1.0, value / full) * 100


def falling_sql(value: exp.Expr, zero: float) -> exp.Expr:
    """``GREATEST(0.0, 1 - value / zero) * 100``: 100 at none, 0 from ``zero`` up."""
    rest = exp.Sub(this=num(1), expression=exp.Div(this=value, expression=num(float(zero))))
    return exp.Mul(this=fn("GREATEST", num("0.0"), rest), expression=num(100))


def falling(value: np.ndarray, zero: float) -> np.ndarray:
    return np.maximum(0.0, 1 - value / zero) * 100


# -- the score -----------------------------------------------------------------------
def weighted_mean_sql(components: Sequence[tuple[exp.Expr, float]]) -> exp.Expr:
    """``CASE WHEN (present weights) > 0 THEN (weighted sum) / (present weights) END``.

    A NULL component adds nothing to either sum: the weights of the present
    ones are renormalised; NULL when no weighted component is present.
    """
    total = _sum(
        fn("COALESCE", exp.Mul(this=num(float(w)), expression=c.copy()), num(0))
        for c, w in components
    )
    present = _sum(
        exp.Case(
            ifs=[exp.If(this=exp.Is(this=c.copy(), expression=exp.Null()), true=num(0))],
            default=num(float(w)),
        )
        for c, w in components
    )
    mean = exp.Div(this=exp.paren(total), expression=exp.paren(present.copy()))
    positive = exp.GT(this=exp.paren(present), expression=num(0))
    return exp.Case(ifs=[exp.If(this=positive, true=mean)])


def _sum(terms: Any) -> exp.Expr:
    items = list(terms)
    out = items[0]
    for term in items[1:]:
        out = exp.Add(this=out, expression=term)
    return out


def weighted_mean(components: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per row of accounts × components: the weighted mean of the non-NaN columns.

    Unrounded; NaN when no component with a weight is present (a weight of 0
    keeps a component out of the score even when it has data).
    """
    present = ~np.isnan(components)
    w = np.where(present, weights[None, :], 0.0)
    total = np.where(present, components, 0.0) @ weights
    denom = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, total / denom, np.nan)
