"""Product usage widgets of the dashboard, computed from the usage tables.

Pendo's customer-success dashboard asks for: total time in app per week,
feature usage by visitor, time to first use, NPS and the Product Engagement
Score. Windows follow docs/semantics.md §2: N days before the as-of day,
the as-of day itself never counted.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: Pendo's definition, which :func:`pes` follows.
PES_SOURCE = (
    "Pendo, Product Engagement Score (PES): "
    "https://support.pendo.io/hc/en-us/articles/360054782691-Product-Engagement-Score-PES"
)


def _days(values: Any) -> pd.Series:
    return pd.to_datetime(pd.Series(values)).dt.normalize()


def _ts(day: dt.date) -> pd.Timestamp:
    return pd.Timestamp(day)


def _active_usage(ds: Any, as_of: dt.date) -> pd.DataFrame:
    """Active visitor-days before the as-of day: ``visitor_id, date, minutes``."""
    u = ds.usage_daily
    frame = pd.DataFrame(
        {
            "visitor_id": u["visitor_id"].astype(str).to_numpy(),
            "date": _days(u["date"]).to_numpy(),
            "minutes": u["minutes"].to_numpy(dtype=float),
            "active": ((u["events"] > 0) | (u["minutes"] > 0)).to_numpy(),
        }
    )
    return frame[frame["active"] & (frame["date"] < _ts(as_of))]


def weekly_minutes(ds: Any, as_of: dt.date, weeks: int) -> list[tuple[dt.date, float]]:
    """Total minutes in app per 7-day week, oldest first; the last week ends the day before as-of."""
    u = ds.usage_daily
    day = _days(u["date"])
    minutes = u["minutes"].to_numpy(dtype=float)
    out = []
    for k in range(weeks - 1, -1, -1):
        start = as_of - dt.timedelta(days=7 * (k + 1))
        end = start + dt.timedelta(days=7)
        inside = ((day >= _ts(start)) & (day < _ts(end))).to_numpy()
        out.append((start, float(minutes[inside].sum())))
    return out


@dataclass
class FeatureUse:
    feature_id: str
    name: str
    visitors: int  # visitors who clicked it in the window
    share: float  # of the visitors active in the window (0–100)


def _clicks(ds: Any, as_of: dt.date, since: dt.date | None = None) -> pd.DataFrame:
    f = ds.feature_usage
    frame = pd.DataFrame(
        {
            "visitor_id": f["visitor_id"].astype(str).to_numpy(),
            "feature_id": f["feature_id"].astype(str).to_numpy(),
            "date": _days(f["date"]).to_numpy(),
            "clicks": f["clicks"].to_numpy(dtype=float),
        }
    )
    keep = (frame["clicks"] > 0) & (frame["date"] < _ts(as_of))
    if since is not None:
        keep &= frame["date"] >= _ts(since)
    return frame[keep]


def _feature_names(ds: Any) -> dict[str, str]:
    names = ds.features.get("name", ds.features["feature_id"])
    return {
        str(f): str(n) if isinstance(n, str) and n else str(f)
        for f, n in zip(ds.features["feature_id"], names, strict=True)
    }


def key_feature_usage(ds: Any, as_of: dt.date, window: int = 30) -> list[FeatureUse]:
    """Visitors using each key feature in the last ``window`` days."""
    since = as_of - dt.timedelta(days=window)
    active = _active_usage(ds, as_of)
    active_n = active.loc[active["date"] >= _ts(since), "visitor_id"].nunique()
    clicks = _clicks(ds, as_of, since)
    users = clicks.groupby("feature_id")["visitor_id"].nunique()
    names = _feature_names(ds)
    return [
        FeatureUse(
            f, names[f], int(users.get(f, 0)), 100 * users.get(f, 0) / active_n if active_n else 0.0
        )
        for f in ds.key_features()
    ]


def first_visit_days(ds: Any, as_of: dt.date) -> pd.Series:
    """Each visitor's first visit: ``first_visit`` when given, else the first active day."""
    active = _active_usage(ds, as_of)
    first = active.groupby("visitor_id")["date"].min()
    ids = ds.visitors["visitor_id"].astype(str)
    out = pd.Series(first.reindex(ids.to_numpy()).to_numpy(), index=ids.to_numpy())
    if "first_visit" in ds.visitors.columns:
        declared = _days(ds.visitors["first_visit"]).to_numpy()
        out = pd.Series(np.where(pd.isna(declared), out.to_numpy(), declared), index=out.index)
    return pd.to_datetime(out)


@dataclass
class FirstUse:
    feature_id: str
    name: str
    new_users: int
    used: int
    median_days: float  # NaN when no new user used it yet


def time_to_first_use(ds: Any, as_of: dt.date, lookback: int = 90) -> list[FirstUse]:
    """For visitors whose first visit is in the last ``lookback`` days (and within the
    data), days from first visit to first click on each key feature."""
    first = first_visit_days(ds, as_of)
    data_start = _days(ds.usage_daily["date"]).min()
    since = max(_ts(as_of - dt.timedelta(days=lookback)), data_start)
    new = first[(first >= since) & (first < _ts(as_of))]
    clicks = _clicks(ds, as_of)
    clicks = clicks[clicks["visitor_id"].isin(new.index)]
    out = []
    names = _feature_names(ds)
    for f in ds.key_features():
        mine = clicks[clicks["feature_id"] == f].groupby("visitor_id")["date"].min()
        delay = (mine - new.reindex(mine.index)).dt.days
        delay = delay[delay >= 0]
        out.append(
            FirstUse(
                f,
                names[f],
                len(new),
                len(delay),
                float(delay.median()) if len(delay) else math.nan,
            )
        )
    return out


@dataclass
class NpsSummary:
    counts: list[int]  # responses per score 0..10 in the window
    score: float  # % promoters − % detractors (NaN without responses)
    responses: int
    trend: list[tuple[str, float, int]]  # (YYYY-MM, NPS, responses) per calendar month


def nps_score(scores: np.ndarray) -> float:
    if not len(scores):
        return math.nan
    return float(100 * ((scores >= 9).mean() - (scores <= 6).mean()))


def nps_summary(ds: Any, as_of: dt.date, window: int = 90) -> NpsSummary | None:
    nps = getattr(ds, "nps", None)
    if nps is None:
        return None
    day = _days(nps["date"])
    scores = nps["score"].to_numpy(dtype=float)
    before = (day < _ts(as_of)).to_numpy()
    recent = before & (day >= _ts(as_of - dt.timedelta(days=window))).to_numpy()
    counts = np.bincount(scores[recent].astype(int), minlength=11)[:11]
    month = day.dt.strftime("%Y-%m").to_numpy()
    trend = [
        (m, nps_score(scores[before & (month == m)]), int((before & (month == m)).sum()))
        for m in sorted(set(month[before]))
    ]
    return NpsSummary([int(c) for c in counts], nps_score(scores[recent]), int(recent.sum()), trend)


@dataclass
class Pes:
    adoption: float
    stickiness: float
    growth: float
    score: float
    active_visitors: int
    new: int
    recovered: int
    dropped: int


def pes(ds: Any, as_of: dt.date, window: int = 30) -> Pes:
    """Product Engagement Score over visitors, as Pendo defines it (see ``PES_SOURCE``).

    * Adoption: the average share of Core Events (here: key features) that
      active visitors used in the window, 0–100.
    * Stickiness: DAU / MAU: average daily active visitors over the window
      divided by the visitors active in the window, 0–100.
    * Growth: Pendo's ratio of new + recovered visitors to dropped ones
      (active in the previous window, not in this one). To put it on the
      0–100 scale of the other two we report (new + recovered) ÷ (new +
      recovered + dropped) × 100, so a ratio of 1 scores 50.
    * PES: the average of the three.
    """
    start, prev = _ts(as_of - dt.timedelta(days=window)), _ts(as_of - dt.timedelta(days=2 * window))
    active = _active_usage(ds, as_of)
    now = active[active["date"] >= start]
    now_ids = set(now["visitor_id"])
    n_active = len(now_ids)
    keys = ds.key_features()
    if keys and n_active:
        clicks = _clicks(ds, as_of, start.date())
        used = clicks[clicks["feature_id"].isin(keys)].groupby("visitor_id")["feature_id"].nunique()
        per = used.reindex(sorted(now_ids)).fillna(0) / len(keys)
        adoption = float(100 * per.mean())
    else:
        adoption = math.nan
    if n_active:
        daily = now.groupby("date")["visitor_id"].nunique()
        stickiness = float(100 * daily.sum() / window / n_active)
    else:
        stickiness = math.nan
    before_ids = set(active.loc[(active["date"] >= prev) & (active["date"] < start), "visitor_id"])
    first = first_visit_days(ds, as_of)
    new_ids = set(first.index[(first >= start) & (first < _ts(as_of))])
    older = set(first.index[first < prev])
    new = len(new_ids & now_ids)
    recovered = len((now_ids - before_ids - new_ids) & older)
    dropped = len(before_ids - now_ids)
    gained = new + recovered
    growth = 100 * gained / (gained + dropped) if gained + dropped else math.nan
    parts = [v for v in (adoption, stickiness, growth) if not math.isnan(v)]
    score = sum(parts) / len(parts) if parts else math.nan
    return Pes(adoption, stickiness, growth, score, n_active, new, recovered, dropped)
