"""Compatibility: alerts moved to :mod:`pendo_segments.health.alerts`."""

from __future__ import annotations

from pendo_segments.health.alerts import (
    ALERT_COLUMNS,
    CONFIG_NAME,
    Alert,
    AlertResult,
    AlertRules,
    condition_mask,
    load_alerts,
    run_alerts,
)

__all__ = [
    "ALERT_COLUMNS",
    "CONFIG_NAME",
    "Alert",
    "AlertResult",
    "AlertRules",
    "condition_mask",
    "load_alerts",
    "run_alerts",
]
