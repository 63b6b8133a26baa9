"""Raw per-account measures behind the health score, tiers and alerts.

Usage measures come from :class:`~pendo_segments.evaluate.metrics.Metrics`;
NPS responses and tickets are counted here with the same window rule
(``semantics.rules.in_window``: ``as_of − N ≤ day ≤ as_of − 1``). Every
function returns float64 vectors aligned to ``metrics.account_ids``; NaN
means unknown.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from pendo_segments.evaluate.metrics import (
    NAT_DAY,
    Metrics,
    ScanUsage,
    day_numbers,
    positions,
)
from pendo_segments.semantics.rules import in_window, window_bounds


def per_account(m: Metrics, aidx: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Sum ``weights`` (or count rows) per account position; rows with -1 are ignored."""
    ok = aidx >= 0
    w = None if weights is None else np.asarray(weights, dtype=np.float64)[ok]
    return np.bincount(aidx[ok], weights=w, minlength=len(m.account_ids)).astype(np.float64)


def features_used(
    m: Metrics, feature_ids: Sequence[str], window: int, min_clicks: int = 1
) -> np.ndarray:
    """How many of ``feature_ids`` each account clicked at least ``min_clicks`` times."""
    used = np.zeros(len(m.account_ids))
    for fid in feature_ids:
        used += m.metric("account", "feature_clicks", window, fid) >= min_clicks
    return used


def nps_responses(ds: object, m: Metrics, window: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(mean score 0–10, response count) per account; None without an NPS table.

    Responses reach accounts through ``visitors.account_id``, like usage, and
    only from visitors that are subjects at the as-of day (docs/semantics.md §2b).
    """
    nps = getattr(ds, "nps", None)
    if nps is None:
        return None
    vidx = positions(nps["visitor_id"], m.visitor_ids)
    aidx = np.where(vidx >= 0, subject_v2a(m)[np.maximum(vidx, 0)], -1)
    aidx = np.where(in_window(day_numbers(nps["date"]), m.asof_day, window), aidx, -1)
    count = per_account(m, aidx)
    total = per_account(m, aidx, nps["score"].to_numpy(dtype=np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / count, np.nan)
    return mean, count


def ticket_counts(ds: object, m: Metrics, window: int) -> np.ndarray | None:
    """Tickets opened per account in the window; None without a tickets table."""
    tickets = getattr(ds, "tickets", None)
    if tickets is None:
        return None
    aidx = positions(tickets["account_id"], m.account_ids)
    aidx = np.where(in_window(day_numbers(tickets["opened_on"]), m.asof_day, window), aidx, -1)
    return per_account(m, aidx)


def sessions(m: Metrics, window: int) -> np.ndarray:
    """Visitor-days with activity FOR each account: a session count without session data.

    A usage row counts for its own account (docs/semantics.md §1), so a visitor in
    two accounts adds its days there to each; only visitors that are subjects count.
    """
    if m.source.elsewhere(m.asof_day) is None:  # every row is its visitor's account's
        per_visitor = m.metric("visitor", "active_days", window)
        return per_account(m, subject_v2a(m), per_visitor)
    # an index source (the backtest's) never has rows elsewhere: those days are scans
    assert isinstance(m.source, ScanUsage)
    u = m.source.usage
    assert u.aidx is not None
    first, _end = window_bounds(m.asof_day, window)
    rows = u.values["active"] & (u.day >= first) & (u.vidx >= 0) & (u.aidx >= 0)
    rows &= m.subjects("visitor")[np.maximum(u.vidx, 0)]
    vidx, aidx = u.vidx[rows].astype(np.int64), u.aidx[rows].astype(np.int64)
    key = (aidx * len(m.visitor_ids) + vidx) * window + (u.day[rows] - first)
    pairs = np.unique(key) // (len(m.visitor_ids) * window)  # one per visitor-day
    return np.bincount(pairs, minlength=len(m.account_ids)).astype(np.float64)


def subject_v2a(m: Metrics) -> np.ndarray:
    """``m.v2a`` with -1 for visitors that are not subjects: their rows leave the roll-up."""
    return np.where(m.subjects("visitor"), m.v2a, -1)


def usage_growth(m: Metrics, window: int) -> np.ndarray:
    """% change of events in the last ``window`` days vs the ``window`` days before.

    NaN when the earlier window had no events (growth from nothing is undefined).
    """
    recent = m.metric("account", "events", window)
    earlier = m.metric("account", "events", 2 * window) - recent
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(earlier > 0, (recent - earlier) / earlier * 100, np.nan)


def renewal_in_days(ds: object, m: Metrics) -> np.ndarray:
    """Days from the as-of day to ``renewal_date`` (negative when past; NaN when unknown)."""
    accounts: pd.DataFrame = ds.accounts  # type: ignore[attr-defined]
    if "renewal_date" not in accounts.columns:
        return np.full(len(m.account_ids), np.nan)
    days = day_numbers(accounts["renewal_date"])
    out = (days - m.asof_day).astype(np.float64)
    out[days == NAT_DAY] = np.nan
    return out
