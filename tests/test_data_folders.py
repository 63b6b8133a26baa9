"""Tables as folders of part files, as Spark, DuckDB and pyarrow write them.

Each layout is written from a flat CSV folder (the bundled sample by default)
by another tool than ours: DuckDB ``COPY … (FORMAT parquet, PARTITION_BY
(date))``, pyarrow's ``write_dataset`` with Hive partitioning, and a folder made
by hand the way Spark leaves it (``part-00000-<uuid>-c000.snappy.parquet`` parts
beside ``_SUCCESS``, ``.crc`` and ``_committed_`` files). The members every engine
reads from each layout are checked in tests/conformance/test_reading.py; here
the pandas and DuckDB loaders give the same one-line error for a broken folder.
"""

from __future__ import annotations

import gzip
import shutil
import struct
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from pendo_segments.data import load_dataset
from pendo_segments.data.loaders import bundled_sample_path
from pendo_segments.definitions import load_definitions
from pendo_segments.errors import DataError
from pendo_segments.evaluate import evaluate

SAMPLE = bundled_sample_path()
USAGE = ("usage_daily", "feature_usage")
TABLES = sorted(p.name.removesuffix(".csv") for p in SAMPLE.glob("*.csv"))

Members = list[tuple[str, str, str]]


def sample_table(name: str, source: Path = SAMPLE) -> pa.Table:
    """A table of ``source`` (a flat CSV folder) as a typed writer would hold it (dates,
    numbers, true/false typed; blank cells null)."""
    options = pacsv.ConvertOptions(strings_can_be_null=True)
    return pacsv.read_csv(source / f"{name}.csv", convert_options=options)


def tables(source: Path) -> list[str]:
    return sorted(p.name.removesuffix(".csv") for p in source.glob("*.csv"))


# -- the layouts, each written by a foreign tool ------------------------------------------


def duckdb_partitioned(root: Path, sample: Path = SAMPLE) -> None:
    """DuckDB's own Hive folders for the usage tables (``date=…/data_0.parquet``)."""
    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()
    for name in tables(sample):
        source = f"read_csv('{sample / name}.csv')"
        if name in USAGE:
            con.execute(
                f"COPY (SELECT * FROM {source}) TO '{root / name}' "
                "(FORMAT parquet, PARTITION_BY (date))"
            )
        else:
            con.execute(
                f"COPY (SELECT * FROM {source}) TO '{root / name}.parquet' (FORMAT parquet)"
            )
    con.close()


def pyarrow_partitioned(root: Path, sample: Path = SAMPLE) -> None:
    """pyarrow.dataset.write_dataset: Hive partitions for usage, ``t.parquet/`` folders else."""
    for name in tables(sample):
        table = sample_table(name, sample)
        if name in USAGE:
            pads.write_dataset(
                table,
                root / name,
                format="parquet",
                partitioning=["date"],
                partitioning_flavor="hive",
            )
        else:
            pads.write_dataset(table, root / f"{name}.parquet", format="parquet")


def hadoop_crc(data: bytes) -> bytes:
    """The ``.crc`` file Hadoop's local file system writes beside a file (and checks on read)."""
    chunks = [data[i : i + 512] for i in range(0, len(data), 512)]
    return (
        b"crc\x00"
        + struct.pack(">i", 512)
        + b"".join(struct.pack(">I", zlib.crc32(c)) for c in chunks)
    )


def spark_style(root: Path, sample: Path = SAMPLE, parts: int = 3) -> None:
    """Spark's default output made by hand: snappy parts, ``_SUCCESS``, ``.crc`` files."""
    job = uuid.UUID(int=7)
    for name in tables(sample):
        table = sample_table(name, sample)
        folder = root / name
        folder.mkdir()
        step = -(-table.num_rows // parts)
        for i in range(parts):
            part = folder / f"part-{i:05d}-{job}-c000.snappy.parquet"
            pq.write_table(table.slice(i * step, step), part, compression="snappy")
            (folder / f".{part.name}.crc").write_bytes(hadoop_crc(part.read_bytes()))
        (folder / "_SUCCESS").write_bytes(b"")
        (folder / "._SUCCESS.crc").write_bytes(hadoop_crc(b""))
        (folder / "_committed_1234").write_text('{"added":[]}')
        (folder / "_started_1234").write_bytes(b"")


def spark_csv_style(root: Path, sample: Path = SAMPLE) -> None:
    """Spark's CSV output, ``t.csv/`` with a plain and a gzipped part (text kept as written)."""
    for name in tables(sample):
        lines = (sample / f"{name}.csv").read_text(encoding="utf-8").splitlines(keepends=True)
        folder = root / f"{name}.csv"
        folder.mkdir()
        half = max(2, len(lines) // 2)
        (folder / "part-00000-x-c000.csv").write_text("".join(lines[:half]), encoding="utf-8")
        rest = "".join(lines[:1] + lines[half:]).encode("utf-8")
        (folder / "part-00001-x-c000.csv.gz").write_bytes(gzip.compress(rest))
        (folder / "_SUCCESS").write_bytes(b"")


LAYOUTS: dict[str, Callable[[Path, Path], None]] = {
    "duckdb PARTITION_BY (date)": duckdb_partitioned,
    "pyarrow write_dataset, hive": pyarrow_partitioned,
    "spark folders by hand": spark_style,
    "spark csv folders by hand": spark_csv_style,
}


@pytest.fixture(scope="module")
def defs():
    return load_definitions(Path("segment_defs"))


def rows(batches: object) -> Members:
    out: Members = []
    for batch in batches:  # type: ignore[attr-defined]
        out += [tuple(map(str, r.values())) for r in batch.to_pylist()]
    return out


def pandas_members(defs, folder: Path) -> Members:
    ds = load_dataset(folder, narrow=True, warn=lambda _m: None)
    return rows(evaluate(defs, ds).membership_batches())


def duckdb_members(defs, folder: Path) -> Members:
    from pendo_segments.evaluate.duckdb_folder import evaluate_folder

    result = evaluate_folder(defs, folder, warn=lambda _m: None)
    try:
        return rows(result.membership_batches())
    finally:
        result.close()


def test_partition_columns_are_typed_like_any_column(tmp_path: Path) -> None:
    """``date=2026-08-03`` folders give the same days as the file's date column did."""
    flat = load_dataset(SAMPLE, warn=lambda _m: None).usage_daily
    duckdb_partitioned(tmp_path)
    parted = load_dataset(tmp_path, warn=lambda _m: None).usage_daily
    assert parted["date"].dtype == flat["date"].dtype
    key = ["date", "visitor_id"]

    def ordered(frame):
        out = frame[[*key, "minutes", "events"]].astype({"visitor_id": str})
        return out.sort_values(key).reset_index(drop=True)

    assert ordered(parted).equals(ordered(flat))


# -- the same one-line errors on every layout ---------------------------------------------


def sample_copy(root: Path) -> Path:
    folder = root / "data"
    shutil.copytree(SAMPLE, folder)
    return folder


def errors(defs, folder: Path) -> dict[str, str]:
    """The message of each local engine (both must fail)."""
    from pendo_segments.evaluate.duckdb_folder import evaluate_folder

    out = {}
    for engine, run in (
        ("pandas", lambda: load_dataset(folder, warn=lambda _m: None)),
        ("duckdb", lambda: evaluate_folder(defs, folder, warn=lambda _m: None)),
    ):
        with pytest.raises(DataError) as err:
            run()
        out[engine] = str(err.value)
    return out


def test_a_folder_without_data_files(defs, tmp_path: Path) -> None:
    folder = sample_copy(tmp_path)
    (folder / "usage_daily.csv").unlink()
    (folder / "usage_daily").mkdir()
    (folder / "usage_daily" / "_SUCCESS").write_bytes(b"")
    (folder / "usage_daily" / "._SUCCESS.crc").write_bytes(b"")
    message = "usage_daily/: no data files (.parquet, .csv or .csv.gz part files)"
    assert errors(defs, folder) == {"pandas": message, "duckdb": message}


def test_parts_with_different_columns_name_both(defs, tmp_path: Path) -> None:
    folder = sample_copy(tmp_path)
    table = sample_table("usage_daily")
    (folder / "usage_daily.csv").unlink()
    (folder / "usage_daily").mkdir()
    pq.write_table(table.slice(0, 10), folder / "usage_daily" / "part-00000.parquet")
    minutes = table.schema.get_field_index("minutes")
    ints = table.slice(10).set_column(
        minutes, "minutes", table.column("minutes").slice(10).cast(pa.int64(), safe=False)
    )
    pq.write_table(ints, folder / "usage_daily" / "part-00001.parquet")
    message = (
        "usage_daily/: parts differ: column 'minutes' is int64 in part-00001.parquet "
        "and double in part-00000.parquet"
    )
    assert errors(defs, folder) == {"pandas": message, "duckdb": message}


def test_a_bad_value_in_a_part_names_the_part_and_its_row(defs, tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    spark_style(folder, parts=2)
    part = sorted((folder / "usage_daily").glob("part-00001-*.parquet"))[0]
    table = pq.read_table(part)
    minutes = table.column("minutes").to_pylist()
    minutes[4] = -2.0
    pq.write_table(table.set_column(3, "minutes", pa.array(minutes)), part)
    assert table.schema.names[3] == "minutes"
    message = f"usage_daily/{part.name}: row 5, column 'minutes': -2.0 is negative"
    assert errors(defs, folder) == {"pandas": message, "duckdb": message}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda t: (t / "usage_daily" / "2026" / "x.parquet").parent.mkdir(parents=True),
            "usage_daily/: folder 2026 is not a Hive partition (name=value)",
        ),
        (
            lambda t: (
                (t / "usage_daily").mkdir() or (t / "usage_daily" / "notes.txt").write_text("x")
            ),
            "usage_daily/notes.txt: not a data file (.parquet, .csv or .csv.gz); move it out of "
            "the table's folder",
        ),
    ],
)
def test_folders_that_are_not_tables(
    defs, tmp_path: Path, make: Callable[[Path], object], message: str
) -> None:
    folder = sample_copy(tmp_path)
    (folder / "usage_daily.csv").unlink()
    make(folder)
    assert errors(defs, folder) == {"pandas": message, "duckdb": message}


def test_a_file_and_a_folder_of_one_table(tmp_path: Path) -> None:
    folder = sample_copy(tmp_path)
    (folder / "usage_daily").mkdir()
    with pytest.raises(DataError) as err:
        load_dataset(folder)
    assert str(err.value) == f"{folder}: both usage_daily.csv and usage_daily/ exist; keep one"


@pytest.mark.parametrize("narrow", [False, True])
def test_parts_in_small_pieces_load_exactly_like_the_flat_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, narrow: bool
) -> None:
    """Spark-style parts keep the flat file's row order; ids read a few batches at a time
    (``pieces``) line up with the columns read whole."""
    from test_data_loaders import assert_same

    from pendo_segments.data import files

    expected = load_dataset(SAMPLE, narrow=narrow, warn=lambda _m: None)
    spark_style(tmp_path, parts=7)
    monkeypatch.setattr(files, "PIECE_ROWS", 1000)
    pieces: list[str] = []
    batches = files.ParquetParts._batches

    def spy(self: files.ParquetParts, name: str, rows: int):  # type: ignore[no-untyped-def]
        pieces.append(name)
        return batches(self, name, rows)

    monkeypatch.setattr(files.ParquetParts, "_batches", spy)
    got = load_dataset(tmp_path, narrow=narrow, warn=lambda _m: None)
    got.source = expected.source
    assert {"visitor_id", "feature_id"} <= set(pieces)
    assert_same(expected, got)


# -- the part reader: each part read as its own file --------------------------------------


def big_parts(folder: Path, rows: list[int]) -> list[Path]:
    """``usage_daily/`` of parts of ``rows`` rows, each one row group (as Spark writes them)."""
    folder.mkdir(parents=True)
    paths = []
    for i, n in enumerate(rows):
        part = folder / f"part-{i:05d}-x-c000.snappy.parquet"
        table = pa.table(
            {
                "date": pa.array([19600 + k % 60 for k in range(n)], pa.int32()).cast(pa.date32()),
                "visitor_id": [f"v{k % 1000}" for k in range(n)],
                "minutes": pa.array([float(k % 7) for k in range(n)]),
                "events": pa.array([k % 5 for k in range(n)], pa.int64()),
            }
        )
        pq.write_table(table, part, row_group_size=n, compression="snappy")
        paths.append(part)
    return paths


def test_a_part_column_is_each_part_read_whole(tmp_path: Path) -> None:
    """One chunk a part (a row group each), not the 131,072-row batches of a dataset scan,
    which cost 4-7x the CPU of reading each part's column at 1M visitors (issue 28 #3)."""
    from pendo_segments.data import files
    from pendo_segments.data.layout import open_table

    big_parts(tmp_path / "usage_daily", [300_000, 200_000])
    table = open_table(tmp_path, "usage_daily")
    assert table is not None
    minutes = files.ParquetParts(table).column("minutes")
    assert len(minutes) == 500_000
    assert minutes.num_chunks == 2  # a dataset scan: ceil(300k / 131,072) + ceil(200k / …) = 5
    assert minutes[300_000 + 13].as_py() == float(13 % 7)  # the second part's 14th row


def test_a_damaged_part_is_named(tmp_path: Path) -> None:
    """A part whose footer reads but whose pages do not: the message names that part."""
    folder = sample_copy(tmp_path)
    (folder / "usage_daily.csv").unlink()
    second = big_parts(folder / "usage_daily", [1_000, 1_000])[1]
    data = bytearray(second.read_bytes())
    data[4:64] = b"\xff" * 60  # the first column chunk's page header; the footer stays intact
    second.write_bytes(bytes(data))
    with pytest.raises(DataError) as err:
        load_dataset(folder, narrow=True, warn=lambda _m: None)
    assert str(err.value).startswith(f"usage_daily/{second.name}: not a readable Parquet file ("), (
        str(err.value)
    )


def test_parts_storing_text_differently_read_as_one_column(tmp_path: Path) -> None:
    """One part's ids dictionary-encoded, the other's large strings (both plain text to
    ``open_table``): each part is read as its own file, and the column is still one type."""
    folder = sample_copy(tmp_path)
    table = sample_table("usage_daily")
    (folder / "usage_daily.csv").unlink()
    (folder / "usage_daily").mkdir()
    i, half = table.schema.get_field_index("visitor_id"), table.num_rows // 2
    first, second = table.slice(0, half), table.slice(half)
    first = first.set_column(i, "visitor_id", first.column(i).dictionary_encode())
    second = second.set_column(i, "visitor_id", second.column(i).cast(pa.large_string()))
    pq.write_table(first, folder / "usage_daily" / "part-00000.parquet")
    pq.write_table(second, folder / "usage_daily" / "part-00001.parquet")
    for narrow in (False, True):
        flat = load_dataset(SAMPLE, narrow=narrow, warn=lambda _m: None).usage_daily
        got = load_dataset(folder, narrow=narrow, warn=lambda _m: None).usage_daily
        assert got["visitor_id"].astype(str).tolist() == flat["visitor_id"].astype(str).tolist()
