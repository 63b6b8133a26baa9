"""CSM headcount per tier: accounts ÷ accounts-per-CSM, rounded up per tier.

Each tier's team is sized as a whole (a pooled tier such as P3 or
Neighborhood is one shared team), so rounding happens once per tier.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from pendo_segments.errors import ConfigError
from pendo_segments.tiers.policy import TierPolicy

CAPACITY_COLUMNS = ["tier", "accounts", "arr", "accounts_per_csm", "pooled", "csms"]


def csms_needed(accounts: int, per_csm: float) -> int:
    """Whole CSMs to cover ``accounts`` at ``per_csm`` each (0 for none)."""
    return math.ceil(accounts / per_csm - 1e-9) if accounts else 0


def capacity_table(
    tier: np.ndarray, arr: np.ndarray, policy: TierPolicy, ratios: Mapping[str, float] | None = None
) -> pd.DataFrame:
    """One row per tier in policy order plus a ``Total`` row."""
    ratios = dict(ratios or {})
    unknown = [t for t in ratios if t not in policy.names]
    if unknown:
        raise ConfigError(
            f"--ratio: unknown tier '{unknown[0]}' (tiers: {', '.join(policy.names)})"
        )
    bad = [t for t, r in ratios.items() if not r > 0]
    if bad:
        raise ConfigError(f"--ratio: accounts per CSM for {bad[0]} must be above 0")
    rows: list[dict[str, Any]] = []
    for spec in policy.tiers:
        mine = tier == spec.name
        per_csm = float(ratios.get(spec.name, spec.accounts_per_csm))
        n = int(mine.sum())
        rows.append(
            {
                "tier": spec.name,
                "accounts": n,
                "arr": float(np.nansum(arr[mine])),
                "accounts_per_csm": _plain(per_csm),
                "pooled": spec.pooled,
                "csms": csms_needed(n, per_csm),
            }
        )
    total: dict[str, Any] = {
        "tier": "Total",
        "accounts": sum(r["accounts"] for r in rows),
        "arr": float(sum(r["arr"] for r in rows)),
        "accounts_per_csm": None,
        "pooled": None,
        "csms": sum(r["csms"] for r in rows),
    }
    frame = pd.DataFrame([*rows, total], columns=CAPACITY_COLUMNS)
    for column in ("accounts_per_csm", "pooled"):  # keep 15 as 15 and the Total blank
        frame[column] = pd.Series([r[column] for r in (*rows, total)], dtype=object)
    frame["arr"] = frame["arr"].round(2)
    return frame


def capacity_csv(frame: pd.DataFrame) -> str:
    """The one CSV text of a capacity table (``tiers --capacity`` and the demo):
    booleans as ``true``/``false`` like every other CSV, ARR without a trailing ``.0``."""
    out = frame.astype(object)
    out["pooled"] = pd.Series(
        [_csv_flag(v) for v in frame["pooled"]], index=frame.index, dtype=object
    )
    out["arr"] = pd.Series(
        [_plain(float(v)) for v in frame["arr"]], index=frame.index, dtype=object
    )
    return str(out.to_csv(index=False, lineterminator="\n"))


def _csv_flag(value: Any) -> str:
    if value is None or value != value:  # noqa: PLR0124 (NaN)
        return ""
    return "true" if value else "false"


def _plain(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def parse_ratios(items: tuple[str, ...] | list[str]) -> dict[str, float]:
    """``["P1=20", "P2=35"]`` → ``{"P1": 20.0, "P2": 35.0}`` (CLI ``--ratio``)."""
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(
                f"--ratio {item!r}: expected TIER=ACCOUNTS_PER_CSM, e.g. P1=20"
            ) from None
    return out
