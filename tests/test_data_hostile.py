"""Hostile data files: one verdict and one message on every engine, never a traceback.

From issues 22 and 24: Parquet ``date`` columns holding numbers or true/false
(a DuckDB ``ConversionException``), true/false ``minutes`` and a duplicate
``date`` header (refused by pandas, accepted by DuckDB), a CSV padded with NUL
bytes (DuckDB skipped a large tail silently, Arrow said "straddling object"
without a file or row), and ``--memory-limit`` values DuckDB cannot work with.
Each expected message is the pandas loader's, worked out from the file.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from test_data_folders import SAMPLE, errors, sample_table

from pendo_segments.cli import main
from pendo_segments.definitions import load_definitions
from pendo_segments.errors import EvaluationError
from pendo_segments.evaluate import budget


@pytest.fixture(scope="module")
def defs():
    return load_definitions(Path("segment_defs"))


def sample_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    shutil.copytree(SAMPLE, folder)
    return folder


def usage_parquet(folder: Path, column: str, values: pa.Array) -> None:
    """usage_daily as Parquet with one column replaced (the CSV removed)."""
    table = sample_table("usage_daily")
    table = table.set_column(table.schema.get_field_index(column), column, values)
    pq.write_table(table, folder / "usage_daily.parquet")
    (folder / "usage_daily.csv").unlink()


N_USAGE = sample_table("usage_daily").num_rows


@pytest.mark.parametrize(
    ("values", "shown"),
    [
        (pa.array(range(N_USAGE), pa.int64()), "'0'"),
        (pa.array([i + 0.5 for i in range(N_USAGE)], pa.float64()), "'0.5'"),
        (pa.array([i % 2 == 0 for i in range(N_USAGE)]), "'true'"),
    ],
    ids=["int64", "double", "bool"],
)
def test_parquet_dates_of_numbers_or_flags(defs, tmp_path: Path, values: pa.Array, shown: str):
    folder = sample_copy(tmp_path)
    usage_parquet(folder, "date", values)
    message = f"usage_daily.parquet: row 1, column 'date': {shown} is not a date (YYYY-MM-DD)"
    assert errors(defs, folder) == {"pandas": message, "duckdb": message}


def test_true_false_minutes_are_not_numbers(defs, tmp_path: Path) -> None:
    folder = sample_copy(tmp_path)
    minutes = sample_table("usage_daily").column("minutes")
    assert minutes[0].as_py() == 15.7  # so the first row's flag is true
    usage_parquet(folder, "minutes", pc.greater(minutes, 5))
    message = "usage_daily.parquet: row 1, column 'minutes': 'true' is not a number"
    assert errors(defs, folder) == {"pandas": message, "duckdb": message}


def test_a_header_naming_date_twice(defs, tmp_path: Path) -> None:
    folder = sample_copy(tmp_path)
    path = folder / "usage_daily.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    text = [lines[0] + ",date"] + [f"{line},{line.split(',')[0]}" for line in lines[1:]]
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    message = "usage_daily.csv: column 'date' appears twice in the header"
    assert errors(defs, folder) == {"pandas": message, "duckdb": message}


def nul_message(label: str, line: int) -> str:
    return (
        f"{label}: line {line}: NUL bytes (\\0) in the text; the file is damaged "
        "(cut short or padded while written) or not CSV"
    )


@pytest.mark.parametrize("name", ["usage_daily.csv", "usage_daily.csv.gz"])
def test_a_tail_of_nul_bytes(defs, tmp_path: Path, name: str) -> None:
    folder = sample_copy(tmp_path)
    path = folder / "usage_daily.csv"
    text = path.read_bytes()
    lines = text.count(b"\n")  # every row ends its line: the NULs start a new one
    padded = text + b"\0" * 6000
    path.unlink()
    (folder / name).write_bytes(gzip.compress(padded) if name.endswith(".gz") else padded)
    expected = nul_message(name, lines + 1)
    assert errors(defs, folder) == {"pandas": expected, "duckdb": expected}


def test_nul_bytes_inside_a_gzipped_value(defs, tmp_path: Path) -> None:
    folder = sample_copy(tmp_path)
    path = folder / "features.csv"
    rows = path.read_text(encoding="utf-8").splitlines(keepends=True)
    rows[3] = rows[3].replace(",", "\0\0,", 1)  # the 3rd data row: line 4
    (folder / "features.csv.gz").write_bytes(gzip.compress("".join(rows).encode("utf-8")))
    path.unlink()
    expected = nul_message("features.csv.gz", 4)
    assert errors(defs, folder) == {"pandas": expected, "duckdb": expected}


# -- --memory-limit -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "problem"),
    [
        ("1KB", "is below the minimum of 64MB (e.g. 512MB, 3GB)"),
        ("-1GB", "is not a size (e.g. 512MB, 3GB, 2GiB)"),
        ("lots", "is not a size (e.g. 512MB, 3GB, 2GiB)"),
    ],
)
def test_memory_limits_duckdb_cannot_use(defs, limit: str, problem: str) -> None:
    from pendo_segments.evaluate.duckdb_folder import evaluate_folder

    with pytest.raises(EvaluationError) as err:
        evaluate_folder(defs, SAMPLE, memory_limit=limit)
    assert str(err.value) == f"--memory-limit {limit!r} {problem}"
    for engine in ("duckdb", "auto"):
        result = CliRunner().invoke(
            main, ["evaluate", "--data", str(SAMPLE), "--engine", engine, f"--memory-limit={limit}"]
        )
        assert result.exit_code == 2, result.output
        assert f"Invalid value for '--memory-limit': {limit!r} {problem}" in result.stderr


def test_running_out_of_memory_suggests_a_larger_limit(
    defs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB's OutOfMemoryException while it works becomes one line saying what to do."""
    from pendo_segments.evaluate.duckdb_folder import evaluate_folder

    monkeypatch.setattr(budget, "MIN_MEMORY_LIMIT", 0, raising=False)  # let 1KB through
    with pytest.raises(EvaluationError) as err:
        evaluate_folder(defs, SAMPLE, memory_limit="1KB", warn=lambda _m: None)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("duckdb: out of memory (Out of Memory Error: ")
    assert message.endswith("; give it more with --memory-limit (e.g. --memory-limit 4GB)")
