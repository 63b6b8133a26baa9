"""``--engine auto`` on streamed CSV and on every layout (issue 28 #3).

The estimate reads only file sizes and Parquet footers. CSV usage tables are
streamed into typed columns now: 1.17 GB of DuckDB-written CSV peaked at
1.57 GiB in the whole process (benchmarks/RESULTS.md), so 1 GB of CSV text fits
a 2 GiB budget; it did not while the whole text was held (2.5 bytes a byte).
The files here are sparse: their size is all the estimate reads.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from pendo_segments.data.loaders import bundled_sample_path
from pendo_segments.evaluate.budget import choose_engine

SAMPLE = bundled_sample_path()
GB = 10**9


def sized(tmp_path: Path, usage_bytes: int) -> Path:
    folder = tmp_path / "data"
    shutil.copytree(SAMPLE, folder)
    with (folder / "usage_daily.csv").open("r+b") as fh:
        fh.truncate(usage_bytes)  # a hole: no disk used
    return folder


def test_a_gigabyte_of_csv_fits_two_gib(tmp_path: Path) -> None:
    assert choose_engine(str(sized(tmp_path, GB)), "2GiB") == ("pandas", "")


def test_two_gigabytes_of_csv_go_to_duckdb(tmp_path: Path) -> None:
    engine, reason = choose_engine(str(sized(tmp_path, 2 * GB)), "2GiB")
    assert engine == "duckdb"
    assert reason.startswith("using the duckdb engine: the data needs about 2.")
    assert reason.endswith(
        "over its budget of 2.0 GiB (--engine pandas to insist, --memory-limit to set the budget)"
    )


def test_the_sample_stays_on_pandas() -> None:
    assert choose_engine(str(SAMPLE), None) == ("pandas", "")
