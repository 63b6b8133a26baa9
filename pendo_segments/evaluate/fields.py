"""Attribute conditions on subject columns, with docs/semantics.md §2 null rules.

Every function returns a plain boolean numpy array: a comparison with an
unknown (null) value is False, so ``not`` above it turns it True — exactly
what the SQL target's ``COALESCE(…, FALSE)`` does.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from pendo_segments.data.columns import blank_values
from pendo_segments.data.schema import absent_column_warning, optional_column, optional_columns
from pendo_segments.definitions.loader import DefinitionSet
from pendo_segments.definitions.models import FieldCondition, walk
from pendo_segments.definitions.yaml_lines import suggest
from pendo_segments.errors import EvaluationError

_log = logging.getLogger("pendo_segments.evaluate")

#: Comparison ops as numpy ufuncs; shared with the metric conditions in engine.py.
COMPARE = {
    "=": np.equal,
    "!=": np.not_equal,
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
}


def column_kind(series: pd.Series) -> str:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(dtype):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "date"
    return "text"


def coerce(value: Any, kind: str, where: str) -> Any:
    """The YAML value in the column's type, or a one-line error."""
    if kind == "number":
        if isinstance(value, bool):
            raise EvaluationError(f"{where}: compares a number column with {value!r}")
        if isinstance(value, int | float):
            return float(value)
        try:
            return float(str(value))
        except ValueError:
            raise EvaluationError(f"{where}: {value!r} is not a number") from None
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "false"):
            return text == "true"
        raise EvaluationError(f"{where}: {value!r} is not true/false")
    if kind == "date":
        if isinstance(value, dt.date):
            return np.datetime64(value, "D")
        try:
            return np.datetime64(dt.date.fromisoformat(str(value)), "D")
        except ValueError:
            raise EvaluationError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None
    if isinstance(value, bool | int | float) and not isinstance(value, str):
        raise EvaluationError(
            f"{where}: column is text; quote the value ({str(value)!r}) to compare as text"
        )
    return str(value)


def resolve_column(frame: pd.DataFrame, column: str, table: str, where: str) -> pd.Series:
    """``frame[column]``; an optional column the data lacks is blank (see :func:`fill_optional`)."""
    if not fill_optional(frame, table, column):
        known = [str(c) for c in frame.columns]
        known += [c for c in optional_columns(table) if c not in known]
        raise EvaluationError(f"{where}: no column '{column}' in {table}{suggest(column, known)}")
    return frame[column]


def fill_optional(frame: pd.DataFrame, table: str, column: str) -> bool:
    """Whether ``frame`` has ``column``, given blank when the contract lists it as optional.

    A rule on an optional column the data lacks (``self_service`` in the shipped
    tier policy) is unknown, as on blank values, not an error; the column is
    added once, with one warning, so every later reader (and an SQL engine
    fed this frame) sees the same blank column.
    """
    if column in frame.columns:
        return True
    col = optional_column(table, column)
    if col is None:
        return False
    frame[column] = pd.Series(blank_values(col, len(frame)), index=frame.index)
    _log.warning(absent_column_warning(table, column))
    return True


def field_columns(defs: DefinitionSet, names: Sequence[str] | None) -> list[tuple[str, str]]:
    """(table, column) of every attribute condition of the named segments and those they use."""
    out = []
    for seg in defs.closure([s.name for s in defs.select(names)]):
        for node in walk(seg.rule):
            if isinstance(node, FieldCondition):
                account = seg.subject == "account" or node.on_account
                out.append(("accounts" if account else "visitors", node.column))
    return out


def _values(series: pd.Series, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(values, known mask) as numpy arrays comparable with coerced literals."""
    known = series.notna().to_numpy()
    if kind == "number":
        return series.to_numpy(dtype=np.float64, na_value=np.nan), known
    if kind == "bool":
        return series.fillna(False).to_numpy(dtype=bool), known
    if kind == "date":
        return series.to_numpy().astype("datetime64[D]"), known
    return series.astype(object).where(series.notna(), "").to_numpy(dtype=object), known


def field_mask(cond: FieldCondition, series: pd.Series, as_of: dt.date, where: str) -> np.ndarray:
    """Evaluate one attribute condition on an aligned column."""
    op = cond.op
    known = series.notna().to_numpy()
    if op == "exists":
        return known
    if op == "not_exists":
        return ~known
    kind = column_kind(series)
    if op == "anniversary_within":
        if kind != "date":
            raise EvaluationError(
                f"{where}: 'anniversary_within' needs a date column, '{cond.column}' is {kind}"
            )
        return anniversary_mask(series, as_of, int(cond.value)) & known  # type: ignore[arg-type]
    values, known = _values(series, kind)
    if op in ("in", "not_in"):
        literals = [coerce(v, kind, where) for v in cond.value]  # type: ignore[union-attr]
        hit = pd.Series(values).isin(literals).to_numpy()
        return (hit if op == "in" else ~hit) & known
    if op == "contains":
        text = series.astype("string").fillna("")
        return text.str.contains(str(cond.value), regex=False).to_numpy(dtype=bool) & known
    literal = coerce(cond.value, kind, where)
    if kind == "bool" and op not in ("=", "!="):
        raise EvaluationError(f"{where}: op '{op}' cannot order true/false values")
    with np.errstate(invalid="ignore"):
        result = COMPARE[op](values, literal)
    return np.asarray(result, dtype=bool) & known


def anniversary_mask(series: pd.Series, as_of: dt.date, days: int) -> np.ndarray:
    """True where a yearly anniversary (≥ 1 year) falls in ``as_of … as_of + days − 1``.

    A 29 February date has its anniversary on 28 February in common years.
    """
    ts = pd.to_datetime(series)
    out = np.zeros(len(series), dtype=bool)
    month = ts.dt.month.to_numpy(dtype=np.float64, na_value=np.nan)
    day = ts.dt.day.to_numpy(dtype=np.float64, na_value=np.nan)
    year = ts.dt.year.to_numpy(dtype=np.float64, na_value=np.nan)
    known = ~np.isnan(month)
    start = np.datetime64(as_of, "D")
    end = start + np.timedelta64(days - 1, "D")
    # The window spans at most two calendar years when days ≤ 366; check each.
    for y in range(as_of.year, (as_of + dt.timedelta(days=days - 1)).year + 1):
        leap = (y % 4 == 0 and y % 100 != 0) or y % 400 == 0
        d = np.where((month == 2) & (day == 29) & (not leap), 28, day)
        ok = known & (year < y)
        if not ok.any():
            continue
        dates = np.full(len(series), np.datetime64("NaT"), dtype="datetime64[D]")
        dates[ok] = (
            np.array([f"{y:04d}"], dtype="datetime64[Y]").astype("datetime64[M]")
            + (month[ok].astype(np.int64) - 1).astype("timedelta64[M]")
        ).astype("datetime64[D]") + (d[ok].astype(np.int64) - 1).astype("timedelta64[D]")
        out |= ok & (dates >= start) & (dates <= end)
    return out
