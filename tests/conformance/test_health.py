"""``health`` on every engine: hand-worked scores (tests/health_handmade.py), pandas bytes.

The CSV carries the score and every component; the SQL engines must print the
pandas file byte for byte (1-decimal rounding included) with the same notes.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import pandas as pd
import pytest
from health_handmade import AS_OF, EXPECTED_BASE, EXPECTED_FULL, dataset

from conformance.data import write_folder
from conformance.run import same_as_pandas
from pendo_segments.health import COMPONENTS

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")

#: a health.yaml far from the defaults: every window, threshold and weight moved
CONFIG = """\
weights: {login_frequency: 50, core_feature_adoption: 30, breadth: 5, nps: 0, support_tickets: 15}
login_frequency: {window_days: 7, full_at_active_days: 4}
core_feature_adoption: {window_days: 60, full_at_share: 0.5, min_clicks: 3}
breadth: {window_days: 14, full_at_share: 0.25}
nps: {window_days: 30}
support_tickets: {window_days: 10, zero_at_tickets: 2}
"""


def health(engine: str, data: object, *extra: object) -> pd.DataFrame:
    args = ["health", "--data", data, "--as-of", AS_OF, "--format", "csv", *extra]
    out = same_as_pandas(engine, *args)
    return pd.read_csv(io.StringIO(out.stdout)).set_index("account_id")


@pytest.mark.parametrize(
    "extras, expected", [(True, EXPECTED_FULL), (False, EXPECTED_BASE)], ids=["full", "base"]
)
def test_handmade_scores_are_the_hand_worked_ones(
    engine: str, tmp_path: Path, extras: bool, expected
) -> None:
    folder = write_folder(dataset(nps=extras, tickets=extras), tmp_path / "usage")
    frame = health(engine, folder)
    for account, (score, components) in expected.items():
        assert frame.loc[account, "health_score"] == score, account
        for c, value in zip(COMPONENTS, components, strict=True):
            got = frame.loc[account, c]
            assert math.isnan(got) if value is None else got == value, (account, c)


def test_another_health_yaml_and_no_key_features(engine: str, tmp_path: Path) -> None:
    config = tmp_path / "health.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    folder = write_folder(dataset(), tmp_path / "usage")
    health(engine, folder, "--config", config)
    features = folder / "features.csv"  # no key features: adoption is missing, with a note
    features.write_text(features.read_text("utf-8").replace(",true", ",false"), "utf-8")
    frame = health(engine, folder)
    assert frame["core_feature_adoption"].isna().all()


def test_bundled_sample_gives_the_pandas_scores(engine: str, tmp_path: Path) -> None:
    config = tmp_path / "health.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    frame = health(engine, "sample", "--config", config)
    assert frame["health_score"].nunique() > 25


def engine_signals(engine: str, ds, as_of) -> dict:
    """The raw measures tiers and alerts read, by account id, as ``engine`` computes them."""
    from pendo_segments.health import HealthConfig, compute_health

    if engine == "pandas":
        result = compute_health(ds, as_of=as_of)
    elif engine == "duckdb":
        from pendo_segments.engines import open_engine
        from pendo_segments.health.engine import engine_health

        with open_engine("duckdb", "frames", dataset=ds) as duck:
            result = engine_health(duck, HealthConfig(), as_of)
    else:
        from conformance.run import spark_over
        from pendo_segments.health.engine import engine_health

        with spark_over(ds) as spark:
            result = engine_health(spark, HealthConfig(), as_of)
    ids = [str(a) for a in result.account_ids]
    return {
        name: {a: v for a, v in zip(ids, values, strict=True) if a in EXPECTED_FULL}
        for name, values in result.signals.items()
    }


def test_signals_are_the_hand_worked_ones(engine: str) -> None:
    """tests/health_handmade.py: renewals +60, +90, +91, −1, +14 days; last logins 10-05,
    10-12, none, 10-02, 10-17 before 11-01; visitor-days 2, 3, 0, 1, 16 (sessions)."""
    signals = engine_signals(engine, dataset(), AS_OF)
    assert signals["renewal_in_days"] == {"A1": 60, "A2": 90, "A3": 91, "A4": -1, "A5": 14}
    last = signals["days_since_last_login"]
    assert math.isnan(last.pop("A3")) and last == {"A1": 27, "A2": 20, "A4": 30, "A5": 15}
    assert signals["sessions"] == {"A1": 2, "A2": 3, "A3": 0, "A4": 1, "A5": 16}
