"""Movers since a previous run: tier moves and health score changes per account.

The previous file is any csv with ``account_id`` and ``tier`` and/or
``health_score``: an earlier report's ``accounts.csv``, or the output of
``tiers`` / ``health --format csv``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pendo_segments.errors import DataError
from pendo_segments.health.csvfile import HEALTH_RANGE, numbers, read_table

MIN_CHANGE = 5.0  # score changes smaller than this are noise, not movers


@dataclass
class Mover:
    account_id: str
    name: str
    tier_before: str | None
    tier_now: str
    move: str  # up / down / unchanged / new
    score_before: float
    score_now: float

    @property
    def change(self) -> float:
        return self.score_now - self.score_before


def read_previous(path: Path) -> pd.DataFrame:
    frame = read_table(path, ["account_id"])
    if "tier" not in frame.columns and "health_score" not in frame.columns:
        raise DataError(f"{path}: needs a tier or a health_score column next to account_id")
    if "health_score" in frame.columns:
        frame["health_score"] = numbers(frame, "health_score", path, HEALTH_RANGE)
    return frame


def movers(accounts: pd.DataFrame, previous: pd.DataFrame, tier_order: list[str]) -> list[Mover]:
    """Accounts whose tier moved or whose score changed by ``MIN_CHANGE`` or more.

    ``accounts``: ``account_id, name, tier, health_score`` now. Sorted by the size
    of the score change, largest first whether up or down (a 44.4-point drop before
    a tier move with no change); then tier moves whose change is unknown (the
    previous file had no score); ties by account id.
    """
    prev = previous.set_index("account_id")
    rank = {t: i for i, t in enumerate(tier_order)}
    out = []
    for row in accounts.itertuples(index=False):
        aid = str(row.account_id)
        known = aid in prev.index
        before_tier = prev.at[aid, "tier"] if known and "tier" in prev.columns else None
        before_tier = before_tier or None
        before_score = (
            float(prev.at[aid, "health_score"])
            if known and "health_score" in prev.columns
            else math.nan
        )
        if not known:
            move = "new"
        elif before_tier is None or before_tier == row.tier:
            move = "unchanged"
        else:
            move = "up" if rank.get(row.tier, 99) < rank.get(before_tier, 99) else "down"
        now = float(row.health_score)
        changed = not math.isnan(before_score) and abs(now - before_score) >= MIN_CHANGE
        if move in ("up", "down") or changed:
            out.append(
                Mover(aid, str(row.name), before_tier, str(row.tier), move, before_score, now)
            )
    out.sort(key=_order)
    return out


def _order(m: Mover) -> tuple[bool, float, str]:
    unknown = math.isnan(m.change)
    return unknown, 0.0 if unknown else -round(abs(m.change), 1), m.account_id
