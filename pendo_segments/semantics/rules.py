"""The counting rules of docs/semantics.md §2: one SQL tree and one numpy function each.

SQL trees read the data folder's tables (``usage_daily AS u``, ``visitors AS
v``) and the as-of day from the ``params`` CTE (``p.as_of``); every target
renders them (DuckDB, Spark, warehouses through sqlglot; the Aggregation
target through its own writer). The numpy functions take day numbers (days
since 1970-01-01, :data:`NAT_DAY` = unknown) and count arrays, and the
in-memory engines (evaluate/metrics.py, backtest/history.py, health) call
them. Each pair sits together so that a change to a rule is one change here.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sqlglot import exp
else:
    from pendo_segments.semantics.lazy import exp

#: The dialect the trees are written in (the SQL target's own; others transpile).
DIALECT = "duckdb"
#: An unknown day (a subject never seen): the smallest int64.
NAT_DAY = np.iinfo(np.int64).min
_LATEST_NONE = NAT_DAY
_EARLIEST_NONE = np.iinfo(np.int64).max


# -- tree helpers ---------------------------------------------------------------------
def col(name: str, table: str | None = None, *, quoted: bool = False) -> exp.Column:
    """``table.name`` (a column of the data folder, or of a CTE)."""
    return exp.column(exp.to_identifier(name, quoted=quoted), table=table)


def num(value: int | float | str) -> exp.Expr:
    """A number literal written exactly as given (``"1e-7"`` stays ``1e-7``)."""
    return exp.Literal.number(value if isinstance(value, str) else repr(value))


def fn(name: str, *args: Any) -> exp.Expr:
    """A function call built as the DuckDB parser builds it (so every writer knows it)."""
    return exp.func(name, *args, dialect=DIALECT)


def date(value: exp.Expr) -> exp.Cast:
    return exp.cast(value, exp.DataType.Type.DATE)


def both(*conditions: exp.Expr) -> exp.Expr:
    """``a AND b AND …`` (left to right, connectors parenthesised, nested ANDs flattened)."""
    flat = [
        c for cond in conditions for c in (cond.flatten() if isinstance(cond, exp.And) else [cond])
    ]
    return exp.and_(*flat, copy=False)


def table(name: str, alias: str) -> exp.Table:
    return exp.table_(name, alias=alias)


def params(as_of: dt.date | None) -> exp.Select:
    """The ``params`` CTE: the as-of day given, else the day after the latest usage date."""
    if as_of is not None:
        day = date(exp.Literal.string(as_of.isoformat()))
        return exp.select(exp.alias_(day, "as_of"))
    latest = exp.Add(this=date(exp.Max(this=col("date"))), expression=num(1))
    return exp.select(exp.alias_(latest, "as_of")).from_("usage_daily")


def with_params(select: exp.Select) -> exp.Select:
    """``… CROSS JOIN params AS p``: the as-of day beside every row."""
    return select.join(table("params", "p"), join_type="cross")


def as_of_sql() -> exp.Column:
    """``p.as_of``: the as-of day of the ``params`` CTE."""
    return col("as_of", "p")


# -- the window: the N whole days before the as-of day, D−N ≤ date ≤ D−1 ----------------
def window_sql(day: exp.Expr, days: int) -> exp.Expr:
    """``day >= p.as_of - N AND day < p.as_of``."""
    start = exp.Sub(this=as_of_sql(), expression=num(int(days)))
    return exp.and_(exp.GTE(this=day, expression=start), before_sql(day.copy()), copy=False)


def before_sql(day: exp.Expr) -> exp.Expr:
    """``day < p.as_of``: all history up to the as-of day, which itself never counts."""
    return exp.LT(this=day, expression=as_of_sql())


def window_bounds(as_of_day: int, days: int) -> tuple[int, int]:
    """The window as day numbers ``[first, end)``: ``end`` is the as-of day."""
    return as_of_day - days, as_of_day


def in_window(day: np.ndarray, as_of_day: int, days: int) -> np.ndarray:
    """Which day numbers fall in the window (unknown days never do)."""
    first, end = window_bounds(as_of_day, days)
    kind = day.dtype.type  # scalars of the array's own type: no widening copy of ``day``
    return (day >= kind(first)) & (day < kind(end))


def before(day: np.ndarray, as_of_day: int) -> np.ndarray:
    return day < day.dtype.type(as_of_day)


# -- the active day: events > 0 OR minutes > 0 ------------------------------------------
def active_sql(row: str = "u") -> exp.Expr:
    """``(u.events > 0 OR u.minutes > 0)``: the usage row's day counts as a visit."""
    events = exp.GT(this=col("events", row), expression=num(0))
    minutes = exp.GT(this=col("minutes", row), expression=num(0))
    return exp.paren(exp.or_(events, minutes, copy=False), copy=False)


def is_active(events: np.ndarray, minutes: np.ndarray) -> np.ndarray:
    return (events > 0) | (minutes > 0)


# -- visit days per visitor --------------------------------------------------------------
def active_day_sql(latest: bool) -> exp.Select:
    """``visitor_id, day``: each visitor's latest (or earliest) active day before as-of."""
    day = (exp.Max if latest else exp.Min)(this=date(col("date", "u")))
    select = exp.select(col("visitor_id", "u"), exp.alias_(day, "day"))
    select = with_params(select.from_(table("usage_daily", "u")))
    return select.where(both(before_sql(col("date", "u")), active_sql())).group_by(num(1))


def last_visit_sql(has_last_visit: bool) -> exp.Select:
    """``visitor_id, day``: the latest active day before as-of, or ``visitors.last_visit``
    (Pendo's lastvisit, over all history) when that is later and before as-of.

    Ids keep the tables' own type: a cast here would fail the joins that
    follow in PostgreSQL or BigQuery when ``visitor_id`` is a number.
    """
    active = active_day_sql(latest=True)
    if not has_last_visit:
        return active
    declared = date(col("last_visit", "v"))
    listed = with_params(
        exp.select(col("visitor_id", "v"), declared).from_(table("visitors", "v"))
    ).where(before_sql(declared.copy()))
    both_days = exp.union(active, listed, distinct=False)
    day = exp.alias_(exp.Max(this=col("day", "x")), "day")
    return (
        exp.select(col("visitor_id", "x"), day)
        .from_(both_days.subquery("x", copy=False))
        .group_by(num(1))
    )


def last_visit(
    latest_active: np.ndarray, declared: np.ndarray | None, as_of_day: int
) -> np.ndarray:
    """Per visitor: the later of the latest active day and ``last_visit`` before as-of.

    ``latest_active`` (int64 day numbers, :data:`NAT_DAY` = never) is reused as the output.
    """
    if declared is not None:
        known = (declared != NAT_DAY) & (declared < as_of_day)
        np.maximum(latest_active, np.where(known, declared, NAT_DAY), out=latest_active)
    return latest_active


def first_seen_sql(has_first_visit: bool) -> exp.Select:
    """``visitor_id, day``: ``visitors.first_visit``, else the earliest active day before as-of."""
    if not has_first_visit:
        return active_day_sql(latest=False)
    first = exp.Min(this=date(col("date", "u")))
    day = fn("COALESCE", date(col("first_visit", "v")), first)
    select = with_params(
        exp.select(col("visitor_id", "v"), exp.alias_(day, "day")).from_(table("visitors", "v"))
    )
    on = both(
        exp.EQ(this=col("visitor_id", "u"), expression=col("visitor_id", "v")),
        before_sql(col("date", "u")),
        active_sql(),
    )
    return select.join(table("usage_daily", "u"), on=on, join_type="left").group_by(
        col("visitor_id", "v"), col("first_visit", "v")
    )


def first_seen(earliest_active: np.ndarray, declared: np.ndarray | None) -> np.ndarray:
    """Per visitor: ``first_visit`` where given, else the earliest active day (reused as output)."""
    if declared is not None:
        given = declared != NAT_DAY
        earliest_active[given] = declared[given]
    return earliest_active


def days_since_sql(day: exp.Expr) -> exp.Expr:
    """``date_diff('day', day, p.as_of)``: 1 for yesterday, NULL when the day is unknown."""
    return fn("date_diff", exp.Literal.string("day"), day, as_of_sql())


def days_since(as_of_day: int, days: np.ndarray) -> np.ndarray:
    """float64 days from each day to the as-of day, NaN where the day is unknown."""
    out = (as_of_day - days).astype(np.float64)
    out[days == NAT_DAY] = np.nan
    return out


# -- accounts roll up their visitors through visitors.account_id ---------------------
def subject_key(subject: str, row: str = "u") -> exp.Column:
    """The column a usage row is grouped by: its visitor, or its visitor's account."""
    return col("visitor_id", row) if subject == "visitor" else col("account_id", "v")


def subject_rows(subject: str, usage: str, row: str = "u") -> exp.Select:
    """``FROM usage AS u [JOIN visitors AS v …] CROSS JOIN params AS p``, nothing selected."""
    select = exp.select().from_(table(usage, row))
    if subject == "account":
        on = exp.EQ(this=col("visitor_id", "v"), expression=col("visitor_id", row))
        select = select.join(table("visitors", "v"), on=on)
    return with_params(select)


def roll_up_sql(per_visitor: exp.Select, latest: bool) -> exp.Select:
    """``subject_id, value`` per account: the latest (or earliest) day of its visitors."""
    day = (exp.Max if latest else exp.Min)(this=col("day", "x"))
    on = exp.EQ(this=col("visitor_id", "v"), expression=col("visitor_id", "x"))
    return (
        exp.select(exp.alias_(col("account_id", "v"), "subject_id"), exp.alias_(day, "value"))
        .from_(per_visitor.subquery("x", copy=False))
        .join(table("visitors", "v"), on=on)
        .group_by(num(1))
    )


def roll_up(per_visitor: np.ndarray, v2a: np.ndarray, n_accounts: int, latest: bool) -> np.ndarray:
    """Per account: the latest (or earliest) known day of its visitors, :data:`NAT_DAY` if none.

    ``v2a`` maps a visitor position to its account position (-1: no account).
    """
    ok = (v2a >= 0) & (per_visitor != NAT_DAY)
    empty = _LATEST_NONE if latest else _EARLIEST_NONE
    out = np.full(n_accounts, empty, dtype=np.int64)
    (np.maximum if latest else np.minimum).at(out, v2a[ok], per_visitor[ok])
    out[out == empty] = NAT_DAY
    return out
