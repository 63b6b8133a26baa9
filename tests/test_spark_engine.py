"""The Spark engine gives the pandas engine's members and health scores.

One local Spark session (local[1], 2 shuffle partitions, no UI, no code
generation: tiny data) serves the whole module; each data set is evaluated
in one Spark job. Without Java or pyspark the tests skip, except in CI
(``CI`` or ``PENDO_SEGMENTS_REQUIRE_SPARK`` set), where they fail.
"""

from __future__ import annotations

import math
import os
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import assert_same_health
from handmade import AS_OF, EXPECTED, frames
from health_handmade import EXPECTED_FULL, dataset

from pendo_segments.cli import main
from pendo_segments.data.dataset import Dataset
from pendo_segments.data.loaders import dataset_from_frames, load_sample, write_dataset
from pendo_segments.definitions import load_definitions
from pendo_segments.evaluate import evaluate
from pendo_segments.health import COMPONENTS, HealthConfig, compute_health

# pyspark's notices about pandas 3 (results are compared here, not assumed)
pytestmark = [
    pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning"),
    # JVM start-up plus a first Spark job can pass the suite's 300 s on a loaded 2-core box
    pytest.mark.timeout(1200),
]

TEST_CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "1",
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    "spark.sql.adaptive.enabled": "false",
    "spark.driver.memory": "512m",
}


def require_spark() -> None:
    """Skip without pyspark or Java; in CI that is a failure instead."""
    why = None
    try:
        import pyspark  # noqa: F401
    except ImportError:
        why = "pyspark is not installed (pip install -e '.[spark]')"
    if why is None and not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        why = "Java (17+) is not installed"
    if why:
        if os.environ.get("CI") or os.environ.get("PENDO_SEGMENTS_REQUIRE_SPARK"):
            pytest.fail(f"{why} (required in CI)")
        pytest.skip(why)


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory):
    require_spark()
    from pendo_segments.evaluate.spark_engine import spark_session

    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    conf = {**TEST_CONF, "spark.sql.warehouse.dir": str(warehouse)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyspark's pandas version notice
        session = spark_session("local[1]", conf)
    # the CLI asks for local[1] too: it gets this very session
    return session


@pytest.fixture(scope="module")
def defs(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("defs")
    for path in [*Path("segment_defs").glob("*.yaml"), *Path("tests/defs_extra").glob("*.yaml")]:
        shutil.copy(path, folder / path.name)
    return load_definitions(folder)


def rows(frame: pd.DataFrame) -> list[tuple[str, str, str]]:
    return [tuple(map(str, r)) for r in frame.itertuples(index=False)]


def test_bundled_sample_folder_gives_pandas_members_and_health(spark, defs) -> None:
    from pendo_segments.evaluate.spark_data import open_spark_data
    from pendo_segments.evaluate.spark_engine import evaluate_spark
    from pendo_segments.health.spark import spark_health

    data = open_spark_data(spark, "sample")  # Spark reads the CSV files itself
    got = evaluate_spark(defs, data)
    ds = load_sample()
    expected = evaluate(defs, ds)
    assert got.as_of == expected.as_of  # the default: the day after the latest usage
    assert rows(got.membership()) == rows(expected.membership())
    assert got.counts() == expected.counts()
    assert sum(1 for n in got.counts().values() if n) >= len(got.counts()) - 4
    assert_same_health(spark_health(data, HealthConfig()), compute_health(ds))


def test_handmade_parquet_folder_matches_hand_results(spark, defs, tmp_path: Path) -> None:
    from pendo_segments.evaluate.spark_data import open_spark_data
    from pendo_segments.evaluate.spark_engine import evaluate_spark
    from pendo_segments.health.spark import spark_health

    write_dataset(dataset(), tmp_path / "usage", fmt="parquet")
    data = open_spark_data(spark, str(tmp_path / "usage"))
    got = evaluate_spark(defs, data, as_of=AS_OF, names=sorted(EXPECTED))
    for name, ids in EXPECTED.items():  # worked out by hand in tests/handmade.py
        assert sorted(got.members(name)) == ids, name
    health = spark_health(data, HealthConfig(), AS_OF).frame().set_index("account_id")
    for account, (score, components) in EXPECTED_FULL.items():
        assert health.loc[account, "health_score"] == pytest.approx(score, abs=0.05)
        for c, value in zip(COMPONENTS, components, strict=True):
            if value is None:
                assert math.isnan(health.loc[account, c]), (account, c)
            else:
                assert health.loc[account, c] == pytest.approx(value, abs=0.05), (account, c)


def boundary_dataset() -> Dataset:
    """Twelve boundary data sets of the DuckDB cross-check, merged into one.

    Ids are prefixed per set, so subjects never meet and the members of the
    merged set are the union of the members of each set (as-of fixed).
    """
    from hypothesis import HealthCheck, given, settings
    from test_evaluate_crosscheck import datasets

    drawn: list[Dataset] = []

    @settings(
        max_examples=12,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(datasets())
    def collect(ds: Dataset) -> None:
        drawn.append(ds)

    collect()
    merged: dict[str, list[pd.DataFrame]] = {}
    for i, ds in enumerate(drawn[-12:]):
        for name, frame in ds.tables().items():
            frame = frame.copy()
            for c in ("account_id", "visitor_id"):
                if c in frame:
                    frame[c] = [None if pd.isna(v) else f"d{i}_{v}" for v in frame[c]]
            if name == "features" and i:
                continue
            merged.setdefault(name, []).append(frame)
    return dataset_from_frames(
        {n: pd.concat(fs, ignore_index=True) for n, fs in merged.items()}, source="boundaries"
    )


def test_boundary_sets_give_pandas_members(spark, defs) -> None:
    """Windows D-30/D-31, as-of excluded, inclusive thresholds, no usage, refs, not, any."""
    from pendo_segments.evaluate.spark_engine import dataset_views, evaluate_spark

    ds = boundary_dataset()
    got = evaluate_spark(defs, dataset_views(spark, ds), as_of=AS_OF)
    assert rows(got.membership()) == rows(evaluate(defs, ds, as_of=AS_OF).membership())


def write_csv_folder(folder: Path, ds: Dataset | None = None) -> Path:
    write_dataset(ds or Dataset(**frames(), source="handmade"), folder)
    return folder


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_cli_csv_output_table_and_catalog(spark, tmp_path: Path) -> None:
    folder = write_csv_folder(tmp_path / "usage")
    common = ["evaluate", "--data", str(folder), "--as-of", AS_OF.isoformat(), "--format", "csv"]
    pandas_out = run(*common)
    spark_out = run(*common, "--engine", "spark", "--spark-master", "local[1]")
    assert spark_out.exit_code == 0, spark_out.output
    assert spark_out.stdout == pandas_out.stdout

    # the same tables in a catalog database; members written to a table there
    spark.sql("CREATE DATABASE IF NOT EXISTS usage_db")
    for name in ("accounts", "visitors", "usage_daily", "feature_usage", "features"):
        spark.table(name).write.mode("overwrite").saveAsTable(f"usage_db.{name}")
    out = run(
        "evaluate", "--data", "spark:usage_db", "--as-of", AS_OF.isoformat(),
        "--engine", "spark", "--spark-master", "local[1]",
        "--output-table", "usage_db.members", "--format", "csv",
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    written = spark.table("usage_db.members").toPandas()
    written = written.sort_values(["segment", "subject_id"]).reset_index(drop=True)
    expected = pd.read_csv(pd.io.common.StringIO(pandas_out.stdout), dtype=str)
    assert rows(written[["segment", "subject", "subject_id"]]) == rows(expected)
    counts = pd.read_csv(pd.io.common.StringIO(out.stdout))
    assert list(counts.columns) == ["segment", "subject", "members"]
    assert dict(zip(counts["segment"], counts["members"], strict=True)) == {
        **{s: 0 for s in counts["segment"]},
        **expected["segment"].value_counts().to_dict(),
    }


@pytest.mark.parametrize(
    "edit, what",
    [
        (lambda f: f / "usage_daily.csv", "negative minutes"),
        (lambda f: f / "visitors.csv", "missing column"),
        (lambda f: f / "feature_usage.csv", "unknown visitor"),
    ],
)
def test_bad_folder_gives_the_same_one_line_error_on_every_engine(
    spark, tmp_path: Path, edit, what: str
) -> None:
    folder = write_csv_folder(tmp_path / "usage")
    path = edit(folder)
    text = path.read_text(encoding="utf-8").splitlines()
    if what == "negative minutes":
        cells = text[3].split(",")
        cells[2] = "-1"
        text[3] = ",".join(cells)
    elif what == "missing column":
        text = [",".join(line.split(",")[1:]) for line in text]  # drops visitor_id
    else:
        text.append("2026-10-05,nobody,core_events,3,A1")
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    outs = {
        engine: run("evaluate", "--data", str(folder), "--engine", engine)
        for engine in ("pandas", "duckdb")
    }
    outs["health-duckdb"] = run("health", "--data", str(folder), "--engine", "duckdb")
    outs["spark"] = run("evaluate", "--data", str(folder), "--engine", "spark", "--spark-master", "local[1]")  # fmt: skip
    if what == "missing column":  # health reads data the same way; one case is enough
        outs["health-spark"] = run("health", "--data", str(folder), "--engine", "spark", "--spark-master", "local[1]")  # fmt: skip
    message = outs["pandas"].stderr
    errors = [ln for ln in message.splitlines() if not ln.startswith("Warning:")]
    assert outs["pandas"].exit_code == 1 and len(errors) == 1, message  # the hand-made ghost warns
    assert path.name in message
    for engine, out in outs.items():  # the same one error line (Spark skips the orphan warning)
        got = [ln for ln in out.stderr.splitlines() if not ln.startswith("Warning:")]
        assert (out.exit_code, got) == (1, errors), engine
    if what == "unknown visitor":  # --lenient: the same warning and the same members
        lenient = ["evaluate", "--data", str(folder), "--lenient", "--format", "csv"]
        pandas_out = run(*lenient)
        spark_out = run(*lenient, "--engine", "spark", "--spark-master", "local[1]")
        assert "dropped 1 row of 1 unknown visitor" in pandas_out.stderr
        orphan = "Warning: visitors.csv: 1 visitor of 1 account not in accounts.csv"
        pandas_err = "".join(
            ln for ln in pandas_out.stderr.splitlines(True) if not ln.startswith(orphan)
        )
        assert (spark_out.stdout, spark_out.stderr) == (pandas_out.stdout, pandas_err)


def test_spark_options_need_the_spark_engine(tmp_path: Path) -> None:
    out = run("evaluate", "--data", "sample", "--spark-master", "local[1]")
    assert out.exit_code == 2 and "--spark-master need --engine spark" in out.output
