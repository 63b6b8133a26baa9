"""Account health: the docs/semantics.md §5 score and its calibration against churn."""

from __future__ import annotations

from pendo_segments.health.config import COMPONENTS, HealthConfig, load_health_config
from pendo_segments.health.score import HEALTH_COLUMNS, HealthResult, compute_health

__all__ = [
    "COMPONENTS",
    "HEALTH_COLUMNS",
    "HealthConfig",
    "HealthResult",
    "compute_health",
    "load_health_config",
]
