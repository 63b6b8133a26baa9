"""The health score compiled to SQL (DuckDB here) gives the pandas numbers.

Hand-worked expectations come from tests/health_handmade.py; the bundled
sample and a non-default health.yaml are checked against the pandas engine.
The Spark run of the same query is in test_spark_engine.py.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import sqlglot
from click.testing import CliRunner
from conftest import assert_same_health
from health_handmade import AS_OF, EXPECTED_BASE, EXPECTED_FULL, dataset, sample, write_folder

from pendo_segments.cli import main
from pendo_segments.health import COMPONENTS, HealthConfig, compute_health
from pendo_segments.health.sql import Tables, duckdb_health, health_query

pytest.importorskip("duckdb")


@pytest.mark.parametrize(
    "extras, expected", [(True, EXPECTED_FULL), (False, EXPECTED_BASE)], ids=["full", "base"]
)
def test_handmade_scores_are_the_hand_worked_ones(extras: bool, expected) -> None:
    ds = dataset(nps=extras, tickets=extras)
    result = duckdb_health(ds, HealthConfig(), AS_OF)
    frame = result.frame().set_index("account_id")
    for account, (score, components) in expected.items():
        assert frame.loc[account, "health_score"] == pytest.approx(score, abs=1e-9)
        for c, value in zip(COMPONENTS, components, strict=True):
            if value is None:
                assert math.isnan(frame.loc[account, c]), (account, c)
            else:
                assert frame.loc[account, c] == pytest.approx(value, abs=1e-9), (account, c)
    assert_same_health(result, compute_health(ds, as_of=AS_OF))


def test_sample_matches_pandas_with_default_as_of() -> None:
    ds = sample()
    assert_same_health(duckdb_health(ds, HealthConfig()), compute_health(ds))


def test_settings_come_from_the_same_health_config() -> None:
    config = HealthConfig.model_validate(
        {
            "weights": {"login_frequency": 50, "nps": 0, "breadth": 5},
            "login_frequency": {"window_days": 7, "full_at_active_days": 4},
            "core_feature_adoption": {"window_days": 60, "full_at_share": 0.5, "min_clicks": 3},
            "breadth": {"window_days": 14, "full_at_share": 0.25},
            "nps": {"window_days": 30},
            "support_tickets": {"window_days": 10, "zero_at_tickets": 2},
        }
    )
    for ds in (sample(), dataset()):
        expected = compute_health(ds, as_of=AS_OF, config=config)
        assert_same_health(duckdb_health(ds, config, AS_OF), expected)
    # raw measures used by tiers and alerts come along too (in account order here;
    # the sample's visitors.last_visit counts for days_since_last_login)
    for ds in (dataset(), sample()):
        got = duckdb_health(ds, config, AS_OF)
        want = compute_health(ds, as_of=AS_OF, config=config)
        order = np.argsort(np.asarray(want.account_ids))
        assert list(got.account_ids) == list(np.asarray(want.account_ids)[order])
        for signal, values in want.signals.items():
            assert got.signals[signal] == pytest.approx(values[order], nan_ok=True), signal
    # hand-worked (tests/health_handmade.py): renewals +60, +90, +91, -1, +14 days;
    # last logins 10-05, 10-12, none, 10-02, 10-17 before 11-01
    got = duckdb_health(dataset(), HealthConfig(), AS_OF)
    assert got.signals["renewal_in_days"].tolist() == [60, 90, 91, -1, 14]
    assert got.signals["days_since_last_login"].tolist()[:2] == [27, 20]
    assert math.isnan(got.signals["days_since_last_login"][2])
    assert got.signals["days_since_last_login"].tolist()[3:] == [30, 15]


def test_no_features_means_missing_components() -> None:
    ds = dataset()
    ds.features = ds.features.iloc[0:0]
    ds.feature_usage = ds.feature_usage.iloc[0:0]
    got = duckdb_health(ds, HealthConfig(), AS_OF)
    assert_same_health(got, compute_health(ds, as_of=AS_OF))
    assert "no key features in features.csv" in " ".join(got.notes())


@pytest.mark.parametrize("dialect", ["spark", "snowflake", "bigquery", "databricks"])
def test_query_transpiles_to_warehouse_dialects(dialect: str) -> None:
    tables = Tables(key_features=4, features=5, nps=True, tickets=True)
    sql = health_query(HealthConfig(), tables, AS_OF, dialect=dialect)
    assert sqlglot.parse_one(sql, read=dialect) is not None
    assert "2026-11-01" in sql


def test_cli_duckdb_engine_prints_the_pandas_csv(tmp_path: Path) -> None:
    folder = write_folder(dataset(), tmp_path / "usage")
    args = ["health", "--data", str(folder), "--as-of", AS_OF.isoformat(), "--format", "csv"]
    pandas_out = CliRunner().invoke(main, args)
    duck_out = CliRunner().invoke(main, [*args, "--engine", "duckdb"])
    assert duck_out.exit_code == 0, duck_out.output
    assert duck_out.stdout == pandas_out.stdout
    assert duck_out.stderr == pandas_out.stderr  # the same notes on missing components
    bad = CliRunner().invoke(main, [*args, "--engine", "duckdb", "--spark-master", "local[1]"])
    assert bad.exit_code == 2
