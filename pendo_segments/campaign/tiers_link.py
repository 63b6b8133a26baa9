"""Each account's success tier, for tier exclusions and the dry-run "tier" column.

The one place the campaign depends on :mod:`pendo_segments.tiers`: the same
policy (``DEFS/tiers.yaml``), health settings (``DEFS/health.yaml``) and
overrides as ``pendo-segments tiers``. A ``tiers_file`` (the CSV of
``pendo-segments tiers --format csv``: ``account_id,tier,reason``) wins, so a
team can freeze the tiers it reviewed.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pendo_segments.errors import ConfigError

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset


def account_tiers(
    ds: Dataset,
    as_of: dt.date,
    *,
    defs: Any,
    defs_path: Path,
    tiers_file: Path | None = None,
    overrides_file: Path | None = None,
) -> dict[str, str] | None:
    """``{account_id: tier}``, or None when there is no tier policy to apply."""
    if tiers_file is not None:
        return read_tiers_file(tiers_file)
    from pendo_segments.tiers.view import account_view

    view = account_view(ds, defs_path, defs=defs, as_of=as_of, overrides_file=overrides_file)
    return view.tier_of() if view.tiers is not None else None


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
