"""Files as other tools write them load into the same frames as the plain CSV.

Each layout rewrites the hand-written folder of ``test_data_loaders`` with a
foreign writer (DuckDB ``COPY``, pyarrow, pandas, gzip) and a different
physical shape: tiny row groups, dictionary or plain strings,
``large_string``, date32 / timestamp / text dates, integer or float
measures. The expectation is the CSV path's frames, an independent reading.
"""

from __future__ import annotations

import datetime as dt
import gzip
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from test_data_loaders import USAGE_HEAD, assert_same, load_error, make_folder

from pendo_segments.data import load_dataset
from pendo_segments.errors import DataError

DATE_COLUMNS = {"date", "opened_on", "first_visit", "contract_start", "as_of"}
MEASURES = {"minutes": "float", "events": "int", "clicks": "int", "score": "int", "arr": "float"}

Shape = Callable[[str, pa.ChunkedArray], pa.ChunkedArray]


def text_table(path: Path) -> pa.Table:
    header = path.read_text(encoding="utf-8").splitlines()[0].split(",")
    return pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in header},
            null_values=[""],
            strings_can_be_null=True,
        ),
    )


def typed(dates: str = "date32", ints: str = "int64", strings: str = "string") -> Shape:
    """Give the known columns native types, as a typed writer would."""

    def shape(name: str, values: pa.ChunkedArray) -> pa.ChunkedArray:
        if name in DATE_COLUMNS and dates != "string":
            days = values.cast(pa.date32())
            return days if dates == "date32" else days.cast(pa.timestamp("us"))
        if MEASURES.get(name) == "float":
            return values.cast(pa.float64())
        if MEASURES.get(name) == "int":
            return values.cast(pa.float64() if ints == "float64" else pa.int64())
        if name.endswith("_id") and strings == "large_string":
            return values.cast(pa.large_string())
        if name.endswith("_id") and strings == "dictionary":
            return pc.dictionary_encode(values)
        return values

    return shape


def rewrite(folder: Path, write: Callable[[pa.Table, Path], None], shape: Shape) -> None:
    for csv_path in sorted(folder.glob("*.csv")):
        table = text_table(csv_path)
        table = pa.table({n: shape(n, table.column(n)) for n in table.column_names})
        write(table, csv_path)
        csv_path.unlink()


def pyarrow_writer(**options: object) -> Callable[[pa.Table, Path], None]:
    def write(table: pa.Table, csv_path: Path) -> None:
        pq.write_table(table, csv_path.with_suffix(".parquet"), **options)  # type: ignore[arg-type]

    return write


def duckdb_writer(fmt: str, row_group_size: int | None = None) -> Callable[[pa.Table, Path], None]:
    duckdb = pytest.importorskip("duckdb")

    def write(table: pa.Table, csv_path: Path) -> None:
        con = duckdb.connect()
        con.register("t", table)
        target = csv_path.with_suffix(".parquet" if fmt == "parquet" else ".out")
        options = "FORMAT parquet" if fmt == "parquet" else "FORMAT csv, HEADER"
        if row_group_size:
            options += f", ROW_GROUP_SIZE {row_group_size}"
        con.execute(f"COPY t TO '{target}' ({options})")
        con.close()
        if fmt == "csv":
            target.rename(csv_path.with_suffix(".tmp.csv"))

    return write


def pandas_writer(table: pa.Table, csv_path: Path) -> None:
    table.to_pandas().to_parquet(csv_path.with_suffix(".parquet"))


def gzip_writer(table: pa.Table, csv_path: Path) -> None:
    gz = csv_path.with_name(csv_path.name + ".gz")
    gz.write_bytes(gzip.compress(csv_path.read_bytes()))


LAYOUTS: dict[str, tuple[Callable[[pa.Table, Path], None], Shape]] = {
    "pyarrow defaults, text dates": (pyarrow_writer(), typed(dates="string")),
    "pyarrow one-row groups, plain strings": (
        pyarrow_writer(row_group_size=1, use_dictionary=False),
        typed(),
    ),
    "pyarrow large_string ids, timestamps": (
        pyarrow_writer(row_group_size=2),
        typed(dates="timestamp", strings="large_string"),
    ),
    "pyarrow dictionary ids, float counts": (
        pyarrow_writer(row_group_size=1),
        typed(ints="float64", strings="dictionary"),
    ),
    "pandas to_parquet": (pandas_writer, typed()),
    "duckdb COPY defaults": (duckdb_writer("parquet"), typed()),
    "duckdb COPY one-row groups": (duckdb_writer("parquet", row_group_size=1), typed()),
    "duckdb COPY csv": (duckdb_writer("csv"), typed()),
    "csv.gz": (gzip_writer, typed(dates="string")),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_layout_loads_like_the_csv(tmp_path: Path, layout: str) -> None:
    expected = load_dataset(make_folder(tmp_path / "csv"))
    folder = make_folder(tmp_path / "other")
    write, shape = LAYOUTS[layout]
    rewrite(folder, write, shape)
    for moved in folder.glob("*.tmp.csv"):  # DuckDB's own CSV under the table's name
        moved.rename(folder / moved.name.replace(".tmp.csv", ".csv"))
    assert not any(p.suffix == ".csv" for p in folder.iterdir()) or layout == "duckdb COPY csv"
    assert_same(expected, load_dataset(folder))


def test_many_row_groups_with_unknown_visitor_names_the_row(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    usage = USAGE_HEAD + "".join(f"2026-10-0{d},v{1 + d % 3},1,1\n" for d in range(1, 8))
    (folder / "usage_daily.csv").write_text(usage + "2026-10-08,ghost,1,1\n")
    rewrite(folder, pyarrow_writer(row_group_size=2), typed())
    with pytest.raises(DataError) as err:
        load_dataset(folder)
    assert str(err.value) == (
        "usage_daily.parquet: row 8, column 'visitor_id': unknown visitor 'ghost' "
        "(1 row of 1 unknown visitor; --lenient drops them)"
    )


# -- edges that used to give tracebacks (one line each) -------------------------

BASE = {"date": pa.array([dt.date(2026, 10, 1)]), "visitor_id": ["v1"], "minutes": [1.0]}


def parquet_usage_error(tmp_path: Path, table: pa.Table) -> str:
    folder = make_folder(tmp_path)
    (folder / "usage_daily.csv").unlink()
    pq.write_table(table, folder / "usage_daily.parquet")
    with pytest.raises(DataError) as err:
        load_dataset(folder)
    return str(err.value)


def test_events_beyond_int64_in_csv(tmp_path: Path) -> None:
    usage = USAGE_HEAD + "2026-10-01,v1,1,1\n2026-10-02,v1,1,99999999999999999999\n"
    assert load_error(tmp_path, usage_daily=usage) == (
        "usage_daily.csv: row 2 (line 3), column 'events': '99999999999999999999' "
        "is too large for an integer"
    )


def test_uint64_events_beyond_int64(tmp_path: Path) -> None:
    table = pa.table({**BASE, "events": pa.array([2**64 - 1], pa.uint64())})
    assert parquet_usage_error(tmp_path, table) == (
        "usage_daily.parquet: row 1, column 'events': 18446744073709551615 "
        "is too large for an integer"
    )


@pytest.mark.parametrize(
    ("column", "values", "kind"),
    [
        ("events", pa.array([[1]]), "list<element: int64>"),
        ("visitor_id", pa.array([["v1"]]), "list<element: string>"),
        ("extra", pa.array([{"a": 1}]), "struct<a: int64>"),
    ],
)
def test_nested_parquet_columns(tmp_path: Path, column: str, values: pa.Array, kind: str) -> None:
    table = pa.table({**BASE, "events": [1], column: values})
    assert parquet_usage_error(tmp_path, table) == (
        f"usage_daily.parquet: column '{column}': holds {kind} values; "
        "expected plain text, numbers, dates or true/false"
    )


def test_latest_date_9999_12_31_needs_an_as_of(tmp_path: Path) -> None:
    folder = make_folder(tmp_path, usage_daily=USAGE_HEAD + "9999-12-31,v1,1,1\n")
    ds = load_dataset(folder)
    with pytest.raises(DataError) as err:
        ds.default_as_of()
    assert str(err.value) == (
        f"{folder}: the latest usage date is 9999-12-31, so the default as-of day would be "
        "outside 1900-01-01 to 9000-12-31; pass --as-of YYYY-MM-DD"
    )


def test_quoted_newlines_in_a_large_csv(tmp_path: Path) -> None:
    """Arrow's fast chunker splits inside a quoted value once a file spans blocks."""
    accounts = "account_id,arr,plan,note\n" + "".join(
        f'a{i},{i},Starter,"line one\nline two {i}"\n' for i in range(60_000)
    )
    folder = make_folder(tmp_path, accounts=accounts + "bad,x,Starter,plain\n")
    with pytest.raises(DataError) as err:
        load_dataset(folder)
    # 60,001st data row; each earlier row spans two lines, after a one-line header
    assert str(err.value) == (
        "accounts.csv: row 60001 (line 120002), column 'arr': 'x' is not a number"
    )


def test_orphan_visitors_and_header_only_accounts_warn(tmp_path: Path) -> None:
    warnings: list[str] = []
    visitors = "visitor_id,account_id\nv1,00123\nv2,x1\nv3,x2\nv4,x3\nv5,x4\nv6,x1\nv7,\n"
    load_dataset(make_folder(tmp_path / "a", visitors=visitors), warn=warnings.append)
    assert warnings == [
        "visitors.csv: 5 visitors of 4 accounts not in accounts.csv ('x1', 'x2', 'x3', …); "
        "their account fields are blank"
    ]
    warnings.clear()
    load_dataset(
        make_folder(tmp_path / "b", accounts="account_id,arr,plan\n"), warn=warnings.append
    )
    assert warnings == [
        "accounts.csv: no accounts (header only): account segments, health and tiers will be empty"
    ]


def test_dictionary_reading_only_where_the_whole_chunk_is_a_dictionary(tmp_path: Path) -> None:
    """A dictionary that fell back to plain pages is read as strings (same values)."""
    from pendo_segments.data.files import read_parquet

    ids = pa.array([f"visitor-{i:06d}" for i in range(20_000)] * 2)
    few = pa.array([f"acc-{i % 7}" for i in range(40_000)])
    path = tmp_path / "t.parquet"
    # a 4 KiB dictionary page limit makes the 20,000 distinct ids fall back to plain
    pq.write_table(pa.table({"v": ids, "a": few}), path, dictionary_pagesize_limit=4096)
    meta = pq.ParquetFile(path).metadata.row_group(0)
    assert meta.column(0).has_dictionary_page and meta.column(1).has_dictionary_page
    columns = read_parquet(path, "t.parquet", ["v", "a"])
    assert columns.dictionary == ["a"]
    assert columns.column("v").to_pylist() == ids.to_pylist()
    assert pa.types.is_dictionary(columns.column("a").type)
    assert columns.column("a").cast(pa.string()).to_pylist() == few.to_pylist()


# -- plain id columns read a few row groups at a time ----------------------------


@pytest.fixture
def tiny_pieces(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Pieces of 2 rows, and a record of every id column read whole from Parquet."""
    from pendo_segments.data import files

    monkeypatch.setattr(files, "PIECE_ROWS", 2)
    whole: list[str] = []
    column = files.ParquetColumns.column

    def spy(self: files.ParquetColumns, name: str) -> pa.ChunkedArray:
        if name in ("visitor_id", "feature_id", "account_id"):
            whole.append(f"{self.label}:{name}")
        return column(self, name)

    monkeypatch.setattr(files.ParquetColumns, "column", spy)
    return whole


def usage_with(tail: str) -> str:
    rows = "".join(f"2026-10-0{d},v{1 + d % 3},1,1\n" for d in range(1, 8))
    return USAGE_HEAD + rows + tail


PLAIN = ["pyarrow one-row groups, plain strings", "duckdb COPY one-row groups"]


@pytest.mark.parametrize("layout", PLAIN)
@pytest.mark.parametrize("narrow", [False, True])
def test_plain_ids_in_pieces_load_like_the_csv(
    tmp_path: Path, tiny_pieces: list[str], layout: str, narrow: bool
) -> None:
    expected = load_dataset(make_folder(tmp_path / "csv"), narrow=narrow)
    folder = make_folder(tmp_path / "other")
    rewrite(folder, *LAYOUTS[layout])
    assert_same(expected, load_dataset(folder, narrow=narrow))
    # the usage tables' visitor and feature ids never came whole
    usage = ("usage_daily", "feature_usage")
    assert not [c for c in tiny_pieces if c.startswith(usage) and not c.endswith("account_id")]


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        (
            "2026-10-08,ghost,1,1\n",
            "usage_daily.parquet: row 8, column 'visitor_id': unknown visitor 'ghost' "
            "(1 row of 1 unknown visitor; --lenient drops them)",
        ),
        (
            "2026-10-08,,1,1\n",
            "usage_daily.parquet: row 8, column 'visitor_id': required value is blank",
        ),
    ],
)
def test_a_problem_in_a_later_piece_names_the_files_row(
    tmp_path: Path, tiny_pieces: list[str], tail: str, message: str
) -> None:
    folder = make_folder(tmp_path, usage_daily=usage_with(tail))
    rewrite(folder, pyarrow_writer(row_group_size=1, use_dictionary=False), typed())
    for narrow in (False, True):
        with pytest.raises(DataError) as err:
            load_dataset(folder, narrow=narrow)
        assert str(err.value) == message
    assert "usage_daily.parquet:visitor_id" in tiny_pieces  # read whole for the message


def test_lenient_pieces_drop_and_warn_like_the_csv(tmp_path: Path, tiny_pieces: list[str]) -> None:
    usage = usage_with("2026-10-08,ghost,1,1\n2026-10-09,spook,2,2\n2026-10-09,v2,3,3\n")
    csv_warnings: list[str] = []
    expected = load_dataset(
        make_folder(tmp_path / "csv", usage_daily=usage), lenient=True, warn=csv_warnings.append
    )
    folder = make_folder(tmp_path / "other", usage_daily=usage)
    rewrite(folder, pyarrow_writer(row_group_size=1, use_dictionary=False), typed())
    warnings: list[str] = []
    got = load_dataset(folder, lenient=True, warn=warnings.append)
    assert_same(expected, got)
    assert warnings == [w.replace(".csv", ".parquet") for w in csv_warnings]
    assert "usage_daily.csv: dropped 2 rows of 2 unknown visitors" in csv_warnings
