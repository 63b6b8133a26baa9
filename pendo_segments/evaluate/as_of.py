"""Warn when ``--as-of`` is so far past the data that no window holds any usage.

Every windowed metric is then 0 for every subject, so ``evaluate`` silently
answers "nobody is active"; a newcomer who typed the wrong year should hear so.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pandas as pd

from pendo_segments.definitions.models import MetricCondition, walk

_log = logging.getLogger("pendo_segments.evaluate")


def longest_window(defs: Any) -> int:
    """The longest usage window (days) any of the segments looks at."""
    days = [seg.window_days for seg in defs]
    for seg in defs:
        days += [seg.window_of(n) for n in walk(seg.rule) if isinstance(n, MetricCondition)]
    return max(days, default=0)


def nothing_active_message(ds: Any, as_of: dt.date, defs: Any) -> str | None:
    """The warning text when no usage falls in the longest window before ``as_of``."""
    dates = ds.usage_daily.get("date")
    latest = dates.max() if dates is not None and len(dates) else pd.NaT
    if pd.isna(latest):
        return None
    latest_day = pd.Timestamp(latest).date()
    window = longest_window(defs)
    if window <= 0 or latest_day >= as_of - dt.timedelta(days=window):
        return None
    return (
        f"as-of {as_of.isoformat()} is {(as_of - latest_day).days} days after the latest "
        f"usage ({latest_day.isoformat()}); no usage falls in the longest window "
        f"({window} days), so nothing is active"
    )


def warn_if_nothing_active(ds: Any, as_of: dt.date, defs: Any) -> None:
    message = nothing_active_message(ds, as_of, defs)
    if message:
        _log.warning(message)
