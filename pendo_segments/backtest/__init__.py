"""Backtests: segments, health and alerts at many past as-of days, and their catch rates."""

from __future__ import annotations

from pendo_segments.backtest.catch import (
    CATCH_COLUMNS,
    CatchRate,
    catch_frame,
    catch_rates,
    churn_days,
)
from pendo_segments.backtest.history import UsageHistory
from pendo_segments.backtest.run import (
    COUNT_COLUMNS,
    SCORE_COLUMNS,
    Backtest,
    as_of_days,
    run_backtest,
)

__all__ = [
    "CATCH_COLUMNS",
    "COUNT_COLUMNS",
    "SCORE_COLUMNS",
    "Backtest",
    "CatchRate",
    "UsageHistory",
    "as_of_days",
    "catch_frame",
    "catch_rates",
    "churn_days",
    "run_backtest",
]
