"""The DuckDB engine: a data folder read by DuckDB itself (usage never in pandas).

``sample`` and ``pendo:`` data are loaded by the pandas loader and registered
in an in-memory DuckDB; a folder is opened with
:func:`pendo_segments.evaluate.duckdb_folder.open_folder` (checked views of the
usage files, spilling beyond ``--memory-limit``). The small tables a query
names beyond those (nps, tickets) are copied in when first needed.

On a folder, Python keeps the visitors' columns and types only: the rows live
in DuckDB, and the pandas loader's frame of them (1.4 GiB of RSS at 10M
visitors, beside DuckDB's own copy) is read only by the commands that list
visitors (``subjects("visitor")``: the campaign, sync plan, explain, a saved
backtest's usage sums), never by evaluate, health or a backtest.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from pendo_segments.engines.base import DataShape, Engine, Memberships, Opener, Warn
from pendo_segments.engines.pandas_engine import dataset_shape, fill_frames

if TYPE_CHECKING:
    import pandas as pd

    from pendo_segments.data.dataset import Dataset
    from pendo_segments.definitions.loader import DefinitionSet
    from pendo_segments.evaluate.duckdb_folder import DuckFolder

#: tables open_folder leaves out, copied in from the pandas loader when a query reads them
SMALL_TABLES = ("nps", "tickets")


class DuckDBEngine(Engine):
    name = "duckdb"
    dialect = "duckdb"

    def __init__(
        self,
        data: str,
        *,
        lenient: bool = False,
        warn: Warn | None = None,
        opener: Opener | None = None,
        as_of: dt.date | None = None,
        memory_limit: str | None = None,
        dataset: Dataset | None = None,
    ) -> None:
        super().__init__(data, lenient=lenient, warn=warn, opener=opener)
        self._as_of = as_of
        self.memory_limit = memory_limit
        loaded = dataset is not None or data == "sample" or data.startswith("pendo:")
        self.folder = not loaded
        #: frames (sample, pendo:, ``dataset``): all of them; a folder: the small tables only
        self._ds: Dataset | None = dataset
        self._db: DuckFolder | None = None
        self._con: Any = None  # sample / pendo: frames registered
        self._con_day: dt.date | None = None
        self._copied: set[str] = set()
        self._visitors: pd.DataFrame | None = None  # a folder's visitor rows, when asked
        self._filled: list[tuple[str, str]] = []

    # -- opening --------------------------------------------------------------------

    def small_tables(self) -> Dataset:
        """sample / pendo: the whole data set; a folder: every table but the usage, the
        visitors as columns and types only (:meth:`subjects` reads their rows)."""
        if self._ds is None:
            if self.folder:
                self._ds = small_tables(Path(self.data), self.lenient, visitor_rows=False)
            else:
                self._ds = self.open_dataset(as_of=self._as_of)
        return self._ds

    def subjects(self, subject: str) -> pd.DataFrame:
        if subject != "visitor" or not self.folder:
            return super().subjects(subject)
        if self._visitors is None:
            rows = small_tables(Path(self.data), self.lenient).visitors
            fill_frames(SimpleNamespace(visitors=rows), self._filled)
            self._visitors = rows
        return self._visitors

    def fields_at(self, subject: str, day: dt.date) -> pd.DataFrame:
        if subject != "visitor" or not self.folder:
            return super().fields_at(subject, day)
        from dataclasses import replace

        from pendo_segments.data.history import fields_for

        return fields_for(
            replace(self.small_tables(), visitors=self.subjects(subject)), day
        ).visitors

    def connection(self, check: Any = None) -> Any:
        """The DuckDB connection with the data's tables (opened on first use)."""
        if not self.folder:
            return self._at(None)
        if self._db is None:
            from pendo_segments.evaluate.duckdb_folder import open_folder

            self._db = open_folder(
                self.data,
                lenient=self.lenient,
                warn=self.warn,
                memory_limit=self.memory_limit,
                check=check,
            )
        return self._db.con

    def _need(self, tables: Iterable[str]) -> None:
        """Copy the small tables a query names into the folder's connection."""
        if not self.folder:
            return
        from pendo_segments.evaluate.duckdb_folder import _copy_in

        con = self.connection()
        for name in tables:
            if name in SMALL_TABLES and name not in self._copied:
                frame = getattr(self.small_tables(), name)
                if frame is not None:
                    _copy_in(con, name, frame.copy())
                self._copied.add(name)

    # -- the interface --------------------------------------------------------------

    def default_as_of(self) -> dt.date:
        if not self.folder:
            return self.small_tables().default_as_of()
        self.connection()
        assert self._db is not None
        return self._db.default_as_of()

    def shape(self) -> DataShape:
        shape = dataset_shape(self.small_tables())  # usage columns: the contract's (views)
        if not self.folder:  # a row's account_id counts only where it names another (§1)
            rows_own = self.small_tables().row_account_tables()
            for name in ("usage_daily", "feature_usage"):
                if name not in rows_own and name in shape.columns:
                    shape.columns[name] = tuple(c for c in shape.columns[name] if c != "account_id")
            return shape
        from pendo_segments.evaluate.duckdb_folder import row_account_files

        for name in row_account_files(Path(self.data)):  # the file's own account_id (§1)
            shape.columns[name] = (*shape.columns[name], "account_id")
        return shape

    def memberships(
        self,
        defs: DefinitionSet,
        *,
        names: Sequence[str] | None = None,
        as_of: dt.date | None = None,
        progress: Warn | None = None,
    ) -> Memberships:
        if not self.folder:
            from pendo_segments.evaluate.duckdb_engine import evaluation_from_sql

            result = evaluation_from_sql(defs, self.small_tables(), as_of=as_of, names=names)
            return Memberships(result.as_of, result.segments, result)
        from pendo_segments.evaluate.duckdb_folder import shared_members
        from pendo_segments.evaluate.engine import check_segments

        def check(frames: Any) -> None:  # definition errors before the big files are read
            check_segments(defs, frames, names, as_of or dt.date.today())

        if self._db is None:
            self.connection(check)
        else:
            check_segments(defs, self.small_tables(), names, as_of or dt.date.today())
        assert self._db is not None
        result = shared_members(defs, self._db, self.day(as_of), names)
        return Memberships(result.as_of, result.segments, result)

    def query(self, sql: Any, *, at: dt.date | None = None) -> pd.DataFrame:
        from pendo_segments.evaluate.duckdb_folder import duck_errors

        text = self.render(sql)
        self._need(_small_tables_named(text))
        con = self._at(at)
        with duck_errors():
            return con.execute(text).df()

    def batches(
        self, sql: str, *, at: dt.date | None = None, rows: int = 1_000_000
    ) -> Iterator[Any]:
        """A query's answer as Arrow record batches of ``rows`` rows (never whole in
        Python: a backtest day's answers stream into its masks)."""
        from pendo_segments.evaluate.duckdb_folder import duck_errors

        con = self._at(at)
        with duck_errors():
            relation = con.sql(sql)  # a relation streams; a DB-API result copies the rows
            # DuckDB 2 names it to_arrow_reader; 1.x fetch_arrow_reader
            reader = getattr(relation, "to_arrow_reader", None) or relation.fetch_arrow_reader
            yield from reader(rows)

    def temp_table(self, name: str, frame: pd.DataFrame, *, at: dt.date | None = None) -> None:
        """``frame`` as temp table ``name`` of the connection that serves ``at``."""
        from pendo_segments.evaluate.duckdb_folder import _copy_in, duck_errors

        with duck_errors():
            _copy_in(self._at(at), name, frame)

    def _at(self, day: dt.date | None) -> Any:
        """The connection with ``accounts`` / ``visitors`` as they stood for ``day`` (§2b)."""
        day = self.day(day)
        if not self.folder:
            if self._con is not None and self._con_day != day:
                self._con.close()
                self._con = None
            if self._con is None:
                from pendo_segments.evaluate.duckdb_engine import connect

                self._con, self._con_day = connect(self.small_tables(), day), day
            return self._con
        con = self.connection()
        assert self._db is not None
        self._db.at(day)
        return con

    def fill_optional(self, columns: Iterable[tuple[str, str]]) -> None:
        columns = list(columns)
        fill_frames(self.small_tables(), columns)
        self._filled += columns
        if self._visitors is not None:
            fill_frames(SimpleNamespace(visitors=self._visitors), columns)
        if not self.folder:  # registered frames: connect again with the blank columns
            if self._con is not None:
                self._con.close()
                self._con = None
            return
        from pendo_segments.data import history
        from pendo_segments.evaluate.duckdb_folder import duck_errors

        con = self.connection()
        assert self._db is not None
        for table, column in columns:
            frame = getattr(self.small_tables(), table, None)
            have = self._db.columns.get(table)
            if frame is None or have is None or column in have or column not in frame:
                continue
            # the loader's blank column, in DuckDB's copy too (history: today's table)
            target = history.today_name(table) if table in self._db.history else table
            with duck_errors():
                con.execute(
                    f'ALTER TABLE {target} ADD COLUMN "{column}" {_duck_type(frame[column])}'
                )
                if table in self._db.history:
                    con.execute(f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT * FROM {target}")
            have.append(column)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._con is not None:
            self._con.close()
            self._con = None


def _duck_type(series: Any) -> str:
    import pandas as pd

    if pd.api.types.is_bool_dtype(series.dtype):
        return "BOOLEAN"
    if pd.api.types.is_numeric_dtype(series.dtype):
        return "DOUBLE"
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return "DATE"
    return "VARCHAR"


def _small_tables_named(text: str) -> set[str]:
    """The :data:`SMALL_TABLES` a query's text names (a word anywhere: copying one a
    query does not read is harmless; parsing every query to know was a tenth of a
    backtest day's CPU on small data)."""
    return {name for name in SMALL_TABLES if re.search(rf"\b{name}\b", text, re.IGNORECASE)}


def small_tables(folder: Path, lenient: bool, *, visitor_rows: bool = True) -> Dataset:
    """Every table of ``folder`` but the usage ones, typed and checked by the pandas loader.

    Its warnings were given when DuckDB opened the folder (the same checks).
    ``visitor_rows=False``: the visitors typed from all their values (custom fields are
    inferred), then kept as columns and types only, and the empty usage frames without
    the visitor ids they take as categories.
    """
    import pyarrow as pa

    from pendo_segments.data import history
    from pendo_segments.data.loaders import _reader, build_dataset, frame_reader
    from pendo_segments.data.schema import TABLES
    from pendo_segments.errors import DataError

    if not folder.is_dir():
        raise DataError(f"{folder}: data folder not found")
    readers: dict[str, Any] = {}
    for name, spec in TABLES.items():
        if name in ("usage_daily", "feature_usage"):
            empty = pa.table({c: pa.array([], pa.string()) for c in spec.required})
            readers[name] = frame_reader(name, empty)
        else:
            readers[name] = _reader(folder, spec)
    quiet: Warn = lambda _message: None  # noqa: E731
    ds = build_dataset(readers, source=str(folder), lenient=lenient, warn=quiet, narrow=True)
    ds = history.attach(ds, folder, quiet)
    if not visitor_rows:
        ds.visitors = _no_rows(ds.visitors)
        ds.usage_daily, ds.feature_usage = _no_rows(ds.usage_daily), _no_rows(ds.feature_usage)
        pa.default_memory_pool().release_unused()
    return ds


def _no_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame``'s columns and types with no rows and nothing shared with it (a slice
    would keep its buffers alive; a category column keeps no categories)."""
    import pandas as pd

    def empty(dtype: Any) -> Any:
        return pd.CategoricalDtype([]) if isinstance(dtype, pd.CategoricalDtype) else dtype

    return pd.DataFrame({c: pd.Series([], dtype=empty(t)) for c, t in frame.dtypes.items()})
