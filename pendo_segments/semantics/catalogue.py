"""The metric catalogue of docs/semantics.md §2: what each metric counts, once.

Per metric: the usage table it reads, the rows that count (active days
only, or every row), its aggregate (distinct days, a sum of one column, a
visit day), how an account rolls up its visitors, and whether it has a
window. The SQL targets build their queries from :func:`metric_sql` and
:func:`visit_day_sql`; the Aggregation target and the numpy engines read the
same fields to pick their own way of counting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pendo_segments.semantics.rules import (
    Existence,
    active_sql,
    before_sql,
    both,
    col,
    date,
    first_seen_sql,
    last_visit_sql,
    num,
    roll_up_sql,
    row_account_sql,
    subject_key,
    subject_rows,
    table,
    window_sql,
    with_params,
)

if TYPE_CHECKING:
    from sqlglot import exp
else:
    from pendo_segments.semantics.lazy import exp

Rollup = Literal["distinct days", "sum", "latest", "earliest"]


@dataclass(frozen=True)
class Metric:
    """One behavioural metric."""

    name: str
    #: the usage table counted; None for a visit day (``days_since_*``)
    table: str | None
    #: the column summed; None for a count of distinct days or a visit day
    column: str | None
    #: only rows of active days count (docs/semantics.md §2 "active day")
    active_rows: bool
    #: counted over the N days before as-of; otherwise over all history before it
    windowed: bool
    #: an account's value from its visitors' rows
    rollup: Rollup
    #: counted per feature (``feature: FEATURE_ID``)
    per_feature: bool = False

    def aggregate_sql(self, row: str = "u") -> exp.Expr:
        """``COUNT(DISTINCT CAST(u.date AS DATE))`` or ``SUM(u.<column>)``."""
        if self.column is None:
            return exp.Count(this=exp.Distinct(expressions=[date(col("date", row))]), big_int=True)
        return exp.Sum(this=col(self.column, row))

    def row_filter_sql(self, row: str = "u") -> exp.Expr | None:
        """Which rows count, beyond the window: active ones, or all (None)."""
        return active_sql(row) if self.active_rows else None

    def filtered_aggregate_sql(self, row: str = "u") -> exp.Expr:
        """The aggregate with its row filter inside (``… FILTER (WHERE …)``), for a scan
        that computes several metrics over the same rows."""
        where = self.row_filter_sql(row)
        if where is None:
            return self.aggregate_sql(row)
        return exp.Filter(this=self.aggregate_sql(row), expression=exp.Where(this=where))


CATALOGUE: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("active_days", "usage_daily", None, True, True, "distinct days"),
        Metric("minutes", "usage_daily", "minutes", False, True, "sum"),
        Metric("events", "usage_daily", "events", False, True, "sum"),
        Metric("feature_clicks", "feature_usage", "clicks", False, True, "sum", per_feature=True),
        Metric("days_since_last_visit", None, None, True, False, "latest"),
        Metric("days_since_first_visit", None, None, True, False, "earliest"),
    )
}


#: the usage tables whose rows may name their own account (docs/semantics.md §1)
USAGE_TABLES = ("usage_daily", "feature_usage")


def row_account_tables(has_column: Callable[[str, str], bool]) -> tuple[str, ...]:
    """The usage tables with an ``account_id`` column: their rows count for it (§1-§2).

    ``has_column(table, column)`` reads the data's shape; the result is the SQL
    generator's ``row_account`` option and :attr:`Existence.row_account`.
    """
    return tuple(t for t in USAGE_TABLES if has_column(t, "account_id"))


def usage_scan(
    subject: str,
    usage: str,
    days: int,
    *columns: exp.Expr,
    where: exp.Expr | None = None,
    exists: Existence | None = None,
) -> exp.Select:
    """``SELECT <subject> AS subject_id, <columns> FROM <usage> … WHERE <window> [AND where]``.

    The caller adds ``GROUP BY``; accounts take the rows that count for them: a
    row's own ``account_id`` where ``exists.row_account`` names the table, else
    its visitor's (docs/semantics.md §1); with ``exists``, only rows of visitors
    that are subjects (§2b).
    """
    day_in = window_sql(col("date", "u"), days)
    own = exists is not None and usage in exists.row_account  # §1: the row's own account
    select = subject_rows(subject, usage).select(
        exp.alias_(subject_key(subject, own_account=own), "subject_id"), *columns, copy=False
    )
    keep = exists.rows_sql(usage) if exists is not None and subject == "account" else None
    tests = [t for t in (where, keep) if t is not None]
    return select.where(both(day_in, *tests), copy=False)


def metric_sql(
    name: str,
    subject: str,
    days: int,
    feature: str | None = None,
    exists: Existence | None = None,
) -> exp.Select:
    """``subject_id, value``: one windowed metric per subject that has rows."""
    metric = CATALOGUE[name]
    assert metric.table is not None, f"{name} is a visit day: visit_day_sql"
    filters = [f for f in (metric.row_filter_sql(),) if f is not None]
    if metric.per_feature:
        filters.append(
            exp.EQ(this=col("feature_id", "u"), expression=exp.Literal.string(str(feature)))
        )
    value = exp.alias_(metric.aggregate_sql(), "value")
    where = both(*filters) if filters else None
    scan = usage_scan(subject, metric.table, days, value, where=where, exists=exists)
    return scan.group_by(num(1), copy=False)


def visit_day_sql(
    name: str, subject: str, has_declared: bool, exists: Existence | None = None
) -> exp.Select:
    """``subject_id, value``: the visit day behind ``days_since_last_visit`` / ``…_first_visit``.

    ``has_declared``: the visitors table has ``last_visit`` / ``first_visit``;
    ``exists``: an account rolls up only its visitors that are subjects.
    """
    metric = CATALOGUE[name]
    latest = metric.rollup == "latest"
    if subject == "account":
        keep = None if exists is None else exists.roll_up_sql("v")
        if exists is not None and "usage_daily" in exists.row_account:
            return _visit_day_by_row_account(latest, has_declared, keep)
        return roll_up_sql(_per_visitor(latest, has_declared, exists), latest, keep)
    per_visitor = _per_visitor(latest, has_declared, exists)
    return exp.select(
        exp.alias_(col("visitor_id", "x"), "subject_id"), exp.alias_(col("day", "x"), "value")
    ).from_(per_visitor.subquery("x", copy=False))


def _per_visitor(latest: bool, has_declared: bool, exists: Existence | None) -> exp.Select:
    """``visitor_id, day``: the last visit or the first seen day (a shared earliest-day
    table read when the existence rule has one)."""
    if latest:
        return last_visit_sql(has_declared)
    return first_seen_sql(has_declared, exists.earliest_table if exists else None)


def _visit_day_by_row_account(
    latest: bool, has_declared: bool, keep: exp.Expr | None
) -> exp.Select:
    """``subject_id, value`` per account when usage rows carry their own account (§1-§2):
    the latest / earliest day a visitor was active *for that account*.

    Per visitor and row account (blank: the visitor's), the latest / earliest
    active day before as-of; the visitor's declared ``last_visit`` (before as-of)
    counts for its own account, and its ``first_visit`` is its first day there
    (as written, as on one-account data). Visitors where ``keep`` fails are left out.
    """
    day = (exp.Max if latest else exp.Min)(this=date(col("date", "u")))
    pairs: exp.Query = (
        with_params(
            exp.select(
                col("visitor_id", "u"), col("account_id", "u"), exp.alias_(day, "day")
            ).from_(table("usage_daily", "u"))
        )
        .where(both(before_sql(col("date", "u")), active_sql()))
        .group_by(num(1), num(2))
    )
    home = exp.EQ(this=row_account_sql("x"), expression=col("account_id", "v"))
    value: exp.Expr = col("day", "x")
    if has_declared and latest:  # Pendo's last visit: for the visitor's own account
        declared = date(col("last_visit", "v"))
        listed = with_params(
            exp.select(col("visitor_id", "v"), col("account_id", "v"), declared).from_(
                table("visitors", "v")
            )
        ).where(before_sql(declared.copy()))
        pairs = exp.union(pairs, listed, distinct=False)
    elif has_declared:  # first_visit, where given, is the visitor's first day at home
        every = exp.select(
            col("visitor_id", "v"),
            col("account_id", "v"),
            exp.cast(exp.Null(), exp.DataType.Type.DATE),
        ).from_(table("visitors", "v"))
        pairs = exp.union(pairs, every, distinct=False)
        given = exp.Not(this=exp.Is(this=col("first_visit", "v"), expression=exp.Null()))
        value = exp.Case(
            ifs=[exp.If(this=both(given, home), true=date(col("first_visit", "v")))],
            default=col("day", "x"),
        )
    on = exp.EQ(this=col("visitor_id", "v"), expression=col("visitor_id", "x"))
    select = (
        exp.select(
            exp.alias_(row_account_sql("x"), "subject_id"),
            exp.alias_((exp.Max if latest else exp.Min)(this=value), "value"),
        )
        .from_(pairs.subquery("x", copy=False))
        .join(table("visitors", "v"), on=on)
    )
    if keep is not None:
        select = with_params(select).where(keep, copy=False)
    return select.group_by(num(1))
