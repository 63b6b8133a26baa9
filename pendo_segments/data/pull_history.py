"""``pull`` keeps the attribute history (docs/semantics.md §2b) from its first run on.

Pendo holds only today's account and visitor fields, so a past as-of day can
see the ARR, plan or CSM of that day only if someone wrote them down: each
pull compares what it pulled with the folder it replaces and writes
``accounts_history`` / ``visitors_history`` beside the tables.

* A record whose tracked values differ from its open history row (or, when
  the folder has no history yet, from the folder's ``accounts`` / ``visitors``
  row) gets that row closed with ``valid_to`` = the pull's as-of day and a new
  open row from that day with the pulled values.
* A record without any row (the first pull, a new account) gets one open row
  from its first-seen day (``created`` / ``first_visit``, Pendo's
  ``metadata.auto.firstvisit``), or from the day before the pull when that is
  unknown or later: the oldest value known stands for the days before it was
  pulled, as ``accounts.csv`` would without history, and the day before the
  pull (what an evaluation at the pull's day reads) is always covered.
* Unchanged records keep their rows, so a second pull with the same values
  writes the same history (idempotent). A second pull on the same day with
  other values replaces that day's row instead of leaving an empty one.
* Records Pendo no longer lists leave the history with their table (they are
  no longer subjects).

Tracked: every column of the pulled table except the ids, the visitor's
account (usage rolls up by today's account) and Pendo's visit stamps
(``created``, ``first_visit``, ``last_visit``: ``last_visit`` moves every day
a visitor comes back and would add a row per visitor per day; first-seen days
are read from today's table by the "who exists" rule).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pendo_segments.data.dataset import Dataset
from pendo_segments.data.files import _column_text
from pendo_segments.data.history import TRACKED, History, history_from_frame, load_history
from pendo_segments.errors import DataError

#: columns never tracked: ids, the visitor's account and Pendo's visit stamps
UNTRACKED = {
    "accounts": ("account_id", "created"),
    "visitors": ("visitor_id", "account_id", "first_visit", "last_visit"),
}
#: the column holding a record's first-seen day (where its first history row starts)
FIRST_SEEN = {"accounts": "created", "visitors": "first_visit"}


@dataclass(frozen=True)
class Previous:
    """What a data folder holds before a pull replaces it: its tables and histories."""

    folder: Path
    tables: dict[str, pd.DataFrame]
    histories: dict[str, History | None]


def read_previous(folder: Path) -> Previous | None:
    """The folder's accounts, visitors and history files; None when it holds no data yet.

    Read before the pull sends anything, so a folder that cannot be read fails
    in one line before an hour of requests.
    """
    from pendo_segments.data.layout import locate_table
    from pendo_segments.data.loaders import load_reference_tables

    if not folder.is_dir() or locate_table(folder, "accounts", mandatory=False) is None:
        return None
    frames, _labels = load_reference_tables(folder, warn=lambda _m: None)
    tables = {table: frames[table] for table in TRACKED}
    histories = {table: load_history(folder, tables[table], table) for table in TRACKED}
    return Previous(folder, tables, histories)


@dataclass
class Kept:
    """What one pull did to one history: records new, changed, unchanged and gone."""

    new: int = 0
    changed: int = 0
    unchanged: int = 0
    gone: int = 0


@dataclass
class KeptHistory:
    day: dt.date
    tables: dict[str, Kept] = field(default_factory=dict)

    def text(self) -> str:
        """One line for the pull's output."""
        parts = []
        for table, kept in self.tables.items():
            words = [f"{kept.new} new", f"{kept.changed} changed", f"{kept.unchanged} unchanged"]
            if kept.gone:
                words.append(f"{kept.gone} gone")
            parts.append(f"{table} {', '.join(words)}")
        return f"History as of {self.day.isoformat()}: {'; '.join(parts)}"


def keep_history(ds: Dataset, previous: Previous | None, day: dt.date) -> KeptHistory:
    """Attach the next ``accounts_history`` / ``visitors_history`` to the pulled ``ds``."""
    kept = KeptHistory(day)
    for table, (name, _id) in TRACKED.items():
        pulled = getattr(ds, table)
        held: pd.DataFrame | None = None
        if previous is not None:
            history = previous.histories.get(table)
            if history is not None:
                held = history.frame
            else:
                held = _opening_rows(table, previous.tables[table], day)
            where = previous.folder / name
        else:
            where = Path(name)
        frame, kept.tables[table] = next_history(table, pulled, held, day, str(where))
        setattr(ds, f"{table}_history", history_from_frame(table, frame, pulled))
    return kept


def next_history(
    table: str, pulled: pd.DataFrame, held: pd.DataFrame | None, day: dt.date, label: str
) -> tuple[pd.DataFrame, Kept]:
    """The history after a pull on ``day``: ``held`` (id, valid_from, valid_to, values)
    with the rows of changed records closed and new rows opened (see the module)."""
    id_column = TRACKED[table][1]
    pulled = pulled.reset_index(drop=True)
    tracked = [c for c in pulled.columns if c not in UNTRACKED[table]]
    ids = pulled[id_column].astype(str).reset_index(drop=True)
    if held is None:
        held = _opening_rows(table, pulled.iloc[:0], day)
    held = held.reset_index(drop=True)
    held_ids = held[id_column].astype(str)
    values = [c for c in held.columns if c not in (id_column, "valid_from", "valid_to")]
    columns = list(dict.fromkeys([*values, *tracked]))
    still = _among(held_ids, ids)
    kept = Kept(gone=int(held_ids[~still].nunique()))
    held = held[still].reset_index(drop=True)
    held_ids = held[id_column].astype(str)
    _moves_forward(held, day, label)
    stamp = pd.Timestamp(day)

    open_rows = np.flatnonzero(held["valid_to"].isna().to_numpy())
    position = pd.Index(held_ids.iloc[open_rows]).get_indexer(ids)  # -1: no open row
    has_open = position >= 0
    pick = open_rows[np.maximum(position, 0)] if len(open_rows) else np.zeros(len(ids), int)
    same = has_open & _same_values(pulled, held, pick, columns)
    changed = has_open & ~same
    rows = open_rows[position[changed]]
    started = held["valid_from"].iloc[rows].to_numpy() >= np.datetime64(stamp)
    close, drop = rows[~started], rows[started]  # a row opened this day is replaced
    held.loc[close, "valid_to"] = stamp
    held = held.drop(index=drop)

    new = ~has_open
    start = pd.Series(stamp, index=ids.index)
    first_rows = new & ~_among(ids, held_ids)  # never seen before
    start[first_rows] = _starts(table, pulled, day)[first_rows]
    opened = pulled.loc[changed | new].reset_index(drop=True)
    fresh = pd.DataFrame(
        {
            id_column: ids[changed | new].reset_index(drop=True),
            "valid_from": start[changed | new].reset_index(drop=True),
            "valid_to": pd.Series(pd.NaT, index=range(len(opened)), dtype="datetime64[s]"),
        }
    )
    for column in columns:
        fresh[column] = opened.get(column, pd.NA)
    kept.new = int(new.sum())
    kept.changed = int(changed.sum())
    kept.unchanged = int(same.sum())
    held = held[[id_column, "valid_from", "valid_to", *(c for c in columns if c in held)]]
    out = pd.concat([held, fresh], ignore_index=True)
    out = out.sort_values([id_column, "valid_from"], kind="stable", key=_sort_key)
    return out.reset_index(drop=True), kept


def _among(values: pd.Series, pool: pd.Series) -> np.ndarray:
    """``values.isin(pool)`` by hash index (``isin`` on Arrow strings loops in Python)."""
    return pd.Index(pool).unique().get_indexer(values) >= 0


def _same_values(
    pulled: pd.DataFrame, held: pd.DataFrame, rows: np.ndarray, columns: list[str]
) -> np.ndarray:
    """Per pulled record: its values equal those of ``held`` row ``rows[i]`` in every column."""
    same = np.ones(len(pulled), dtype=bool)
    if not len(held):
        return same & False
    for column in columns:
        now = _text(pulled.get(column), len(pulled))
        then = pc.take(_text(held.get(column), len(held)), rows)
        same &= np.asarray(pc.fill_null(pc.equal(now, then), False))
    return same


def _text(values: pd.Series | None, n: int) -> pa.Array:
    """Values as the CSV file holds them (so a reread file compares equal); blank: ""."""
    if values is None or n == 0:
        return pa.array([""] * n, type=pa.string())
    return _column_text(values.reset_index(drop=True))


def _sort_key(column: pd.Series) -> pd.Series:
    return column.astype(str) if column.name != "valid_from" else column


def _starts(table: str, records: pd.DataFrame, day: dt.date) -> pd.Series:
    """Where a record's first row starts: its first-seen day, at the latest D−1."""
    latest = pd.Timestamp(day - dt.timedelta(days=1))
    column = FIRST_SEEN[table]
    if column not in records:
        return pd.Series(latest, index=range(len(records)), dtype="datetime64[s]")
    seen = pd.to_datetime(records[column].reset_index(drop=True), errors="coerce")
    return seen.where(seen.notna() & (seen < latest), latest).astype("datetime64[s]")


def _opening_rows(table: str, records: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """A folder without history: one open row per record, of its current values."""
    id_column = TRACKED[table][1]
    records = records.reset_index(drop=True)
    out = pd.DataFrame(
        {
            id_column: records[id_column].astype(str),
            "valid_from": _starts(table, records, day),
            "valid_to": pd.Series(pd.NaT, index=records.index, dtype="datetime64[s]"),
        }
    )
    for column in records.columns:
        if column not in UNTRACKED[table]:
            out[column] = records[column]
    return out


def _moves_forward(held: pd.DataFrame, day: dt.date, label: str) -> None:
    """A pull for a day before the history's last change would rewrite it: refuse."""
    latest = pd.concat([held["valid_from"], held["valid_to"]]).max()
    if pd.notna(latest) and latest > pd.Timestamp(day):
        raise DataError(
            f"{label}: holds a change on {latest.date().isoformat()}, after the pull's "
            f"as-of day {day.isoformat()}; history only moves forward (pull into a new folder)"
        )
