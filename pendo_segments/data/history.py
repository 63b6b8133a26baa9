"""Attribute history (docs/semantics.md §2b): account and visitor fields as they stood on a day.

``accounts_history`` / ``visitors_history`` are optional tables of the data
folder, in every layout the loaders accept (one CSV / Parquet file or a folder
of part files). Each row holds an id, ``valid_from``, ``valid_to`` (blank:
still valid; the first day it no longer held) and any columns of the table it
tracks. An evaluation at D reads the row covering D−1, the last whole day, so
a past as-of day sees the ARR, plan or CSM of that day, not today's.

dbt snapshots are read as they are: ``dbt_valid_from`` / ``dbt_valid_to``
timestamps count by their UTC day (a change at 23:59:59 holds at the end of
that day; one at 00:00:00 the next day holds from that day on), and dbt's
other bookkeeping columns (``dbt_scd_id``, ``dbt_updated_at`` …) are skipped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from pendo_segments.data.columns import Where, convert, parse_dates
from pendo_segments.data.schema import DATE, TABLES
from pendo_segments.errors import DataError
from pendo_segments.semantics.rules import covering

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset

Warn = Callable[[str], None]

#: tracked table → (history table, id column)
TRACKED = {
    "accounts": ("accounts_history", "account_id"),
    "visitors": ("visitors_history", "visitor_id"),
}
HISTORY_NAMES = tuple(name for name, _id in TRACKED.values())
VALIDITY = ("valid_from", "valid_to")
DBT_VALIDITY = {"dbt_valid_from": "valid_from", "dbt_valid_to": "valid_to"}
#: said by ``backtest`` and ``report`` when a folder has no history files
NO_HISTORY_NOTE = (
    "no accounts_history / visitors_history files: account fields are today's values "
    "for every past day"
)


@dataclass(frozen=True)
class History:
    """One history table, checked: ids, validity as day numbers, the tracked columns."""

    table: str  # "accounts" or "visitors"
    label: str  # how messages name the file
    ids: np.ndarray  # object array of id text
    start: np.ndarray  # int64 day numbers (days since 1970-01-01)
    end: np.ndarray  # int64 day numbers; open rows hold END_OPEN
    values: pd.DataFrame  # the tracked columns, one row per history row
    frame: pd.DataFrame  # the rows as read (id, valid_from, valid_to, columns), for pull

    def covering(self, day: dt.date) -> np.ndarray:
        """Positions of the rows valid at the end of ``day``: at most one per id."""
        return np.flatnonzero(covering(self.start, self.end, _day_number(day) + 1))

    @property
    def columns(self) -> list[str]:
        """The tracked columns (those a covering row replaces)."""
        return [str(c) for c in self.values.columns]


END_OPEN = np.iinfo(np.int64).max


def _day_number(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days


def load_history(
    folder: Path, tracked: pd.DataFrame, table: str, warn: Warn | None = None, *, stray: bool = True
) -> History | None:
    """Read and check ``<table>_history`` beside ``tracked`` (the loaded table), or None.

    ``stray=False``: ``tracked`` holds the columns only; rows of unknown ids are not
    counted here (Spark counts them where the ids are).
    """
    from pendo_segments.data.layout import open_table
    from pendo_segments.data.loaders import table_reader

    name, id_column = TRACKED[table]
    files = open_table(folder, name, mandatory=False)
    if files is None:
        return None
    raw = table_reader(files)()
    label, data = raw[0], raw[1]
    lines = raw[2] if len(raw) > 2 else None
    return _checked(table, label, data, lines, tracked, warn or (lambda _m: None), stray)


def history_from_table(
    table: str, label: str, data: pa.Table, columns: list[str], warn: Warn | None = None
) -> History:
    """A history read by another engine (Spark from storage or a catalog) as an Arrow
    table, checked like a file; ``columns``: the tracked table's (ids counted elsewhere)."""
    tracked = pd.DataFrame(columns=columns)
    return _checked(table, label, data, None, tracked, warn or (lambda _m: None), stray=False)


def history_from_frame(
    table: str, frame: pd.DataFrame, tracked: pd.DataFrame, label: str | None = None
) -> History:
    """A history held in memory (a pull's) checked like a file."""
    data = pa.Table.from_pandas(frame, preserve_index=False)
    return _checked(table, label or TRACKED[table][0], data, None, tracked, lambda _m: None)


def _checked(
    table: str,
    label: str,
    data: Any,
    lines: Any,
    tracked: pd.DataFrame,
    warn: Warn,
    stray: bool = True,
) -> History:
    name, id_column = TRACKED[table]
    names = list(data.column_names)
    if id_column not in names:
        raise DataError(f"{label}: missing required column '{id_column}'")
    for plain, dbt in (("valid_from", "dbt_valid_from"), ("valid_to", "dbt_valid_to")):
        if plain in names and dbt in names:
            raise DataError(f"{label}: both '{plain}' and '{dbt}' are columns; keep one")
    start_column = "valid_from" if "valid_from" in names else "dbt_valid_from"
    if start_column not in names:
        raise DataError(
            f"{label}: missing required column 'valid_from' (or dbt's 'dbt_valid_from')"
        )
    end_column = "valid_to" if "valid_to" in names else "dbt_valid_to"
    spec = TABLES[table]
    n_rows = data.num_rows
    ids = convert(data.column(id_column), spec.column(id_column), Where(label, id_column, lines))
    ids = np.asarray(pd.Series(ids).astype(object), dtype=object)
    start = _days(data.column(start_column), Where(label, start_column, lines), required=True)
    end = (
        _days(data.column(end_column), Where(label, end_column, lines), required=False)
        if end_column in names
        else np.full(n_rows, END_OPEN, dtype=np.int64)
    )
    backwards = np.flatnonzero(end < start)
    if len(backwards):
        where = Where(label, end_column, lines)
        raise DataError(f"{where.at(int(backwards[0]))}: ends before its {start_column}")
    skipped = {id_column, start_column, end_column} | set(DBT_VALIDITY)
    columns = [c for c in names if c not in skipped and not c.startswith("dbt_")]
    known_columns = set(tracked.columns) | set(spec.required) | set(spec.optional)
    unknown = [c for c in columns if c not in known_columns]
    if unknown:
        shown = ", ".join(repr(c) for c in unknown[:3]) + (", …" if len(unknown) > 3 else "")
        warn(f"{label}: {shown} not a column of {table}: left out of the history")
    columns = [c for c in columns if c in known_columns]
    values = pd.DataFrame(
        {
            c: pd.Series(convert(data.column(c), spec.column(c), Where(label, c, lines)))
            for c in columns
        },
        index=pd.RangeIndex(n_rows),
    )
    _no_overlap(label, id_column, ids, start, end, lines)
    if stray:
        known = pd.Index(tracked[id_column].astype(str))
        unknown_rows = int((known.get_indexer(ids) < 0).sum()) if n_rows else 0
        if unknown_rows:
            warn(stray_warning(label, table, unknown_rows))
    frame = pd.DataFrame({id_column: ids, "valid_from": _dates(start), "valid_to": _dates(end)})
    frame = pd.concat([frame, values], axis=1)
    return History(table, label, ids, start, end, values, frame)


def stray_warning(label: str, table: str, rows: int) -> str:
    """History rows whose id ``table`` does not list are left out: said once."""
    return f"{label}: {rows} row(s) of ids not in {table}: left out"


def _days(values: pa.ChunkedArray, where: Where, *, required: bool) -> np.ndarray:
    """Dates or timestamps as UTC day numbers; blank end → END_OPEN."""
    t = values.type
    if pa.types.is_dictionary(t):
        values = values.cast(t.value_type)
        t = values.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        text = values.to_pandas()
        parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
        bad = np.flatnonzero(text.notna().to_numpy() & parsed.isna().to_numpy())
        if len(bad):
            raise DataError(
                f"{where.at(int(bad[0]))}: {text.iloc[bad[0]]!r} is not a date "
                "(YYYY-MM-DD) or a timestamp"
            )
        days = parsed.dt.tz_localize(None).dt.floor("D")
        out = days.to_numpy(dtype="datetime64[D]").astype(np.int64)
        missing = parsed.isna().to_numpy()
    else:
        stamps = parse_dates(values, DATE, where)
        arr = stamps.to_numpy(zero_copy_only=False)
        missing = np.isnat(arr)
        out = arr.astype("datetime64[D]").astype(np.int64)
    if required and missing.any():
        raise DataError(f"{where.at(int(np.flatnonzero(missing)[0]))}: is blank")
    out[missing] = END_OPEN
    return out


def _dates(days: np.ndarray) -> pd.Series:
    out = np.where(days == END_OPEN, np.datetime64("NaT"), days.astype("datetime64[D]"))
    return pd.Series(out.astype("datetime64[s]"))


def _no_overlap(
    label: str, id_column: str, ids: np.ndarray, start: np.ndarray, end: np.ndarray, lines: Any
) -> None:
    """Two rows of one id covering one day: name both (empty rows cover nothing)."""
    rows = np.flatnonzero(end > start)
    if len(rows) < 2:
        return
    order = rows[np.lexsort((start[rows], ids[rows].astype(str)))]
    same = ids[order[1:]] == ids[order[:-1]]
    clash = np.flatnonzero(same & (start[order[1:]] < end[order[:-1]]))
    if not len(clash):
        return
    first, second = sorted((int(order[clash[0]]), int(order[clash[0] + 1])))
    where = Where(label, "valid_from", lines)
    day = dt.date(1970, 1, 1) + dt.timedelta(days=int(max(start[first], start[second])))
    raise DataError(
        f"{label}: {where.row(first)} and {where.row(second)} both cover "
        f"{day.isoformat()} for {id_column} {ids[first]!r}; a day needs one row"
    )


def fields_at(tracked: pd.DataFrame, history: History | None, day: dt.date) -> pd.DataFrame:
    """``tracked`` with the history's columns as they stood at the end of ``day``.

    Rows and their order are unchanged; records without a covering row, and
    columns the history lacks, keep their values.
    """
    if history is None or not len(history.values.columns):
        return tracked
    rows = history.covering(day)
    id_column = TRACKED[history.table][1]
    positions = pd.Index(tracked[id_column].astype(str)).get_indexer(history.ids[rows])
    rows, positions = rows[positions >= 0], positions[positions >= 0]
    if not len(rows):
        return tracked
    out = tracked.copy()
    n = len(tracked)
    pick = np.arange(n)
    pick[positions] = n + np.arange(len(rows))
    for column in history.values.columns:
        today = tracked[column] if column in tracked else _blank(history.values[column], n)
        both = pd.concat(
            [
                today.reset_index(drop=True),
                history.values[column].iloc[rows].reset_index(drop=True),
            ],
            ignore_index=True,
        )
        out[column] = both.take(pick).set_axis(out.index)
    return out


def _blank(like: pd.Series, n: int) -> pd.Series:
    """``n`` blank values of ``like``'s type: a contract column today's table lacks."""
    return like.iloc[:0].reindex(range(n))


def dataset_at(ds: Dataset, day: dt.date) -> Dataset:
    """``ds`` with accounts and visitors as they stood at the end of ``day`` (D−1)."""
    import dataclasses

    if ds.accounts_history is None and ds.visitors_history is None:
        return ds
    return dataclasses.replace(
        ds,
        accounts=fields_at(ds.accounts, ds.accounts_history, day),
        visitors=fields_at(ds.visitors, ds.visitors_history, day),
    )


def attach(ds: Dataset, folder: Path, warn: Warn | None = None) -> Dataset:
    """Load the folder's history files onto ``ds`` (the loaders' one hook)."""
    ds.accounts_history = load_history(folder, ds.accounts, "accounts", warn)
    ds.visitors_history = load_history(folder, ds.visitors, "visitors", warn)
    return ds


def has_history(ds: Any) -> bool:
    return (
        getattr(ds, "accounts_history", None) is not None
        or getattr(ds, "visitors_history", None) is not None
    )


# -- the SQL engines (DuckDB, Spark): a point-in-time view over today's table ------------
def today_name(table: str) -> str:
    """What a SQL engine calls today's ``accounts`` / ``visitors`` when a view takes the name."""
    return f"_ps_today_{table}"


def history_name(table: str) -> str:
    """What a SQL engine calls the checked history rows of ``table``."""
    return f"_ps_{table}_history"


def held(ds: Any) -> dict[str, History]:
    """The history tables of ``ds`` that change a column, by the table they track."""
    out = {}
    for table in TRACKED:
        found = getattr(ds, f"{table}_history", None)
        if found is not None and found.columns:
            out[table] = found
    return out


def view_sql(history: History, columns: list[str], as_of: dt.date, dialect: str) -> str:
    """The ``accounts`` / ``visitors`` of an evaluation at ``as_of`` (D), in ``dialect``:
    today's table (``columns``) with the row covering D−1 applied (semantics/rules.py)."""
    from pendo_segments.semantics.rules import fields_at_sql

    table = history.table
    select = fields_at_sql(
        today_name(table),
        history_name(table),
        TRACKED[table][1],
        columns,
        history.columns,
        as_of,
    )
    return select.sql(dialect=dialect)


def frames(ds: Dataset) -> dict[str, pd.DataFrame]:
    """The history tables of ``ds`` as written to a data folder, by file stem."""
    out = {}
    for table, (name, _id) in TRACKED.items():
        held = getattr(ds, f"{table}_history", None)
        if held is not None:
            out[name] = held.frame
    return out


def fields_for(ds: Any, as_of: dt.date) -> Any:
    """``ds.fields_at(as_of)`` for a :class:`Dataset`; other frame holders as they are."""
    return ds.fields_at(as_of) if hasattr(ds, "fields_at") else ds
