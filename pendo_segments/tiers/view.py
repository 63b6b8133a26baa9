"""Health and tiers for every account, computed once from a definitions folder.

Several layers need the same picture (the demo, the guide gallery's real
subjects, sync's ``tier`` / ``health_score`` metadata, the campaign's tier
exclusions): this is the one place that finds ``health.yaml`` and
``tiers.yaml`` beside the segment definitions and runs both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pendo_segments.health import HealthConfig, HealthResult, compute_health
from pendo_segments.health.config import health_config_for
from pendo_segments.tiers.assign import TierResult, assign_tiers
from pendo_segments.tiers.files import read_overrides
from pendo_segments.tiers.policy import TierPolicy
from pendo_segments.tiers.run import policy_for

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset


@dataclass
class AccountView:
    as_of: dt.date
    metrics: Any
    health_config: HealthConfig
    health: HealthResult
    policy: TierPolicy | None
    tiers: TierResult | None

    def tier_of(self) -> dict[str, str]:
        if self.tiers is None:
            return {}
        keep = self.tiers.subjects  # accounts that are not subjects at D have no tier
        return {
            str(a): str(t)
            for a, t in zip(self.tiers.account_ids[keep], self.tiers.tier[keep], strict=True)
        }


def account_view(
    ds: Dataset,
    defs_path: Path,
    *,
    defs: Any = None,
    as_of: dt.date | None = None,
    overrides_file: Path | None = None,
    metrics: Any = None,
    health: HealthResult | None = None,
    masks: Mapping[str, np.ndarray] | None = None,
) -> AccountView:
    """Score and tier the accounts of ``ds`` that exist at ``as_of`` (docs/semantics.md
    §2b) with the config files beside ``defs_path``.

    ``health``, ``masks``: a score and segment masks already computed for ``as_of``
    with these files (the report's backtest).
    """
    from pendo_segments.definitions import load_definitions
    from pendo_segments.evaluate.metrics import Metrics

    as_of = as_of or ds.default_as_of()
    ds = ds.fields_at(as_of)  # account fields of D−1 (history files)
    metrics = metrics or Metrics(ds, as_of)
    config = health_config_for(defs_path)
    health = health or compute_health(ds, as_of=as_of, config=config, metrics=metrics)
    policy = policy_for(defs_path, required=False)
    if policy is None:
        return AccountView(as_of, metrics, config, health, None, None)
    overrides = read_overrides(overrides_file, policy) if overrides_file else None
    tiers = assign_tiers(
        ds,
        policy,
        defs=defs or load_definitions(defs_path),
        as_of=as_of,
        health=health,
        health_config=config,
        overrides=overrides,
        masks=masks,
    )
    return AccountView(as_of, metrics, config, health, policy, tiers)
