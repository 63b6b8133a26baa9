"""Product usage widgets of the dashboard, from per-account sums of the usage.

Pendo's customer-success dashboard asks for: total time in app per week,
feature usage by visitor, time to first use, NPS and the Product Engagement
Score. Windows follow docs/semantics.md §2: N days before the as-of day,
the as-of day itself never counted.

Every widget is computed from :class:`UsageRollups`: sums per account (and
one spare bin for visitors without an account) taken once from the
:class:`~pendo_segments.backtest.history.UsageHistory` index. Sums add up,
so a book of business (``--segment`` / ``--csm``) is the rollups of its
accounts, and ``backtest --save`` can keep them for ``report --backtest``
without the raw usage (which is why this module sits in the backtest layer,
below the report).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from pendo_segments.backtest.history import UsageHistory
from pendo_segments.evaluate.metrics import (
    NAT_DAY,
    ExtremeDay,
    day_number,
    day_numbers,
    positions,
)

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset

#: Pendo's definition, which :meth:`UsageRollups.pes` follows.
PES_SOURCE = (
    "Pendo, Product Engagement Score (PES): "
    "https://support.pendo.io/hc/en-us/articles/360054782691-Product-Engagement-Score-PES"
)
WINDOW = 30  # days of PES and key feature usage
LOOKBACK = 90  # days of new visitors kept for time to first use
NEW_USER_DAYS = 30  # the shipped new_users segment: days_since_first_visit <= 30
NPS_WINDOW = 90


def _between(day: np.ndarray, start: int, end: int) -> slice:
    """Rows of day-sorted ``day`` with ``start <= day < end``."""
    t = day.dtype.type
    return slice(
        int(np.searchsorted(day, t(start), side="left")),
        int(np.searchsorted(day, t(end), side="left")),
    )


@dataclass
class FeatureUse:
    feature_id: str
    name: str
    visitors: int  # visitors who clicked it in the window
    share: float  # of the visitors active in the window (0–100)


@dataclass
class FirstUse:
    feature_id: str
    name: str
    new_users: int
    used: int
    median_days: float  # NaN when no new user used it yet


@dataclass
class NpsSummary:
    counts: list[int]  # responses per score 0..10 in the window
    score: float  # % promoters − % detractors (NaN without responses)
    responses: int
    trend: list[tuple[str, float, int]]  # (YYYY-MM, NPS, responses) per calendar month


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


#: the fields of :class:`UsageRollups` with one value per bin in their last axis
_PER_BIN = (
    "weekly_minutes",
    "visitors",
    "active",
    "visitor_days",
    "new",
    "recovered",
    "dropped",
    "key_users",
    "key_users_active",
    "first_usage",
)


@dataclass
class UsageRollups:
    """What the usage widgets need, summed per account at one as-of day.

    Arrays over "bins" have one entry per account (in ``ds.accounts`` order)
    and a last one for visitors without an account row; arrays over "new
    visitors" and "responses" carry each row's bin.
    """

    as_of: dt.date
    key_features: list[str]
    feature_names: list[str]
    #: weeks × bins: minutes in app per 7-day week, oldest first, the last ending the
    #: day before as-of
    weekly_minutes: np.ndarray
    #: bins: visitors (of the visitors table)
    visitors: np.ndarray
    #: bins: visitors active in the last WINDOW days, their visitor-days, and PES growth
    active: np.ndarray
    visitor_days: np.ndarray
    new: np.ndarray
    recovered: np.ndarray
    dropped: np.ndarray
    #: key features × bins: visitors who clicked it in the window (all / active ones)
    key_users: np.ndarray
    key_users_active: np.ndarray
    #: bins: the day of the first usage row (NAT_DAY: none), for "within the data"
    first_usage: np.ndarray
    #: new visitors (first visit in the LOOKBACK days): bin, first day, and per key
    #: feature the days to its first click (NaN: not yet, or before the first visit)
    new_bin: np.ndarray
    new_first: np.ndarray
    new_delay: np.ndarray
    #: NPS responses before as-of: bin, day number, score
    nps_bin: np.ndarray
    nps_day: np.ndarray
    nps_score: np.ndarray
    has_nps: bool

    @property
    def bins(self) -> int:
        return len(self.active)

    def restrict(self, keep: np.ndarray) -> UsageRollups:
        """The rollups of the accounts where ``keep`` is true (no visitors without one),
        exactly as if the data had held those accounts only."""
        kept = np.flatnonzero(keep)
        new_pos = np.full(self.bins, -1, dtype=np.int64)
        new_pos[kept] = np.arange(len(kept))
        spare = len(kept)

        def bins(values: np.ndarray) -> np.ndarray:
            out = np.zeros((*values.shape[:-1], spare + 1), dtype=values.dtype)
            out[..., :spare] = values[..., kept]
            return out

        def rows(bin_of: np.ndarray, *columns: np.ndarray) -> list[np.ndarray]:
            mine = new_pos[bin_of] >= 0
            return [new_pos[bin_of[mine]].astype(np.int32), *(c[..., mine] for c in columns)]

        changes: dict[str, Any] = {f: bins(getattr(self, f)) for f in _PER_BIN}
        changes["first_usage"][spare] = NAT_DAY  # no visitors without an account in a book
        for group in (("new_bin", "new_first", "new_delay"), ("nps_bin", "nps_day", "nps_score")):
            changes |= zip(group, rows(*(getattr(self, f) for f in group)), strict=True)
        return replace(self, **changes)

    def arrays(self) -> dict[str, np.ndarray]:
        """The array fields by name (what ``backtest --save`` writes)."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if isinstance(getattr(self, f.name), np.ndarray)
        }

    # -- widgets -----------------------------------------------------------------------------
    def weekly(self) -> list[tuple[dt.date, float]]:
        """Total minutes in app per 7-day week, oldest first (week start, minutes)."""
        n = len(self.weekly_minutes)
        return [
            (self.as_of - dt.timedelta(days=7 * (n - k)), float(self.weekly_minutes[k].sum()))
            for k in range(n)
        ]

    def key_feature_usage(self) -> list[FeatureUse]:
        """Visitors using each key feature in the last WINDOW days."""
        active = int(self.active.sum())
        out = []
        for k, f in enumerate(self.key_features):
            users = int(self.key_users[k].sum())
            share = 100 * users / active if active else 0.0
            out.append(FeatureUse(f, self.feature_names[k], users, share))
        return out

    def time_to_first_use(self, within_days: int = NEW_USER_DAYS) -> list[FirstUse]:
        """For visitors whose first visit is in the last ``within_days`` days (at most
        LOOKBACK), days from first visit to first click on each key feature.

        ``within_days`` is the new users segment's bound (``days_since_first_visit <=
        30``: first visit on one of the 30 days before as-of), so "new users" here are
        that segment's members.
        """
        end = day_number(self.as_of)
        new = self.new_first >= end - min(within_days, LOOKBACK)
        out = []
        for k, f in enumerate(self.key_features):
            delays = self.new_delay[k][new]
            delays = delays[~np.isnan(delays)]
            median = float(np.median(delays)) if len(delays) else math.nan
            out.append(FirstUse(f, self.feature_names[k], int(new.sum()), len(delays), median))
        return out

    def nps(self) -> NpsSummary | None:
        if not self.has_nps:
            return None
        end = day_number(self.as_of)
        day, scores = self.nps_day, self.nps_score
        recent = day >= end - NPS_WINDOW
        counts = np.bincount(scores[recent].astype(int), minlength=11)[:11]
        month = day.astype("datetime64[D]").astype("datetime64[M]")  # day numbers count from 1970
        trend = []
        for m in np.unique(month):
            mine = month == m
            trend.append((str(m), nps_score(scores[mine]), int(mine.sum())))
        return NpsSummary(
            [int(c) for c in counts], nps_score(scores[recent]), int(recent.sum()), trend
        )

    def pes(self) -> Pes:
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
        n_active = int(self.active.sum())
        keys = len(self.key_features)
        if keys and n_active:
            adoption = float(100 * self.key_users_active.sum() / n_active / keys)
        else:
            adoption = math.nan
        visitor_days = int(self.visitor_days.sum())
        stickiness = 100 * visitor_days / WINDOW / n_active if n_active else math.nan
        new, recovered, dropped = (int(a.sum()) for a in (self.new, self.recovered, self.dropped))
        gained = new + recovered
        growth = 100 * gained / (gained + dropped) if gained + dropped else math.nan
        parts = [v for v in (adoption, stickiness, growth) if not math.isnan(v)]
        score = sum(parts) / len(parts) if parts else math.nan
        return Pes(adoption, stickiness, growth, score, n_active, new, recovered, dropped)


def nps_score(scores: np.ndarray) -> float:
    if not len(scores):
        return math.nan
    return float(100 * ((scores >= 9).mean() - (scores <= 6).mean()))


# -- taking the rollups from the index --------------------------------------------------------
def usage_rollups(ds: Dataset, h: UsageHistory, as_of: dt.date, weeks: int) -> UsageRollups:
    """The sums every widget needs, per account, at ``as_of`` (``weeks`` of minutes)."""
    end = day_number(as_of)
    na = len(h.account_ids)
    nbins = na + 1
    v_bin = h.v2a.astype(np.int64)
    v_bin[v_bin < 0] = na  # visitors without an account row: the spare bin

    def per_bin(visitor_mask: np.ndarray) -> np.ndarray:
        return np.bincount(v_bin[visitor_mask], minlength=nbins).astype(np.int32)

    # minutes: every known visitor's rows (also rows with no events), by day
    u_day, u_vidx, u_values = h.usage["visitor"]
    minutes = u_values["minutes"]
    weekly = np.zeros((weeks, nbins))
    for k in range(weeks):
        start = end - 7 * (weeks - k)
        s = _between(u_day, start, start + 7)
        weekly[k] = np.bincount(v_bin[u_vidx[s]], weights=minutes[s], minlength=nbins)
    a_day, a_idx, _ = h.usage["account"]
    first = ExtremeDay(nbins, a_day.dtype, latest=False)
    first.add(a_idx, a_day)
    first_usage = first.days()
    first_usage[na] = int(u_day[0]) if len(u_day) else NAT_DAY

    now = _active_visitors(h, end - WINDOW, end)
    before = _active_visitors(h, end - 2 * WINDOW, end - WINDOW)
    idx, day = h.pairs["visitor"]
    visitor_days = np.bincount(v_bin[idx[_between(day, end - WINDOW, end)]], minlength=nbins)
    first_visit = first_visit_days(h, as_of)
    with np.errstate(invalid="ignore"):
        is_new = (first_visit >= end - WINDOW) & (first_visit < end)
        older = first_visit < end - 2 * WINDOW
    keys = ds.key_features()
    names = _feature_names(ds)
    used = [_used(h, f, end - WINDOW, end) for f in keys]
    return UsageRollups(
        as_of=as_of,
        key_features=list(keys),
        feature_names=[names[f] for f in keys],
        weekly_minutes=weekly,
        visitors=per_bin(np.ones(len(v_bin), dtype=bool)),
        active=per_bin(now),
        visitor_days=visitor_days.astype(np.int32),
        new=per_bin(is_new & now),
        recovered=per_bin(now & ~before & ~is_new & older),
        dropped=per_bin(before & ~now),
        key_users=np.array([per_bin(u) for u in used], dtype=np.int32).reshape(len(keys), nbins),
        key_users_active=np.array([per_bin(u & now) for u in used], dtype=np.int32).reshape(
            len(keys), nbins
        ),
        first_usage=first_usage,
        **_new_visitors(h, keys, first_visit, end, v_bin),
        **_nps_rows(ds, h, end, na),
    )


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


def first_visit_days(h: UsageHistory, as_of: dt.date) -> np.ndarray:
    """Day number of each visitor's first visit (``first_visit``, else first active day);
    NaN when unknown."""
    since = h.at(as_of).metric("visitor", "days_since_first_visit")
    return day_number(as_of) - since


def _new_visitors(
    h: UsageHistory, keys: list[str], first: np.ndarray, end: int, v_bin: np.ndarray
) -> dict[str, Any]:
    """Visitors first seen in the LOOKBACK days before ``end`` and their days to the
    first click of each key feature."""
    with np.errstate(invalid="ignore"):
        new = (first >= end - LOOKBACK) & (first < end)
    who = np.flatnonzero(new)
    s = slice(0, int(np.searchsorted(h.f_day, h.f_day.dtype.type(end), side="left")))
    vidx, day, code, clicks = h.f_vidx[s], h.f_day[s], h.f_code[s], h.f_clicks[s]
    # the clicks of new visitors, picked once (a few % of the rows) for every feature
    mine = new[np.maximum(vidx, 0)]
    mine &= vidx >= 0
    mine &= clicks > 0
    vidx, day, code = vidx[mine], day[mine], code[mine]
    delay = np.full((len(keys), len(who)), np.nan)
    for k, f in enumerate(keys):
        c = h.feature_code.get(f)
        if c is None:
            continue
        hit = code == c
        running = ExtremeDay(len(h.visitor_ids), day.dtype, latest=False)
        running.add(vidx[hit], day[hit])
        firsts = running.days()[who]
        d = (firsts - first[who]).astype(float)
        d[(firsts == NAT_DAY) | (d < 0)] = np.nan
        delay[k] = d
    return {
        "new_bin": v_bin[who].astype(np.int32),
        "new_first": first[who].astype(np.int64),
        "new_delay": delay,
    }


def _nps_rows(ds: Dataset, h: UsageHistory, end: int, na: int) -> dict[str, Any]:
    nps = getattr(ds, "nps", None)
    if nps is None:
        empty = np.zeros(0, dtype=np.int64)
        return {
            "nps_bin": empty.astype(np.int32),
            "nps_day": empty,
            "nps_score": empty.astype(float),
            "has_nps": False,
        }
    day = day_numbers(nps["date"])
    before = day < end
    vidx = positions(nps["visitor_id"].astype(str), h.visitor_ids)
    account = np.where(vidx >= 0, h.v2a[np.maximum(vidx, 0)], -1)
    bin_of = np.where(account >= 0, account, na)
    return {
        "nps_bin": bin_of[before].astype(np.int32),
        "nps_day": day[before].astype(np.int64),
        "nps_score": nps["score"].to_numpy(dtype=float)[before],
        "has_nps": True,
    }
