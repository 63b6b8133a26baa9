"""Each account's success tier (tier exclusions, the dry-run "tier" column) and health score.

The one place the campaign computes tiers with :mod:`pendo_segments.tiers`: the same
policy (``DEFS/tiers.yaml``), health settings (``DEFS/health.yaml``) and
overrides as ``pendo-segments tiers``. A ``tiers_file`` (the CSV of
``pendo-segments tiers --format csv``: ``account_id,tier,reason``) wins, so a
team can freeze the tiers it reviewed.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pendo_segments.errors import ConfigError

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset
    from pendo_segments.engines import Engine


@dataclass(frozen=True)
class AccountTiers:
    """``tier``: account id → tier, None without a tier policy; ``health``: account id →
    health score (rounded as ``health`` prints it), empty with a ``tiers_file``."""

    tier: dict[str, str] | None
    health: dict[str, float] = field(default_factory=dict)


def tiers_and_health(
    ds: Dataset | None,
    as_of: dt.date,
    *,
    defs: Any,
    defs_path: Path,
    tiers_file: Path | None = None,
    overrides_file: Path | None = None,
    engine: Engine | None = None,
) -> AccountTiers:
    """Each account's tier (for exclusions) and health score (for the CSM alerts).

    ``engine``: an engine that does not hold the usage in memory (DuckDB, Spark)
    scores and tiers the accounts itself, with the same files.
    """
    if tiers_file is not None:
        return AccountTiers(read_tiers_file(tiers_file))
    if ds is None:
        assert engine is not None, "tiers_and_health needs ds or an engine"
        view = _engine_view(engine, as_of, defs, defs_path, overrides_file)
    else:
        from pendo_segments.tiers.view import account_view

        view = account_view(ds, defs_path, defs=defs, as_of=as_of, overrides_file=overrides_file)
    health = {
        str(a): round(float(s), 1)
        for a, s in zip(view.health.account_ids, view.health.score, strict=True)
        if s == s  # noqa: PLR0124 - NaN: no score
    }
    return AccountTiers(view.tier_of() if view.tiers is not None else None, health)


def _engine_view(
    engine: Engine, as_of: dt.date, defs: Any, defs_path: Path, overrides_file: Path | None
) -> Any:
    """The :class:`~pendo_segments.tiers.view.AccountView` of ``account_view``, from ``engine``."""
    from pendo_segments.health.config import health_config_for
    from pendo_segments.health.engine import engine_health
    from pendo_segments.tiers.files import read_overrides
    from pendo_segments.tiers.run import TierInputs, engine_tiers, policy_for
    from pendo_segments.tiers.view import AccountView

    config = health_config_for(defs_path)
    policy = policy_for(defs_path, required=False)
    if policy is None:
        return AccountView(as_of, None, config, engine_health(engine, config, as_of), None, None)
    overrides = read_overrides(overrides_file, policy) if overrides_file else None
    tiers = engine_tiers(engine, TierInputs(defs_path, policy, defs, config, overrides), as_of)
    return AccountView(as_of, None, config, tiers.health, policy, tiers)


def read_tiers_file(path: Path) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or not {"account_id", "tier"} <= set(reader.fieldnames):
                raise ConfigError(
                    f"{path}: a tiers file needs the columns account_id,tier "
                    "(as written by `pendo-segments tiers --format csv`)"
                )
            return {row["account_id"]: row["tier"] for row in reader if row["account_id"]}
    except FileNotFoundError:
        raise ConfigError(f"{path}: tiers file not found (campaign.no_login.tiers_file)") from None
