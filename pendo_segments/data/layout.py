"""Where a table of a data folder is: one file, or a folder of part files.

The layouts the usual writers leave, all read the same way by every engine:

* one file: ``usage_daily.csv``, ``usage_daily.csv.gz``, ``usage_daily.parquet``;
* a folder ``usage_daily/``, ``usage_daily.parquet/`` or ``usage_daily.csv/`` of
  part files, as Spark writes by default (``part-00000-….snappy.parquet`` beside
  ``_SUCCESS`` and ``.part-00000-….crc``): names starting with ``_`` or ``.``
  and ``.crc`` files are bookkeeping, not data;
* Hive partitions, ``usage_daily/date=2026-09-01/part-0.parquet`` (DuckDB's
  ``PARTITION_BY``, pyarrow's ``write_dataset``, Spark's ``partitionBy``): the
  folder names become text columns, typed like any other column of the table.

:func:`locate_table` finds the files (a folder listing, nothing read);
:func:`open_table` also checks what every engine would otherwise report in
its own words, or not at all: part files whose columns differ, duplicate
column names, NUL bytes in CSV text. A Delta table (``_delta_log/``) is its
current data files, named by its log (optional ``deltalake`` package); an
Iceberg table is refused: its folders hold data files that are no longer part
of the table.
"""

from __future__ import annotations

import gzip
import mmap
import os
import urllib.parse
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pendo_segments.errors import DataError

Format = Literal["csv", "parquet"]
#: the value Hive (and Spark, DuckDB, pyarrow) write for a null partition value
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
NUL_SCAN_BYTES = 16 * 2**20


@dataclass(frozen=True)
class TableFiles:
    """The data files of one table, in reading order (row numbers follow it)."""

    name: str
    path: Path  # the file, or the table's folder
    fmt: Format
    files: tuple[Path, ...]
    partitions: tuple[str, ...] = ()  # Hive partition columns, outermost first
    folder: bool = False
    #: rows per Parquet file, filled by :func:`open_table`
    rows: tuple[int, ...] = field(default=(), compare=False)

    @property
    def label(self) -> str:
        """How messages name the table: ``usage_daily.csv`` or ``usage_daily/``."""
        return f"{self.path.name}/" if self.folder else self.path.name

    def file_label(self, file: Path) -> str:
        """How messages name one part: ``usage_daily/date=2026-09-01/part-0.parquet``."""
        if not self.folder:
            return self.path.name
        return f"{self.path.name}/{file.relative_to(self.path).as_posix()}"

    def partition_values(self, file: Path) -> dict[str, str | None]:
        """The Hive partition values of one part (URL-decoded; Hive's null marker is None)."""
        values: dict[str, str | None] = {}
        for part in file.parent.relative_to(self.path).parts:
            key, _, value = part.partition("=")
            text = urllib.parse.unquote(value)
            values[key] = None if text == HIVE_NULL else text
        return values


def locate_table(folder: Path, name: str, mandatory: bool = True) -> TableFiles | None:
    """The files of table ``name`` in ``folder``; None for an absent optional table."""
    candidates = [
        folder / f"{name}.csv",
        folder / f"{name}.csv.gz",
        folder / f"{name}.parquet",
        folder / name,
    ]
    present = [p for p in candidates if p.exists()]
    if len(present) > 1:
        names = " and ".join(_shown(p) for p in present[:2])
        raise DataError(f"{folder}: both {names} exist; keep one")
    if not present:
        if mandatory:
            raise DataError(
                f"{folder}: missing {name}.csv (or {name}.parquet, or a folder {name}/ "
                "of part files)"
            )
        return None
    path = present[0]
    if path.is_dir():
        return _folder_table(name, path)
    if path.name == name:
        raise DataError(f"{path}: not a folder of part files; name it {name}.csv or {name}.parquet")
    fmt: Format = "parquet" if path.suffix == ".parquet" else "csv"
    return TableFiles(name, path, fmt, (path,))


def open_table(
    folder: Path, name: str, mandatory: bool = True, *, scan_gz: bool = True
) -> TableFiles | None:
    """:func:`locate_table`, and every part checked the same way for every engine.

    Parquet parts must agree on column names and types (their footers are
    read, not their data); CSV parts on their header; no column appears
    twice, and CSV text holds no NUL byte (a file cut short while written is
    often padded with them; DuckDB skips such a tail silently, Arrow stops
    with "straddling object"). Scanning a plain file costs ~0.2 s a GB (memchr
    over the page cache); a gzipped one must be inflated, ~4 s a GB, so the
    pandas loader (``scan_gz=False``) looks for NUL bytes in the text it
    parses instead (``files.read_csv``) and inflates each file once.
    """
    table = locate_table(folder, name, mandatory)
    if table is None:
        return None
    if table.fmt == "parquet":
        return _check_parquet(table)
    _check_csv(table, scan_gz)
    return table


def _shown(path: Path) -> str:
    return f"{path.name}/" if path.is_dir() else path.name


def _hidden(name: str) -> bool:
    """Spark's and Hadoop's bookkeeping: ``_SUCCESS``, ``_committed_*``, ``.crc``, dot files."""
    return name.startswith(("_", ".")) or name.endswith(".crc")


def _folder_table(name: str, root: Path) -> TableFiles:
    label = f"{root.name}/"
    if (root / "_delta_log").is_dir():
        return _delta_table(name, root)
    if (root / "metadata").is_dir() and any((root / "metadata").glob("*.metadata.json")):
        raise DataError(
            f"{label}: an Iceberg table (metadata/); only plain Parquet or CSV part files "
            "are read: write the table out as Parquet"
        )
    found: list[tuple[Path, tuple[str, ...]]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not _hidden(d))
        here = Path(dirpath)
        keys = tuple(level.partition("=")[0] for level in here.relative_to(root).parts)
        for level in here.relative_to(root).parts:
            key, sep, _value = level.partition("=")
            if not sep or not key:
                raise DataError(
                    f"{label}: folder {here.relative_to(root).as_posix()} is not a Hive "
                    "partition (name=value)"
                )
        found += [(here / f, keys) for f in sorted(filenames) if not _hidden(f)]
    if not found:
        raise DataError(f"{label}: no data files (.parquet, .csv or .csv.gz part files)")
    first, keys = found[0]
    for part, levels in found[1:]:
        if levels != keys:
            raise DataError(
                f"{label}: {_rel(root, first)} and {_rel(root, part)} sit in different "
                "partition folders (every part needs the same name=value levels)"
            )
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise DataError(f"{label}: partition '{dup}' appears twice in the folder names")
    formats = {part: _format(root, part) for part, _keys in found}
    kinds = sorted(set(formats.values()))
    if len(kinds) > 1:
        one = next(f for f, k in formats.items() if k == "parquet")
        other = next(f for f, k in formats.items() if k == "csv")
        raise DataError(
            f"{label}: both Parquet ({_rel(root, one)}) and CSV ({_rel(root, other)}) part "
            "files; keep one format"
        )
    files = [f for f, _keys in found if not (kinds == ["csv"] and f.stat().st_size == 0)]
    if not files:  # Spark writes empty CSV parts for empty partitions
        raise DataError(f"{label}: no data files (every CSV part is empty)")
    fmt: Format = "csv" if kinds == ["csv"] else "parquet"
    return TableFiles(name, root, fmt, tuple(files), keys, folder=True)


#: Delta reader features that change what a data file means (rows deleted, columns renamed)
DELTA_UNREAD = {"deletionVectors": "deletion vectors", "columnMapping": "column mapping"}


def _delta_table(name: str, root: Path) -> TableFiles:
    """A Delta table's current data files, read by every engine as Parquet parts.

    The transaction log (``_delta_log/``, through the ``deltalake`` package)
    names the files of the latest version; files a later commit replaced
    stay in the folder until VACUUM and must not be read, which is why a
    folder listing will not do. Partition values come from the ``name=value``
    folders Delta writes. Deletion vectors and column mapping change what a
    file holds, so such tables are refused in one line.
    """
    label = f"{root.name}/"
    try:
        from deltalake import DeltaTable
    except ImportError:
        raise DataError(
            f"{label}: a Delta table (_delta_log/): reading it needs the deltalake package: "
            "pip install 'pendo-segments[delta]' (or write the table out as Parquet)"
        ) from None
    try:
        table = DeltaTable(str(root))
        protocol = table.protocol()
        partitions = tuple(table.metadata().partition_columns)
        uris = table.file_uris()
    except Exception as err:  # deltalake raises its own (Rust) error types
        message = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise DataError(f"{label}: not a readable Delta table ({message})") from None
    features = set(protocol.reader_features or ())
    if protocol.min_reader_version == 2:  # column mapping, before table features
        features.add("columnMapping")
    unread = sorted(DELTA_UNREAD.get(f, f) for f in features if f in DELTA_UNREAD)
    if unread:
        raise DataError(
            f"{label}: a Delta table with {' and '.join(unread)}, which are not read; "
            "rewrite it without them (REORG TABLE … APPLY (PURGE)) or export it as Parquet"
        )
    files = sorted(Path(u.removeprefix("file://")) for u in uris)
    if not files:
        raise DataError(f"{label}: a Delta table with no data files (its latest version is empty)")
    found = TableFiles(name, root, "parquet", tuple(files), partitions, folder=True)
    for file in files:
        if not file.is_relative_to(root) or tuple(found.partition_values(file)) != partitions:
            raise DataError(
                f"{label}: Delta data file {file.name} is not in the table's name=value "
                "partition folders; export the table as Parquet"
            )
    return found


def _rel(root: Path, file: Path) -> str:
    return file.relative_to(root).as_posix()


def _format(root: Path, file: Path) -> Format:
    if file.name.endswith(".parquet"):
        return "parquet"
    if file.name.endswith((".csv", ".csv.gz")):
        return "csv"
    if root.name.endswith(".parquet"):  # Hive writes parts without an extension
        return "parquet"
    if root.name.endswith(".csv"):
        return "csv"
    raise DataError(
        f"{root.name}/{_rel(root, file)}: not a data file (.parquet, .csv or .csv.gz); "
        "move it out of the table's folder"
    )


# -- checks ---------------------------------------------------------------------


def _check_parquet(table: TableFiles) -> TableFiles:
    import pyarrow as pa
    import pyarrow.parquet as pq

    first: tuple[Path, pa.Schema] | None = None
    rows = []
    for file in table.files:
        label = table.file_label(file)
        try:
            meta = pq.read_metadata(file)
            schema = meta.schema.to_arrow_schema()
        except (pa.ArrowException, OSError) as err:
            message = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise DataError(f"{label}: not a readable Parquet file ({message})") from None
        rows.append(meta.num_rows)
        _no_repeats(label, schema.names, "")
        _no_partition_column(table, label, schema.names)
        if first is None:
            first = (file, schema)
            continue
        names = (_rel(table.path, first[0]), _rel(table.path, file))
        difference = _schema_difference(first[1], schema, names)
        if difference:
            raise DataError(f"{table.label}: parts differ: {difference}")
    return TableFiles(
        table.name,
        table.path,
        table.fmt,
        table.files,
        table.partitions,
        table.folder,
        tuple(rows),
    )


def _plain_type(t: object) -> str:
    """A column type as compared across parts: dictionary and large strings as their values."""
    import pyarrow as pa

    assert isinstance(t, pa.DataType)
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        t = pa.string()
    return str(t)


def _schema_difference(first: object, second: object, names: tuple[str, str]) -> str:
    """What differs between two parts' columns, in a few words ('' when nothing does)."""
    import pyarrow as pa

    assert isinstance(first, pa.Schema) and isinstance(second, pa.Schema)
    one, other = names
    for name in second.names:
        if name not in first.names:
            return f"column '{name}' is in {other}, not in {one}"
    for name in first.names:
        if name not in second.names:
            return f"column '{name}' is in {one}, not in {other}"
        a, b = _plain_type(first.field(name).type), _plain_type(second.field(name).type)
        if a != b:
            return f"column '{name}' is {b} in {other} and {a} in {one}"
    return ""


def _no_repeats(label: str, names: list[str], where: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DataError(f"{label}: column '{name}' appears twice{where}")
        seen.add(name)


def _no_partition_column(table: TableFiles, label: str, names: list[str]) -> None:
    for key in table.partitions:
        if key in names:
            raise DataError(
                f"{label}: column '{key}' is both in the file and in its partition folder "
                f"({key}=…); write the parts without it"
            )


def _check_csv(table: TableFiles, scan_gz: bool) -> None:
    from pendo_segments.data.files import read_header

    first: tuple[Path, list[str]] | None = None
    for file in table.files:
        label = table.file_label(file)
        header = read_header(file, label)  # empty, not UTF-8, a column twice: one message
        _no_partition_column(table, label, header)
        if scan_gz or not file.name.endswith(".gz"):
            check_no_nul(file, label)
        if first is None:
            first = (file, header)
        elif header != first[1]:
            at = next(
                (i for i, (a, b) in enumerate(zip(header, first[1], strict=False)) if a != b),
                min(len(header), len(first[1])),
            )
            shown = [repr(h[at]) if at < len(h) else "nothing" for h in (header, first[1])]
            raise DataError(
                f"{table.label}: parts differ: column {at + 1} is {shown[0]} in "
                f"{_rel(table.path, file)} and {shown[1]} in {_rel(table.path, first[0])}"
            )


def check_no_nul(path: Path, label: str) -> None:
    """A NUL byte in CSV text is damage (a file padded after a crash), not data: name its line."""
    offset = _first_nul(path)
    if offset is None:
        return
    line = _line_of(path, offset)
    raise DataError(
        f"{label}: line {line}: NUL bytes (\\0) in the text; the file is damaged "
        "(cut short or padded while written) or not CSV"
    )


def _first_nul(path: Path) -> int | None:
    if path.name.endswith(".gz"):
        seen = 0
        for chunk in _gunzipped(path):
            at = chunk.find(b"\0")
            if at >= 0:
                return seen + at
            seen += len(chunk)
        return None
    with path.open("rb") as fh:
        if fh.seek(0, 2) == 0:
            return None
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            at = data.find(b"\0")  # memchr: ~0.25 s a GB
    return None if at < 0 else at


def _gunzipped(path: Path) -> Iterator[bytes]:
    try:
        with gzip.open(path, "rb") as fh:
            while chunk := fh.read(NUL_SCAN_BYTES):
                yield chunk
    except (OSError, EOFError, zlib.error):
        return  # the reader reports a damaged gzip file in its own words


def _line_of(path: Path, offset: int) -> int:
    """The 1-based line holding byte ``offset`` of the (decompressed) text."""
    newlines, seen = 0, 0
    chunks = _gunzipped(path) if path.name.endswith(".gz") else _chunks(path)
    for chunk in chunks:
        if seen + len(chunk) > offset:
            return newlines + chunk.count(b"\n", 0, offset - seen) + 1
        newlines += chunk.count(b"\n")
        seen += len(chunk)
    return newlines + 1


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(NUL_SCAN_BYTES):
            yield chunk
