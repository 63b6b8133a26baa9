"""Load a usage data folder (docs/semantics.md §1) into a typed :class:`Dataset`.

Loading is read-only and all-or-nothing: the first problem raises a one-line
:class:`DataError` naming file, 1-based data row and column. Every check is
vectorised (Arrow / numpy), because ``usage_daily`` may hold 30 million rows.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pendo_segments.atomic import atomic_dir
from pendo_segments.data import files, history
from pendo_segments.data.columns import Where, convert, narrow_int, show
from pendo_segments.data.csv_lines import LineMap
from pendo_segments.data.dataset import TABLE_NAMES, Dataset
from pendo_segments.data.layout import TableFiles, open_table
from pendo_segments.data.references import (
    AccountCodes,
    AccountLookup,
    arrow_text,
    categorical,
    category_dtype,
    check_unique,
    codes_in,
    drop_unknown,
    plural,
)
from pendo_segments.data.schema import TABLES, TableSpec
from pendo_segments.errors import DataError

Warn = Callable[[str], None]
# (label used in messages, columns: an Arrow table or a ParquetColumns / ParquetParts
# [, how rows are named: a CSV line map, or the part files of a folder])
Rows = LineMap | files.PartRows
RawTable = tuple[str, Any] | tuple[str, Any, Rows]
Reader = Callable[[], RawTable]

_log = logging.getLogger(__name__)
BIG_ID_COLUMNS = ["visitor_id", "account_id", "feature_id"]


def load_dataset(
    path: str | Path, *, lenient: bool = False, warn: Warn | None = None, narrow: bool = False
) -> Dataset:
    """Read ``accounts``, ``visitors``, … (``.csv`` or ``.parquet``) from a folder.

    ``narrow``: usage tables in the evaluator's compact form (see :class:`Dataset`).
    """
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(f"{folder}: data folder not found")
    readers = {name: _reader(folder, spec) for name, spec in TABLES.items()}
    ds = build_dataset(readers, source=str(folder), lenient=lenient, warn=warn, narrow=narrow)
    return history.attach(ds, folder, warn)


def load_accounts(path: str | Path, *, lenient: bool = False, warn: Warn | None = None) -> Dataset:
    """``accounts`` and ``outcomes`` only, with empty visitors, features and usage.

    For work that reads a saved backtest instead of the usage (``report
    --backtest``): the big files are not opened.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(f"{folder}: data folder not found")
    readers: dict[str, Reader | None] = {
        name: _reader(folder, TABLES[name]) for name in ("accounts", "outcomes")
    }
    for name in ("visitors", "features", "usage_daily", "feature_usage"):
        empty = pa.table({c: pa.array([], pa.string()) for c in TABLES[name].required})
        readers[name] = frame_reader(name, empty)
    ds = build_dataset(readers, source=str(folder), lenient=lenient, warn=warn, narrow=True)
    ds.accounts_history = history.load_history(folder, ds.accounts, "accounts", warn)
    return ds


def _reader(folder: Path, spec: TableSpec) -> Reader | None:
    """How to read one table, or None for an absent optional one (checked up front)."""
    # gzipped CSV is checked for NUL bytes as it is parsed (inflated once)
    table = open_table(folder, spec.name, spec.mandatory, scan_gz=False)
    return None if table is None else table_reader(table)


def table_reader(table: TableFiles) -> Reader:
    """The reader of a table found by :func:`~pendo_segments.data.layout.open_table`."""
    label = table.label
    if table.fmt == "parquet" and table.folder:
        return lambda: _parts(files.ParquetParts(table))
    if table.fmt == "parquet":
        return lambda: (label, files.read_parquet(table.path, label, BIG_ID_COLUMNS))
    return files.CsvTable(table)  # called: the whole text; or streamed (_streamed)


def _parts(columns: files.ParquetParts) -> RawTable:
    return columns.label, columns, columns.rows


def load_reference_tables(
    folder: Path, warn: Warn | None = None, *, lenient: bool = False, links: bool = False
) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """accounts, visitors and features typed and checked (frames, file labels).

    For engines that read the big usage files themselves (DuckDB). ``links``: also
    ``visitor_accounts`` when the folder has one, with the loader's checks, so an
    engine gives the same verdict on it as the pandas load.
    """
    warn = warn or _log.warning
    frames: dict[str, pd.DataFrame] = {}
    labels: dict[str, str] = {}
    for name in ("accounts", "visitors", "features"):
        reader = _reader(folder, TABLES[name])
        assert reader is not None  # mandatory tables
        label, columns, _lines = _typed_columns(TABLES[name], reader)
        frames[name], labels[name] = _frame(columns), label
    check_accounts(frames["accounts"], frames["visitors"], labels, warn)
    reader = _reader(folder, TABLES["visitor_accounts"]) if links else None
    if reader is not None:
        known = _Links(frames["accounts"], frames["visitors"], frames["features"], lenient, warn)
        label, columns, lines = _typed_columns(TABLES["visitor_accounts"], reader)
        frames["visitor_accounts"] = known.link("visitor_accounts", label, columns, lines)
        labels["visitor_accounts"] = label
    return frames, labels


def dataset_from_frames(
    frames: Mapping[str, pd.DataFrame | pa.Table | None],
    *,
    source: str = "",
    lenient: bool = False,
    warn: Warn | None = None,
) -> Dataset:
    """Validate and type frames from elsewhere (Pendo API, generator) like files.

    Messages name the table (``usage_daily: row 3, …``) instead of a file.
    """
    readers = {
        name: frame_reader(name, frames[name])
        for name in TABLE_NAMES
        if frames.get(name) is not None
    }
    return build_dataset(readers, source=source, lenient=lenient, warn=warn)


def frame_reader(name: str, frame: pd.DataFrame | pa.Table | Callable[[], pd.DataFrame]) -> Reader:
    """A reader for an in-memory frame (or a callable giving one, to free it sooner)."""

    def read() -> RawTable:
        data = frame() if callable(frame) else frame
        if isinstance(data, pa.Table):
            return name, data
        try:
            return name, pa.Table.from_pandas(data, preserve_index=False)
        except (pa.ArrowException, TypeError, ValueError) as err:
            raise DataError(f"{name}: columns cannot be read ({err})") from None

    return read


def build_dataset(
    readers: Mapping[str, Reader | None],
    *,
    source: str = "",
    lenient: bool = False,
    warn: Warn | None = None,
    narrow: bool = False,
) -> Dataset:
    """Convert, check and link the tables: the one path every loader takes.

    Tables are read one at a time and their raw columns dropped once typed,
    so a 30M-row table is never held twice. ``narrow`` keeps the usage tables
    in the evaluator's compact form (see :class:`Dataset`), checked the same.
    """
    warn = warn or _log.warning
    for name, spec in TABLES.items():
        if readers.get(name) is None and spec.mandatory:
            raise DataError(f"{source or 'data'}: missing table {name}")
    tables: dict[str, pd.DataFrame] = {}
    labels: dict[str, str] = {}
    for name in ("accounts", "visitors", "features"):
        label, columns, _lines = _typed_columns(TABLES[name], readers[name])  # type: ignore[arg-type]
        tables[name], labels[name] = _frame(columns), label
    if source != "sample":  # the generator's visitors of trial accounts are deliberate
        check_accounts(tables["accounts"], tables["visitors"], labels, warn)
    links = _Links(tables["accounts"], tables["visitors"], tables["features"], lenient, warn)
    links.narrow = narrow
    for name in ("usage_daily", "feature_usage", "visitor_accounts", "nps", "tickets", "outcomes"):
        reader = readers.get(name)
        if reader is not None:
            usage = name in ("usage_daily", "feature_usage")
            links.start()
            tables[name] = links.link(
                name,
                *_typed_columns(
                    TABLES[name], reader, links if usage else None, narrow=narrow and usage
                ),
            )
            # hand the raw columns' pages back to the OS before the next table is read
            pa.default_memory_pool().release_unused()
    return Dataset(**tables, source=source)


def _typed_columns(
    spec: TableSpec, reader: Reader, links: _Links | None = None, narrow: bool = False
) -> tuple[str, dict[str, Any], Rows | None]:
    """Read one table and convert each column; raw columns are released one by one.

    With ``links`` (the usage tables), id columns become codes as soon as they
    are read, so a usage table never holds its id text (hundreds of MB) beyond
    one column, and a plain-stored Parquet id column not even that
    (:func:`_in_pieces`).
    """
    if links is not None and narrow and isinstance(reader, files.CsvTable):
        streamed = _streamed(spec, reader, links)
        if streamed is not None:
            return streamed
    raw = reader()
    label, table = raw[0], raw[1]
    lines = raw[2] if len(raw) > 2 else None
    names = table.column_names
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise DataError(f"{label}: column '{dup}' appears twice")
    for column in spec.required:
        if column not in names:
            raise DataError(f"{label}: missing required column '{column}'")
    columns: dict[str, Any] = {}
    for name in names:
        where, col = Where(label, name, lines), spec.column(name)
        # checked, but the evaluator never reads it (a row's own account it does: §2 roll-ups)
        unused = narrow and name not in spec.required and name != "account_id"
        value = _in_pieces(table, name, col, where, links, narrow, unused) if links else None
        if value is None:
            value = convert(table.column(name), col, where, narrow)
            if links is not None and col.kind == "cat":
                value = links.encode(name, value, where)
        if not unused:
            columns[name] = value
        table = table.drop_columns([name])
    if spec.key:
        check_unique(columns[spec.key], Where(label, spec.key, lines))
    return label, columns, lines


def _in_pieces(
    table: Any, name: str, col: Any, where: Where, links: _Links, narrow: bool, unused: bool
) -> np.ndarray | None:
    """A plain-stored Parquet id column checked and coded a few row groups at a time.

    Only the codes are kept (4 bytes a row instead of the text; none for an
    ``unused`` column, only checked). Pieces are read here and checked and
    looked up in two threads (Arrow releases the GIL), with at most two in
    flight. Any problem (a bad value, an unknown id) returns None: the column
    is then read whole, so the message, its row number and the counts are
    exactly the usual ones.
    """
    if not isinstance(table, files.ParquetColumns | files.ParquetParts) or not (
        unused or links.codes_column(name)
    ):
        return None
    pieces = table.pieces(name)
    if pieces is None or table.num_rows == 0:
        return None

    def work(piece: pa.ChunkedArray) -> np.ndarray | None:
        try:
            values = convert(piece, col, where, narrow)
        except DataError:
            return None
        return _NO_CODES if unused else links.known_codes(name, values)

    parts: list[np.ndarray] = []
    with ThreadPoolExecutor(2) as pool:
        pending: deque[Future[np.ndarray | None]] = deque()
        for piece in itertools.chain(pieces, [None]):  # None: take what is in flight
            last = piece is None
            if not last:
                pending.append(pool.submit(work, piece))
            piece = None  # the worker holds the text alone
            while pending and (last or len(pending) >= 2 or pending[0].done()):
                codes = pending.popleft().result()
                if codes is None:
                    return None  # leaving the pool waits for the piece still in flight
                parts.append(codes)
    return links.coded(name, np.concatenate(parts))


_NO_CODES = np.empty(0, dtype=np.int32)


def _streamed(
    spec: TableSpec, csv: files.CsvTable, links: _Links
) -> tuple[str, dict[str, Any], Rows | None] | None:
    """A usage table's CSV text typed a few million rows at a time (the narrow form).

    Each piece of text is converted, checked and its ids looked up in a worker
    thread while the next is parsed, and only the typed columns and codes are
    kept: the table's text is never held whole (2.4 GiB at 30M rows). Columns
    the evaluator never reads and that cannot fail a check (extra columns) are
    not even converted; ``account_id`` is kept (a row's own account, §2 roll-ups). Any problem (a bad value, an
    unknown id, a parse error) returns None: the table is then read whole, so
    the message and its counts are exactly the usual ones.
    """
    names = csv.column_names
    if len(set(names)) != len(names) or any(c not in names for c in spec.required):
        return None
    kept = [n for n in names if n in spec.required or n == "account_id"]  # the narrow form
    wanted = [n for n in names if n in kept or _may_fail(spec.column(n))]
    label = csv.label
    where = {n: Where(label, n) for n in wanted}

    def work(piece: pa.Table) -> dict[str, Any] | None:
        out: dict[str, Any] = {}
        try:
            for name in wanted:
                col = spec.column(name)
                values = convert(piece.column(name), col, where[name], narrow=True)
                if name in spec.required and links.codes_column(name):
                    values = links.known_codes(name, values)
                    if values is None:
                        return None
                out[name] = values
        except DataError:
            return None
        return out

    parts: dict[str, list[Any]] = {name: [] for name in kept}
    try:
        with ThreadPoolExecutor(1) as pool:
            pending: deque[Future[dict[str, Any] | None]] = deque()
            for piece in itertools.chain(csv.pieces(wanted), [None]):
                last = piece is None
                if not last:
                    pending.append(pool.submit(work, piece))
                piece = None  # the worker holds the text alone
                while pending and (last or len(pending) >= 2 or pending[0].done()):
                    typed = pending.popleft().result()
                    if typed is None:
                        return None
                    for name, values in parts.items():
                        values.append(typed[name])
    except files.StreamProblem:
        return None
    if not parts["visitor_id"]:  # header only: the whole read makes the empty columns
        return None
    columns: dict[str, Any] = {}
    for name in kept:  # each column's pieces are let go once it is one array
        columns[name] = _joined(parts.pop(name), spec.column(name))
        if links.codes_column(name):
            links.coded(name, columns[name])
    lines = None if csv.table.folder else LineMap(csv.table.path)
    return label, columns, lines


def _may_fail(col: Any) -> bool:
    """Whether converting text to ``col`` can raise (extra and optional id columns cannot)."""
    return not (col.kind == "infer" or (col.kind == "cat" and not col.required))


def _joined(parts: list[Any], col: Any) -> Any:
    """One column from its typed pieces, as :func:`convert` makes it for the whole column."""
    first = parts[0]
    if isinstance(first, pa.ChunkedArray):  # text (cat columns): the pieces' chunks, not copied
        return pa.chunked_array([c for p in parts for c in p.chunks], first.type)
    if isinstance(first, pd.Series):  # date32 days, one chunk (see columns.to_days32)
        days = pa.concat_arrays([c for p in parts for c in pa.chunked_array(pa.array(p)).chunks])
        return pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array([days])))
    if all(isinstance(p, np.ndarray) for p in parts):
        joined = np.concatenate(parts)
        return narrow_int(joined) if col.kind == "int" else joined
    return pd.concat([pd.Series(p) for p in parts], ignore_index=True).array


def _frame(columns: dict[str, Any]) -> pd.DataFrame:
    """Columns (arrays or Series of one length) as a frame, without copying them."""
    n_rows = len(next(iter(columns.values())))
    return pd.DataFrame(
        {
            n: (v if isinstance(v, pd.Series) else pd.Series(v, copy=False))
            for n, v in columns.items()
        },
        index=pd.RangeIndex(n_rows),
        copy=False,
    )


def check_accounts(
    accounts: pd.DataFrame, visitors: pd.DataFrame, labels: Mapping[str, str], warn: Warn
) -> None:
    """Warn about account data that would silently make results empty or partial.

    A header-only accounts file leaves every account segment, health score
    and tier empty; visitors of accounts missing from it get blank account
    fields (``account.plan`` …) and count for no account.
    """
    if len(accounts) == 0:
        warn(
            f"{labels['accounts']}: no accounts (header only): account segments, "
            "health and tiers will be empty"
        )
        return
    theirs = arrow_text(visitors["account_id"])
    stray = pc.and_(
        pc.is_valid(theirs),
        pc.invert(pc.is_in(theirs, value_set=arrow_text(accounts["account_id"]))),
    )
    n_visitors = int(pc.sum(stray).as_py() or 0)
    if n_visitors:
        ids = pc.unique(pc.filter(theirs, stray))
        shown = ", ".join(repr(v) for v in ids.slice(0, 3).to_pylist())
        more = ", …" if len(ids) > 3 else ""
        warn(
            f"{labels['visitors']}: {plural(n_visitors, 'visitor')} of "
            f"{plural(len(ids), 'account')} not in {labels['accounts']} ({shown}{more}); "
            "their account fields are blank"
        )


class _Links:
    """Resolves the ids of dependent tables against accounts, visitors, features."""

    def __init__(
        self,
        accounts: pd.DataFrame,
        visitors: pd.DataFrame,
        features: pd.DataFrame,
        lenient: bool,
        warn: Warn,
    ) -> None:
        self.lenient, self.warn = lenient, warn
        self.lines: Rows | None = None
        self.visitor_ids = arrow_text(visitors["visitor_id"])
        self.visitor_dtype = category_dtype(visitors["visitor_id"])
        self.feature_ids = arrow_text(features["feature_id"])
        self.feature_dtype = category_dtype(features["feature_id"])
        self.accounts = AccountCodes(accounts["account_id"], visitors["account_id"])
        self.visitor_accounts = visitors["account_id"]
        self.account_ids = arrow_text(accounts["account_id"])
        self.narrow = False  # usage tables in the evaluator's form (account_id only if given)
        self.start()

    def link(
        self, name: str, label: str, columns: dict[str, Any], lines: Rows | None = None
    ) -> pd.DataFrame:
        self.lines = lines
        if name in ("usage_daily", "feature_usage"):
            return self._usage(label, columns)
        if name == "nps":
            return self._nps(label, columns)
        if name == "visitor_accounts":
            return self._visitor_accounts(label, columns)
        return _frame(columns)

    def _known(
        self,
        label: str,
        column: str,
        values: Any,
        ids: pa.Array,
        what: str,
        keep: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        codes = codes_in(values, ids)
        where = Where(label, column, self.lines)
        dropped = drop_unknown(codes, values, where, what, self.lenient, self.warn)
        if dropped is not None:
            keep = dropped if keep is None else keep & dropped
        return codes, keep

    def start(self) -> None:
        """Forget the previous table's rows to keep and visitor codes."""
        self._keep: np.ndarray | None = None
        self._visitor_codes: np.ndarray | None = None

    def codes_column(self, column: str) -> bool:
        return column in ("visitor_id", "feature_id")

    def _ids(self, column: str) -> tuple[pa.Array, str]:
        if column == "visitor_id":
            return self.visitor_ids, "visitor"
        return self.feature_ids, "feature"

    def known_codes(self, column: str, values: Any) -> np.ndarray | None:
        """Codes of ids that are all known, else None (see ``_in_pieces``)."""
        codes = codes_in(values, self._ids(column)[0])
        return None if bool((codes < 0).any()) else codes

    def coded(self, column: str, codes: np.ndarray) -> np.ndarray:
        if column == "visitor_id":
            self._visitor_codes = codes
        return codes

    def encode(self, column: str, values: Any, where: Where) -> Any:
        """A usage table's id column as codes, as soon as it is read."""
        if self.codes_column(column):
            ids, what = self._ids(column)
            codes = codes_in(values, ids)
            dropped = drop_unknown(codes, values, where, what, self.lenient, self.warn)
            if dropped is not None:
                self._keep = dropped if self._keep is None else self._keep & dropped
            return self.coded(column, codes)
        if column == "account_id" and not self.narrow:
            return self.accounts.lookup(values, self._visitor_codes)
        return values

    def _usage(self, label: str, columns: dict[str, Any]) -> pd.DataFrame:
        keep = self._keep
        visitors = columns["visitor_id"]
        if not isinstance(visitors, np.ndarray):  # not encoded while reading
            visitors, keep = self._known(
                label, "visitor_id", visitors, self.visitor_ids, "visitor", keep
            )
        out: dict[str, Any] = {}
        for name, values in columns.items():
            if name == "visitor_id":
                out[name] = categorical(visitors, self.visitor_dtype)
                if "account_id" not in columns and not self.narrow:
                    out["account_id"] = self._accounts(visitors, None)
            elif name == "feature_id":
                features = values
                if not isinstance(features, np.ndarray):
                    features, keep = self._known(
                        label, name, values, self.feature_ids, "feature", keep
                    )
                out[name] = categorical(features, self.feature_dtype)
            elif name == "account_id":
                own = self._accounts(visitors, values)
                # the narrow form keeps a row's own account only where it is not its visitor's
                if not (self.narrow and self._visitors_own(visitors, own)):
                    out[name] = own
            else:
                out[name] = values
        self._keep = self._visitor_codes = None
        return _filtered(_frame(out), keep)

    def _visitors_own(self, visitor_codes: np.ndarray, own: pd.Categorical) -> bool:
        """Whether every row's account is its visitor's (then the column says nothing new)."""
        theirs, _dtype = self.accounts.resolve(visitor_codes, None)
        return bool(np.array_equal(np.asarray(own.codes), theirs))

    def _accounts(self, visitor_codes: np.ndarray, given: Any) -> pd.Categorical:
        if given is not None and not isinstance(given, AccountLookup | pa.Array | pa.ChunkedArray):
            given = arrow_text(pd.Series(given, copy=False))  # the narrow form's text
        codes, dtype = self.accounts.resolve(visitor_codes, given)
        return categorical(codes, dtype)

    def _nps(self, label: str, columns: dict[str, Any]) -> pd.DataFrame:
        values = arrow_text(columns["visitor_id"])
        visitors, keep = self._known(label, "visitor_id", values, self.visitor_ids, "visitor", None)
        frame = _frame(columns)
        own = self.visitor_accounts.take(np.maximum(visitors, 0)).reset_index(drop=True)
        if "account_id" in frame:
            frame["account_id"] = frame["account_id"].fillna(own)
        else:
            frame.insert(frame.columns.get_loc("visitor_id") + 1, "account_id", own)
        return _filtered(frame, keep)

    def _visitor_accounts(self, label: str, columns: dict[str, Any]) -> pd.DataFrame:
        """Links of known visitors to known accounts, each pair once (docs/semantics.md §1)."""
        frame = _frame(columns)
        pairs = frame.duplicated(["visitor_id", "account_id"]).to_numpy()
        if pairs.any():
            second = int(pairs.argmax())
            visitor, account = frame.iloc[second][["visitor_id", "account_id"]]
            same = (frame["visitor_id"] == visitor) & (frame["account_id"] == account)
            where = Where(label, "account_id", self.lines)
            raise DataError(
                f"{where.at(second)}: visitor {show(visitor)} is linked to account "
                f"{show(account)} twice (first at {where.row(int(same.to_numpy().argmax()))})"
            )
        _codes, keep = self._known(
            label, "visitor_id", arrow_text(frame["visitor_id"]), self.visitor_ids, "visitor", None
        )
        _codes, keep = self._known(
            label, "account_id", arrow_text(frame["account_id"]), self.account_ids, "account", keep
        )
        return _filtered(frame, keep)


def _filtered(frame: pd.DataFrame, keep: np.ndarray | None) -> pd.DataFrame:
    return frame if keep is None else frame.loc[keep].reset_index(drop=True)


def write_dataset(ds: Dataset, out: str | Path, *, fmt: Literal["csv", "parquet"] = "csv") -> None:
    """Write every table as docs/semantics.md §1 files into ``out``, atomically as a folder.

    Refuses a folder that holds anything but data files: the folder is
    replaced as a whole.
    """
    if fmt not in ("csv", "parquet"):
        raise DataError(f"unknown data format {fmt!r} (csv or parquet)")
    target = Path(out)
    _check_replaceable(target)
    write = files.write_csv if fmt == "csv" else files.write_parquet
    with atomic_dir(target) as tmp:
        tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; a data folder is not
        for name, frame in ds.tables().items():
            write(frame, tmp / f"{name}.{fmt}")
        for name, frame in history.frames(ds).items():
            write(frame, tmp / f"{name}.{fmt}")


def _check_replaceable(target: Path) -> None:
    if target.exists() and not target.is_dir():
        raise DataError(f"{target}: exists and is not a folder")
    if target.is_dir():
        names = (*TABLE_NAMES, *history.HISTORY_NAMES)
        ours = {f"{n}.{ext}" for n in names for ext in ("csv", "parquet")}
        others = sorted(p.name for p in target.iterdir() if p.name not in ours)
        if others:
            raise DataError(
                f"{target}: folder holds other files ({', '.join(others[:3])}); "
                "choose a new or empty folder"
            )


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def bundled_sample_path() -> Path:
    """The sample data folder shipped inside the package."""
    return Path(__file__).resolve().parent.parent / "sample_data"


def load_sample() -> Dataset:
    """The bundled deterministic sample (see ``sample.py``).

    Its visitors of trial accounts missing from ``accounts.csv`` are on
    purpose, so that warning is not repeated on every demo run.
    """
    ds = load_dataset(bundled_sample_path(), warn=lambda _message: None)
    ds.source = "sample"
    return ds
