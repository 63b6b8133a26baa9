"""The report's usage roll-ups (:class:`~pendo_segments.backtest.usage.UsageRollups`) on an
engine that keeps the usage (DuckDB, Spark).

The same sums as :func:`~pendo_segments.backtest.usage.usage_rollups` takes from the
pandas index, from a few queries: minutes per account and week and each account's
first usage day come back account-sized; per visitor (the visitors table's size)
whether it was active in this window and the one before, its active days, the key
features it clicked and its first click of each, and its first visit (the semantic
core's first-seen rule). Rows of visitors not in the visitors table count for nobody,
as in the index.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from pendo_segments.backtest.usage import LOOKBACK, WINDOW, UsageRollups
from pendo_segments.evaluate.metrics import NAT_DAY, day_number, day_numbers, positions
from pendo_segments.semantics.rules import active_sql


def engine_rollups(engine: Any, as_of: dt.date, weeks: int) -> UsageRollups:
    """:class:`UsageRollups` at ``as_of`` (``weeks`` of minutes) computed by ``engine``."""
    accounts = engine.subjects("account")
    visitors = engine.subjects("visitor")
    account_ids = pd.Index(accounts["account_id"].astype(str))
    visitor_ids = pd.Index(visitors["visitor_id"].astype(str))
    na, end = len(account_ids), day_number(as_of)
    v2a = positions(visitors["account_id"].astype(str), account_ids)
    v_bin = np.where(v2a < 0, na, v2a).astype(np.int64)

    def per_bin(mask: np.ndarray) -> np.ndarray:
        return np.bincount(v_bin[mask], minlength=na + 1).astype(np.int32)

    def per_visitor(frame: pd.DataFrame, column: str, fill: Any) -> np.ndarray:
        out = np.full(len(visitor_ids), fill, dtype=np.asarray([fill]).dtype)
        where = positions(frame["visitor_id"].astype(str), visitor_ids)
        out[where[where >= 0]] = frame[column].to_numpy()[where >= 0]
        return out

    facts = _query(engine, _ACTIVITY.format(day=as_of.isoformat(), w=WINDOW), as_of)
    now = per_visitor(facts, "now", 0).astype(bool)
    before = per_visitor(facts, "before", 0).astype(bool)
    days_now = per_visitor(facts, "days_now", 0)
    first = _first_visit(engine, visitor_ids, as_of)
    with np.errstate(invalid="ignore"):
        is_new = (first >= end - WINDOW) & (first < end)
        older = first < end - 2 * WINDOW
    keys = _key_features(engine)
    used = _used(engine, keys, visitor_ids, as_of)
    return UsageRollups(
        as_of=as_of,
        key_features=[k for k, _ in keys],
        feature_names=[n for _, n in keys],
        weekly_minutes=_weekly(engine, account_ids, as_of, weeks),
        visitors=per_bin(np.ones(len(v_bin), dtype=bool)),
        active=per_bin(now),
        visitor_days=np.bincount(v_bin, weights=days_now, minlength=na + 1).astype(np.int32),
        new=per_bin(is_new & now),
        recovered=per_bin(now & ~before & ~is_new & older),
        dropped=per_bin(before & ~now),
        key_users=np.array([per_bin(u) for u in used], dtype=np.int32).reshape(len(keys), na + 1),
        key_users_active=np.array([per_bin(u & now) for u in used], dtype=np.int32).reshape(
            len(keys), na + 1
        ),
        first_usage=_first_usage(engine, account_ids, as_of),
        **_new_visitors(engine, keys, first, end, v_bin, visitor_ids, as_of),
        **_nps_rows(engine, visitor_ids, v2a, end, na, as_of),
    )


#: rows of known visitors only (an inner join on the visitors table)
_KNOWN = (
    "FROM usage_daily u JOIN visitors v "
    "ON CAST(u.visitor_id AS VARCHAR) = CAST(v.visitor_id AS VARCHAR)"
)
_ACTIVE = active_sql("u").sql("duckdb")  # the active day, as semantics states it
_ACTIVITY = (
    "SELECT CAST(v.visitor_id AS VARCHAR) AS visitor_id, "
    "MAX(CASE WHEN CAST(u.date AS DATE) >= DATE '{day}' - {w} THEN 1 ELSE 0 END) AS now, "
    "MAX(CASE WHEN CAST(u.date AS DATE) < DATE '{day}' - {w} THEN 1 ELSE 0 END) AS before, "
    "COUNT(DISTINCT CASE WHEN CAST(u.date AS DATE) >= DATE '{day}' - {w} "
    "THEN CAST(u.date AS DATE) END) AS days_now " + _KNOWN + " "
    "WHERE " + _ACTIVE + " AND CAST(u.date AS DATE) >= DATE '{day}' - 2 * {w} "
    "AND CAST(u.date AS DATE) < DATE '{day}' GROUP BY 1"
)


def _query(engine: Any, sql: str, at: dt.date) -> pd.DataFrame:
    """``sql`` written for DuckDB, run in the engine's dialect."""
    import sqlglot

    if engine.dialect != "duckdb":
        sql = sqlglot.transpile(sql, read="duckdb", write=engine.dialect)[0]
    return engine.query(sql, at=at)


def _weekly(engine: Any, account_ids: pd.Index, as_of: dt.date, weeks: int) -> np.ndarray:
    """Minutes per 7-day week (oldest first) and account (last: visitors of no account)."""
    day = as_of.isoformat()
    rows = _query(
        engine,
        f"SELECT CAST(v.account_id AS VARCHAR) AS account_id, date_diff('day', CAST(u.date AS DATE), DATE '{day}') AS back, "
        f"SUM(u.minutes) AS minutes {_KNOWN} WHERE CAST(u.date AS DATE) < DATE '{day}' "
        f"AND CAST(u.date AS DATE) >= DATE '{day}' - {7 * weeks} GROUP BY 1, 2",
        as_of,
    )
    out = np.zeros((weeks, len(account_ids) + 1))
    where = positions(rows["account_id"].astype(str), account_ids)
    where = np.where(rows["account_id"].isna().to_numpy() | (where < 0), len(account_ids), where)
    week = weeks - 1 - (rows["back"].to_numpy(dtype=np.int64) - 1) // 7
    np.add.at(out, (week, where), rows["minutes"].to_numpy(dtype=float))
    return out


def _first_usage(engine: Any, account_ids: pd.Index, as_of: dt.date) -> np.ndarray:
    """Per account the day of its visitors' first usage row; the spare bin: any known
    visitor's first row (NAT_DAY: none)."""
    rows = _query(
        engine,
        f"SELECT CAST(v.account_id AS VARCHAR) AS account_id, MIN(CAST(u.date AS DATE)) AS first {_KNOWN} GROUP BY 1",
        as_of,
    )
    out = np.full(len(account_ids) + 1, NAT_DAY, dtype=np.int64)
    if not len(rows):
        return out
    days = day_numbers(pd.to_datetime(rows["first"]))
    where = positions(rows["account_id"].astype(str), account_ids)
    known = rows["account_id"].notna().to_numpy() & (where >= 0)
    out[where[known]] = days[known]
    out[len(account_ids)] = int(days.min())
    return out


def _first_visit(engine: Any, visitor_ids: pd.Index, as_of: dt.date) -> np.ndarray:
    """Day number of each visitor's first visit (the semantic core's first-seen); NaN: none."""
    from pendo_segments.campaign.eligibility import visit_days

    since = visit_days(engine, "days_since_first_visit", as_of)
    out = np.full(len(visitor_ids), np.nan)
    for v, d in since.items():
        pos = visitor_ids.get_indexer([v])[0]
        if pos >= 0:
            out[pos] = day_number(as_of) - d
    return out


def _key_features(engine: Any) -> list[tuple[str, str]]:
    """(id, name) of the key features, in catalogue order (a blank name: the id)."""
    features = engine.features()
    if "key" not in features:
        return []
    key = features["key"].fillna(False).astype(bool).to_numpy()
    names = features["name"] if "name" in features.columns else features["feature_id"]
    return [
        (str(f), str(n) if isinstance(n, str) and n else str(f))
        for f, n, k in zip(features["feature_id"], names, key, strict=True)
        if k
    ]


def _first_clicks(
    engine: Any, keys: list[tuple[str, str]], as_of: dt.date, since: dt.date | None
) -> pd.DataFrame:
    """``visitor_id, feature_id, first``: each known visitor's first click (clicks > 0) of
    each key feature before ``as_of`` (from ``since`` when given)."""
    if not keys:
        return pd.DataFrame({"visitor_id": [], "feature_id": [], "first": []})
    listed = ", ".join("'" + k.replace("'", "''") + "'" for k, _ in keys)
    start = f"AND CAST(f.date AS DATE) >= DATE '{since.isoformat()}' " if since else ""
    return _query(
        engine,
        "SELECT CAST(v.visitor_id AS VARCHAR) AS visitor_id, CAST(f.feature_id AS VARCHAR) AS feature_id, "
        "MIN(CAST(f.date AS DATE)) AS first FROM feature_usage f JOIN visitors v "
        "ON CAST(f.visitor_id AS VARCHAR) = CAST(v.visitor_id AS VARCHAR) "
        f"WHERE f.clicks > 0 AND CAST(f.date AS DATE) < DATE '{as_of.isoformat()}' {start}"
        f"AND CAST(f.feature_id AS VARCHAR) IN ({listed}) GROUP BY 1, 2",
        as_of,
    )


def _used(
    engine: Any, keys: list[tuple[str, str]], visitor_ids: pd.Index, as_of: dt.date
) -> list[np.ndarray]:
    """Per key feature, per visitor: clicked it in the last WINDOW days."""
    rows = _first_clicks(engine, keys, as_of, as_of - dt.timedelta(days=WINDOW))
    out = []
    for k, _ in keys:
        mine = rows[rows["feature_id"].astype(str) == k]
        hit = np.zeros(len(visitor_ids), dtype=bool)
        where = positions(mine["visitor_id"].astype(str), visitor_ids)
        hit[where[where >= 0]] = True
        out.append(hit)
    return out


def _new_visitors(
    engine: Any,
    keys: list[tuple[str, str]],
    first: np.ndarray,
    end: int,
    v_bin: np.ndarray,
    visitor_ids: pd.Index,
    as_of: dt.date,
) -> dict[str, Any]:
    """Visitors first seen in the LOOKBACK days before as-of, and their days from the first
    visit to the first click of each key feature (NaN: not yet, or before the first visit)."""
    with np.errstate(invalid="ignore"):
        new = (first >= end - LOOKBACK) & (first < end)
    who = np.flatnonzero(new)
    rows = _first_clicks(engine, keys, as_of, None)
    delay = np.full((len(keys), len(who)), np.nan)
    for k, (feature, _) in enumerate(keys):
        mine = rows[rows["feature_id"].astype(str) == feature]
        firsts = np.full(len(visitor_ids), np.nan)
        where = positions(mine["visitor_id"].astype(str), visitor_ids)
        days = day_numbers(pd.to_datetime(mine["first"])).astype(float)
        firsts[where[where >= 0]] = days[where >= 0]
        d = firsts[who] - first[who]
        d[np.isnan(d) | (d < 0)] = np.nan
        delay[k] = d
    return {
        "new_bin": v_bin[who].astype(np.int32),
        "new_first": first[who].astype(np.int64),
        "new_delay": delay,
    }


def _nps_rows(
    engine: Any, visitor_ids: pd.Index, v2a: np.ndarray, end: int, na: int, as_of: dt.date
) -> dict[str, Any]:
    """NPS responses before as-of: each one's bin (its visitor's account), day and score."""
    if not engine.shape().has("nps"):
        empty = np.zeros(0, dtype=np.int64)
        return {
            "nps_bin": empty.astype(np.int32),
            "nps_day": empty,
            "nps_score": empty.astype(float),
            "has_nps": False,
        }
    nps = _query(
        engine,
        "SELECT CAST(visitor_id AS VARCHAR) AS visitor_id, CAST(date AS DATE) AS date, score "
        "FROM nps",
        as_of,
    )
    day = day_numbers(pd.to_datetime(nps["date"]))
    before = day < end
    vidx = positions(nps["visitor_id"].astype(str), visitor_ids)
    account = np.where(vidx >= 0, v2a[np.maximum(vidx, 0)], -1)
    bin_of = np.where(account >= 0, account, na)
    return {
        "nps_bin": bin_of[before].astype(np.int32),
        "nps_day": day[before].astype(np.int64),
        "nps_score": nps["score"].to_numpy(dtype=float)[before],
        "has_nps": True,
    }
