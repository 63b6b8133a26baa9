"""The QBR pack's usage sums: per account, weekly and over the pack's 90 days.

Each sum is a window (docs/semantics.md §2) read off the backtest's index
(:class:`~pendo_segments.backtest.history.UsageHistory`), the one the pack's
health history is computed on: ``active_days`` for active visitors,
``window_sum`` for minutes, ``feature_clicks`` for clicks and feature users.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from pendo_segments.backtest.history import UsageHistory
    from pendo_segments.data.dataset import Dataset

#: the days a pack covers: the 90 days before the as-of day (docs/semantics.md §2)
PACK_DAYS = 90
#: whole 7-day weeks of the weekly figures (12 × 7 = 84 of the 90 days; a 13th week
#: would start before a 90-day pull and show a short first week as a drop)
WEEKS = 12
TOP_FEATURES = 10


class AccountUsage:
    """The weekly and 90-day usage sums of every account of ``ds``, read off the
    backtest's index (each a window of its day-sorted rows, docs/semantics.md §2)."""

    def __init__(self, ds: Dataset, h: UsageHistory, as_of: dt.date) -> None:
        from pendo_segments.backtest.usage import _feature_names
        from pendo_segments.evaluate.metrics import day_number

        end = day_number(as_of)
        self.na = len(h.account_ids)
        self.v2a = h.v2a
        names = _feature_names(ds)
        self.features = [str(f) for f in ds.features["feature_id"]]
        self.key = ds.key_features()
        self.key_names = [names[f] for f in self.key]
        self.names = names
        self.weeks = [as_of - dt.timedelta(days=7 * (WEEKS - k)) for k in range(WEEKS)]
        self.active = np.zeros((WEEKS, self.na), dtype=np.int64)
        self.minutes = np.zeros((WEEKS, self.na))
        self.key_users = np.zeros((len(self.key), WEEKS, self.na), dtype=np.int64)
        for k in range(WEEKS):
            first = end - 7 * (WEEKS - k)
            self.active[k] = self._accounts(h.active_days("visitor", first, first + 7) > 0)
            self.minutes[k] = h.window_sum("account", "minutes", first, first + 7)
            for j, f in enumerate(self.key):
                used = h.feature_clicks("visitor", f, first, first + 7) > 0
                self.key_users[j, k] = self._accounts(used)
        first = end - PACK_DAYS
        self.active_90 = self._accounts(h.active_days("visitor", first, end) > 0)
        self.visitors = self._accounts(np.ones(len(h.visitor_ids), dtype=bool))
        self.clicks = np.array(
            [h.feature_clicks("account", f, first, end) for f in self.features]
        ).reshape(len(self.features), self.na)
        self.users = np.array(
            [self._accounts(h.feature_clicks("visitor", f, first, end) > 0) for f in self.features]
        ).reshape(len(self.features), self.na)
        self.has_nps = getattr(ds, "nps", None) is not None
        self.nps = _nps_months(ds, h, first, end) if self.has_nps else {}

    def _accounts(self, visitors: np.ndarray) -> np.ndarray:
        """Visitors where ``visitors`` is true, counted per account."""
        mine = visitors & (self.v2a >= 0)
        return np.bincount(self.v2a[mine], minlength=self.na)

    def of(self, i: int) -> dict[str, Any]:
        """Account ``i``'s figures."""
        key = set(self.key)
        order = sorted(
            (f for f in range(len(self.features)) if self.clicks[f, i] > 0),
            key=lambda f: (-self.clicks[f, i], self.features[f]),
        )[:TOP_FEATURES]
        return {
            "visitors": int(self.visitors[i]),
            "active_90": int(self.active_90[i]),
            "weekly": [
                {
                    "start": day,
                    "active": int(self.active[k, i]),
                    "minutes": float(self.minutes[k, i]),
                    "key_users": [int(self.key_users[j, k, i]) for j in range(len(self.key))],
                    "key_used": int((self.key_users[:, k, i] > 0).sum()),
                }
                for k, day in enumerate(self.weeks)
            ],
            "top": [
                {
                    "feature_id": self.features[f],
                    "name": self.names[self.features[f]],
                    "key": self.features[f] in key,
                    "clicks": int(self.clicks[f, i]),
                    "users": int(self.users[f, i]),
                }
                for f in order
            ],
            "nps": self.nps.get(i, []),
        }


def _nps_months(ds: Dataset, h: UsageHistory, first: int, end: int) -> dict[int, list[Any]]:
    """Per account position: (YYYY-MM, mean score, NPS, responses) per calendar month of
    its visitors' responses in ``[first, end)`` (day numbers)."""
    from pendo_segments.backtest.usage import nps_score
    from pendo_segments.evaluate.metrics import day_numbers, positions

    nps = ds.nps
    assert nps is not None
    day = day_numbers(nps["date"])
    vidx = positions(nps["visitor_id"].astype(str), h.visitor_ids)
    account = np.where(vidx >= 0, h.v2a[np.maximum(vidx, 0)], -1)
    mine = (day >= first) & (day < end) & (account >= 0)
    frame = pd.DataFrame(
        {
            "account": account[mine],
            "month": day[mine].astype("datetime64[D]").astype("datetime64[M]").astype(str),
            "score": nps["score"].to_numpy(dtype=float)[mine],
        }
    )
    out: dict[int, list[Any]] = {}
    for (a, month), scores in frame.groupby(["account", "month"], sort=True)["score"]:
        values = scores.to_numpy()
        out.setdefault(int(a), []).append(
            (str(month), float(values.mean()), nps_score(values), len(values))
        )
    return out
