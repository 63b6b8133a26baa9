"""Experience tiers: an ordered policy, manual overrides, moves and CSM capacity."""

from __future__ import annotations

from pendo_segments.tiers.assign import TIER_COLUMNS, TierResult, assign_tiers
from pendo_segments.tiers.capacity import capacity_table
from pendo_segments.tiers.files import read_overrides, read_previous
from pendo_segments.tiers.policy import TierPolicy, load_policy
from pendo_segments.tiers.run import TierInputs, TiersRun, policy_for, run_tiers, tier_inputs

__all__ = [
    "TIER_COLUMNS",
    "TierPolicy",
    "TierInputs",
    "TierResult",
    "TiersRun",
    "assign_tiers",
    "capacity_table",
    "load_policy",
    "policy_for",
    "read_overrides",
    "read_previous",
    "run_tiers",
    "tier_inputs",
]
