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
from dataclasses import dataclass
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


def first_seen_sql(has_first_visit: bool, earliest_table: str | None = None) -> exp.Select:
    """``visitor_id, day``: ``visitors.first_visit``, else the earliest active day before as-of.

    The usage is grouped per visitor before it meets the visitors: one row per
    visitor to join, not every usage row (Spark shuffled all of them). With
    ``earliest_table`` (a table of :func:`earliest_active_sql`, over all
    history) no usage is read: the earliest day before as-of is that day when
    it falls before as-of, else there is none.
    """
    if earliest_table is None:
        earliest = active_day_sql(latest=False)
    else:
        day = col("day", "e")
        earliest = with_params(
            exp.select(col("visitor_id", "e"), day).from_(table(earliest_table, "e"))
        ).where(before_sql(day.copy()))
    if not has_first_visit:
        return earliest
    first = fn("COALESCE", date(col("first_visit", "v")), col("day", "a"))
    on = exp.EQ(this=col("visitor_id", "a"), expression=col("visitor_id", "v"))
    return (
        exp.select(col("visitor_id", "v"), exp.alias_(first, "day"))
        .from_(table("visitors", "v"))
        .join(earliest.subquery("a", copy=False), on=on, join_type="left")
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


# -- accounts roll up usage rows: the row's own account, else its visitor's ----------
def subject_key(subject: str, row: str = "u", own_account: bool = False) -> exp.Expr:
    """The column a usage row is grouped by: its visitor, or its account (``own_account``:
    the usage table has ``account_id``, :func:`row_account_sql`; else the visitor's)."""
    if subject == "visitor":
        return col("visitor_id", row)
    return row_account_sql(row) if own_account else col("account_id", "v")


def row_account_sql(row: str = "u", visitor: str = "v") -> exp.Expr:
    """``COALESCE(u.account_id, v.account_id)``: the account a usage row counts for
    (docs/semantics.md §1: its own, blank = its visitor's)."""
    return fn("COALESCE", col("account_id", row), col("account_id", visitor))


def subject_rows(subject: str, usage: str, row: str = "u") -> exp.Select:
    """``FROM usage AS u [JOIN visitors AS v …] CROSS JOIN params AS p``, nothing selected."""
    select = exp.select().from_(table(usage, row))
    if subject == "account":
        on = exp.EQ(this=col("visitor_id", "v"), expression=col("visitor_id", row))
        select = select.join(table("visitors", "v"), on=on)
    return with_params(select)


def roll_up_sql(per_visitor: exp.Select, latest: bool, keep: exp.Expr | None = None) -> exp.Select:
    """``subject_id, value`` per account: the latest (or earliest) day of its visitors
    (those where ``keep``, a test on ``v`` and ``p``, when given)."""
    day = (exp.Max if latest else exp.Min)(this=col("day", "x"))
    on = exp.EQ(this=col("visitor_id", "v"), expression=col("visitor_id", "x"))
    select = (
        exp.select(exp.alias_(col("account_id", "v"), "subject_id"), exp.alias_(day, "value"))
        .from_(per_visitor.subquery("x", copy=False))
        .join(table("visitors", "v"), on=on)
    )
    if keep is not None:
        select = with_params(select).where(keep, copy=False)
    return select.group_by(num(1))


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


# -- who exists at D (docs/semantics.md §2b) ------------------------------------------
def earliest_active_sql() -> exp.Select:
    """``visitor_id, day``: each visitor's earliest active day over all history."""
    day = exp.alias_(exp.Min(this=date(col("date", "u"))), "day")
    select = exp.select(col("visitor_id", "u"), day).from_(table("usage_daily", "u"))
    return select.where(active_sql()).group_by(num(1))


def visitor_exists_sql(
    has_first_visit: bool, row: str = "v", earliest_table: str | None = None
) -> exp.Expr:
    """The visitor ``row`` is a subject at ``p.as_of`` by its own first-seen day.

    First seen is ``first_visit`` when given, else its earliest active day over
    all history (a correlated ``MIN``, or a lookup in ``earliest_table``, a
    table of :func:`earliest_active_sql`); unknown (neither) is a subject. The
    caller has ``params AS p`` in scope.

    With ``first_visit`` the lookup is asked only for visitors without one
    (``row.first_visit IS NULL`` inside it): DuckDB then skips the usage scan
    when every visitor has one (benchmarks/RESULTS.md: a visitor segment on
    1M visitors 1.9 → 0.13 CPU s).
    """
    u = "ps_seen"
    same = exp.EQ(this=col("visitor_id", u), expression=col("visitor_id", row))
    if earliest_table is None:
        earliest = exp.select(exp.Min(this=date(col("date", u)))).from_(table("usage_daily", u))
        tests = [same, active_sql(u)]
    else:
        earliest = exp.select(exp.Min(this=col("day", u))).from_(table(earliest_table, u))
        tests = [same]
    if has_first_visit:
        tests.insert(1, exp.Is(this=col("first_visit", row), expression=exp.Null()))
    day: exp.Expr = exp.Subquery(this=earliest.where(both(*tests)))
    if has_first_visit:
        day = fn("COALESCE", date(col("first_visit", row)), day)
    return _unknown_true(before_sql(day))


def _unknown_true(test: exp.Expr) -> exp.Expr:
    """``COALESCE(test, TRUE)``: a blank date says nothing."""
    return fn("COALESCE", test, exp.true())


def account_exists_sql(has_created: bool, has_churn_date: bool, row: str = "a") -> exp.Expr:
    """The account ``row`` is a subject at ``p.as_of``: not ``created`` on or after it, no
    outcomes ``churn_date`` before it (blank dates say nothing). ``params AS p`` in scope."""
    parts: list[exp.Expr] = [exp.true()]
    if has_created:
        parts.append(_unknown_true(before_sql(date(col("created", row)))))
    if has_churn_date:
        o = "ps_out"
        # params joined inside: Spark resolves no outer column two subqueries down
        churned = with_params(exp.select(num(1)).from_(table("outcomes", o))).where(
            both(
                exp.EQ(this=col("account_id", o), expression=col("account_id", row)),
                before_sql(date(col("churn_date", o))),
            )
        )
        parts.append(exp.Not(this=exp.Exists(this=churned)))
    return both(*parts[1:]) if len(parts) > 1 else parts[0]


def subject_exists_sql(
    subject: str,
    has_first_visit: bool,
    has_created: bool,
    has_churn_date: bool,
    row: str = "s",
    earliest_table: str | None = None,
) -> exp.Expr:
    """``row`` (an ``accounts`` or ``visitors`` row) is a subject at ``p.as_of``: a visitor
    also needs its account (when it has an ``accounts`` row) to be one."""
    if subject == "account":
        return account_exists_sql(has_created, has_churn_date, row)
    own = visitor_exists_sql(has_first_visit, row, earliest_table)
    home = home_exists_sql(has_created, has_churn_date, row)
    return own if home is None else both(own, home)


def home_exists_sql(has_created: bool, has_churn_date: bool, row: str = "v") -> exp.Expr | None:
    """The visitor ``row``'s own account (``account_id``), when it has an ``accounts`` row,
    is a subject at ``p.as_of``; None when every account is one (no dates to test)."""
    if not (has_created or has_churn_date):
        return None
    a = "ps_acct"
    gone = with_params(exp.select(num(1)).from_(table("accounts", a))).where(
        both(
            exp.EQ(this=col("account_id", a), expression=col("account_id", row)),
            exp.Not(this=exp.paren(account_exists_sql(has_created, has_churn_date, a))),
        )
    )
    return exp.Not(this=exp.Exists(this=gone))


def account_exists(
    created: np.ndarray | None, churn_date: np.ndarray | None, as_of_day: int
) -> np.ndarray | None:
    """Per account (day numbers, :data:`NAT_DAY` = blank): a subject at the as-of day.

    None when neither column is given (every account is one).
    """
    if created is None and churn_date is None:
        return None
    size = len(created if created is not None else churn_date)  # type: ignore[arg-type]
    ok = np.ones(size, dtype=bool)
    if created is not None:
        ok &= (created == NAT_DAY) | (created < as_of_day)
    if churn_date is not None:
        ok &= (churn_date == NAT_DAY) | (churn_date >= as_of_day)
    return ok


def visitor_exists(
    seen: np.ndarray, v2a: np.ndarray, accounts: np.ndarray | None, as_of_day: int
) -> np.ndarray:
    """Per visitor: first seen (``first_seen`` over all history; :data:`NAT_DAY` = never)
    before the as-of day, or never; and its account, if it has one, a subject."""
    ok = (seen == NAT_DAY) | (seen < as_of_day)
    if accounts is not None:
        has = v2a >= 0
        ok &= ~has | accounts[np.where(has, v2a, 0)]
    return ok


@dataclass(frozen=True)
class Existence:
    """Which optional columns the existence rule reads (the data's own columns)."""

    has_first_visit: bool = True
    has_created: bool = False
    has_churn_date: bool = False
    #: a table of :func:`earliest_active_sql` to read instead of a correlated ``MIN``
    earliest_table: str | None = None
    #: the usage tables whose rows carry their own ``account_id`` (§1: roll-ups use it)
    row_account: tuple[str, ...] = ()

    def subject_sql(self, subject: str, row: str = "s") -> exp.Expr:
        """The ``accounts`` / ``visitors`` row ``row`` is a subject at ``p.as_of``."""
        return subject_exists_sql(
            subject,
            self.has_first_visit,
            self.has_created,
            self.has_churn_date,
            row,
            self.earliest_table,
        )

    def visitor_sql(self, row: str = "v") -> exp.Expr:
        """The visitor ``row`` is a subject by its own first-seen day."""
        return visitor_exists_sql(self.has_first_visit, row, self.earliest_table)

    def roll_up_sql(self, row: str = "v") -> exp.Expr:
        """The visitor ``row`` counts in account roll-ups: a subject by its own first-seen
        day and, when usage rows name their own accounts, by its own account too (a
        visitor of an account that is not a subject counts for no account, §2b)."""
        own = self.visitor_sql(row)
        home = self._home_sql(row) if self.row_account else None
        return own if home is None else both(own, home)

    def rows_sql(self, usage: str, row: str = "v") -> exp.Expr | None:
        """Which visitors' ``usage`` rows an account rolls up: the subjects'.

        For ``usage_daily`` the ``first_visit`` test is enough (a visitor without
        one that has an active row before as-of is seen; inactive rows add
        nothing), which spares the hot scan the correlated ``MIN``. Rows that
        name their own account (:attr:`row_account`) also need the visitor's own
        account to be a subject: the rows of the others roll up to it, which is
        not in the answer anyway.
        """
        home = self._home_sql(row) if usage in self.row_account else None
        if usage != "usage_daily":
            own: exp.Expr | None = self.visitor_sql(row)
        elif self.has_first_visit:
            own = _unknown_true(before_sql(date(col("first_visit", row))))
        else:
            own = None
        tests = [t for t in (own, home) if t is not None]
        return both(*tests) if tests else None

    def _home_sql(self, row: str) -> exp.Expr | None:
        return home_exists_sql(self.has_created, self.has_churn_date, row)


# -- attribute history: the row covering D−1 (docs/semantics.md §2b) ------------------
def covering(start: np.ndarray, end: np.ndarray, as_of_day: int) -> np.ndarray:
    """Which history rows hold at the end of D−1: ``valid_from <= D−1 < valid_to``.

    Day numbers; an open ``valid_to`` is a number past every day.
    """
    last = as_of_day - 1
    return (start <= last) & (last < end)


def covering_sql(as_of: dt.date, row: str = "h") -> exp.Expr:
    """``h.valid_from <= D−1 AND (h.valid_to IS NULL OR D−1 < h.valid_to)``."""
    last = date(exp.Literal.string((as_of - dt.timedelta(days=1)).isoformat()))
    starts = exp.LTE(this=col("valid_from", row), expression=last)
    open_end = exp.Is(this=col("valid_to", row), expression=exp.Null())
    ends = exp.LT(this=last.copy(), expression=col("valid_to", row))
    return both(starts, exp.paren(exp.or_(open_end, ends, copy=False), copy=False))


def fields_at_sql(
    today: str, history: str, id_column: str, columns: list[str], tracked: list[str], as_of: dt.date
) -> exp.Select:
    """``today`` (a table with ``columns``) with the ``tracked`` columns of its ``history``
    row covering D−1: that row's value (blank included) where there is one, else today's.

    A tracked column ``today`` lacks is added, blank where no row covers. History
    rows never overlap (checked on load), so the join keeps one row per record.
    """
    t, h = "ps_today", "ps_hist"
    covered = exp.Is(this=col(id_column, h), expression=exp.Null())
    picked: list[exp.Expr] = []
    for name in columns:
        value: exp.Expr = col(name, t, quoted=True)
        if name in tracked:
            value = exp.If(
                this=exp.Not(this=covered.copy()),
                true=col(name, h, quoted=True),
                false=value,
            )
        picked.append(exp.alias_(value, exp.to_identifier(name, quoted=True)))
    for name in tracked:
        if name not in columns:
            picked.append(
                exp.alias_(col(name, h, quoted=True), exp.to_identifier(name, quoted=True))
            )
    on = both(
        exp.EQ(this=col(id_column, h, quoted=True), expression=col(id_column, t, quoted=True)),
        covering_sql(as_of, h),
    )
    return (
        exp.select(*picked).from_(table(today, t)).join(table(history, h), on=on, join_type="left")
    )
