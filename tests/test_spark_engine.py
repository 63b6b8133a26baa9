"""Spark-only parts of the Spark engine: catalog tables, its options, local mode; history.

What every engine must answer alike (members, explain, health, tiers, alerts, the
backtest, reading and refusing folders, who exists at D) is in tests/conformance/,
Spark included. The local Spark session of the test process (``spark`` in
conftest.py: local[1], 2 shuffle partitions, no UI, no code generation) serves the
module, the CLI runs included (they run in-process and get the same session).
Without Java or pyspark the tests skip, except in CI (``CI`` or
``PENDO_SEGMENTS_REQUIRE_SPARK`` set), where they fail.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import assert_same_health
from handmade import AS_OF, frames

from pendo_segments.cli import main
from pendo_segments.data.dataset import Dataset
from pendo_segments.data.loaders import write_dataset
from pendo_segments.definitions import load_definitions
from pendo_segments.errors import DataError
from pendo_segments.health import HealthConfig, compute_health

# pyspark's notices about pandas 3 (results are compared here, not assumed)
pytestmark = [
    pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning"),
    # JVM start-up plus a first Spark job can pass the suite's 300 s on a loaded 2-core box
    pytest.mark.timeout(1200),
]


def rows(frame: pd.DataFrame) -> list[tuple[str, str, str]]:
    return [tuple(map(str, r)) for r in frame.itertuples(index=False)]


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_catalog_database_in_and_output_table_out(spark, tmp_path: Path) -> None:
    """``--data spark:DB`` reads catalog tables; ``--output-table`` writes the members there."""
    folder = tmp_path / "usage"
    write_dataset(Dataset(**frames(), source="handmade"), folder)
    day = ["--as-of", AS_OF.isoformat()]
    on_spark = ["--engine", "spark", "--spark-master", "local[1]"]
    common = ["evaluate", "--data", str(folder), *day, "--format", "csv"]
    expected = run(*common)
    assert run(*common, *on_spark).stdout == expected.stdout  # leaves the tables as views

    # the same tables in a catalog database; members written to a table there
    spark.sql("CREATE DATABASE IF NOT EXISTS usage_db")
    for name in ("accounts", "visitors", "usage_daily", "feature_usage", "features"):
        spark.table(name).write.mode("overwrite").saveAsTable(f"usage_db.{name}")
    segments = ["at_risk", "healthy", "never_used_core_events", "new_users"]
    out = run(
        "evaluate", "--data", "spark:usage_db", *day, *on_spark,
        *[a for s in segments for a in ("-s", s)],
        "--output-table", "usage_db.members", "--format", "csv",
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    written = spark.table("usage_db.members").toPandas()
    written = written.sort_values(["segment", "subject_id"]).reset_index(drop=True)
    members = pd.read_csv(io.StringIO(expected.stdout), dtype=str)
    members = members[members["segment"].isin(segments)].reset_index(drop=True)
    assert rows(written[["segment", "subject", "subject_id"]]) == rows(members)
    counts = pd.read_csv(io.StringIO(out.stdout))
    assert list(counts.columns) == ["segment", "subject", "members"]
    assert dict(zip(counts["segment"], counts["members"], strict=True)) == {
        **{s: 0 for s in segments},
        **members["segment"].value_counts().to_dict(),
    }


def test_spark_options_need_the_spark_engine(tmp_path: Path) -> None:
    out = run("evaluate", "--data", "sample", "--spark-master", "local[1]")
    assert out.exit_code == 2 and "--spark-master need --engine spark" in out.output
    out = run("explain", "at_risk", "A1", "--data", "sample", "--spark-conf", "spark.x=1")
    assert out.exit_code == 2 and "--spark-conf need --engine spark" in out.output
    out = run("evaluate", "--data", "sample", "--engine", "spark", "--spark-conf", "nokey")
    assert out.exit_code == 2 and "expected KEY=VALUE" in out.output


def test_local_mode_sizes_shuffles_to_the_cores() -> None:
    from pendo_segments.evaluate.spark_engine import local_settings

    assert local_settings("local")["spark.sql.shuffle.partitions"] == "4"
    assert local_settings("local[2]")["spark.sql.shuffle.partitions"] == "8"
    assert local_settings("local[3, 2]")["spark.sql.shuffle.partitions"] == "12"
    assert local_settings("local[*]")["spark.sql.adaptive.enabled"] == "true"


def test_attribute_history_on_spark(spark, tmp_path: Path) -> None:
    """docs/semantics.md §2b on Spark: tests/test_history_engines.py's hand-worked members
    (history rows starting D−1 / D, ending D / D−1, created / churned D−1 / D, first seen
    D−1 / D / after D), tiers, the pandas health rows; and a day later."""
    import datetime as dt

    import test_history_engines as T

    from pendo_segments.engines import open_engine
    from pendo_segments.health.engine import engine_health
    from pendo_segments.tiers.run import engine_tiers, tier_inputs

    folder = T.write_folder(tmp_path / "data")
    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "segments.yaml").write_text(T.DEFS)
    (tmp_path / "defs" / "tiers.yaml").write_text(T.TIERS_YAML)
    defs = load_definitions(tmp_path / "defs")
    engine = open_engine("spark", str(folder), spark_master="local[1]")
    got = engine.memberships(defs, as_of=T.D)
    assert {n: sorted(got.members(n)) for n in T.EXPECTED} == T.EXPECTED
    tiers = engine_tiers(engine, tier_inputs(tmp_path / "defs"), T.D).frame()
    assert dict(zip(tiers["account_id"], tiers["tier"], strict=True)) == T.TIERS
    ds = T.load_dataset(folder)
    assert_same_health(engine_health(engine, HealthConfig(), T.D), compute_health(ds, as_of=T.D))
    later = engine.memberships(defs, as_of=T.D + dt.timedelta(days=1))
    assert {n: sorted(later.members(n)) for n in T.EXPECTED} == {
        "smb": ["A1", "A2", "A5", "A6"],
        "japanese": ["w1", "w2", "w5"],
    }
    engine.close()
    dbt = T.write_folder(
        tmp_path / "dbt",
        "account_id,arr,dbt_valid_from,dbt_valid_to\nA1,12000,2026-09-10T01:00:00+02:00,\n",
    )
    with open_engine("spark", str(dbt), spark_master="local[1]") as on_dbt:
        smb = on_dbt.memberships(defs, as_of=T.D, names=["smb"])
    assert sorted(smb.members("smb")) == ["A1"]  # 2026-09-09 23:00 UTC: holds at D−1's end


def test_a_visitors_account_at_d_on_spark(spark, tmp_path: Path) -> None:
    """visitors_history with account_id (docs/semantics.md §2b): roll-ups and who exists
    follow the visitor's account at D; tests/test_history_engines.py's hand-worked case."""
    import test_history_engines as T

    from pendo_segments.evaluate.spark_data import open_spark_data
    from pendo_segments.evaluate.spark_engine import evaluate_spark

    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "moves.yaml").write_text(T.MOVES_DEFS)
    defs = load_definitions(tmp_path / "defs")
    data = open_spark_data(spark, str(T.write_moves(tmp_path / "data")))
    for as_of, expected in T.MOVES_EXPECTED.items():
        got = evaluate_spark(defs, data, as_of=as_of)
        assert {n: sorted(got.members(n)) for n in expected} == expected, as_of


def test_attribute_history_from_storage_on_spark(spark, tmp_path: Path) -> None:
    """A folder Spark reads by URI (as on s3a:// or hdfs://) gets its history files
    read by Spark and checked by data/history.py: tests/test_history_engines.py's members."""
    import test_history_engines as T

    from pendo_segments.evaluate.spark_data import open_spark_data
    from pendo_segments.evaluate.spark_engine import evaluate_spark

    folder = T.write_folder(tmp_path / "data")
    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "segments.yaml").write_text(T.DEFS)
    defs = load_definitions(tmp_path / "defs")
    data = open_spark_data(spark, folder.resolve().as_uri())
    got = evaluate_spark(defs, data, as_of=T.D)
    assert {n: sorted(got.members(n)) for n in T.EXPECTED} == T.EXPECTED


def _read_columns(spark, query: str) -> list[list[str]]:
    """The columns of each table a query's optimised plan reads (files or cached frames;
    a cached frame's own plan not counted)."""
    leaves = spark.sql(query)._jdf.queryExecution().optimizedPlan().collectLeaves()
    out = []
    for i in range(leaves.size()):
        output = leaves.apply(i).output()
        out.append([output.apply(j).name() for j in range(output.size())])
    return out


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_segments_read_the_cached_metric_tables(spark, tmp_path: Path, fmt: str) -> None:
    """Every segment reads its metrics from the shared tables Spark cached, not the usage
    again (a metric table made WITH ``params`` was not found in a segment's plan, so each
    segment computed it anew); Parquet is scanned where read, text is parsed and cached once."""
    from pendo_segments.definitions.features import spark_catalogue
    from pendo_segments.evaluate.spark_data import open_spark_data
    from pendo_segments.evaluate.spark_engine import shared_queries

    folder = tmp_path / "usage"
    write_dataset(Dataset(**frames(), source="handmade"), folder, fmt=fmt)  # type: ignore[arg-type]
    data = open_spark_data(spark, str(folder))
    try:
        assert len(data.cached) == (0 if fmt == "parquet" else 5)
        defs = load_definitions(Path(__file__).parent.parent / "segment_defs")
        names = [s.name for s in defs.select(None)]
        defs.use_features(spark_catalogue(data.frames["features"]), ValueError, check=names)
        queries = shared_queries(data, defs, names, AS_OF)
        assert len(data.metrics) >= 5 and set(queries) == set(names)
        for name, query in queries.items():  # usage rows have a date; no other table read does
            assert [c for c in _read_columns(spark, query) if "date" in c] == [], name
    finally:
        data.close()


@pytest.mark.parametrize("limit", [0, 2_000_000])
def test_unknown_visitors_counted_alike_with_and_without_broadcast(
    spark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    """The usage checks meet the visitor ids in a broadcast join (few visitors) or after
    a per-visitor aggregate (many): the same counts either way. Three rows, two unknown
    visitors, counted by hand."""
    from pendo_segments.evaluate import spark_data

    monkeypatch.setattr(spark_data, "BROADCAST_VISITORS", limit)
    folder = tmp_path / "usage"
    write_dataset(Dataset(**frames(), source="handmade"), folder)
    usage = folder / "feature_usage.csv"
    header = usage.read_text().splitlines()[0].split(",")
    extra = [{"date": "2026-10-05", "visitor_id": v, "clicks": "3"} for v in ("zz1", "zz1", "zz2")]
    for row in extra:
        row["feature_id"] = "core_events"
    lines = [",".join(row.get(c, "") for c in header) for row in extra]
    usage.write_text(usage.read_text() + "\n".join(lines) + "\n")
    said: list[str] = []
    data = spark_data.open_spark_data(spark, str(folder), lenient=True, warn=said.append)
    try:
        assert [w for w in said if "unknown" in w] == [
            "feature_usage.csv: dropped 3 rows of 2 unknown visitors"
        ]
    finally:
        data.close()
    # strict, by URI (Spark's own message, not the loader's): an unknown id is named,
    # though the check pass only counts them (the example is looked up after)
    with pytest.raises(
        DataError,
        match=r"feature_usage.csv: column 'visitor_id': unknown "
        r"visitor 'zz[12]' \(3 rows of 2 unknown visitors;",
    ):
        spark_data.open_spark_data(spark, folder.resolve().as_uri())


def test_a_failed_check_names_a_bad_value_on_spark(spark, tmp_path: Path) -> None:
    """The check pass only counts bad values; the message still shows one (by URI: Spark's
    own message, not the loader's)."""
    from pendo_segments.evaluate import spark_data

    folder = tmp_path / "usage"
    write_dataset(Dataset(**frames(), source="handmade"), folder)
    usage = folder / "usage_daily.csv"
    header = usage.read_text().splitlines()[0].split(",")
    row = {
        "date": "2026-10-05",
        "visitor_id": "a1v1",
        "account_id": "A1",
        "minutes": "-5",
        "events": "1",
    }
    usage.write_text(usage.read_text() + ",".join(row.get(c, "") for c in header) + "\n")
    with pytest.raises(DataError, match=r"usage_daily.csv: column 'minutes': '-5' is negative"):
        spark_data.open_spark_data(spark, folder.resolve().as_uri())


def test_a_repeated_visitor_id_stops_the_load_on_spark(spark, tmp_path: Path) -> None:
    """The usage meets the visitor ids without a DISTINCT (they are the table's key), so
    a repeated id would double its usage rows in that join: the load must stop at the
    repeated id first, in Spark's own message (by URI)."""
    from pendo_segments.evaluate import spark_data

    folder = tmp_path / "usage"
    write_dataset(Dataset(**frames(), source="handmade"), folder)
    visitors = folder / "visitors.csv"
    lines = visitors.read_text().splitlines()
    again = next(line for line in lines[1:] if line.startswith("a1v1,"))  # has usage rows
    visitors.write_text("\n".join([*lines, again]) + "\n")
    with pytest.raises(DataError, match=r"/visitors\.csv: column 'visitor_id': 1 duplicate id$"):
        spark_data.open_spark_data(spark, folder.resolve().as_uri())
