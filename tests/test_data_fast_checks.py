"""Typed Parquet numbers are cleared by their extremes, and still name the bad row.

The loader checks a clean numeric column by its minimum and maximum (NaN and
infinities show up there) instead of building a mask per check (issue 28 #3);
a column that fails that test still gets the per-row message. Each case is a
Parquet file written by pyarrow with one bad value in row 3; the messages are
the documented ``FILE: row N, column 'C': VALUE PROBLEM``.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from pendo_segments.data import load_dataset
from pendo_segments.data.loaders import bundled_sample_path
from pendo_segments.errors import DataError

SAMPLE = bundled_sample_path()


def with_usage(tmp_path: Path, column: str, row_value: object, typ: pa.DataType) -> Path:
    folder = tmp_path / "data"
    shutil.copytree(SAMPLE, folder)
    table = pacsv.read_csv(folder / "usage_daily.csv")
    values = table.column(column).cast(typ, safe=False).to_pylist()
    values[2] = row_value
    i = table.schema.get_field_index(column)
    table = table.set_column(i, column, pa.array(values, typ))
    (folder / "usage_daily.csv").unlink()
    pq.write_table(table, folder / "usage_daily.parquet")
    return folder


@pytest.mark.parametrize("narrow", [False, True])
@pytest.mark.parametrize(
    ("column", "value", "typ", "problem"),
    [
        ("minutes", math.nan, pa.float64(), "nan is not a number"),
        ("minutes", math.inf, pa.float64(), "inf is not a number"),
        ("minutes", -math.inf, pa.float64(), "-inf is not a number"),
        ("minutes", -0.5, pa.float64(), "-0.5 is negative"),
        ("minutes", -1, pa.int64(), "-1 is negative"),
        ("events", -3, pa.int64(), "-3 is not a non-negative integer"),
        ("events", -3, pa.int32(), "-3 is not a non-negative integer"),
    ],
)
def test_a_bad_number_names_its_row(
    tmp_path: Path, column: str, value: object, typ: pa.DataType, problem: str, narrow: bool
) -> None:
    folder = with_usage(tmp_path, column, value, typ)
    with pytest.raises(DataError) as err:
        load_dataset(folder, narrow=narrow, warn=lambda _m: None)
    assert str(err.value) == f"usage_daily.parquet: row 3, column '{column}': {problem}"


def test_clean_extremes_pass(tmp_path: Path) -> None:
    """0 minutes and -0.0 are not negative; a huge finite float is a number."""
    folder = with_usage(tmp_path, "minutes", -0.0, pa.float64())
    ds = load_dataset(folder, narrow=True, warn=lambda _m: None)
    assert ds.usage_daily["minutes"].iloc[2] == 0.0
    folder = with_usage(tmp_path / "b", "minutes", 1e300, pa.float64())
    ds = load_dataset(folder, narrow=True, warn=lambda _m: None)
    assert ds.usage_daily["minutes"].iloc[2] == 1e300
