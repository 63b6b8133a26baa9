"""Experience tiers: an ordered policy, manual overrides, moves and CSM capacity."""

from __future__ import annotations

from pendo_segments.tiers.assign import TIER_COLUMNS, TierResult, assign_tiers
from pendo_segments.tiers.capacity import capacity_table
from pendo_segments.tiers.files import read_overrides, read_previous
from pendo_segments.tiers.policy import TierPolicy, load_policy

__all__ = [
    "TIER_COLUMNS",
    "TierPolicy",
    "TierResult",
    "assign_tiers",
    "capacity_table",
    "load_policy",
    "read_overrides",
    "read_previous",
]
