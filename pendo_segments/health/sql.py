"""The health score of docs/semantics.md §5 as one SQL query (DuckDB, Spark, … via sqlglot).

``health/score.py`` is the reference; this query computes the same
components from the same :class:`HealthConfig` (weights, windows, saturation
points), so ``health --engine duckdb|spark`` gives the pandas numbers. The
query returns unrounded values; :class:`HealthResult` rounds them as usual.

Windows follow docs/semantics.md §2 (``as_of − N ≤ day ≤ as_of − 1``);
usage, feature clicks and NPS responses reach accounts through
``visitors.account_id``; tickets carry their own ``account_id``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pendo_segments.health.config import COMPONENTS, HealthConfig

ACTIVE = "(u.events > 0 OR u.minutes > 0)"
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

    def missing_everywhere(self) -> dict[str, str]:
        absent = {
            "core_feature_adoption": self.key_features == 0,
            "breadth": self.features == 0,
            "nps": not self.nps,
            "support_tickets": not self.tickets,
        }
        return {c: MISSING_WHY[c] for c, gone in absent.items() if gone}


def _window(column: str, days: int) -> str:
    return f"{column} >= p.as_of - {int(days)} AND {column} < p.as_of"


def _num(value: float) -> str:
    return repr(float(value))


def _features_used(name: str, days: int, min_clicks: int, key_only: bool) -> str:
    """Per account: how many (key) features were clicked ≥ min_clicks times in the window."""
    key = ' AND k."key"' if key_only else ""
    return (
        f"{name} AS (SELECT account_id, COUNT(*) AS used FROM ("
        "SELECT v.account_id, f.feature_id, SUM(f.clicks) AS clicks FROM feature_usage AS f"
        " JOIN visitors AS v ON v.visitor_id = f.visitor_id"
        f" JOIN features AS k ON k.feature_id = f.feature_id{key}"
        f" CROSS JOIN params AS p WHERE {_window('f.date', days)} GROUP BY 1, 2"
        f") AS x WHERE clicks >= {int(min_clicks)} GROUP BY 1)"
    )


def health_ctes(config: HealthConfig, tables: Tables, as_of: dt.date) -> list[str]:
    """The CTEs (DuckDB dialect) ending in ``health``: one row per account with
    ``account_id``, the components, ``sig_<signal>`` raw measures and ``health_score``.

    The tier policy (tiers/sql.py) builds on them; ``params`` holds the as-of day.
    """
    lf, core, br = config.login_frequency, config.core_feature_adoption, config.breadth
    usage = (
        " FROM usage_daily AS u JOIN visitors AS v ON v.visitor_id = u.visitor_id"
        " CROSS JOIN params AS p"
    )
    ctes = [
        f"params AS (SELECT DATE '{as_of.isoformat()}' AS as_of)",
        "login AS (SELECT v.account_id, COUNT(DISTINCT CAST(u.date AS DATE)) AS active_days"
        f"{usage} WHERE {_window('u.date', lf.window_days)} AND {ACTIVE} GROUP BY 1)",
        # visitor-days with activity (a session count without session data)
        "sessions_n AS (SELECT account_id, COUNT(*) AS n FROM (SELECT DISTINCT v.account_id,"
        f" u.visitor_id, CAST(u.date AS DATE) AS day{usage}"
        f" WHERE {_window('u.date', lf.window_days)} AND {ACTIVE}) AS x GROUP BY 1)",
        # events of the window and of the window before it
        f"growth AS (SELECT v.account_id, SUM(CASE WHEN u.date >= p.as_of - {lf.window_days}"
        " THEN u.events ELSE 0 END) AS recent,"
        f" SUM(CASE WHEN u.date < p.as_of - {lf.window_days} THEN u.events ELSE 0 END)"
        f" AS earlier{usage} WHERE {_window('u.date', 2 * lf.window_days)} GROUP BY 1)",
        _last_login(tables.last_visit),
    ]
    joins = [
        "LEFT JOIN login ON login.account_id = a.account_id",
        "LEFT JOIN sessions_n ON sessions_n.account_id = a.account_id",
        "LEFT JOIN growth ON growth.account_id = a.account_id",
        "LEFT JOIN last_login ON last_login.account_id = a.account_id",
    ]
    cols = {
        "active_days": "CAST(COALESCE(login.active_days, 0) AS DOUBLE)",
    }
    cols["login_frequency"] = (
        f"LEAST(1.0, {cols['active_days']} / {_num(lf.full_at_active_days)}) * 100"
    )
    for comp, signal, spec, n, key_only in (
        ("core_feature_adoption", "feature_adoption", core, tables.key_features, True),
        ("breadth", "breadth", br, tables.features, False),
    ):
        if n:
            ctes.append(_features_used(f"used_{comp}", spec.window_days, spec.min_clicks, key_only))
            joins.append(f"LEFT JOIN used_{comp} ON used_{comp}.account_id = a.account_id")
            share = f"(CAST(COALESCE(used_{comp}.used, 0) AS DOUBLE) / {n})"
            cols[signal + "_share"] = share
            cols[comp] = f"LEAST(1.0, {share} / {_num(spec.full_at_share)}) * 100"
        else:
            cols[comp] = "CAST(NULL AS DOUBLE)"
    if tables.nps:
        ctes.append(
            "nps_r AS (SELECT v.account_id, AVG(CAST(n.score AS DOUBLE)) AS mean,"
            " COUNT(*) AS responses FROM nps AS n JOIN visitors AS v"
            " ON v.visitor_id = n.visitor_id CROSS JOIN params AS p"
            f" WHERE {_window('n.date', config.nps.window_days)} GROUP BY 1)"
        )
        joins.append("LEFT JOIN nps_r ON nps_r.account_id = a.account_id")
        cols["nps"] = "nps_r.mean * 10"
    else:
        cols["nps"] = "CAST(NULL AS DOUBLE)"
    st = config.support_tickets
    if tables.tickets:
        ctes.append(
            "tickets_n AS (SELECT t.account_id, COUNT(*) AS n FROM tickets AS t"
            f" CROSS JOIN params AS p WHERE {_window('t.opened_on', st.window_days)} GROUP BY 1)"
        )
        joins.append("LEFT JOIN tickets_n ON tickets_n.account_id = a.account_id")
        cols["support_tickets"] = (
            "GREATEST(0.0, 1 - CAST(COALESCE(tickets_n.n, 0) AS DOUBLE) / "
            f"{_num(st.zero_at_tickets)}) * 100"
        )
    else:
        cols["support_tickets"] = "CAST(NULL AS DOUBLE)"
    weights = config.weights.as_dict()
    total = " + ".join(f"COALESCE({_num(weights[c])} * c.{c}, 0)" for c in COMPONENTS)
    denom = " + ".join(
        f"CASE WHEN c.{c} IS NULL THEN 0 ELSE {_num(weights[c])} END" for c in COMPONENTS
    )
    nothing = "CAST(NULL AS DOUBLE)"
    earlier = "CAST(growth.earlier AS DOUBLE)"
    signals = {
        "active_days": cols["active_days"],
        "feature_adoption": f"{cols['feature_adoption_share']} * 100"
        if "feature_adoption_share" in cols
        else nothing,
        "breadth": f"{cols['breadth_share']} * 100" if "breadth_share" in cols else nothing,
        "nps": "nps_r.mean" if tables.nps else nothing,
        "nps_responses": "CAST(COALESCE(nps_r.responses, 0) AS DOUBLE)" if tables.nps else nothing,
        "tickets": "CAST(COALESCE(tickets_n.n, 0) AS DOUBLE)" if tables.tickets else nothing,
        "sessions": "CAST(COALESCE(sessions_n.n, 0) AS DOUBLE)",
        # NULL when the earlier window had no events: growth from nothing is undefined
        "usage_growth": f"CASE WHEN {earlier} > 0 THEN"
        f" (CAST(growth.recent AS DOUBLE) - {earlier}) / {earlier} * 100 END",
        "days_since_last_login": "CAST(date_diff('day', last_login.day, p.as_of) AS DOUBLE)",
        "renewal_in_days": "CAST(date_diff('day', p.as_of, CAST(a.renewal_date AS DATE)) AS DOUBLE)"
        if tables.renewal_date
        else nothing,
    }
    inner = ", ".join(
        [f"{cols[c]} AS {c}" for c in COMPONENTS]
        + [f"{expr} AS sig_{name}" for name, expr in signals.items()]
    )
    return [
        *ctes,
        f"c AS (SELECT a.account_id, {inner}\nFROM accounts AS a CROSS JOIN params AS p"
        f" {' '.join(joins)})",
        f"health AS (SELECT c.*, CASE WHEN ({denom}) > 0 THEN ({total}) / ({denom}) END"
        " AS health_score FROM c)",
    ]


def _last_login(last_visit: bool) -> str:
    """Per account: the latest active day before as-of (or ``visitors.last_visit``)."""
    per_visitor = (
        "SELECT u.visitor_id, MAX(CAST(u.date AS DATE)) AS day FROM usage_daily AS u"
        f" CROSS JOIN params AS p WHERE u.date < p.as_of AND {ACTIVE} GROUP BY 1"
    )
    if last_visit:
        per_visitor += (
            " UNION ALL SELECT v.visitor_id, CAST(v.last_visit AS DATE) FROM visitors AS v"
            " CROSS JOIN params AS p WHERE CAST(v.last_visit AS DATE) < p.as_of"
        )
    return (
        f"last_login AS (SELECT v.account_id, MAX(x.day) AS day FROM ({per_visitor}) AS x"
        " JOIN visitors AS v ON v.visitor_id = x.visitor_id GROUP BY 1)"
    )


def to_dialect(sql: str, dialect: str) -> str:
    """A DuckDB query written for ``dialect`` (the SQL target's writer)."""
    if dialect == "duckdb":
        return sql
    import sqlglot

    from pendo_segments.compile.sql import writer_for

    return str(sqlglot.transpile(sql, read="duckdb", write=writer_for(dialect), pretty=True)[0])


def health_query(
    config: HealthConfig, tables: Tables, as_of: dt.date, *, dialect: str = "duckdb"
) -> str:
    """One row per account: ``account_id``, the components, ``health_score`` and raw measures."""
    ctes = ",\n".join(health_ctes(config, tables, as_of))
    return to_dialect(f"WITH {ctes}\nSELECT * FROM health ORDER BY account_id", dialect)


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


def dataset_tables(ds: Any) -> Tables:
    """What a loaded :class:`Dataset` holds."""
    return Tables(
        key_features=len(ds.key_features()),
        features=len(ds.features),
        nps=ds.nps is not None,
        tickets=ds.tickets is not None,
        renewal_date="renewal_date" in ds.accounts.columns,
        last_visit="last_visit" in ds.visitors.columns,
    )


def duckdb_health(ds: Any, config: HealthConfig, as_of: dt.date | None = None) -> Any:
    """``health --engine duckdb``: the query on DuckDB over the loaded frames."""
    from pendo_segments.evaluate.duckdb_engine import connect

    day = as_of or ds.default_as_of()
    tables = dataset_tables(ds)
    con = connect(ds)
    try:
        frame = con.execute(health_query(config, tables, day)).df()
    finally:
        con.close()
    return health_result(frame, config, tables, day)
