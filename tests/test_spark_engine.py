"""The Spark engine gives the pandas engine's members, health scores and explanations.

The local Spark session of the test process (``spark`` in conftest.py: local[1],
2 shuffle partitions, no UI, no code generation: tiny data) serves the whole
module, the CLI runs included (they run in-process and get the same session);
the sample is opened once. Without Java or pyspark the tests skip, except in CI
(``CI`` or ``PENDO_SEGMENTS_REQUIRE_SPARK`` set), where they fail.
"""

from __future__ import annotations

import math
import shutil
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
from pendo_segments.errors import EvaluationError
from pendo_segments.evaluate import evaluate
from pendo_segments.health import COMPONENTS, HealthConfig, compute_health

# pyspark's notices about pandas 3 (results are compared here, not assumed)
pytestmark = [
    pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning"),
    # JVM start-up plus a first Spark job can pass the suite's 300 s on a loaded 2-core box
    pytest.mark.timeout(1200),
]


@pytest.fixture(scope="module")
def defs(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("defs")
    for path in [*Path("segment_defs").glob("*.yaml"), *Path("tests/defs_extra").glob("*.yaml")]:
        shutil.copy(path, folder / path.name)
    return load_definitions(folder)


def rows(frame: pd.DataFrame) -> list[tuple[str, str, str]]:
    return [tuple(map(str, r)) for r in frame.itertuples(index=False)]


@pytest.fixture(scope="module")
def sample(spark):
    """The bundled sample folder as Spark reads it (CSV), opened once for the module."""
    from pendo_segments.evaluate.spark_data import open_spark_data

    data = open_spark_data(spark, "sample")  # Spark reads the CSV files itself
    yield data
    data.close()


def test_bundled_sample_folder_gives_pandas_members_and_health(spark, defs, sample) -> None:
    from pendo_segments.evaluate.spark_engine import evaluate_spark
    from pendo_segments.health.spark import spark_health

    got = evaluate_spark(defs, sample)
    ds = load_sample()
    expected = evaluate(defs, ds)
    assert got.as_of == expected.as_of  # the default: the day after the latest usage
    assert rows(got.membership()) == rows(expected.membership())
    assert got.counts() == expected.counts()
    assert sum(1 for n in got.counts().values() if n) >= len(got.counts()) - 4
    assert_same_health(spark_health(sample, HealthConfig()), compute_health(ds))


def test_explain_on_spark_gives_the_pandas_explanation(defs, sample) -> None:
    """Members and not, both subjects, references, a trial visitor without an account row."""
    from pendo_segments.evaluate import explain
    from pendo_segments.evaluate.explain import explain_spark

    ds = load_sample()
    ev = evaluate(defs, ds)
    accounts = list(ds.accounts["account_id"])
    at_risk = set(ev.members("at_risk"))
    trial = next(v for v, a in zip(ds.visitors["visitor_id"], ds.visitors["account_id"], strict=True) if a not in set(accounts))  # fmt: skip
    cases = [
        ("at_risk", next(a for a in accounts if a in at_risk)),
        ("at_risk", next(a for a in accounts if a not in at_risk)),
        ("expansion_ready", accounts[7]),  # references healthy and smb
        ("at_risk_enterprise", accounts[3]),
        ("new_users", str(ds.visitors["visitor_id"].iloc[5])),
        ("never_used_data_explorer", trial),
    ]
    for name, subject in cases:
        want = explain(defs, ds, name, subject)
        got = explain_spark(defs, sample, name, subject)
        assert got.summary == want.summary, (name, subject)
        assert [r.as_row() for r in got.rows] == [r.as_row() for r in want.rows], (name, subject)
    visitor = str(ds.visitors["visitor_id"].iloc[0])
    for name, subject in [
        ("at_risk", visitor),
        ("new_users", accounts[0]),
        ("at_risk", "acc-0001x"),
    ]:
        with pytest.raises(EvaluationError) as want_err:
            explain(defs, ds, name, subject)
        with pytest.raises(EvaluationError) as got_err:
            explain_spark(defs, sample, name, subject)
        assert str(got_err.value) == str(want_err.value)


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


def test_cli_same_output_and_warnings_on_every_engine_explain_and_catalog(
    spark, tmp_path: Path
) -> None:
    """One end-to-end run per engine on a folder with an orphan visitor and an unknown one."""
    folder = write_csv_folder(tmp_path / "usage")  # the hand-made set's visitor of account 'ghost'
    usage = folder / "feature_usage.csv"
    usage.write_text(usage.read_text() + "2026-10-05,nobody,core_events,3,A1\n")
    day = ["--as-of", AS_OF.isoformat()]
    on_spark = ["--engine", "spark", "--spark-master", "local[1]"]
    common = ["evaluate", "--data", str(folder), *day, "--format", "csv", "--lenient"]
    outs = {e: run(*common, "--engine", e) for e in ("pandas", "duckdb")}
    outs["spark"] = run(*common, *on_spark)
    expected = outs["pandas"]
    orphan = "Warning: visitors.csv: 1 visitor of 1 account not in accounts.csv ('ghost'); "
    assert expected.stderr.splitlines() == [
        orphan + "their account fields are blank",
        "Warning: feature_usage.csv: dropped 1 row of 1 unknown visitor",
    ]
    for engine, out in outs.items():
        assert (out.exit_code, out.stdout, out.stderr) == (0, expected.stdout, expected.stderr), (
            engine
        )

    # explain --engine spark: the pandas explanation and warnings (more cases in-process above)
    args = ["explain", "at_risk", "A1", "--data", str(folder), *day, "--lenient", "--format", "csv"]
    want, got = run(*args), run(*args, *on_spark)
    assert (got.exit_code, got.stdout, got.stderr) == (0, want.stdout, want.stderr)

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
    members = pd.read_csv(pd.io.common.StringIO(expected.stdout), dtype=str)
    members = members[members["segment"].isin(segments)].reset_index(drop=True)
    assert rows(written[["segment", "subject", "subject_id"]]) == rows(members)
    counts = pd.read_csv(pd.io.common.StringIO(out.stdout))
    assert list(counts.columns) == ["segment", "subject", "members"]
    assert dict(zip(counts["segment"], counts["members"], strict=True)) == {
        **{s: 0 for s in segments},
        **members["segment"].value_counts().to_dict(),
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
    if what == "missing column":  # health and explain read data the same way; one case is enough
        outs["health-spark"] = run("health", "--data", str(folder), "--engine", "spark", "--spark-master", "local[1]")  # fmt: skip
        outs["explain-spark"] = run("explain", "at_risk", "A1", "--data", str(folder), "--engine", "spark", "--spark-master", "local[1]")  # fmt: skip
    message = outs["pandas"].stderr
    errors = [ln for ln in message.splitlines() if not ln.startswith("Warning:")]
    assert outs["pandas"].exit_code == 1 and len(errors) == 1, message  # the hand-made ghost warns
    assert path.name in message
    for engine, out in outs.items():  # the same one error line
        got = [ln for ln in out.stderr.splitlines() if not ln.startswith("Warning:")]
        assert (out.exit_code, got) == (1, errors), engine
        if "spark" in engine:  # and the same warnings before it (the orphan visitor's)
            assert out.stderr == message, engine


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


def test_who_exists_at_d_on_spark(spark, tmp_path: Path) -> None:
    """docs/semantics.md §2b on Spark: tests/test_subjects.py's hand-worked members."""
    import test_subjects as T

    from pendo_segments.evaluate.spark_data import open_spark_data
    from pendo_segments.evaluate.spark_engine import evaluate_spark

    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "subjects.yaml").write_text(T.DEFS)
    defs = load_definitions(tmp_path / "defs")
    (tmp_path / "data").mkdir()
    data = open_spark_data(spark, str(T.write_folder(tmp_path / "data")))
    got = evaluate_spark(defs, data, as_of=T.D, names=sorted(T.EXPECTED))
    assert {n: sorted(got.members(n)) for n in T.EXPECTED} == T.EXPECTED


def test_health_of_subject_accounts_on_spark(spark, tmp_path: Path) -> None:
    """docs/semantics.md §2b: tests/test_subjects_health.py's hand-worked health rows
    (A3 created on D and A4 churned on D−1 get none; a2's NPS 0 leaves A1's mean)."""
    import test_subjects as T
    import test_subjects_health as H

    from pendo_segments.evaluate.spark_data import open_spark_data
    from pendo_segments.health.spark import spark_health

    data = open_spark_data(spark, str(H.write_folder(tmp_path)))
    frame = spark_health(data, HealthConfig(), T.D).frame()
    assert H.scores(frame) == H.HEALTH


def test_attribute_history_on_spark(spark, tmp_path: Path) -> None:
    """docs/semantics.md §2b on Spark: tests/test_history_engines.py's hand-worked members
    (history rows starting D−1 / D, ending D / D−1, created / churned D−1 / D, first seen
    D−1 / D / after D), tiers, the pandas health rows; and a day later."""
    import datetime as dt

    import test_history_engines as T

    from pendo_segments.evaluate.spark_data import open_spark_data
    from pendo_segments.evaluate.spark_engine import evaluate_spark
    from pendo_segments.health.spark import spark_health
    from pendo_segments.tiers.run import tier_inputs
    from pendo_segments.tiers.spark import spark_tiers

    folder = T.write_folder(tmp_path / "data")
    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "segments.yaml").write_text(T.DEFS)
    (tmp_path / "defs" / "tiers.yaml").write_text(T.TIERS_YAML)
    defs = load_definitions(tmp_path / "defs")
    data = open_spark_data(spark, str(folder))
    got = evaluate_spark(defs, data, as_of=T.D)
    assert {n: sorted(got.members(n)) for n in T.EXPECTED} == T.EXPECTED
    tiers = spark_tiers(data, tier_inputs(tmp_path / "defs"), T.D).frame()
    assert dict(zip(tiers["account_id"], tiers["tier"], strict=True)) == T.TIERS
    ds = T.load_dataset(folder)
    assert_same_health(spark_health(data, HealthConfig(), T.D), compute_health(ds, as_of=T.D))
    later = evaluate_spark(defs, data, as_of=T.D + dt.timedelta(days=1))
    assert {n: sorted(later.members(n)) for n in T.EXPECTED} == {
        "smb": ["A1", "A2", "A5", "A6"],
        "japanese": ["w1", "w2", "w5"],
    }
    dbt = T.write_folder(
        tmp_path / "dbt",
        "account_id,arr,dbt_valid_from,dbt_valid_to\nA1,12000,2026-09-10T01:00:00+02:00,\n",
    )
    on_dbt = evaluate_spark(defs, open_spark_data(spark, str(dbt)), as_of=T.D, names=["smb"])
    assert sorted(on_dbt.members("smb")) == ["A1"]  # 2026-09-09 23:00 UTC: holds at D−1's end


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
