"""Read and write one table file (CSV or Parquet) as Arrow, quickly.

CSV is read with every column as text (blank → null) so that conversion and
error messages work on the original text. The CSV writer formats columns
with Arrow compute and quotes only values that need it, so tens of millions
of rows are written in seconds and the bundled sample stays byte-stable.
"""

from __future__ import annotations

import bisect
import csv
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pendo_segments.data.csv_lines import LineMap, first_ragged_row, has_quotes, open_text
from pendo_segments.data.layout import TableFiles, check_no_nul
from pendo_segments.errors import DataError

CHUNK_ROWS = 1_000_000
ROW_GROUP_ROWS = 8 * 1024 * 1024


def _arrow_message(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def read_header(path: Path, label: str) -> list[str]:
    try:
        with open_text(path) as fh:
            header = next(csv.reader(fh), None)
    except UnicodeDecodeError:
        raise DataError(f"{label}: not UTF-8 text") from None
    except (OSError, EOFError, csv.Error) as err:
        if "NUL" in str(err):
            check_no_nul(path, label)
        raise DataError(f"{label}: cannot be read ({_arrow_message(err)})") from None
    if not header:
        raise DataError(f"{label}: file is empty (expected a header row)")
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise DataError(f"{label}: column '{name}' appears twice in the header")
        seen.add(name)
    return header


def read_csv(path: Path, label: str) -> pa.Table:
    """Every column as text; blank cells are null.

    Quoted values may hold newlines: files with a quote character are read
    with Arrow's slower newline-aware chunking (its fast chunker splits
    inside such a value once the file spans several blocks).
    """
    header = read_header(path, label)
    options = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in header},
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    quoted = has_quotes(path)
    for newlines in (quoted, True):
        try:
            table = pacsv.read_csv(
                path,
                parse_options=pacsv.ParseOptions(newlines_in_values=newlines),
                convert_options=options,
            )
        except (pa.ArrowInvalid, OSError, EOFError) as err:
            message = _arrow_message(err)
            if "out of sync" in message and not newlines:
                continue
            check_no_nul(path, label)  # NUL padding is the cause to name, if there is any
            raise _parse_error(path, label, message) from None
        if path.name.endswith(".gz") and _holds_nul(table):
            check_no_nul(path, label)  # (open_table scanned plain files already)
        return table
    raise AssertionError("unreachable")  # pragma: no cover


def _holds_nul(table: pa.Table) -> bool:
    """Whether any text of a parsed CSV holds a NUL character (the bytes' minimum is 0).

    Read straight from each chunk's data buffer: 20 ms for 170 MB of text,
    where a substring search took 0.5 s.
    """
    for column in table.columns:
        for chunk in column.chunks:
            data = chunk.buffers()[2] if len(chunk.buffers()) > 2 else None
            if data is None or chunk.null_count == len(chunk):
                continue
            wide = pa.types.is_large_string(chunk.type)
            offsets = np.frombuffer(chunk.buffers()[1], np.int64 if wide else np.int32)
            ends = offsets[chunk.offset : chunk.offset + len(chunk) + 1]
            text = np.frombuffer(data, np.uint8)[ends[0] : ends[-1]]
            if len(text) and text.min() == 0:
                return True
    return False


def _parse_error(path: Path, label: str, message: str) -> DataError:
    """Arrow names no row for a wrong field count: find it, with its file line."""
    if "columns, got" in message or "CSV parse error" in message:
        bad = first_ragged_row(path)
        if bad is not None:
            row, line, expected, got = bad
            return DataError(
                f"{label}: row {row + 1} (line {line}): expected {expected} columns, got {got}"
            )
    return DataError(f"{label}: {message}")


#: rows of a plain-stored id column held at a time (:meth:`ParquetColumns.pieces`)
PIECE_ROWS = 4_000_000
#: uncompressed bytes a value above which a dictionary chunk must hold plain pages
DICTIONARY_BYTES_PER_VALUE = 8


class ParquetColumns:
    """A Parquet file read one column at a time, so a 30M-row table is never held whole.

    Id columns are read dictionary-encoded only where the file stores them
    so (Arrow would otherwise hash every row group to build a dictionary);
    files written by DuckDB or Spark often store plain strings.
    """

    def __init__(self, path: Path, label: str, dictionary_columns: list[str]) -> None:
        self.label, self.path = label, path
        try:
            self.file = pq.ParquetFile(path)
            schema = self.file.schema_arrow
        except (pa.ArrowException, OSError) as err:
            raise _unreadable(label, err) from None
        self.column_names = list(schema.names)
        self.num_rows = self.file.metadata.num_rows
        self.dictionary = [
            c
            for c in dictionary_columns
            if c in self.column_names
            and (
                pa.types.is_string(schema.field(c).type)
                or pa.types.is_large_string(schema.field(c).type)
            )
            and self._stored_as_dictionary(c)
        ]

    def _stored_as_dictionary(self, name: str) -> bool:
        """Dictionary pages that hold the whole column chunk, not a fallback to plain.

        A writer falls back to plain pages once the dictionary outgrows its page
        limit (pyarrow's default: 1 MiB, reached by a million visitor ids). Reading
        such a column as a dictionary makes Arrow hash every plain value: 4x slower
        than reading the strings (measured on 30M rows). Indices take at most 4
        bytes a value; a chunk with more than 8 uncompressed bytes a value has
        plain pages.
        """
        meta = self.file.metadata
        if meta.num_row_groups == 0:
            return False
        index = self.file.schema_arrow.get_field_index(name)
        try:
            chunk = meta.row_group(0).column(index)
            per_value = chunk.total_uncompressed_size / max(chunk.num_values, 1)
            return bool(chunk.has_dictionary_page) and per_value <= DICTIONARY_BYTES_PER_VALUE
        except (IndexError, pa.ArrowException):  # nested schemas shift leaf indices
            return False

    def column(self, name: str) -> pa.ChunkedArray:
        try:
            file = (
                pq.ParquetFile(self.path, read_dictionary=[name])
                if name in self.dictionary
                else self.file
            )
            table = file.read(columns=[name])
        except (pa.ArrowException, OSError) as err:
            raise _unreadable(self.label, err) from None
        return table.column(0)

    def pieces(self, name: str, rows: int | None = None) -> Iterator[pa.ChunkedArray] | None:
        """A plain-stored column a few row groups (about ``rows`` rows) at a time.

        Callers that keep only what they make of the values (id codes, checks)
        never hold a whole column of strings: 23M DuckDB-written visitor ids are
        ~350 MB of text. None for dictionary-stored columns, read whole (their
        codes come from one lookup per distinct dictionary).
        """
        if name in self.dictionary or name not in self.column_names:
            return None
        rows = rows or PIECE_ROWS
        meta = self.file.metadata
        batches: list[list[int]] = [[]]
        held = 0
        for group in range(meta.num_row_groups):
            if held >= rows:
                batches.append([])
                held = 0
            batches[-1].append(group)
            held += meta.row_group(group).num_rows
        return self._read_groups(name, [b for b in batches if b])

    def _read_groups(self, name: str, batches: list[list[int]]) -> Iterator[pa.ChunkedArray]:
        for groups in batches:
            try:
                table = self.file.read_row_groups(groups, columns=[name])
            except (pa.ArrowException, OSError) as err:
                raise _unreadable(self.label, err) from None
            yield table.column(0)

    def drop_columns(self, names: list[str]) -> ParquetColumns:
        return self  # nothing is held: each column is read when asked for


def _unreadable(label: str, err: Exception) -> DataError:
    return DataError(f"{label}: not a readable Parquet file ({_arrow_message(err)})")


def read_parquet(path: Path, label: str, dictionary_columns: list[str]) -> ParquetColumns:
    """Open a Parquet file; columns are read (and released) one at a time."""
    return ParquetColumns(path, label, dictionary_columns)


# -- folders of part files ---------------------------------------------------


class PartRows:
    """Names the part file of a folder table's row, and the row (and line) within it."""

    def __init__(self, labels: list[str], counts: list[int], lines: list[LineMap | None]):
        self.labels, self.lines, self.counts = labels, lines, counts
        self.starts = [0]
        for n in counts:
            self.starts.append(self.starts[-1] + n)

    def locate(self, row: int) -> tuple[str, str]:
        """(part label, ``row N (line L)``) for a 0-based row of the whole table."""
        i = max(0, min(bisect.bisect_right(self.starts, row) - 1, len(self.labels) - 1))
        local = row - self.starts[i]
        lines = self.lines[i]
        text = f"row {local + 1}" + (f" (line {lines.line(local)})" if lines else "")
        return self.labels[i], text


def _partition_columns(table: TableFiles, file: Path, n_rows: int) -> dict[str, pa.Array]:
    """A part's Hive partition values as text columns (typed later like any column)."""
    return {
        key: pa.nulls(n_rows, pa.string())
        if value is None
        else pa.repeat(pa.scalar(value, pa.string()), n_rows)
        for key, value in table.partition_values(file).items()
    }


class CsvTable:
    """A CSV table (one file or a folder of parts): read whole as text, or streamed.

    Calling it reads every cell as text (:func:`read_csv`, the table reader's
    usual answer). :meth:`pieces` parses the same text in batches with Arrow's
    streaming reader, so a caller that keeps only what it makes of the values
    (typed narrow columns, id codes) never holds a 30M-row table of strings
    (the whole text of ``usage_daily`` took 2.4 GiB at 1M visitors).
    """

    def __init__(self, table: TableFiles) -> None:
        self.table = table
        self.label = table.label
        first = read_header(table.files[0], table.file_label(table.files[0]))
        self.column_names = [*first, *table.partitions]

    def __call__(self) -> tuple[str, pa.Table, LineMap | PartRows]:
        if self.table.folder:
            return read_csv_parts(self.table)
        return self.label, read_csv(self.table.path, self.label), LineMap(self.table.path)

    def pieces(self, columns: list[str], rows: int | None = None) -> Iterator[pa.Table]:
        """Tables of about ``rows`` rows holding ``columns`` (text; blank is null), in file order.

        Raises :class:`StreamProblem` on anything the whole read reports in its own
        words (a parse error, NUL text, a damaged gzip file): the caller then reads
        the table whole for the usual message.
        """
        rows = rows or PIECE_ROWS
        held: list[pa.Table] = []
        count = 0
        for file in self.table.files:
            for batch in self._batches(file, columns):
                held.append(batch)
                count += batch.num_rows
                if count >= rows:
                    yield pa.concat_tables(held)
                    held, count = [], 0
        if held:
            yield pa.concat_tables(held)

    def _batches(self, file: Path, columns: list[str]) -> Iterator[pa.Table]:
        header = [c for c in self.column_names if c not in self.table.partitions]
        mine = [c for c in columns if c in header]
        options = pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            include_columns=mine,
        )
        parse = pacsv.ParseOptions(newlines_in_values=has_quotes(file))
        read = pacsv.ReadOptions(block_size=STREAM_BLOCK_BYTES)
        found = self.table.partition_values(file) if self.table.folder else {}
        keys = {k: v for k, v in found.items() if k in columns}
        try:
            reader = pacsv.open_csv(
                file, read_options=read, parse_options=parse, convert_options=options
            )
            for batch in reader:
                if batch.num_rows == 0:
                    continue
                piece = pa.Table.from_batches([batch])
                if file.name.endswith(".gz") and _holds_nul(piece):
                    raise StreamProblem(file)
                for key, value in keys.items():
                    piece = piece.append_column(
                        key,
                        pa.nulls(piece.num_rows, pa.string())
                        if value is None
                        else pa.repeat(pa.scalar(value, pa.string()), piece.num_rows),
                    )
                yield piece.select(columns)
        except (pa.ArrowInvalid, OSError, EOFError) as err:
            raise StreamProblem(file) from err


#: bytes of CSV text Arrow's streaming reader parses at a time (~400k usage rows)
STREAM_BLOCK_BYTES = 16 * 2**20


class StreamProblem(Exception):
    """A CSV file the streaming reader could not read: read it whole for the message."""


def read_csv_parts(table: TableFiles) -> tuple[str, pa.Table, PartRows]:
    """Every CSV part (headers checked alike by ``open_table``) as one text table."""
    parts, counts = [], []
    lines: list[LineMap | None] = []
    for file in table.files:
        part = read_csv(file, table.file_label(file))
        for key, values in _partition_columns(table, file, part.num_rows).items():
            part = part.append_column(key, values)
        parts.append(part)
        counts.append(part.num_rows)
        lines.append(LineMap(file))
    labels = [table.file_label(f) for f in table.files]
    return table.label, pa.concat_tables(parts), PartRows(labels, counts, lines)


class ParquetParts:
    """A folder of Parquet parts (Spark output, Hive partitions, Delta files) read as one table.

    Each part is read as its own file (``pq.ParquetFile``), a column at a time
    like :class:`ParquetColumns`, in file order; Hive partition values are text
    columns (typed later like any column). Not ``pyarrow.dataset``: its scan
    cuts every column into 131,072-row batches and took 4-7x the CPU of the
    same column read part by part (Spark's two 15M-row parts, issue 28 #3).
    Row numbers in messages name the part (:class:`PartRows`).
    """

    def __init__(self, table: TableFiles) -> None:
        self.table, self.label = table, table.label
        self.partitions = list(table.partitions)
        first = table.files[0]
        try:
            names = pq.read_schema(first).names
        except (pa.ArrowException, OSError) as err:
            raise _unreadable(table.file_label(first), err) from None
        self.column_names = [*names, *self.partitions]
        counts = list(table.rows) or [self._open(f).metadata.num_rows for f in table.files]
        self.num_rows = sum(counts)
        labels = [table.file_label(f) for f in table.files]
        self.rows = PartRows(labels, counts, [None] * len(labels))
        self.dictionary: list[str] = []

    def _open(self, file: Path) -> pq.ParquetFile:
        try:
            return pq.ParquetFile(file)
        except (pa.ArrowException, OSError) as err:
            raise _unreadable(self.table.file_label(file), err) from None

    def column(self, name: str) -> pa.ChunkedArray:
        parts: list[pa.ChunkedArray] = []
        for file, n_rows in zip(self.table.files, self.rows.counts, strict=True):
            if name in self.partitions:
                values = _partition_columns(self.table, file, n_rows)[name]
                parts.append(pa.chunked_array([values]))
                continue
            with self._open(file) as part:
                try:
                    parts.append(part.read(columns=[name]).column(0))
                except (pa.ArrowException, OSError) as err:
                    raise _unreadable(self.table.file_label(file), err) from None
        return _one_type(parts)

    def pieces(self, name: str, rows: int | None = None) -> Iterator[pa.ChunkedArray] | None:
        """A column about ``rows`` rows at a time (see :meth:`ParquetColumns.pieces`)."""
        if name not in self.column_names or name in self.partitions:
            return None
        return self._batches(name, rows or PIECE_ROWS)

    def _batches(self, name: str, rows: int) -> Iterator[pa.ChunkedArray]:
        """Batches of ``rows`` rows across row groups, gathered across parts."""
        held: list[pa.ChunkedArray] = []
        count = 0
        for file in self.table.files:
            with self._open(file) as part:
                try:
                    for batch in part.iter_batches(batch_size=rows, columns=[name]):
                        held.append(pa.chunked_array([batch.column(0)]))
                        count += batch.num_rows
                        if count >= rows:
                            yield _one_type(held)
                            held, count = [], 0
                except (pa.ArrowException, OSError) as err:
                    raise _unreadable(self.table.file_label(file), err) from None
        if held:
            yield _one_type(held)

    def drop_columns(self, names: list[str]) -> ParquetParts:
        return self  # nothing is held


def _one_type(parts: list[pa.ChunkedArray]) -> pa.ChunkedArray:
    """The parts' chunks as one column (not copied).

    Parts agree on their columns' plain types (``open_table``), but one may store
    text dictionary-encoded or as large strings: then every part is read as plain text.
    """
    types = {p.type for p in parts}
    if len(types) > 1:
        parts = [_plain(p) for p in parts]
    return pa.chunked_array([c for p in parts for c in p.chunks], parts[0].type)


def _plain(values: pa.ChunkedArray) -> pa.ChunkedArray:
    t = values.type
    if pa.types.is_dictionary(t):
        values, t = values.cast(t.value_type), t.value_type
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        values = values.cast(pa.string())
    return values


# -- writing ----------------------------------------------------------------


def _column_text(values: pd.Series) -> pa.Array:
    """One column as docs/semantics.md §1 text: YYYY-MM-DD dates, true/false, blank for missing."""
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        words = pa.array(dtype.categories.astype(str), type=pa.string())
        codes = values.cat.codes.to_numpy()
        arr = pc.take(words, pa.array(codes, mask=codes < 0))
    elif pd.api.types.is_datetime64_any_dtype(dtype):
        arr = pa.array(values.to_numpy().astype("datetime64[s]"), from_pandas=True)
        arr = arr.cast(pa.date32()).cast(pa.string())
    elif pd.api.types.is_bool_dtype(dtype):
        flags = pa.array(values, type=pa.bool_(), from_pandas=True)
        arr = pc.if_else(flags, "true", "false")
    elif pd.api.types.is_numeric_dtype(dtype):
        arr = pa.array(values, from_pandas=True).cast(pa.string())
    else:
        arr = pa.array(values, from_pandas=True)
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            arr = arr.cast(pa.string())
    return quote_csv(pc.fill_null(arr.cast(pa.string()), ""))


def quote_csv(arr: pa.Array) -> pa.Array:
    """RFC 4180 quoting, only where a value needs it (like ``csv.QUOTE_MINIMAL``)."""
    needs = pc.match_substring_regex(arr, r'[",\r\n]')
    if not pc.any(needs).as_py():
        return arr
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(arr, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, arr)


def write_lines(fields: list[pa.Array], fh: IO[bytes]) -> None:
    """Rows of already quoted fields, comma separated, each ending in ``\n``."""
    lines = pc.binary_join_element_wise(*fields, ",")
    write_concatenated(pc.binary_join_element_wise(lines, "\n", ""), fh)


def write_concatenated(texts: pa.Array, fh: IO[bytes]) -> None:
    """Every string of ``texts`` back to back, in one write of Arrow's buffer."""
    if isinstance(texts, pa.ChunkedArray):  # arrow-backed pandas columns arrive chunked
        texts = texts.combine_chunks()
    lines = texts.cast(pa.large_string())
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)
    offsets = offsets[lines.offset : lines.offset + len(lines) + 1]
    data = lines.buffers()[2]
    if data is not None and len(lines):
        fh.write(memoryview(data)[offsets[0] : offsets[-1]])


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` as docs/semantics.md §1 CSV (UTF-8, header, ``\\n`` line ends)."""
    header = quote_csv(pa.array([str(c) for c in frame.columns], type=pa.string())).to_pylist()
    with path.open("wb") as fh:
        fh.write((",".join(header) + "\n").encode("utf-8"))
        for start in range(0, len(frame), CHUNK_ROWS):
            part = frame.iloc[start : start + CHUNK_ROWS]
            if len(frame.columns):
                write_lines([_column_text(part[c]) for c in part.columns], fh)


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Dates as Parquet ``date32``; ids keep their dictionary encoding."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(pa.date32()))
    # few, large row groups: each one repeats the (visitor-sized) id dictionary
    pq.write_table(table, path, row_group_size=ROW_GROUP_ROWS)
