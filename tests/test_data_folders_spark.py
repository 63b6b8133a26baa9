"""``--engine spark`` reads the data like the other engines.

Few cases (each Spark job costs seconds): two foreign layouts of
test_data_folders.py against the members of the flat CSV sample, the
one-line errors of a broken folder, which must be the other engines' very
messages, and a rule on an optional column the data lacks
(test_optional_columns.py): blank, with the same single warning.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from test_data_folders import LAYOUTS, SAMPLE, pandas_members, sample_table
from test_optional_columns import N_ACCOUNTS, SEGMENTS, WARNING, sample_with, warnings

from pendo_segments.cli import main
from pendo_segments.data import load_dataset
from pendo_segments.definitions import DefinitionSet, load_definitions
from pendo_segments.errors import DataError

pytestmark = [
    pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning"),
    pytest.mark.timeout(1200),
]


#: Every kind of reading the layouts must get right (account and visitor metrics, a feature's
#: clicks, first visit, an account field), in four segments: each Spark query costs seconds.
LAYOUT_SEGMENTS = ("at_risk", "new_users", "never_used_core_events", "smb")


@pytest.fixture(scope="module")
def defs():
    shipped = load_definitions(Path("segment_defs"))
    return DefinitionSet({name: shipped.segments[name] for name in LAYOUT_SEGMENTS}, shipped.files)


def spark_members(spark, defs, folder: Path) -> list[tuple[str, str, str]]:
    from pendo_segments.evaluate.spark_data import open_spark_data
    from pendo_segments.evaluate.spark_engine import evaluate_spark

    data = open_spark_data(spark, str(folder), warn=lambda _m: None)
    try:
        frame = evaluate_spark(defs, data).membership()
    finally:
        data.close()
    return [tuple(map(str, r)) for r in frame.itertuples(index=False)]


@pytest.mark.parametrize("layout", ["spark folders by hand", "pyarrow write_dataset, hive"])
def test_spark_reads_the_layout(spark, defs, tmp_path: Path, layout: str) -> None:
    LAYOUTS[layout](tmp_path)
    expected = pandas_members(defs, SAMPLE)
    assert len(expected) > 500 and {m[0] for m in expected} == set(LAYOUT_SEGMENTS)
    assert spark_members(spark, defs, tmp_path) == expected


def spark_error(spark, folder: Path) -> str:
    from pendo_segments.evaluate.spark_data import open_spark_data

    with pytest.raises(DataError) as err:
        open_spark_data(spark, str(folder), warn=lambda _m: None)
    return str(err.value)


def pandas_error(folder: Path) -> str:
    with pytest.raises(DataError) as err:
        load_dataset(folder, warn=lambda _m: None)
    return str(err.value)


def test_the_same_one_line_errors(spark, tmp_path: Path) -> None:
    folder = tmp_path / "data"
    shutil.copytree(SAMPLE, folder)
    (folder / "usage_daily.csv").unlink()
    parts = folder / "usage_daily"
    parts.mkdir()
    (parts / "_SUCCESS").write_bytes(b"")
    empty = "usage_daily/: no data files (.parquet, .csv or .csv.gz part files)"
    assert spark_error(spark, folder) == pandas_error(folder) == empty

    table = sample_table("usage_daily")
    pq.write_table(table.slice(0, 5), parts / "part-00000.parquet")
    pq.write_table(table.slice(5).drop_columns(["account_id"]), parts / "part-00001.parquet")
    mixed = "usage_daily/: parts differ: column 'account_id' is in part-00000.parquet, not in part-00001.parquet"
    assert spark_error(spark, folder) == pandas_error(folder) == mixed

    # true/false minutes: the pandas loader refuses them; Spark read them as 1.0 / 0.0
    (parts / "part-00001.parquet").unlink()
    minutes = table.schema.get_field_index("minutes")
    flags = table.set_column(minutes, "minutes", pc.greater(table.column("minutes"), 5))
    pq.write_table(flags, parts / "part-00000.parquet")
    assert pa.types.is_boolean(pq.read_schema(parts / "part-00000.parquet").field("minutes").type)
    bools = "usage_daily/part-00000.parquet: row 1, column 'minutes': 'true' is not a number"
    assert spark_error(spark, folder) == pandas_error(folder) == bools


def test_a_missing_optional_column_is_blank(spark, tmp_path: Path) -> None:
    absent, blank = sample_with(tmp_path, "absent"), sample_with(tmp_path, "blank")
    spark_args = ["--engine", "spark", "--spark-master", "local[1]", "--format", "csv"]
    tiers = ["tiers", "segment_defs", "--format", "csv"]
    expected = CliRunner().invoke(main, [*tiers, "--data", str(blank)])
    got = CliRunner().invoke(main, [*tiers, *spark_args, "--data", str(absent)])
    assert got.exit_code == 0, got.stderr
    assert got.stdout == expected.stdout
    assert warnings(got) == [WARNING]

    defs = tmp_path / "defs.yaml"
    defs.write_text(SEGMENTS, encoding="utf-8")
    counts = CliRunner().invoke(
        main, ["evaluate", str(defs), "--counts", *spark_args, "--data", str(absent)]
    )
    assert counts.exit_code == 0, counts.stderr
    assert sorted(counts.stdout.splitlines()[1:]) == [
        f"assisted,account,{N_ACCOUNTS}",
        "self_serve,account,0",
        "self_serve_visitors,visitor,0",
    ]
    assert warnings(counts) == [WARNING]
