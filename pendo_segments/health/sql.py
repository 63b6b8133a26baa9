"""The health score of docs/semantics.md §5 as one SQL query (DuckDB, Spark, … via sqlglot).

``health/score.py`` is the reference; this query computes the same
components from the same :class:`HealthConfig` (weights, windows, saturation
points), so ``health --engine duckdb|spark`` gives the pandas numbers. The
query returns unrounded values; :class:`HealthResult` rounds them as usual.

The query is a sqlglot tree built from the semantic core: windows, active
days, the last visit and the roll-up through ``visitors.account_id`` come
from :mod:`pendo_segments.semantics.rules`, the usage counts from the metric
catalogue, the component curves and the renormalised weighted mean from
:mod:`pendo_segments.semantics.score`. NPS responses reach accounts through
their visitors too; tickets carry their own ``account_id``. Only accounts that
exist at the as-of day get a row, and they roll up only their visitors that do
(docs/semantics.md §2b, the rule's SQL of ``semantics.rules.Existence``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pendo_segments.health.config import COMPONENTS, HealthConfig
from pendo_segments.semantics import catalogue
from pendo_segments.semantics.rules import (
    Existence,
    as_of_sql,
    both,
    col,
    date,
    days_since_sql,
    fn,
    num,
    params,
    roll_up_sql,
    subject_key,
    subject_rows,
    table,
    window_sql,
    with_params,
)
from pendo_segments.semantics.score import falling_sql, saturate_sql, weighted_mean_sql

if TYPE_CHECKING:
    from sqlglot import exp
else:
    from pendo_segments.semantics.lazy import exp

#: raw measures returned next to the components (HealthResult.signals names)
SIGNALS = (
    "active_days",
    "feature_adoption",
    "breadth",
    "nps",
    "nps_responses",
    "tickets",
    "sessions",
    "usage_growth",
    "days_since_last_login",
    "renewal_in_days",
)
#: why a component is missing for every account (the pandas engine's wording)
MISSING_WHY = {
    "core_feature_adoption": "no key features in features.csv",
    "breadth": "features.csv lists no features",
    "nps": "no nps.csv",
    "support_tickets": "no tickets.csv",
}


@dataclass(frozen=True)
class Tables:
    """What the data has, which decides the shape of the query."""

    key_features: int  # number of key features in features.csv
    features: int  # number of catalogued features
    nps: bool
    tickets: bool
    renewal_date: bool = False  # accounts.renewal_date exists
    last_visit: bool = False  # visitors.last_visit exists (docs/semantics.md §2)
    # who exists at the as-of day (docs/semantics.md §2b): the columns the rule reads
    first_visit: bool = False  # visitors.first_visit exists
    created: bool = False  # accounts.created exists
    churn_date: bool = False  # an outcomes table with churn_date
    # usage tables with their own account_id: rows count for it (docs/semantics.md §1)
    row_account: tuple[str, ...] = ()

    @property
    def existence(self) -> Existence:
        return Existence(
            has_first_visit=self.first_visit,
            has_created=self.created,
            has_churn_date=self.churn_date,
            row_account=self.row_account,
        )

    def missing_everywhere(self) -> dict[str, str]:
        absent = {
            "core_feature_adoption": self.key_features == 0,
            "breadth": self.features == 0,
            "nps": not self.nps,
            "support_tickets": not self.tickets,
        }
        return {c: MISSING_WHY[c] for c, gone in absent.items() if gone}


def _double(value: exp.Expr) -> exp.Expr:
    return exp.cast(value, exp.DataType.Type.DOUBLE)


def _count(cte: str, column: str = "value") -> exp.Expr:
    """``CAST(COALESCE(cte.column, 0) AS DOUBLE)``: an account without rows counted 0."""
    return _double(fn("COALESCE", col(column, cte), num(0)))


def _nothing() -> exp.Expr:
    return _double(exp.Null())


def _grouped(select: exp.Select, by: int = 1) -> exp.Select:
    return select.group_by(*[num(i) for i in range(1, by + 1)], copy=False)


def _features_used(days: int, min_clicks: int, key_only: bool, exists: Existence) -> exp.Select:
    """``subject_id, used``: how many catalogued (key) features each account clicked at
    least ``min_clicks`` times in the window."""
    clicks = catalogue.CATALOGUE["feature_clicks"]
    per_feature = catalogue.usage_scan(
        "account",
        "feature_usage",
        days,
        exp.alias_(col("feature_id", "u"), "feature_id"),
        exp.alias_(clicks.aggregate_sql(), "clicks"),
        exists=exists,
    )
    return _features_used_from(
        _grouped(per_feature, 2).subquery("x", copy=False), min_clicks, key_only
    )


def _from_shared(shared: SharedMetrics, exists: Existence) -> dict[str, exp.Select]:
    """``login``, ``growth`` and ``last_login`` read from a backtest day's shared tables.

    ``growth``: the accounts with rows in twice the window, their events there
    (``total``) and in the window (``recent``, 0 without rows), as :func:`_growth`
    sums them. A visitor's last visit rolls up to its account as in
    :func:`~pendo_segments.semantics.catalogue.visit_day_sql`; rows naming their
    own account (§1) keep that function's own query.
    """
    login = exp.select("subject_id", exp.alias_("active_days", "value")).from_(shared.usage)
    on = exp.EQ(this=col("subject_id", "r"), expression=col("subject_id", "t"))
    growth = (
        exp.select(
            col("subject_id", "t"),
            exp.alias_(fn("COALESCE", col("events", "r"), num(0)), "recent"),
            exp.alias_(col("events", "t"), "total"),
        )
        .from_(table(shared.usage_twice, "t"))
        .join(table(shared.usage, "r"), on=on, join_type="left", copy=False)
    )
    out = {"login": login, "growth": growth}
    if "usage_daily" not in exists.row_account:
        per_visitor = exp.select(
            exp.alias_("subject_id", "visitor_id"), exp.alias_("value", "day")
        ).from_(shared.last_visit)
        out["last_login"] = roll_up_sql(per_visitor, True, exists.roll_up_sql("v"))
    return out


def _features_used_from(clicks: str | exp.Expr, min_clicks: int, key_only: bool) -> exp.Select:
    """:func:`_features_used` from clicks per account and feature (``subject_id,
    feature_id, clicks``): a backtest day's shared table by name, or a subquery."""
    on: exp.Expr = exp.EQ(this=col("feature_id", "k"), expression=col("feature_id", "x"))
    if key_only:
        on = exp.and_(on, col("key", "k", quoted=True), copy=False)
    used = exp.select(
        col("subject_id", "x"), exp.alias_(exp.Count(this=exp.Star(), big_int=True), "used")
    )
    enough = exp.GTE(this=col("clicks", "x"), expression=num(int(min_clicks)))
    source = table(clicks, "x") if isinstance(clicks, str) else clicks
    select = used.from_(source).join(table("features", "k"), on=on, copy=False)
    return _grouped(select.where(enough, copy=False))


def _sessions(days: int, exists: Existence) -> exp.Select:
    """``subject_id, value``: visitor-days with activity FOR each account (a session count
    without session data): the distinct (visitor, day) pairs of the active rows that
    count for it (a row's own account, docs/semantics.md §1), of subject visitors."""
    active = catalogue.CATALOGUE["active_days"]
    day = exp.alias_(date(col("date", "u")), "day")
    pairs = catalogue.usage_scan(
        "account",
        "usage_daily",
        days,
        exp.alias_(col("visitor_id", "u"), "visitor_id"),
        day,
        where=active.row_filter_sql(),
        exists=exists,
    ).distinct(copy=False)
    total = exp.alias_(exp.Count(this=exp.Star(), big_int=True), "value")
    select = exp.select(col("subject_id", "x"), total)
    return _grouped(select.from_(pairs.subquery("x", copy=False), copy=False))


def _growth(days: int, exists: Existence) -> exp.Select:
    """``subject_id, recent, total``: events of the window and of twice the window."""
    events = catalogue.CATALOGUE["events"]
    recent = exp.Case(
        ifs=[exp.If(this=window_sql(col("date", "u"), days), true=col("events", "u"))],
        default=num(0),
    )
    return _grouped(
        catalogue.usage_scan(
            "account",
            "usage_daily",
            2 * days,
            exp.alias_(exp.Sum(this=recent), "recent"),
            exp.alias_(events.aggregate_sql(), "total"),
            exists=exists,
        )
    )


def _nps(days: int, exists: Existence) -> exp.Select:
    """``subject_id, mean, responses``: responses reach accounts through their visitors
    (those that are subjects)."""
    select = subject_rows("account", "nps", row="n").select(
        exp.alias_(subject_key("account"), "subject_id"),
        exp.alias_(exp.Avg(this=_double(col("score", "n"))), "mean"),
        exp.alias_(exp.Count(this=exp.Star(), big_int=True), "responses"),
        copy=False,
    )
    in_window = window_sql(col("date", "n"), days)
    return _grouped(select.where(both(in_window, exists.visitor_sql("v")), copy=False))


def _tickets(days: int) -> exp.Select:
    """``subject_id, value``: tickets opened in the window (tickets carry their account)."""
    select = with_params(
        exp.select(
            exp.alias_(col("account_id", "t"), "subject_id"),
            exp.alias_(exp.Count(this=exp.Star(), big_int=True), "value"),
        ).from_(table("tickets", "t"))
    )
    return _grouped(select.where(window_sql(col("opened_on", "t"), days), copy=False))


@dataclass(frozen=True)
class SharedMetrics:
    """Tables of :class:`~pendo_segments.compile.sql.SharedMetricSQL` that a backtest day
    already fills for its segments (same windows, rows and existence rule): the health
    reads them instead of scanning the usage again."""

    usage: str  # accounts at the login window: ``active_days``, ``events``
    usage_twice: str  # accounts at twice that window: ``events``
    clicks: dict[int, str]  # accounts' clicks by window, every catalogued feature
    last_visit: str  # visitors' last visit: ``subject_id, value``
    earliest: str | None = None  # visitors' earliest active day (first seen without first_visit)

    @staticmethod
    def windows(config: HealthConfig) -> tuple[int, int, int]:
        """The login window and the two feature windows the tables must have."""
        return (
            config.login_frequency.window_days,
            config.core_feature_adoption.window_days,
            config.breadth.window_days,
        )


def health_ctes(
    config: HealthConfig, tables: Tables, as_of: dt.date, shared: SharedMetrics | None = None
) -> dict[str, exp.Select]:
    """The CTEs ending in ``health``: one row per account with ``account_id``, the
    components, ``sig_<signal>`` raw measures and ``health_score`` (unrounded).

    The tier policy (tiers/sql.py) builds on them; ``params`` holds the as-of day.
    With ``shared``, the counts come from those tables (same values).
    """
    lf, core, br = config.login_frequency, config.core_feature_adoption, config.breadth
    exists = tables.existence
    if shared is not None:  # first seen from the day's table, not a correlated MIN
        exists = dataclasses.replace(exists, earliest_table=shared.earliest)
    ctes: dict[str, exp.Select] = {
        "params": params(as_of),
        "login": catalogue.metric_sql("active_days", "account", lf.window_days, exists=exists),
        "sessions_n": _sessions(lf.window_days, exists),
        "growth": _growth(lf.window_days, exists),
        "last_login": catalogue.visit_day_sql(
            "days_since_last_visit", "account", tables.last_visit, exists
        ),
    }
    if shared is not None:
        ctes.update(_from_shared(shared, exists))
    active_days = _count("login")
    comps: dict[str, exp.Expr] = {
        "login_frequency": saturate_sql(active_days, lf.full_at_active_days)
    }
    shares: dict[str, exp.Expr] = {}
    for comp, signal, spec, n, key_only in (
        ("core_feature_adoption", "feature_adoption", core, tables.key_features, True),
        ("breadth", "breadth", br, tables.features, False),
    ):
        if n:
            if shared is not None:
                clicks = shared.clicks[spec.window_days]
                used = _features_used_from(clicks, spec.min_clicks, key_only)
            else:
                used = _features_used(spec.window_days, spec.min_clicks, key_only, exists)
            ctes[f"used_{comp}"] = used
            share = exp.paren(exp.Div(this=_count(f"used_{comp}", "used"), expression=num(n)))
            shares[signal] = share
            comps[comp] = saturate_sql(share.copy(), spec.full_at_share)
        else:
            comps[comp] = _nothing()
    if tables.nps:
        ctes["nps_r"] = _nps(config.nps.window_days, exists)
        comps["nps"] = exp.Mul(this=col("mean", "nps_r"), expression=num(10))
    else:
        comps["nps"] = _nothing()
    if tables.tickets:
        ctes["tickets_n"] = _tickets(config.support_tickets.window_days)
        comps["support_tickets"] = falling_sql(
            _count("tickets_n"), config.support_tickets.zero_at_tickets
        )
    else:
        comps["support_tickets"] = _nothing()
    earlier = _double(exp.Sub(this=col("total", "growth"), expression=col("recent", "growth")))
    growth = exp.Div(
        this=exp.paren(exp.Sub(this=_double(col("recent", "growth")), expression=earlier)),
        expression=earlier.copy(),
    )
    renewal = fn(
        "date_diff", exp.Literal.string("day"), as_of_sql(), date(col("renewal_date", "a"))
    )
    signals: dict[str, exp.Expr] = {
        "active_days": active_days.copy(),
        "feature_adoption": _percent(shares.get("feature_adoption")),
        "breadth": _percent(shares.get("breadth")),
        "nps": col("mean", "nps_r") if tables.nps else _nothing(),
        "nps_responses": _count("nps_r", "responses") if tables.nps else _nothing(),
        "tickets": _count("tickets_n") if tables.tickets else _nothing(),
        "sessions": _count("sessions_n"),
        # NULL when the earlier window had no events: growth from nothing is undefined
        "usage_growth": exp.Case(
            ifs=[
                exp.If(
                    this=exp.GT(this=earlier.copy(), expression=num(0)),
                    true=exp.Mul(this=growth, expression=num(100)),
                )
            ]
        ),
        "days_since_last_login": _double(days_since_sql(col("value", "last_login"))),
        "renewal_in_days": _double(renewal) if tables.renewal_date else _nothing(),
    }
    select = exp.select(
        col("account_id", "a"),
        *[exp.alias_(comps[c], c) for c in COMPONENTS],
        *[exp.alias_(expr, f"sig_{name}") for name, expr in signals.items()],
    )
    select = with_params(select.from_(table("accounts", "a")))
    for cte in ctes:
        if cte != "params":
            on = exp.EQ(this=col("subject_id", cte), expression=col("account_id", "a"))
            select = select.join(exp.to_table(cte), on=on, join_type="left", copy=False)
    subject = exists.subject_sql("account", "a")
    if subject != exp.true():  # accounts without created / churn dates: all exist
        select = select.where(subject, copy=False)
    weights = config.weights.as_dict()
    score = weighted_mean_sql([(col(c, "c"), weights[c]) for c in COMPONENTS])
    ctes["c"] = select
    ctes["health"] = exp.select(exp.Star(), exp.alias_(score, "health_score")).from_(
        exp.to_table("c")
    )
    return ctes


def _percent(share: exp.Expr | None) -> exp.Expr:
    return _nothing() if share is None else exp.Mul(this=share.copy(), expression=num(100))


def with_ctes(select: exp.Select, ctes: dict[str, exp.Select]) -> exp.Select:
    for name, body in ctes.items():
        select = select.with_(name, as_=body, copy=False)
    return select


def to_dialect(tree: exp.Expr, dialect: str) -> str:
    """The tree written for ``dialect``: DuckDB on one line, others by the SQL target's writer."""
    from pendo_segments.compile.sql import render

    return render(tree, dialect)


def health_query(
    config: HealthConfig, tables: Tables, as_of: dt.date, *, dialect: str = "duckdb"
) -> str:
    """One row per account: ``account_id``, the components, ``health_score`` and raw measures."""
    ordered = exp.Ordered(this=col("account_id"), nulls_first=False)
    query = exp.select(exp.Star()).from_("health").order_by(ordered, copy=False)
    return to_dialect(with_ctes(query, health_ctes(config, tables, as_of)), dialect)


def health_result(frame: pd.DataFrame, config: HealthConfig, tables: Tables, as_of: dt.date) -> Any:
    """A :class:`HealthResult` from the query's rows (rounding and notes as in pandas)."""
    from pendo_segments.health.score import HealthResult

    def column(name: str) -> np.ndarray:
        return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64)

    return HealthResult(
        as_of=as_of,
        config=config,
        account_ids=pd.Index(frame["account_id"].astype(str)),
        score=column("health_score"),
        components={c: column(c) for c in COMPONENTS},
        signals={s: column(f"sig_{s}") for s in SIGNALS},
        missing_everywhere=tables.missing_everywhere(),
    )
