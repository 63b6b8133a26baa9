"""Delta tables (``_delta_log/``) read through their log with the ``[delta]`` extra (issue 28).

The usage tables are written by ``deltalake`` itself: ``usage_daily``
partitioned by date, ``feature_usage`` unpartitioned, each first written with
rows that must not count (a stale version) and then overwritten, so the folders
hold data files the table no longer contains. The expected members are the
pandas engine's on the flat CSV sample; pandas and DuckDB must give them.
Without the package, a Delta folder is one line that says what to install.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from test_data_folders import (
    SAMPLE,
    TABLES,
    USAGE,
    duckdb_members,
    errors,
    pandas_members,
    sample_copy,
    sample_table,
)

from pendo_segments.data import load_dataset
from pendo_segments.definitions import load_definitions
from pendo_segments.errors import DataError

deltalake = pytest.importorskip("deltalake")


@pytest.fixture(scope="module")
def defs():
    return load_definitions(Path("segment_defs"))


def stale(table: pa.Table) -> pa.Table:
    """Rows of a superseded version: every minute and click multiplied by 1,000."""
    for column in ("minutes", "clicks", "events"):
        if column in table.column_names:
            i = table.schema.get_field_index(column)
            values = pc.multiply(table.column(column), 1000)
            table = table.set_column(i, column, values)
    return table


@pytest.fixture(scope="module")
def delta_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("delta")
    for name in TABLES:
        table = sample_table(name)
        if name not in USAGE:
            (root / f"{name}.csv").write_bytes((SAMPLE / f"{name}.csv").read_bytes())
            continue
        parts = ["date"] if name == "usage_daily" else None
        target = str(root / name)
        deltalake.write_deltalake(target, stale(table), partition_by=parts)
        deltalake.write_deltalake(target, table, partition_by=parts, mode="overwrite")
    return root


def test_the_folder_holds_superseded_files(delta_folder: Path) -> None:
    live = deltalake.DeltaTable(str(delta_folder / "usage_daily")).file_uris()
    on_disk = list((delta_folder / "usage_daily").rglob("*.parquet"))
    assert len(on_disk) == 2 * len(live)  # what a folder listing would read


def test_pandas_and_duckdb_read_the_current_version(defs, delta_folder: Path) -> None:
    expected = pandas_members(defs, SAMPLE)
    assert len(expected) > 1000
    assert pandas_members(defs, delta_folder) == expected
    assert duckdb_members(defs, delta_folder) == expected


def test_partition_dates_and_values(delta_folder: Path) -> None:
    flat = load_dataset(SAMPLE, warn=lambda _m: None).usage_daily
    got = load_dataset(delta_folder, warn=lambda _m: None).usage_daily
    assert got["date"].dtype == flat["date"].dtype
    key = ["date", "visitor_id"]

    def ordered(frame):  # type: ignore[no-untyped-def]
        out = frame[[*key, "minutes", "events"]].astype({"visitor_id": str})
        return out.sort_values(key).reset_index(drop=True)

    assert ordered(got).equals(ordered(flat))


def test_without_the_extra_one_line_says_what_to_install(
    defs, delta_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "deltalake", None)  # import fails as if not installed
    message = (
        "usage_daily/: a Delta table (_delta_log/): reading it needs the deltalake package: "
        "pip install 'pendo-segments[delta]' (or write the table out as Parquet)"
    )
    assert errors(defs, delta_folder) == {"pandas": message, "duckdb": message}


def test_an_empty_log_is_one_line(defs, tmp_path: Path) -> None:
    folder = sample_copy(tmp_path)
    (folder / "usage_daily.csv").unlink()
    (folder / "usage_daily" / "_delta_log").mkdir(parents=True)
    got = errors(defs, folder)
    assert got["pandas"] == got["duckdb"]
    assert got["pandas"].startswith("usage_daily/: not a readable Delta table (")
    assert "\n" not in got["pandas"]


def test_deletion_vectors_are_refused(defs, tmp_path: Path) -> None:
    """A log whose protocol needs deletion vectors: its files hold rows that are deleted."""
    folder = sample_copy(tmp_path)
    (folder / "usage_daily.csv").unlink()
    target = folder / "usage_daily"
    deltalake.write_deltalake(str(target), sample_table("usage_daily"))
    log = target / "_delta_log" / "00000000000000000001.json"
    log.write_text(
        '{"protocol":{"minReaderVersion":3,"minWriterVersion":7,'
        '"readerFeatures":["deletionVectors"],"writerFeatures":["deletionVectors"]}}\n'
        '{"commitInfo":{"operation":"SET TBLPROPERTIES"}}\n'
    )
    message = (
        "usage_daily/: a Delta table with deletion vectors, which are not read; rewrite it "
        "without them (REORG TABLE … APPLY (PURGE)) or export it as Parquet"
    )
    assert errors(defs, folder) == {"pandas": message, "duckdb": message}


def test_iceberg_is_still_refused(tmp_path: Path) -> None:
    folder = sample_copy(tmp_path)
    (folder / "usage_daily.csv").unlink()
    (folder / "usage_daily" / "metadata").mkdir(parents=True)
    (folder / "usage_daily" / "metadata" / "v1.metadata.json").write_text("{}")
    with pytest.raises(DataError, match=r"^usage_daily/: an Iceberg table"):
        load_dataset(folder)
