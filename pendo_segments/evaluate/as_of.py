"""Warn when ``--as-of`` lies outside the usage data (before its first day, after its last).

Far past the data every windowed metric is 0 for every subject, so ``evaluate``
silently answers "nobody is active"; a newcomer who typed the wrong year should
hear so. A day with no subjects at all is an error (:func:`check_subjects`).
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
    """The one warning for an as-of day outside the usage data of ``ds`` (its
    ``usage_daily`` frame); see :func:`outside_usage_message`."""
    dates = ds.usage_daily.get("date")
    latest = dates.max() if dates is not None and len(dates) else pd.NaT
    if pd.isna(latest):
        return None
    first = pd.Timestamp(dates.min()).date()
    return outside_usage_message(first, pd.Timestamp(latest).date(), as_of, defs)


def outside_usage_message(
    first_day: dt.date, latest_day: dt.date, as_of: dt.date, defs: Any
) -> str | None:
    """The one warning for an as-of day outside the usage span ``first_day`` … ``latest_day``
    (docs/semantics.md §2b): on or before its first day, or after its last (stronger when
    no window holds any). Every engine words it from the span alone, so it reads the same."""
    if as_of <= first_day:
        return (
            f"as-of {as_of.isoformat()} is on or before the first usage day "
            f"({first_day.isoformat()}); no usage is seen before it, so nothing is active"
        )
    window = longest_window(defs)
    if window <= 0 or latest_day >= as_of - dt.timedelta(days=window):
        if as_of <= latest_day + dt.timedelta(days=1):
            return None
        return (
            f"as-of {as_of.isoformat()} is {(as_of - latest_day).days} days after the latest "
            f"usage ({latest_day.isoformat()}); the days after it have no usage data and "
            "count as no activity"
        )
    return (
        f"as-of {as_of.isoformat()} is {(as_of - latest_day).days} days after the latest "
        f"usage ({latest_day.isoformat()}); no usage falls in the longest window "
        f"({window} days), so nothing is active"
    )


def warn_if_nothing_active(ds: Any, as_of: dt.date, defs: Any) -> None:
    message = nothing_active_message(ds, as_of, defs)
    if message:
        _log.warning(message)


def check_subjects(metrics: Any) -> None:
    """A day at which no account and no visitor exists (docs/semantics.md §2b) is an error."""
    sizes = metrics.size("account") + metrics.size("visitor")
    if sizes and not (metrics.subjects("account").any() or metrics.subjects("visitor").any()):
        raise no_subjects_error(metrics.as_of)


def no_subjects_error(as_of: dt.date) -> Exception:
    """The error for a day at which nobody exists yet, worded once for every engine."""
    from pendo_segments.errors import EvaluationError

    return EvaluationError(
        f"no account or visitor exists at as-of {as_of.isoformat()} (every one "
        "was created or first seen on or after it, or had churned before it); "
        "pick a later --as-of"
    )
