"""Small user-edited CSV inputs: overrides, previous runs.

Errors name the file, the 1-based data row and the column, like the usage
data loader (docs/semantics.md §1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pendo_segments.base.spreadsheet import restore
from pendo_segments.errors import DataError
from pendo_segments.health.config import COMPONENTS

HEALTH_VALUE_COLUMNS = ("health_score", *COMPONENTS)
#: a health score or component is 0–100 (a previous file's 1e300 broke number formatting)
HEALTH_RANGE = (0.0, 100.0)


def read_table(path: str | Path, required: Sequence[str], key: str = "account_id") -> pd.DataFrame:
    """All cells as stripped text ('' when blank); ``key`` must be filled and unique."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"{file}: no such file")
    try:
        # utf-8-sig: spreadsheet exports often start with a byte-order mark
        frame = pd.read_csv(
            file, dtype=str, keep_default_na=False, encoding="utf-8-sig", skipinitialspace=True
        )
    except UnicodeDecodeError:
        raise DataError(f"{file}: not UTF-8 text") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise DataError(f"{file}: not a CSV file with a header row ({str(err).strip()})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    for column in required:
        if column not in frame.columns:
            raise DataError(f"{file}: missing required column '{column}'")
    # a report's accounts.csv (the next run's --previous) has formula-like text quoted
    frame = restore(frame.apply(lambda col: col.str.strip()))
    blank = frame[key] == ""
    if blank.any():
        raise DataError(f"{file}: row {row_of(blank)}, column {key}: blank")
    dup = frame[key].duplicated(keep="first")
    if dup.any():
        value = frame[key][dup].iloc[0]
        first = row_of(frame[key] == value)
        raise DataError(
            f"{file}: row {row_of(dup)}, column {key}: '{value}' appears twice "
            f"(first at row {first})"
        )
    return frame


def row_of(flags: pd.Series) -> int:
    """1-based data row of the first True."""
    return int(np.flatnonzero(flags.to_numpy())[0]) + 1


def numbers(
    frame: pd.DataFrame,
    column: str,
    file: str | Path,
    within: tuple[float, float] = (-math.inf, math.inf),
) -> np.ndarray:
    """A text column as floats; blank → NaN; anything else unparsable, infinite or
    outside ``within`` (both ends allowed) is an error."""
    values = pd.to_numeric(frame[column].replace("", np.nan), errors="coerce")
    bad = values.isna() & (frame[column] != "")
    if bad.any():
        raise DataError(
            f"{file}: row {row_of(bad)}, column {column}: "
            f"'{frame[column][bad].iloc[0]}' is not a number"
        )
    low, high = within
    out = values.to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        outside = pd.Series(np.isinf(out) | (out < low) | (out > high))
    if outside.any():
        bound = "a finite number" if math.isinf(low) else f"from {low:g} to {high:g}"
        raise DataError(
            f"{file}: row {row_of(outside)}, column {column}: "
            f"'{frame[column][outside.to_numpy()].iloc[0]}' is not {bound}"
        )
    return out


def aligned(frame: pd.DataFrame, values: np.ndarray, account_ids: pd.Index) -> np.ndarray:
    """``values`` (rows of ``frame``) reordered to ``account_ids``; NaN where absent."""
    pos = pd.Index(frame["account_id"]).get_indexer(account_ids)
    out = (
        np.where(pos >= 0, values[np.maximum(pos, 0)], np.nan)
        if len(values)
        else np.full(len(account_ids), np.nan)
    )
    return out.astype(np.float64)


def read_previous_health(path: str | Path, account_ids: pd.Index) -> dict[str, np.ndarray]:
    """A previous ``health --format csv`` run, aligned to ``account_ids``."""
    frame = read_table(path, ["account_id", "health_score"])
    out: dict[str, np.ndarray] = {}
    for column in HEALTH_VALUE_COLUMNS:
        if column in frame.columns:
            values = numbers(frame, column, path, HEALTH_RANGE)
            out[column] = aligned(frame, values, account_ids)
        else:
            out[column] = np.full(len(account_ids), np.nan)
    return out
