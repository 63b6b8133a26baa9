"""``--engine duckdb`` on a data folder: DuckDB reads the usage files itself.

The big tables (``usage_daily``, ``feature_usage``) never pass through
pandas: DuckDB reads them with ``read_parquet`` / ``read_csv``, types and
checks them in SQL in one scan, and the compiled SQL target runs over typed
views of the files (DuckDB streams them, spilling its own work to a temp
folder beyond ``--memory-limit``). The small
reference tables (accounts, visitors, features) go through the pandas
loader, so their types, custom fields and warnings are exactly the pandas
engine's.

Validation is complete in SQL (blank, unparsable, negative, non-integer,
too large, unknown visitor / feature); when a check fails, the one-line
message is produced by the pandas loader on that table, so both engines
say exactly the same thing (docs/semantics.md §1).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pendo_segments.base.words import plural
from pendo_segments.data.columns import DATE_RE, NUMBER_RE
from pendo_segments.data.layout import TableFiles, open_table
from pendo_segments.data.schema import AS_OF_RANGE, TABLES, Col
from pendo_segments.definitions.loader import DefinitionSet
from pendo_segments.definitions.models import Segment
from pendo_segments.errors import DataError, EvaluationError

Warn = Callable[[str], None]
USAGE_TABLES = ("usage_daily", "feature_usage")
BATCH_ROWS = 1_000_000


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class SQLEvaluation:
    """Memberships computed by DuckDB; streamed, never held as Python objects."""

    as_of: dt.date
    segments: dict[str, Segment]
    con: Any
    queries: dict[str, str]
    temp_dir: str | None = None
    _counts: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        with duck_errors():
            for name, sql in self.queries.items():
                if name not in self._counts:
                    self._counts[name] = int(
                        self.con.execute(f"SELECT count(*) FROM ({sql})").fetchall()[0][0]
                    )
        return dict(self._counts)

    def membership_batches(self, names: Sequence[str] | None = None) -> Iterator[Any]:
        """docs/semantics.md §4 rows as Arrow record batches, sorted like the pandas engine."""
        for name in sorted(names or self.queries):
            subject = self.segments[name].subject
            relation = self.con.sql(
                f"SELECT {_text(name)} AS segment, {_text(subject)} AS subject, "
                f"CAST(subject_id AS VARCHAR) AS subject_id FROM ({self.queries[name]}) "
                "ORDER BY 3"
            )
            with duck_errors():
                yield from relation.to_arrow_reader(BATCH_ROWS)

    def close(self) -> None:
        self.con.close()
        if self.temp_dir:
            shutil.rmtree(self.temp_dir, ignore_errors=True)


@contextlib.contextmanager
def duck_errors() -> Iterator[None]:
    """A DuckDB failure while evaluating (out of memory, disk full) as one line."""
    import duckdb

    try:
        yield
    except duckdb.OutOfMemoryException as err:
        raise out_of_memory(err) from None
    except duckdb.Error as err:
        raise EvaluationError(f"duckdb: {_first_line(err)}") from None


def out_of_memory(err: Exception) -> EvaluationError:
    """DuckDB ran out of its memory limit even spilling to disk: say how to give it more."""
    return EvaluationError(
        f"duckdb: out of memory ({_first_line(err)}); "
        "give it more with --memory-limit (e.g. --memory-limit 4GB)"
    )


def connect_limited(memory_limit: str | None) -> tuple[Any, str]:
    """A DuckDB connection that spills to its own temp folder (removed on close)."""
    from pendo_segments.evaluate.budget import memory_limit_bytes

    try:
        import duckdb
    except ImportError:  # pragma: no cover - a core dependency
        raise EvaluationError("the duckdb engine needs DuckDB: pip install duckdb") from None
    limit = memory_limit_bytes(memory_limit) if memory_limit else None  # before any folder
    temp_dir = tempfile.mkdtemp(prefix="pendo-segments-duckdb-")
    config: dict[str, Any] = {"temp_directory": temp_dir}
    if limit is not None:
        config["memory_limit"] = f"{int(limit)}B"  # exactly the bytes --engine auto compares
    try:
        con = duckdb.connect(config=config)
        con.execute("SET enable_progress_bar = false")
        return con, temp_dir
    except duckdb.Error as err:
        shutil.rmtree(temp_dir, ignore_errors=True)
        message = (str(err).strip().splitlines() or ["?"])[0]
        raise EvaluationError(f"duckdb: {message}") from None


@dataclass
class DuckFolder:
    """A data folder opened in DuckDB: reference tables copied in, usage as checked views."""

    root: Path
    con: Any
    temp_dir: str
    columns: dict[str, list[str]]  # accounts / visitors / features columns
    outcomes: Any  # the outcomes frame (churn dates, docs/semantics.md §2b) or None
    #: attribute history by tracked table (docs/semantics.md §2b); see :meth:`at`
    history: dict[str, Any] = field(default_factory=dict)

    def default_as_of(self) -> dt.date:
        with duck_errors():
            return _default_as_of(self.con, self.root)

    def at(self, day: dt.date) -> None:
        """``accounts`` / ``visitors`` as they stood for an evaluation at ``day`` (D): views
        with the history row covering D−1 applied. Every query of a day runs after this."""
        from pendo_segments.data.history import view_sql

        for table, rows in self.history.items():
            sql = view_sql(rows, self.columns[table], day, "duckdb")
            with duck_errors():
                self.con.execute(f"CREATE OR REPLACE TEMP VIEW {table} AS {sql}")

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def open_folder(
    folder: str | Path,
    *,
    lenient: bool = False,
    warn: Warn | None = None,
    memory_limit: str | None = None,
    check: Callable[[Any], None] | None = None,
) -> DuckFolder:
    """Read ``folder`` into a DuckDB connection; ``check(frames)`` runs before the big files."""
    from pendo_segments.data import history
    from pendo_segments.data.loaders import load_accounts, load_reference_tables

    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"{root}: data folder not found")
    tables = {name: open_table(root, name, spec.mandatory) for name, spec in TABLES.items()}
    frames, _labels = load_reference_tables(root, warn, lenient=lenient, links=True)
    held = {  # attribute history: checked by the pandas loader's code, small
        table: rows
        for table in history.TRACKED
        if (rows := history.load_history(root, frames[table], table, warn)) is not None
        and rows.columns
    }
    con, temp_dir = connect_limited(memory_limit)
    try:
        if check is not None:  # definition errors first, before the big files are read
            check(SimpleNamespace(**frames))
        columns = {name: list(frame.columns) for name, frame in frames.items()}
        with duck_errors():
            for name in list(frames):
                if name in held:  # today's table; ``at(day)`` makes the view of the name
                    _copy_in(con, history.today_name(name), frames.pop(name))
                    _copy_in(con, history.history_name(name), held[name].frame)
                    con.execute(
                        f"CREATE TEMP VIEW {name} AS SELECT * FROM {history.today_name(name)}"
                    )
                    continue
                _copy_in(con, name, frames.pop(name))
            for name in USAGE_TABLES:
                table = tables[name]
                assert table is not None  # mandatory tables
                columns[name] = _load_usage(con, root, table, lenient, warn)
        outcomes = load_accounts(root).outcomes  # small: churn dates (docs/semantics.md §2b)
        if outcomes is not None:
            _copy_in(con, "outcomes", outcomes)
    except BaseException:
        con.close()
        shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    return DuckFolder(root, con, temp_dir, columns, outcomes, held)


def shared_members(
    defs: DefinitionSet, db: DuckFolder, day: dt.date, names: Sequence[str] | None
) -> SQLEvaluation:
    """The named segments as queries over shared metric tables of ``db`` (not closed here)."""
    from pendo_segments.compile.sql import SharedMetricSQL
    from pendo_segments.evaluate.duckdb_engine import existence_options
    from pendo_segments.semantics.catalogue import row_account_tables

    db.at(day)  # the fields of D−1 (history files, docs/semantics.md §2b)
    gen = SharedMetricSQL(
        defs,
        as_of=day,
        pretty=False,
        has_first_visit="first_visit" in db.columns["visitors"],
        has_last_visit="last_visit" in db.columns["visitors"],
        **existence_options(db.columns["accounts"], db.outcomes),
        row_account=row_account_tables(lambda t, c: c in db.columns.get(t, ())),  # §1
    )
    wanted = defs.select(names)
    queries = run_shared(db.con, gen.compile_shared(wanted))
    return SQLEvaluation(
        as_of=day, segments={seg.name: seg for seg in wanted}, con=db.con, queries=queries
    )


def evaluate_folder(
    defs: DefinitionSet,
    folder: str | Path,
    *,
    as_of: dt.date | None = None,
    names: Sequence[str] | None = None,
    lenient: bool = False,
    warn: Warn | None = None,
    memory_limit: str | None = None,
) -> SQLEvaluation:
    """Evaluate the named segments (all by default) with DuckDB reading ``folder``."""
    from pendo_segments.evaluate.engine import check_segments

    def check(frames: Any) -> None:  # as_of only shapes values
        check_segments(defs, frames, names, as_of or dt.date.today())

    db = open_folder(folder, lenient=lenient, warn=warn, memory_limit=memory_limit, check=check)
    try:
        result = shared_members(defs, db, as_of or db.default_as_of(), names)
    except BaseException:
        db.close()
        raise
    result.temp_dir = db.temp_dir
    return result


def _copy_in(con: Any, name: str, frame: Any) -> None:
    """A checked reference frame as a DuckDB temp table; the pandas copy is then freed.

    DuckDB keeps it within ``--memory-limit`` (spilling if need be), where a
    registered frame of 10M visitors would stay in Python memory beside it.
    """
    view = f"_ps_frame_{name}"
    con.register(view, frame)
    try:
        con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM {view}")
    finally:
        con.unregister(view)
    del frame
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def run_shared(con: Any, shared: Any) -> dict[str, str]:
    """Materialise the shared metric tables of a :class:`SharedSQL`; its queries read them.

    Every metric is computed once for all segments (one scan of a usage table
    per subject and window), where per-segment queries would recompute it.
    """

    for table, select in shared.tables.items():
        with duck_errors():
            con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {select}")
    return dict(shared.queries)


def _source(table: TableFiles) -> str:
    """DuckDB's reader over the very files the pandas loader reads (see data/layout.py).

    Hive partition values stay text (``hive_types_autocast = false``), to be
    checked and typed like any other text column.
    """
    files = "[" + ", ".join(_text(str(f)) for f in table.files) + "]"
    hive = (
        ", hive_partitioning = true, hive_types_autocast = false"
        if table.partitions
        else ", hive_partitioning = false"
    )
    if table.fmt == "parquet":
        return f"read_parquet({files}{hive})"
    return (
        f"read_csv({files}, header = true, all_varchar = true, "
        f"delim = ',', quote = '\"', escape = '\"'{hive})"
    )


#: DuckDB types the pandas loader reads as numbers (``data/columns.py``); a
#: BOOLEAN, DATE or TIMESTAMP is not a number there, so not here either
NUMBER_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
)


def _typed(column: str, col: Col, duck_type: str) -> tuple[str, str]:
    """(typed SQL expression, condition that is true for an acceptable raw value)."""
    c, kind, upper = _ident(column), col.kind, duck_type.upper()
    text = upper in ("VARCHAR", "BLOB")
    if kind == "date":
        if text:
            value = f"TRY_CAST({c} AS DATE)"
            ok = f"({c} IS NOT NULL AND regexp_full_match({c}, {_text(DATE_RE)}) AND {value} IS NOT NULL)"
        elif upper.startswith("TIMESTAMP") and "TIME ZONE" in upper:
            value = f"CAST(timezone('UTC', {c}) AS DATE)"
            ok = f"({c} IS NOT NULL)"
        elif upper == "DATE" or upper.startswith("TIMESTAMP"):
            value = f"CAST({c} AS DATE)"
            ok = f"({c} IS NOT NULL)"
        else:  # numbers, true/false: no value is a day (the pandas loader says which)
            value, ok = "CAST(NULL AS DATE)", "FALSE"
        return value, ok
    if kind == "cat":
        return f"CAST({c} AS VARCHAR)", f"({c} IS NOT NULL)"
    if not text and not upper.startswith(NUMBER_TYPES):
        return "CAST(NULL AS DOUBLE)", "FALSE"  # true/false or dates are not numbers
    number = f"TRY_CAST({c} AS DOUBLE)"
    ok = f"({c} IS NOT NULL AND isfinite({number})"
    if text:
        ok += f" AND regexp_full_match(trim({c}), {_text(NUMBER_RE)})"
    if col.min is not None:
        ok += f" AND {number} >= {col.min}"
    if kind == "float":
        return number, ok + ")"
    # int: whole and within int64
    ok += f" AND {number} = floor({number}) AND abs({number}) < 9.2e18)"
    return f"CAST({number} AS BIGINT)", ok


def row_account_files(root: Path) -> list[str]:
    """The usage tables of folder ``root`` with an ``account_id`` column (their views keep
    it: a row's own account, docs/semantics.md §1), read from the files' headers."""
    import duckdb

    found = []
    con = duckdb.connect()
    try:
        for name in USAGE_TABLES:
            table = open_table(root, name, TABLES[name].mandatory)
            if table is None:
                continue
            try:
                described = con.execute(f"DESCRIBE SELECT * FROM {_source(table)}").fetchall()
            except duckdb.Error:
                continue  # unreadable: opening the folder says why
            if any(row[0] == "account_id" for row in described):
                found.append(name)
    finally:
        con.close()
    return found


def _load_usage(
    con: Any, root: Path, table: TableFiles, lenient: bool, warn: Warn | None
) -> list[str]:
    """Check usage table ``table`` and make its view; returns the view's columns."""
    import duckdb

    name = table.name
    spec = TABLES[name]
    label = table.label
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {_source(table)}").fetchall()
    except duckdb.OutOfMemoryException:
        raise
    except duckdb.Error as err:
        _pandas_error(root, name)
        raise DataError(f"{label}: cannot be read ({_first_line(err)})") from None
    types = {row[0]: str(row[1]) for row in described}
    names = [row[0] for row in described]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise DataError(f"{label}: column '{dup}' appears twice")
    for column in spec.required:
        if column not in types:
            raise DataError(f"{label}: missing required column '{column}'")
    selects, checks = [], []
    for column, col in spec.required.items():
        value, ok = _typed(column, col, types[column])
        selects.append(f"{value} AS {_ident(column)}")
        checks.append(ok)
    kept = list(spec.required)
    if "account_id" in types:  # a row's own account, blank: its visitor's (docs/semantics.md §1)
        selects.append("NULLIF(CAST(account_id AS VARCHAR), '') AS account_id")
        kept.append("account_id")
    bad = " OR ".join(f"NOT coalesce({ok}, FALSE)" for ok in checks)
    refs = [("visitor_id", "visitors", "visitor")]
    if name == "feature_usage":
        refs.append(("feature_id", "features", "feature"))
    raw = f"_ps_raw_{name}"
    # One scan checks every row: values that cannot be read, and (counted over every
    # row before any is dropped, as the pandas loader does) unknown visitors / features.
    joins, counts = [], ["count(*) FILTER (WHERE u._bad)"]
    for k, (column, other, _what) in enumerate(refs):
        missing = f"NOT u._bad AND r{k}.{column} IS NULL"
        joins.append(f"LEFT JOIN {other} AS r{k} ON r{k}.{column} = u.{column}")
        counts += [
            f"count(*) FILTER (WHERE {missing})",
            f"count(DISTINCT u.{column}) FILTER (WHERE {missing})",
        ]
    try:
        # Parquet is read where it lies; CSV text is parsed once into a temp table
        # (every query would parse it again: 2.4x slower on 1M visitors)
        kind = "VIEW" if table.fmt == "parquet" else "TABLE"
        con.execute(
            f"CREATE TEMP {kind} {raw} AS SELECT {', '.join(selects)}, ({bad}) AS _bad "
            f"FROM {_source(table)}"
        )
        n_bad, *found = con.execute(
            f"SELECT {', '.join(counts)} FROM {raw} AS u {' '.join(joins)}"
        ).fetchall()[0]
    except duckdb.OutOfMemoryException:
        raise
    except duckdb.Error as err:
        _pandas_error(root, name)
        raise DataError(f"{label}: cannot be read ({_first_line(err)})") from None
    if n_bad:
        _pandas_error(root, name)
        raise DataError(f"{label}: {plural(int(n_bad), 'row')} with values that cannot be read")
    unknown = [
        (column, other, what, int(found[2 * k]), int(found[2 * k + 1]))
        for k, (column, other, what) in enumerate(refs)
        if found[2 * k]
    ]
    for _column, _table, what, rows, ids in unknown:
        counts_text = f"{plural(rows, 'row')} of {plural(ids, 'unknown ' + what)}"
        if not lenient:
            _pandas_error(root, name)
            raise DataError(f"{label}: {counts_text}")
        if warn is not None:
            warn(f"{label}: dropped {counts_text}")
    # The queries read the Parquet file through this view (DuckDB streams it, within
    # --memory-limit): a temp-table copy of 30M rows cost more time and memory than it saved.
    keep = " AND ".join(
        f"{column} IN (SELECT {column} FROM {other})" for column, other, *_ in unknown
    )
    columns = ", ".join(_ident(c) for c in kept)
    con.execute(
        f"CREATE TEMP VIEW {name} AS SELECT {columns} FROM {raw}"
        + (f" WHERE {keep}" if keep else "")
    )
    return kept


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def _pandas_error(root: Path, name: str) -> None:
    """Raise the pandas loader's exact one-line message for table ``name``, if it has one."""
    import pyarrow as pa

    from pendo_segments.data.loaders import build_dataset, frame_reader, table_reader

    readers: dict[str, Any] = {}
    for table in ("accounts", "visitors", "features", *USAGE_TABLES):
        if table in ("accounts", "visitors", "features") or table == name:
            found = open_table(root, table, TABLES[table].mandatory)
            readers[table] = table_reader(found) if found is not None else None
        else:
            empty = pa.table({c: pa.array([], pa.string()) for c in TABLES[table].required})
            readers[table] = frame_reader(table, empty)
    build_dataset(readers, source=str(root), warn=lambda _message: None)


def _default_as_of(con: Any, root: Path) -> dt.date:
    """The day after the latest usage date (docs/semantics.md §2), like the pandas engine."""
    latest = con.execute("SELECT max(date) FROM usage_daily").fetchall()[0][0]
    if latest is None:
        raise DataError(
            f"{root}: usage_daily has no rows, so there is no default as-of day; "
            "pass --as-of YYYY-MM-DD"
        )
    first, last = AS_OF_RANGE
    if not first <= latest < last:
        raise DataError(
            f"{root}: the latest usage date is {latest.isoformat()}, so the default as-of day "
            f"would be outside {first} to {last}; pass --as-of YYYY-MM-DD"
        )
    return latest + dt.timedelta(days=1)
