"""Product usage widgets of the dashboard, read off the backtest's index of the data.

Pendo's customer-success dashboard asks for: total time in app per week,
feature usage by visitor, time to first use, NPS and the Product Engagement
Score. Windows follow docs/semantics.md §2: N days before the as-of day,
the as-of day itself never counted. Everything works on the integer arrays
of :class:`~pendo_segments.backtest.history.UsageHistory` (visitor
positions, day numbers), so a million-row table is never turned into strings.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pendo_segments.backtest.history import UsageHistory
from pendo_segments.evaluate.metrics import NAT_DAY, ExtremeDay, day_number, day_numbers

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset

#: Pendo's definition, which :func:`pes` follows.
PES_SOURCE = (
    "Pendo, Product Engagement Score (PES): "
    "https://support.pendo.io/hc/en-us/articles/360054782691-Product-Engagement-Score-PES"
)


def _between(day: np.ndarray, start: int, end: int) -> slice:
    """Rows of day-sorted ``day`` with ``start <= day < end``."""
    t = day.dtype.type
    return slice(
        int(np.searchsorted(day, t(start), side="left")),
        int(np.searchsorted(day, t(end), side="left")),
    )


def weekly_minutes(h: UsageHistory, as_of: dt.date, weeks: int) -> list[tuple[dt.date, float]]:
    """Total minutes in app per 7-day week, oldest first; the last week ends the day before as-of."""
    out = []
    end = day_number(as_of)
    for k in range(weeks - 1, -1, -1):
        start = end - 7 * (k + 1)
        s = _between(h.u_day, start, start + 7)
        out.append((as_of - dt.timedelta(days=7 * (k + 1)), float(h.u_minutes[s].sum())))
    return out


def _active_visitors(h: UsageHistory, start: int, end: int) -> np.ndarray:
    """Boolean per visitor: active on some day in ``[start, end)``."""
    idx, day = h.pairs["visitor"]
    out = np.zeros(len(h.visitor_ids), dtype=bool)
    out[idx[_between(day, start, end)]] = True
    return out


def _used(h: UsageHistory, feature: str, start: int, end: int) -> np.ndarray:
    """Boolean per visitor: clicked ``feature`` at least once in ``[start, end)``."""
    out = np.zeros(len(h.visitor_ids), dtype=bool)
    code = h.feature_code.get(feature)
    if code is None:
        return out
    s = _between(h.f_day, start, end)
    hit = (h.f_code[s] == code) & (h.f_clicks[s] > 0) & (h.f_vidx[s] >= 0)
    out[h.f_vidx[s][hit]] = True
    return out


def _feature_names(ds: Dataset) -> dict[str, str]:
    names = ds.features["name"] if "name" in ds.features.columns else ds.features["feature_id"]
    return {
        str(f): str(n) if isinstance(n, str) and n else str(f)
        for f, n in zip(ds.features["feature_id"], names, strict=True)
    }


@dataclass
class FeatureUse:
    feature_id: str
    name: str
    visitors: int  # visitors who clicked it in the window
    share: float  # of the visitors active in the window (0–100)


def key_feature_usage(
    ds: Dataset, h: UsageHistory, as_of: dt.date, window: int = 30
) -> list[FeatureUse]:
    """Visitors using each key feature in the last ``window`` days."""
    end = day_number(as_of)
    active = int(_active_visitors(h, end - window, end).sum())
    names = _feature_names(ds)
    out = []
    for f in ds.key_features():
        users = int(_used(h, f, end - window, end).sum())
        out.append(FeatureUse(f, names[f], users, 100 * users / active if active else 0.0))
    return out


def first_visit_days(h: UsageHistory, as_of: dt.date) -> np.ndarray:
    """Day number of each visitor's first visit (``first_visit``, else first active day);
    NaN when unknown."""
    since = h.at(as_of).metric("visitor", "days_since_first_visit")
    return day_number(as_of) - since


@dataclass
class FirstUse:
    feature_id: str
    name: str
    new_users: int
    used: int
    median_days: float  # NaN when no new user used it yet


def time_to_first_use(
    ds: Dataset, h: UsageHistory, as_of: dt.date, lookback: int = 90
) -> list[FirstUse]:
    """For visitors whose first visit is in the last ``lookback`` days (and within the
    data), days from first visit to first click on each key feature."""
    end = day_number(as_of)
    first = first_visit_days(h, as_of)
    data_start = int(h.u_day[0]) if len(h.u_day) else end
    since = max(end - lookback, data_start)
    with np.errstate(invalid="ignore"):
        new = (first >= since) & (first < end)
    names = _feature_names(ds)
    s = slice(0, int(np.searchsorted(h.f_day, h.f_day.dtype.type(end), side="left")))
    vidx, day, code, clicks = h.f_vidx[s], h.f_day[s], h.f_code[s], h.f_clicks[s]
    # the clicks of new visitors, picked once (a few % of the rows) for every feature
    mine = new[np.maximum(vidx, 0)]
    mine &= vidx >= 0
    mine &= clicks > 0
    vidx, day, code = vidx[mine], day[mine], code[mine]
    out = []
    for f in ds.key_features():
        c = h.feature_code.get(f)
        delays = np.zeros(0)
        if c is not None:
            hit = code == c
            running = ExtremeDay(len(h.visitor_ids), day.dtype, latest=False)
            running.add(vidx[hit], day[hit])
            firsts = running.days()
            users = firsts != NAT_DAY
            delays = firsts[users] - first[users]
            delays = delays[delays >= 0]
        out.append(
            FirstUse(
                f,
                names[f],
                int(new.sum()),
                len(delays),
                float(np.median(delays)) if len(delays) else math.nan,
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


def nps_summary(ds: Dataset, as_of: dt.date, window: int = 90) -> NpsSummary | None:
    nps = getattr(ds, "nps", None)
    if nps is None:
        return None
    day = day_numbers(nps["date"])
    end = day_number(as_of)
    scores = nps["score"].to_numpy(dtype=float)
    before = day < end
    recent = before & (day >= end - window)
    counts = np.bincount(scores[recent].astype(int), minlength=11)[:11]
    month = pd.to_datetime(pd.Series(nps["date"])).dt.strftime("%Y-%m").to_numpy()
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


def pes(ds: Dataset, h: UsageHistory, as_of: dt.date, window: int = 30) -> Pes:
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
    end = day_number(as_of)
    start, prev = end - window, end - 2 * window
    now = _active_visitors(h, start, end)
    n_active = int(now.sum())
    keys = ds.key_features()
    if keys and n_active:
        used = sum(_used(h, f, start, end)[now].astype(float) for f in keys)
        adoption = float(100 * np.mean(used) / len(keys))
    else:
        adoption = math.nan
    idx, day = h.pairs["visitor"]
    visitor_days = _between(day, start, end)
    visitor_days_n = visitor_days.stop - visitor_days.start
    stickiness = 100 * visitor_days_n / window / n_active if n_active else math.nan
    before = _active_visitors(h, prev, start)
    first = first_visit_days(h, as_of)
    with np.errstate(invalid="ignore"):
        is_new = (first >= start) & (first < end)
        older = first < prev
    new = int((is_new & now).sum())
    recovered = int((now & ~before & ~is_new & older).sum())
    dropped = int((before & ~now).sum())
    gained = new + recovered
    growth = 100 * gained / (gained + dropped) if gained + dropped else math.nan
    parts = [v for v in (adoption, stickiness, growth) if not math.isnan(v)]
    score = sum(parts) / len(parts) if parts else math.nan
    return Pes(adoption, stickiness, growth, score, n_active, new, recovered, dropped)
