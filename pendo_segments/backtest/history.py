"""Usage metrics for many as-of days from one pass over the data.

The data set is read once: usage rows are sorted by day and active
(subject, day) pairs are de-duplicated once. A window of N days before an
as-of day D (docs/semantics.md §2: ``D − N ≤ day ≤ D − 1``, as
``semantics.rules.window_bounds`` gives it) is then a contiguous slice of
those sorted rows, found with two binary searches, and every metric is one
``numpy.bincount`` over the slice. "Days since last visit" keeps a running
latest day that only moves forward as the as-of days grow, so a whole
backtest touches each usage row a bounded number of times.

:class:`UsageHistory` is a :class:`~pendo_segments.evaluate.metrics.UsageSource`:
``history.at(day)`` is the evaluator's own
:class:`~pendo_segments.evaluate.metrics.Metrics` reading it, so the rules of
last visit, first seen and the roll-up are the same code on every path.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pendo_segments.evaluate.metrics import (
    ExtremeDay,
    Metrics,
    day_numbers,
    feature_codes,
    positions,
    row_accounts,
    usage_days,
)
from pendo_segments.semantics.rules import NAT_DAY, is_active

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset

_BITMAP_LIMIT = 600_000_000  # cells (bytes) of the (day, subject) bitmap


def _by_day(day: np.ndarray, *columns: np.ndarray) -> list[np.ndarray]:
    if len(day) < 2 or bool((day[1:] >= day[:-1]).all()):  # files usually come sorted by date
        return [day, *columns]
    order = np.argsort(day, kind="stable")
    return [day[order], *(c[order] for c in columns)]


def _unique_pairs(idx: np.ndarray, day: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (subject, day) pairs sorted by day: one row per active subject-day.

    A (day, subject) bitmap when it fits, marked a piece of rows at a time
    and read back one day at a time (no full-length int64 keys: 1.4 GB at
    176M rows, and no division of every pair's key); else a sort of the
    combined keys.
    """
    ok = idx >= 0
    width = max(width, 1)
    if not ok.any():
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32)
    if not ok.all():
        idx, day = idx[ok], day[ok]
    lo = int(day.min())
    span = int(day.max()) - lo + 1
    if span * width > _BITMAP_LIMIT:
        key = (day.astype(np.int64) - lo) * width + idx
        key.sort()
        uniq = key[np.concatenate(([True], key[1:] != key[:-1]))]
        return (uniq % width).astype(np.int32), (uniq // width + lo).astype(np.int32)
    seen = np.zeros((span, width), dtype=bool)
    flat = seen.reshape(-1)
    for first in range(0, len(idx), _PAIR_PIECE_ROWS):
        part = slice(first, first + _PAIR_PIECE_ROWS)
        flat[(day[part].astype(np.int64) - lo) * width + idx[part]] = True
    subjects = [np.flatnonzero(row).astype(np.int32) for row in seen]
    days = [np.full(len(s), lo + d, dtype=np.int32) for d, s in enumerate(subjects)]
    # int32 halves the largest arrays of the index (one row per active visitor-day)
    return np.concatenate(subjects), np.concatenate(days)


_PAIR_PIECE_ROWS = 8_000_000
_CHUNK_CELLS = 8_000_000  # cells of the dense (day, subject, code) grid summed at a time


def _aggregate(
    day: np.ndarray,
    idx: np.ndarray,
    width: int,
    values: list[np.ndarray],
    code: np.ndarray | None = None,
    ncodes: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """Sum ``values`` per (day, subject[, code]) of rows sorted by ``day``; sorted by day out.

    Accounts have many visitors: summing their rows per account-day once makes
    every account window ~visitors-per-account times shorter. The rows are
    already in day order, so a run of days at a time is summed with one
    ``bincount`` per value over a dense (day, subject, code) grid of at most
    ``_CHUNK_CELLS`` cells: no sort, and memory bounded whatever the data size.
    """
    ok = idx >= 0
    if not ok.any():
        empty = np.zeros(0, dtype=np.int64)
        return empty.astype(day.dtype), empty, empty, [np.zeros(0) for _ in values]
    nobody = None
    if not ok.all():  # rows of nobody sum into a spare subject, dropped at the end
        nobody, idx = max(width, 1), np.where(ok, idx, max(width, 1))  # (no copy of the rest)
        width = nobody + 1
    d, i, c, kept = day, idx, code, values
    cell = max(width, 1) * ncodes
    step = max(1, _CHUNK_CELLS // cell)  # days per chunk
    first, last = int(d[0]), int(d[-1])
    starts = np.arange(first, last + 1, step)
    bounds = np.searchsorted(d, np.append(starts, last + 1).astype(d.dtype), side="left")
    keys: list[np.ndarray] = []
    sums: list[list[np.ndarray]] = [[] for _ in values]
    for k, start in enumerate(starts.tolist()):
        lo, hi = int(bounds[k]), int(bounds[k + 1])
        if lo == hi:
            continue
        key = (d[lo:hi].astype(np.int64) - start) * cell + i[lo:hi].astype(np.int64) * ncodes
        if c is not None:
            key += c[lo:hi]
        size = min(step, last + 1 - start) * cell
        present = np.flatnonzero(np.bincount(key, minlength=size))
        keys.append(present + (start - first) * cell)
        for j, v in enumerate(kept):
            sums[j].append(np.bincount(key, weights=v[lo:hi], minlength=size)[present])
    uk = np.concatenate(keys)
    within = uk % cell
    out = [
        (uk // cell + first).astype(day.dtype),
        (within // ncodes).astype(np.int64),
        (within % ncodes).astype(np.int64),
        *(np.concatenate(parts) for parts in sums),
    ]
    if nobody is not None:
        mine = out[1] != nobody
        out = [column[mine] for column in out]
    return out[0], out[1], out[2], out[3:]


class _RunningExtreme:
    """Latest (or earliest) active day per subject over pairs before a cursor."""

    def __init__(self, idx: np.ndarray, day: np.ndarray, size: int, latest: bool) -> None:
        self.idx, self.day, self.size, self.latest = idx, day, size, latest
        self._reset()

    def _reset(self) -> None:
        self.pos = 0
        self.value = ExtremeDay(self.size, self.day.dtype, self.latest)

    def upto(self, hi: int) -> np.ndarray:
        if hi < self.pos:  # as-of days asked out of order: start again
            self._reset()
        if hi > self.pos:
            self.value.add(self.idx[self.pos : hi], self.day[self.pos : hi])
            self.pos = hi
        return self.value.days()


def _known(keep: np.ndarray, *columns: np.ndarray) -> list[np.ndarray]:
    """The rows where ``keep``; no copy when that is every row (the usual case)."""
    if bool(keep.all()):
        return list(columns)
    return [c[keep] for c in columns]


class UsageHistory:
    """The data set's usage as day-sorted arrays, shared by every as-of day."""

    def __init__(self, ds: Dataset) -> None:
        self.ds = ds
        self.visitor_ids = pd.Index(ds.visitors["visitor_id"].astype(str))
        self.account_ids = pd.Index(ds.accounts["account_id"].astype(str))
        self.v2a = positions(ds.visitors["account_id"].astype(str), self.account_ids)
        nv, na = len(self.visitor_ids), len(self.account_ids)

        u = ds.usage_daily
        vidx = positions(u["visitor_id"], self.visitor_ids)
        #: usage rows naming another account than their visitor's (docs/semantics.md §1):
        #: each day is then a scan of its own (at), which rolls rows up by their account
        self.row_accounts = any(
            row_accounts(
                t, positions(t["visitor_id"], self.visitor_ids), self.v2a, self.account_ids
            )
            is not None
            for t in (u, ds.feature_usage)
        )
        #: visitors_history moves visitors between accounts (docs/semantics.md §2b): the
        #: index rolls up by today's account, so each day is then a scan of its own too
        moves = getattr(ds, "visitors_history", None)
        self.moving = moves is not None and "account_id" in moves.columns
        # no float copy of the counts: bincount turns each window's slice into float64
        minutes = u["minutes"].to_numpy(dtype=np.float64)
        events = u["events"].to_numpy()
        day, vidx, minutes, events = _known(
            vidx >= 0,  # rows of unknown visitors (--lenient) count for nobody
            *_by_day(usage_days(u["date"]), vidx, minutes, events),
        )
        self.u_day, self.u_minutes = day, minutes  # every visitor's rows, by day
        aidx = self.v2a[vidx]
        active = is_active(events, minutes)
        a_vidx, a_aidx, a_day = _known(active, vidx, aidx, day)  # usually every row
        self.pairs = {
            "visitor": _unique_pairs(a_vidx, a_day, nv),
            "account": _unique_pairs(a_aidx, a_day, na),
        }
        del a_vidx, a_aidx, a_day
        a_day, a_idx, _, (a_minutes, a_events) = _aggregate(day, aidx, na, [minutes, events])
        #: subject → (day, subject position, {"minutes": …, "events": …}), sorted by day
        self.usage = {
            "visitor": (day, vidx, {"minutes": minutes, "events": events}),
            "account": (a_day, a_idx, {"minutes": a_minutes, "events": a_events}),
        }
        v_idx, v_day = self.pairs["visitor"]
        self._last = _RunningExtreme(v_idx, v_day, nv, latest=True)
        self._first = _RunningExtreme(v_idx, v_day, nv, latest=False)

        f = ds.feature_usage
        codes, names = feature_codes(f["feature_id"])
        self.feature_code = {str(n): i for i, n in enumerate(names)}
        nf = max(len(names), 1)
        f_day, f_vidx, f_clicks, f_code = _by_day(
            usage_days(f["date"]),
            positions(f["visitor_id"], self.visitor_ids),
            f["clicks"].to_numpy(),
            codes.astype(np.int32),
        )
        f_day, f_vidx, f_clicks, f_code = _known(
            (f_vidx >= 0) & (f_code >= 0), f_day, f_vidx, f_clicks, f_code
        )
        self.f_day, self.f_vidx, self.f_clicks, self.f_code = f_day, f_vidx, f_clicks, f_code
        # An account's window sums its visitors' rows (one bincount per window): at ~16
        # features an account-day-feature grid costs more to build than the windows read.
        # Rows of visitors without an account go to position na, past the last account.
        f_account = self.v2a[f_vidx]
        f_account[f_account < 0] = na
        #: subject → (day, subject position, feature code, clicks), sorted by day
        self.features = {
            "visitor": (f_day, f_vidx, f_code, f_clicks),
            "account": (f_day, f_account, f_code, f_clicks),
        }
        self.n_features = nf

        # for docs/semantics.md §2b: the last active day and the first click row ever
        self._last_ever = _RunningExtreme(v_idx, v_day, nv, latest=True).upto(len(v_day))
        first_click = ExtremeDay(nv, f_day.dtype, latest=False)
        first_click.add(f_vidx, f_day)
        self._first_click = first_click.days()
        self._first_click[self._first_click == NAT_DAY] = np.iinfo(np.int64).max

        self.scoring_ds = _with_indexed_ids(ds, self.visitor_ids, self.account_ids)
        vis = ds.visitors
        self.first_visit = day_numbers(vis["first_visit"]) if "first_visit" in vis else None
        self.last_visit = day_numbers(vis["last_visit"]) if "last_visit" in vis else None

        self._matrices: dict[tuple[str, int, int], np.ndarray] = {}

    def at(self, as_of: dt.date) -> Metrics:
        """The metrics of one as-of day, read off this index (or, when usage rows name
        other accounts than their visitors', or visitors move between accounts, a scan of
        that day over its fields, as ``evaluate --as-of`` reads them)."""
        if self.row_accounts or self.moving:
            return Metrics(self.ds.fields_at(as_of), as_of)
        return Metrics(self.ds, as_of, source=self)

    def size(self, subject: str) -> int:
        return len(self.account_ids) if subject == "account" else len(self.visitor_ids)

    def declared(self, column: str) -> np.ndarray | None:
        return self.first_visit if column == "first_visit" else self.last_visit

    # -- windows: a slice of the day-sorted rows ---------------------------------------
    @staticmethod
    def _slice(day: np.ndarray, first: int, end: int) -> slice:
        # scalars of the array's own dtype: no int32 → int64 copy of the array per search
        lo = int(np.searchsorted(day, day.dtype.type(first), side="left"))
        hi = int(np.searchsorted(day, day.dtype.type(end), side="left"))
        return slice(lo, hi)

    def _count(
        self, idx: np.ndarray, subject: str, weights: np.ndarray | None = None
    ) -> np.ndarray:
        return np.bincount(idx, weights=weights, minlength=self.size(subject)).astype(np.float64)

    def active_days(
        self, subject: str, first: int, end: int, drop: np.ndarray | None = None
    ) -> np.ndarray:
        idx, day = self.pairs[subject]
        out = self._count(idx[self._slice(day, first, end)], subject)
        redo = self._redo(subject, drop, end)
        if redo is not None:  # distinct (account, day) pairs of the kept visitors' rows
            v_idx, v_day = self.pairs["visitor"]
            s = self._slice(v_day, first, end)
            acc = redo[v_idx[s]]
            keep = acc >= 0
            pairs = np.unique(acc[keep].astype(np.int64) * (end - first) + (v_day[s][keep] - first))
            counted = np.bincount(pairs // (end - first), minlength=self.size(subject))
            out[self._touched(redo, drop)] = counted[self._touched(redo, drop)]
        return out

    def window_sum(
        self, subject: str, column: str, first: int, end: int, drop: np.ndarray | None = None
    ) -> np.ndarray:
        day, idx, values = self.usage[subject]
        s = self._slice(day, first, end)
        out = self._count(idx[s], subject, values[column][s])
        redo = self._redo(subject, drop, end)
        if redo is not None:  # the kept visitors' own rows, summed per account
            v_day, v_idx, v_values = self.usage["visitor"]
            s = self._slice(v_day, first, end)
            out[self._touched(redo, drop)] = self._summed(redo, v_idx[s], v_values[column][s])[
                self._touched(redo, drop)
            ]
        return out

    def feature_clicks(
        self, subject: str, feature: str, first: int, end: int, drop: np.ndarray | None = None
    ) -> np.ndarray:
        if feature not in self.feature_code:
            return np.zeros(self.size(subject))
        out = self._feature_matrix(subject, first, end)[:, self.feature_code[feature]].copy()
        redo = self._redo(subject, drop, end)
        if redo is not None:
            day, idx, code, clicks = self.features["visitor"]
            s = self._slice(day, first, end)
            mine = code[s] == self.feature_code[feature]
            summed = self._summed(redo, idx[s][mine], clicks[s][mine])
            out[self._touched(redo, drop)] = summed[self._touched(redo, drop)]
        return out

    # -- visitors that are not subjects at D leave their account's roll-up (§2b) -------
    def active_from(self, end: int) -> np.ndarray:
        """Per visitor: active on some day on or after ``end``."""
        return self._last_ever >= end

    def _redo(self, subject: str, drop: np.ndarray | None, end: int) -> np.ndarray | None:
        """Visitor → account positions without the dropped visitors that have rows before
        ``end`` (None when there are none: the per-account sums stand as they are)."""
        if subject != "account" or drop is None:
            return None
        early = (self._first.upto(self._hi(end)) != NAT_DAY) | (self._first_click < end)
        if not (drop & early).any():
            return None
        return np.where(drop, -1, self.v2a)

    def _touched(self, redo: np.ndarray, drop: np.ndarray | None) -> np.ndarray:
        """The accounts some dropped visitor belongs to: only their values are recounted."""
        assert drop is not None
        touched = np.zeros(len(self.account_ids), dtype=bool)
        touched[self.v2a[drop & (self.v2a >= 0)]] = True
        return touched

    def _summed(self, redo: np.ndarray, vidx: np.ndarray, weights: np.ndarray) -> np.ndarray:
        acc = redo[vidx]
        keep = acc >= 0
        return np.bincount(acc[keep], weights=weights[keep], minlength=len(self.account_ids))

    def _hi(self, end: int) -> int:
        day = self.pairs["visitor"][1]
        return int(np.searchsorted(day, day.dtype.type(end), side="left"))

    def _feature_matrix(self, subject: str, first: int, end: int) -> np.ndarray:
        """Subjects × features click sums for one window (one bincount for all features);
        kept for the as-of day being read (``end``), dropped when the next day comes."""
        key = (subject, first, end)
        if key not in self._matrices:
            if any(k[2] != end for k in self._matrices):
                self._matrices.clear()
            day, idx, code, clicks = self.features[subject]
            nf = self.n_features
            s = self._slice(day, first, end)
            n = self.size(subject) * nf
            # position size() (rows of nobody, see __init__) falls past the end: cut off
            cells = idx[s].astype(np.int64) * nf + code[s]
            flat = np.bincount(cells, weights=clicks[s], minlength=n + nf)[:n]
            self._matrices[key] = flat.reshape(self.size(subject), nf)
        return self._matrices[key]

    def elsewhere(self, end: int) -> None:
        """No row names another account here (such data is scanned per day: :meth:`at`)."""
        return None

    def active_extreme(self, latest: bool, end: int, home: bool = False) -> np.ndarray:
        """Latest / earliest active day before ``end`` per visitor (a running value); every
        row is at home here (:meth:`at`)."""
        day = self.pairs["visitor"][1]
        hi = int(np.searchsorted(day, day.dtype.type(end), side="left"))
        return (self._last if latest else self._first).upto(hi)


def _with_indexed_ids(ds: Dataset, visitor_ids: pd.Index, account_ids: pd.Index) -> Any:
    """``ds`` with the ids of its NPS and ticket tables as categoricals over the id index.

    The health scorer looks those ids up again on every as-of day; with the
    index itself as the categories that lookup is a no-op instead of a hash of
    every row. Values are unchanged (an unknown id stays unknown).
    """
    import dataclasses

    if not dataclasses.is_dataclass(ds) or isinstance(ds, type):
        return ds
    changes = {}
    for table, column, index in (
        ("nps", "visitor_id", visitor_ids),
        ("tickets", "account_id", account_ids),
    ):
        frame = getattr(ds, table, None)
        if frame is not None and column in frame.columns:
            frame = frame.copy()
            frame[column] = pd.Categorical(frame[column].astype(str), categories=index)
            changes[table] = frame
    return dataclasses.replace(ds, **changes) if changes else ds


def first_full_day(ds: Dataset, window: int = 30) -> dt.date | None:
    """The first as-of day whose ``window``-day window lies wholly inside the usage data."""
    dates = ds.usage_daily.get("date")
    if dates is None or not len(dates):
        return None
    return pd.Timestamp(dates.min()).date() + dt.timedelta(days=window)


def window_warning(ds: Dataset, first: dt.date, window: int = 30) -> str | None:
    """Why early as-of days look like low usage: their windows start before the data does."""
    return window_note(first_full_day(ds, window), first, window)


def window_note(full: dt.date | None, first: dt.date, window: int = 30) -> str | None:
    """:func:`window_warning` given the first full day (a SQL engine reads it from the
    files: the first usage date + ``window`` days)."""
    if full is None or first >= full:
        return None
    return (
        f"as-of days before {full.isoformat()} have {window}-day windows that start before "
        "the first usage date, so usage looks lower there than it was"
    )
