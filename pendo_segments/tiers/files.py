"""The tier command's CSV inputs: manual overrides and a previous run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pendo_segments.definitions.yaml_lines import suggest
from pendo_segments.errors import DataError
from pendo_segments.health.csvfile import read_table, row_of
from pendo_segments.tiers.policy import TierPolicy


def _check_tiers(frame: pd.DataFrame, file: str | Path, policy: TierPolicy) -> None:
    names = policy.names
    bad = ~frame["tier"].isin(names)
    if bad.any():
        value = frame["tier"][bad].iloc[0]
        what = "blank" if value == "" else f"unknown tier '{value}'{suggest(value, names)}"
        raise DataError(
            f"{file}: row {row_of(bad)}, column tier: {what} (tiers: {', '.join(names)})"
        )


def read_overrides(path: str | Path, policy: TierPolicy) -> pd.DataFrame:
    """``account_id,tier,note`` (note optional): manual decisions that beat the policy."""
    frame = read_table(path, ["account_id", "tier"])
    _check_tiers(frame, path, policy)
    if "note" not in frame.columns:
        frame["note"] = ""
    return frame[["account_id", "tier", "note"]].reset_index(drop=True)


def read_previous(path: str | Path, policy: TierPolicy) -> pd.DataFrame:
    """A previous ``tiers --format csv`` run (``account_id,tier,…``)."""
    frame = read_table(path, ["account_id", "tier"])
    _check_tiers(frame, path, policy)
    return frame[["account_id", "tier"]].reset_index(drop=True)
