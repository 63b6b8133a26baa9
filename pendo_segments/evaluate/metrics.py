"""Usage metrics per subject, vectorised over integer codes.

Usage rows are mapped once to visitor positions (``vidx``) and day numbers
(days since 1970-01-01); every metric is then a ``numpy.bincount`` or a
bitmap over those arrays, never a Python loop per subject. Accounts roll up
usage rows by the row's own account when the usage file has ``account_id``
(Pendo's events carry the account they happened in; a visitor may belong to
several accounts), else by ``visitors.account_id`` (docs/semantics.md §2).

What a metric means (docs/semantics.md §2: the window, the active day, last
visit, first seen, the roll-up) is stated once in :mod:`pendo_segments.semantics`;
:class:`Metrics` applies those rules to counts from a :class:`UsageSource`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa

from pendo_segments.errors import EvaluationError
from pendo_segments.semantics.catalogue import CATALOGUE
from pendo_segments.semantics.rules import (
    NAT_DAY,
    account_exists,
    before,
    days_since,
    first_seen,
    is_active,
    last_visit,
    roll_up,
    visitor_exists,
    window_bounds,
)

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset

EPOCH = dt.date(1970, 1, 1)
_BITMAP_LIMIT = 600_000_000  # cells; above this distinct days are counted with np.unique
DATE32 = pd.ArrowDtype(pa.date32())  # usage dates of the narrow load
SUM_PIECE_ROWS = 4_000_000  # rows summed at a time (ScanUsage._sum, active_days)


def day_number(d: dt.date) -> int:
    return (d - EPOCH).days


def day_numbers(values: Any) -> np.ndarray:
    """datetime64 column → int64 day numbers (NaT → INT64 min)."""
    arr = np.asarray(values)
    if not np.issubdtype(arr.dtype, np.datetime64):
        arr = pd.to_datetime(pd.Series(values)).to_numpy()
    return arr.astype("datetime64[D]").view(np.int64)


def usage_days(values: Any) -> np.ndarray:
    """Usage dates as int32 day numbers: half the memory of int64 on 30M-row tables.

    Arrow ``date32`` columns (the narrow load) already are int32 day numbers:
    read without a copy.
    """
    if isinstance(values, pd.Series) and values.dtype == DATE32:
        days = values.array.__arrow_array__()
        if days.null_count == 0:  # date32 *is* int32 days since 1970-01-01: a view
            one = days.chunk(0) if days.num_chunks == 1 else days.combine_chunks()
            return one.view(pa.int32()).to_numpy()
    return day_numbers(values).astype(np.int32)


def counts(column: pd.Series) -> np.ndarray:
    """A count column as its own integer array (int32 or int64), no widening copy."""
    values = column.to_numpy()
    return values if np.issubdtype(values.dtype, np.integer) else values.astype(np.int64)


def feature_codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(a code per row, the feature id of each code): categorical columns keep their codes."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return np.asarray(column.array.codes), np.asarray(column.cat.categories.astype(str))
    codes, uniques = pd.factorize(column.astype(str))
    return codes, np.asarray(uniques)


def row_accounts(
    usage: pd.DataFrame, vidx: np.ndarray, v2a: np.ndarray, accounts: pd.Index
) -> np.ndarray | None:
    """Per usage row: the position of its own account (``account_id``; blank: its visitor's
    account), or None when every row's account is its visitor's (the common case, no array).
    """
    if "account_id" not in usage.columns:
        return None
    own = positions(usage["account_id"], accounts)
    theirs = np.where(vidx >= 0, v2a[np.maximum(vidx, 0)], -1).astype(np.int32)
    blank = usage["account_id"].isna().to_numpy()
    if blank.any():
        own[blank] = theirs[blank]
    return None if np.array_equal(own, theirs) else own


def positions(column: pd.Series, index: pd.Index) -> np.ndarray:
    """Position of each value of ``column`` in ``index`` (-1 when absent).

    Categorical columns are resolved through their categories, so 30 million
    rows cost one lookup per distinct id plus one integer gather.
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = np.asarray(column.array.codes)
        categories = column.cat.categories
        if len(categories) == len(index) and categories.astype(str).equals(index):
            return codes.astype(np.int32, copy=False)  # the loader's visitor codes: no gather
        lut = index.get_indexer(categories.astype(str))
        out = lut.astype(np.int32)[codes]
        out[codes < 0] = -1
        return out
    return index.get_indexer(column.astype(str)).astype(np.int32)


@dataclass
class UsageArrays:
    """One usage table as aligned numpy arrays, restricted to days before as-of."""

    vidx: np.ndarray
    day: np.ndarray
    values: dict[str, np.ndarray] = field(default_factory=dict)
    #: per row, the position of the account it rolls up to (None: its visitor's account)
    aidx: np.ndarray | None = None


class ExtremeDay:
    """Running latest (or earliest) day per subject, fed rows in pieces.

    The running values keep the days' own integer type: ``np.maximum.at`` with
    int32 days into int64 values leaves NumPy's fast path (24x slower,
    measured on 10M rows).
    """

    def __init__(self, size: int, dtype: Any, latest: bool) -> None:
        info = np.iinfo(dtype)
        self.ufunc = np.maximum if latest else np.minimum
        self.empty = info.min if latest else info.max
        self.value = np.full(size, self.empty, dtype=dtype)

    def add(self, idx: np.ndarray, day: np.ndarray) -> None:
        self.ufunc.at(self.value, idx, day.astype(self.value.dtype, copy=False))

    def days(self) -> np.ndarray:
        """int64 day numbers, :data:`NAT_DAY` for subjects without a row."""
        out = self.value.astype(np.int64)
        out[self.value == self.empty] = NAT_DAY
        return out


class UsageSource(Protocol):
    """Where :class:`Metrics` gets its counts: rows and how they are kept.

    Windows come as day numbers ``[first, end)`` (semantics/rules.py
    ``window_bounds``); every method returns float64 vectors per subject
    position, or int64 day numbers per visitor (:data:`NAT_DAY` = none).
    """

    visitor_ids: pd.Index
    account_ids: pd.Index
    #: visitor position → account position (-1: visitor without an account row)
    v2a: np.ndarray

    # ``drop``: visitor positions (bool mask) whose rows count for no account (§2b)
    def window_sum(
        self, subject: str, column: str, first: int, end: int, drop: np.ndarray | None = None
    ) -> np.ndarray: ...
    def active_days(
        self, subject: str, first: int, end: int, drop: np.ndarray | None = None
    ) -> np.ndarray: ...
    def feature_clicks(
        self, subject: str, feature: str, first: int, end: int, drop: np.ndarray | None = None
    ) -> np.ndarray: ...
    # ``home``: only rows whose account is the visitor's own (docs/semantics.md §2)
    def active_extreme(self, latest: bool, end: int, home: bool = False) -> np.ndarray: ...
    # active rows before ``end`` naming another account than their visitor's:
    # (visitor position, account position, day), or None when there are none
    def elsewhere(self, end: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None: ...
    def active_from(self, end: int) -> np.ndarray: ...
    def declared(self, column: str) -> np.ndarray | None: ...


class Metrics:
    """Metric vectors for one data set and one as-of day, computed once and cached.

    What each metric means comes from the catalogue and the rules of
    :mod:`pendo_segments.semantics`; ``source`` only counts rows: one scan for
    one as-of day (:class:`ScanUsage`, the default), or the day-sorted index of
    a backtest (``backtest.history.UsageHistory``) shared by many as-of days.
    """

    def __init__(self, ds: Dataset, as_of: dt.date, source: UsageSource | None = None) -> None:
        self.ds = ds
        self.as_of = as_of
        self.asof_day = day_number(as_of)
        self.source: UsageSource = source or ScanUsage(ds, self.asof_day)
        self.visitor_ids = self.source.visitor_ids
        self.account_ids = self.source.account_ids
        self.v2a = self.source.v2a
        self._cache: dict[tuple[Any, ...], np.ndarray] = {}

    def release(self) -> None:
        """Let go of the data and cached vectors; ids and ``v2a`` stay.

        For callers done computing that only write the members (the data set
        is most of the process's memory while the output is written).
        """
        self.ds = self.source = None  # type: ignore[assignment]
        self._cache.clear()

    # -- subjects ----------------------------------------------------------
    def size(self, subject: str) -> int:
        return len(self.account_ids) if subject == "account" else len(self.visitor_ids)

    def ids(self, subject: str) -> pd.Index:
        return self.account_ids if subject == "account" else self.visitor_ids

    # -- public ------------------------------------------------------------
    def metric(
        self, subject: str, name: str, window: int | None = None, feature: str | None = None
    ) -> np.ndarray:
        """Vector of ``name`` per subject (float64; NaN = unknown)."""
        key = (subject, name, window, feature)
        if key not in self._cache:
            self._cache[key] = self._compute(subject, name, window, feature)
        return self._cache[key]

    def _compute(
        self, subject: str, name: str, window: int | None, feature: str | None
    ) -> np.ndarray:
        m = CATALOGUE.get(name)
        if m is None:
            raise EvaluationError(f"unknown metric '{name}'")
        drop = self._dropped() if subject == "account" else None
        if m.windowed:
            first, end = window_bounds(self.asof_day, int(window or 30))
            if m.rollup == "distinct days":
                return self.source.active_days(subject, first, end, drop=drop)
            if m.per_feature:
                return self.source.feature_clicks(subject, str(feature), first, end, drop=drop)
            assert m.column is not None
            return self.source.window_sum(subject, m.column, first, end, drop=drop)
        latest = m.rollup == "latest"
        if subject == "account":
            return days_since(self.asof_day, self._account_day(latest, drop))
        return days_since(self.asof_day, self._visitor_day(latest))

    def _account_day(self, latest: bool, drop: np.ndarray | None) -> np.ndarray:
        """Per account: the latest / earliest day one of its visitors was active FOR it
        (docs/semantics.md §2): the visitors' own days (with ``last_visit`` / ``first_visit``)
        when every usage row is its visitor's account; else those of the rows at home plus
        the active rows that name the account."""
        v2a = self.v2a if drop is None else np.where(drop, -1, self.v2a)
        elsewhere = self.source.elsewhere(self.asof_day)
        if elsewhere is None:
            return roll_up(self._visitor_day(latest), v2a, len(self.account_ids), latest)
        out = roll_up(self._visitor_day(latest, home=True), v2a, len(self.account_ids), latest)
        vidx, aidx, day = elsewhere
        keep = aidx >= 0
        if drop is not None:
            keep &= ~drop[vidx]
        day = day[keep].astype(np.int64)
        fill = np.iinfo(np.int64).max if not latest else NAT_DAY
        out[out == NAT_DAY] = fill
        (np.maximum if latest else np.minimum).at(out, aidx[keep], day)
        out[out == fill] = NAT_DAY
        return out

    # -- who exists at the as-of day (docs/semantics.md §2b) ----------------------
    def subjects(self, subject: str) -> np.ndarray:
        """Which subjects exist at the as-of day: the rest are in no segment, no roll-up."""
        key = (subject, "_subjects")
        if key not in self._cache:
            if subject == "account":
                ok = account_exists(*self._account_dates(), self.asof_day)
                self._cache[key] = np.ones(self.size("account"), bool) if ok is None else ok
            else:
                accounts = account_exists(*self._account_dates(), self.asof_day)
                seen = self.seen_day()
                self._cache[key] = visitor_exists(seen, self.v2a, accounts, self.asof_day)
        return self._cache[key]

    def seen_day(self) -> np.ndarray:
        """Per visitor: its first-seen day over all history (``first_visit``, else its
        earliest active day; one on or after the as-of day reads as the as-of day)."""
        seen = self._visitor_day(False).copy()
        later = (seen == NAT_DAY) & self.source.active_from(self.asof_day)
        seen[later] = self.asof_day
        return seen

    def absent_reason(self, subject: str, pos: int) -> str | None:
        """Why subject ``pos`` does not exist at the as-of day (``explain``), None if it does."""
        if self.subjects(subject)[pos]:
            return None
        when = f"not a subject at {self.as_of.isoformat()}"
        created, churn = self._account_dates()
        if subject == "visitor":
            seen = self._visitor_day(False)[pos]
            if seen != NAT_DAY and seen >= self.asof_day:
                return f"{when}: first seen {_iso(seen)}"
            if seen == NAT_DAY and self.source.active_from(self.asof_day)[pos]:
                return f"{when}: first seen on or after it"
            account = int(self.v2a[pos])
            why = self.absent_reason("account", account)
            return f"{when}: its account {self.account_ids[account]} is not ({why})"
        if created is not None and created[pos] != NAT_DAY and created[pos] >= self.asof_day:
            return f"{when}: created {_iso(created[pos])}"
        assert churn is not None
        return f"{when}: churned {_iso(churn[pos])}"

    def account_dates(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Per account: ``created`` and the earliest outcomes ``churn_date`` (day numbers)."""
        return self._account_dates()

    def _account_dates(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        ds = self.ds
        created = None
        if "created" in ds.accounts.columns:
            created = day_numbers(ds.accounts["created"])
        churn = None
        outcomes = ds.outcomes
        if outcomes is not None and "churn_date" in outcomes.columns:
            dates = outcomes.dropna(subset=["churn_date"])
            earliest = dates.groupby(dates["account_id"].astype(str))["churn_date"].min()
            aligned = earliest.reindex(self.account_ids)
            churn = day_numbers(aligned.to_numpy(dtype="datetime64[ns]"))
        return created, churn

    def _dropped(self) -> np.ndarray | None:
        """Visitors that are not subjects: their rows leave every account's roll-up (a row
        may count for an account other than the visitor's own, so all of them)."""
        key = ("visitor", "_dropped")
        if key not in self._cache:
            self._cache[key] = ~self.subjects("visitor")
        gone = self._cache[key]
        return gone if gone.any() else None

    def visit_day(self, subject: str, which: str) -> np.ndarray:
        """Day number of the ``"last"`` / ``"first"`` visit behind ``days_since_*``.

        ``explain`` shows it next to the count; :data:`NAT_DAY` when unknown.
        """
        days = self.metric(subject, f"days_since_{which}_visit")
        out = np.full(len(days), NAT_DAY, dtype=np.int64)
        known = ~np.isnan(days)
        out[known] = self.asof_day - days[known].astype(np.int64)
        return out

    def _visitor_day(self, latest: bool, home: bool = False) -> np.ndarray:
        """Per visitor: the last visit (``latest``) or the first-seen day (``home``: over
        its rows for its own account only)."""
        key = ("visitor", "_last_day" if latest else "_first_day", home)
        if key not in self._cache:
            active = self.source.active_extreme(latest, self.asof_day, home)
            if latest:
                day = last_visit(active, self.source.declared("last_visit"), self.asof_day)
            else:
                day = first_seen(active, self.source.declared("first_visit"))
            self._cache[key] = day
        return self._cache[key]


def _present(array: np.ndarray | None) -> list[np.ndarray]:
    """``[array]``, or no columns when None (optional arrays filtered with the rest)."""
    return [] if array is None else [array]


def _iso(day: int) -> str:
    return (EPOCH + dt.timedelta(days=int(day))).isoformat()


class ScanUsage:
    """The usage rows before one as-of day as arrays, each metric one pass over them.

    Rows on or after the as-of day are dropped once (semantics ``before``), so
    a window is the rows from its first day on. Sums and distinct days go a
    piece of rows at a time (no full-length int64 copies at 30M rows).
    """

    def __init__(self, ds: Dataset, as_of_day: int) -> None:
        self.ds = ds
        self.asof_day = as_of_day
        self.visitor_ids = pd.Index(ds.visitors["visitor_id"].astype(str))
        self.account_ids = pd.Index(ds.accounts["account_id"].astype(str))
        self.v2a = positions(ds.visitors["account_id"].astype(str), self.account_ids)
        self._usage: UsageArrays | None = None
        self._features: UsageArrays | None = None
        self._v2a_bins: np.ndarray | None = None

    def size(self, subject: str) -> int:
        return len(self.account_ids) if subject == "account" else len(self.visitor_ids)

    def declared(self, column: str) -> np.ndarray | None:
        """A visitors date column (``first_visit`` / ``last_visit``) as day numbers."""
        visitors = self.ds.visitors
        return day_numbers(visitors[column]) if column in visitors.columns else None

    # -- raw arrays ----------------------------------------------------------
    def _before_as_of(self, day: np.ndarray, *columns: np.ndarray) -> list[np.ndarray]:
        """Rows before the as-of day; no copy in the usual case where all are."""
        keep = before(day, self.asof_day)
        if keep.all():
            return [day, *columns]
        return [day[keep], *(c[keep] for c in columns)]

    def active_from(self, end: int) -> np.ndarray:
        """Per visitor: active on some day on or after ``end`` (the as-of day)."""
        assert end == self.asof_day, "a scan holds the rows of one as-of day"
        _ = self.usage  # the later rows are looked at once, as they are dropped
        return self._active_later

    @property
    def usage(self) -> UsageArrays:
        if self._usage is None:
            u = self.ds.usage_daily
            all_days = usage_days(u["date"])
            all_vidx = positions(u["visitor_id"], self.visitor_ids)
            all_minutes = u["minutes"].to_numpy(dtype=np.float64)
            all_events = counts(u["events"])
            all_aidx = row_accounts(u, all_vidx, self.v2a, self.account_ids)
            later = ~before(all_days, self.asof_day)
            self._active_later = np.zeros(len(self.visitor_ids), dtype=bool)
            if later.any():
                hit = later & is_active(all_events, all_minutes) & (all_vidx >= 0)
                self._active_later[all_vidx[hit]] = True
            day, vidx, minutes, events, *aidx = self._before_as_of(
                all_days, all_vidx, all_minutes, all_events, *_present(all_aidx)
            )
            del all_days, all_vidx, all_minutes, all_events, all_aidx
            self._usage = UsageArrays(
                vidx=vidx,
                day=day,
                values={
                    "minutes": minutes,
                    "events": events,
                    "active": is_active(events, minutes),
                },
                aidx=aidx[0] if aidx else None,
            )
        return self._usage

    @property
    def features(self) -> UsageArrays:
        if self._features is None:
            f = self.ds.feature_usage
            codes, names = feature_codes(f["feature_id"])
            self._feature_names = {str(n): i for i, n in enumerate(names)}
            all_vidx = positions(f["visitor_id"], self.visitor_ids)
            all_aidx = row_accounts(f, all_vidx, self.v2a, self.account_ids)
            day, vidx, clicks, codes, *aidx = self._before_as_of(
                usage_days(f["date"]), all_vidx, counts(f["clicks"]), codes, *_present(all_aidx)
            )
            self._features = UsageArrays(
                vidx=vidx,
                day=day,
                values={"clicks": clicks, "fcode": codes},
                aidx=aidx[0] if aidx else None,
            )
        return self._features

    # -- counts ----------------------------------------------------------------
    def window_sum(
        self, subject: str, column: str, first: int, end: int, drop: np.ndarray | None = None
    ) -> np.ndarray:
        u = self.usage
        mask = self._from(u.day, first, end)
        kept = self._kept(mask, u.vidx, drop)
        return self._sum(subject, u.vidx, u.values[column], kept, u.aidx)

    def feature_clicks(
        self, subject: str, feature: str, first: int, end: int, drop: np.ndarray | None = None
    ) -> np.ndarray:
        f = self.features
        if feature not in self._feature_names:
            return np.zeros(self.size(subject))
        mask = self._from(f.day, first, end)
        mask &= f.values["fcode"] == self._feature_names[feature]
        return self._sum(
            subject, f.vidx, f.values["clicks"], self._kept(mask, f.vidx, drop), f.aidx
        )

    @staticmethod
    def _kept(mask: np.ndarray, vidx: np.ndarray, drop: np.ndarray | None) -> np.ndarray:
        """``mask`` without the rows of dropped visitors (docs/semantics.md §2b)."""
        if drop is not None:
            mask &= ~drop[np.where(vidx >= 0, vidx, 0)] | (vidx < 0)
        return mask

    def _from(self, day: np.ndarray, first: int, end: int) -> np.ndarray:
        """The window's rows: from its first day (every row is before ``end``, the as-of day)."""
        assert end == self.asof_day, "a scan holds the rows of one as-of day"
        return day >= day.dtype.type(first)

    def _subject_index(
        self, subject: str, vidx: np.ndarray, aidx: np.ndarray | None = None
    ) -> np.ndarray:
        if subject == "visitor":
            return vidx
        return self.v2a[vidx] if aidx is None else aidx

    def _bins(
        self, subject: str, vidx: np.ndarray, mask: np.ndarray, aidx: np.ndarray | None = None
    ) -> np.ndarray:
        """int64 subject position per row (an account: the row's own, ``aidx``, when given);
        rows outside ``mask`` or without one get ``n``."""
        n = self.size(subject)
        if subject == "visitor":
            idx = vidx.astype(np.int64)
        elif aidx is not None:
            idx = np.where(aidx >= 0, aidx, n).astype(np.int64)
        else:
            if self._v2a_bins is None:
                self._v2a_bins = np.where(self.v2a >= 0, self.v2a, n).astype(np.int64)
            idx = self._v2a_bins[vidx]
        idx[vidx < 0] = n
        idx[~mask] = n
        return idx

    def _sum(
        self,
        subject: str,
        vidx: np.ndarray,
        weights: np.ndarray,
        mask: np.ndarray,
        aidx: np.ndarray | None = None,
    ) -> np.ndarray:
        """Per-subject sum of ``weights`` over the rows in ``mask``, accumulated in float64.

        Rows outside go to an extra bin instead of being copied out, and the
        rows go a piece at a time (no full-length int64 bin array: 240 MB at
        30M rows). Float sums keep the order of one whole-column ``bincount``
        (each subject's rows added one by one in row order): ``np.add.at``
        adds each piece into the running sums; integer weights are exact in
        any order, so they take the faster ``bincount`` per piece.
        """
        n = self.size(subject)
        exact = np.issubdtype(weights.dtype, np.integer)
        out = np.zeros(n + 1)
        for start in range(0, len(vidx), SUM_PIECE_ROWS):
            part = slice(start, start + SUM_PIECE_ROWS)
            rows = None if aidx is None else aidx[part]
            bins = self._bins(subject, vidx[part], mask[part], rows)
            if exact:
                out += np.bincount(bins, weights=weights[part].astype(np.float64), minlength=n + 1)
            else:
                np.add.at(out, bins, weights[part])
        return out[:n]

    def active_days(
        self, subject: str, first: int, end: int, drop: np.ndarray | None = None
    ) -> np.ndarray:
        """Distinct active days per subject, a piece of rows at a time (a set: any order)."""
        u = self.usage
        window = end - first
        n = self.size(subject)
        bitmap = n * window <= _BITMAP_LIMIT
        seen = np.zeros(n * window if bitmap else 0, dtype=bool)
        keys: list[np.ndarray] = []
        for start in range(0, len(u.day), SUM_PIECE_ROWS):
            part = slice(start, start + SUM_PIECE_ROWS)
            day = u.day[part]
            m = self._from(day, first, end) & u.values["active"][part]
            m = self._kept(m, u.vidx[part], drop)
            rows = None if u.aidx is None else u.aidx[part][m]
            idx = self._subject_index(subject, u.vidx[part][m], rows)
            ok = idx >= 0
            key = idx[ok].astype(np.int64) * window + (day[m][ok] - first)
            if bitmap:
                seen[key] = True
            else:
                keys.append(np.unique(key))
        if bitmap:
            return seen.reshape(n, window).sum(axis=1).astype(np.float64)
        uniq = np.unique(np.concatenate(keys)) if keys else np.empty(0, dtype=np.int64)
        return np.bincount(uniq // window, minlength=n).astype(np.float64)

    def active_extreme(self, latest: bool, end: int, home: bool = False) -> np.ndarray:
        """Latest or earliest active day before ``end`` per visitor (:data:`NAT_DAY` if none),
        a piece of rows at a time (a full-length int64 copy of the days would be 240 MB at
        30M rows). ``home``: only the rows of the visitor's own account."""
        assert end == self.asof_day, "a scan holds the rows of one as-of day"
        u = self.usage
        running = ExtremeDay(len(self.visitor_ids), u.day.dtype, latest)
        for start in range(0, len(u.day), SUM_PIECE_ROWS):
            part = slice(start, start + SUM_PIECE_ROWS)
            m = u.values["active"][part]
            if home and u.aidx is not None:
                m = m & ~self._elsewhere(u.vidx[part], u.aidx[part])
            running.add(u.vidx[part][m], u.day[part][m])
        return running.days()

    def elsewhere(self, end: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        assert end == self.asof_day, "a scan holds the rows of one as-of day"
        u = self.usage
        if u.aidx is None:
            return None
        m = u.values["active"] & self._elsewhere(u.vidx, u.aidx)
        return u.vidx[m], u.aidx[m], u.day[m]

    def _elsewhere(self, vidx: np.ndarray, aidx: np.ndarray) -> np.ndarray:
        """Rows whose account is not their visitor's own."""
        return aidx != np.where(vidx >= 0, self.v2a[np.maximum(vidx, 0)], -1)
