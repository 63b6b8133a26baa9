"""Health score (docs/semantics.md §5) on hand-made accounts; expected values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from health_handmade import AS_OF, COMPONENT_ORDER, EXPECTED_BASE, EXPECTED_FULL, dataset

from pendo_segments.data.dataset import Dataset
from pendo_segments.health import HEALTH_COLUMNS, HealthConfig, compute_health
from pendo_segments.health.score import round1, weighted_score


def _rows(result) -> dict[str, tuple[float, list[float | None]]]:
    out = {}
    for rec in result.frame().itertuples(index=False):
        values = [None if math.isnan(v) else v for v in rec[2:]]
        out[rec[0]] = (rec[1], values)
    return out


def test_columns_are_the_contract() -> None:
    assert ["account_id", "health_score", *COMPONENT_ORDER] == HEALTH_COLUMNS
    assert list(compute_health(dataset(), as_of=AS_OF).frame().columns) == HEALTH_COLUMNS


def test_all_components_by_hand() -> None:
    assert _rows(compute_health(dataset(), as_of=AS_OF)) == EXPECTED_FULL


def test_no_nps_and_no_tickets_file_renormalise_over_the_rest() -> None:
    result = compute_health(dataset(nps=False, tickets=False), as_of=AS_OF)
    assert _rows(result) == EXPECTED_BASE
    assert result.notes() == [
        "NPS missing for 5 of 5 accounts (no nps.csv); their weights are renormalised over "
        "the other components",
        "support tickets missing for 5 of 5 accounts (no tickets.csv); their weights are "
        "renormalised over the other components",
    ]


def test_missing_lists_per_account_and_note_names_the_window() -> None:
    result = compute_health(dataset(), as_of=AS_OF)
    frame = result.frame(with_missing=True).set_index("account_id")
    assert frame.loc["A1", "missing"] == ""
    assert frame.loc["A2", "missing"] == "nps"
    assert result.notes() == [
        "NPS missing for 4 of 5 accounts (no NPS responses in the last "
        "90 days); their weights are renormalised over the other components"
    ]


def test_zero_logins_score_zero_and_never_logged_in_has_no_last_login() -> None:
    result = compute_health(dataset(), as_of=AS_OF)
    i = result.account_ids.get_loc("A3")
    assert result.components["login_frequency"][i] == 0
    assert math.isnan(result.signals["days_since_last_login"][i])


def _five_key_features(clicked: int) -> Dataset:
    """All 5 catalogued features are key; A5's visitor clicks ``clicked`` of them once."""
    ds = dataset(nps=False, tickets=False)
    ds.features["key"] = pd.array([True] * 5, dtype="boolean")
    names = list(ds.features["feature_id"])[:clicked]
    fu = pd.DataFrame(
        {
            "date": pd.to_datetime(["2026-10-20"] * clicked),
            "visitor_id": ["a5v1"] * clicked,
            "feature_id": names,
            "clicks": [1] * clicked,
        }
    )
    fu["account_id"] = "A5"
    for c in ("visitor_id", "account_id", "feature_id"):
        fu[c] = fu[c].astype("category")
    ds.feature_usage = fu
    return ds


def test_exactly_80_percent_key_adoption_scores_100() -> None:
    # 4 of 5 key features → share 0.8 → min(1, 0.8 / 0.8) = 100; breadth 0.8/0.5 → 100
    result = compute_health(_five_key_features(4), as_of=AS_OF)
    i = result.account_ids.get_loc("A5")
    assert result.components["core_feature_adoption"][i] == 100.0
    assert result.signals["feature_adoption"][i] == pytest.approx(80.0)
    # 3 of 5 → 0.6 / 0.8 = 75
    result = compute_health(_five_key_features(3), as_of=AS_OF)
    assert result.components["core_feature_adoption"][i] == pytest.approx(75.0)


def test_adoption_is_missing_without_key_features() -> None:
    ds = dataset(nps=False, tickets=False)
    ds.features["key"] = pd.array([False] * 5, dtype="boolean")
    result = compute_health(ds, as_of=AS_OF)
    assert np.isnan(result.components["core_feature_adoption"]).all()
    # A1: login 6.25 (w20) and breadth 40 (w20) only → (125 + 800) / 40 = 23.125 → 23.1
    assert result.value("A1")["health_score"] == 23.1
    assert "no key features in features.csv" in result.notes()[0]


def test_weights_and_saturation_points_come_from_config() -> None:
    config = HealthConfig.model_validate(
        {
            "weights": {
                "login_frequency": 1,
                "core_feature_adoption": 0,
                "breadth": 0,
                "nps": 0,
                "support_tickets": 0,
            },
            "login_frequency": {"full_at_active_days": 8},
        }
    )
    result = compute_health(dataset(), as_of=AS_OF, config=config)
    # only login counts: A2 3 active days / 8 → 37.5; A5 16/8 → capped at 100
    assert result.value("A2")["health_score"] == 37.5
    assert result.value("A5")["health_score"] == 100.0
    # a weight of 0 keeps a component out of the score but it is still shown
    assert result.value("A1")["nps"] == 75.0


def test_windows_come_from_config() -> None:
    config = HealthConfig.model_validate(
        {"nps": {"window_days": 89}, "support_tickets": {"window_days": 29}}
    )
    result = compute_health(dataset(), as_of=AS_OF, config=config)
    # 08-03 drops out of the 89-day window: A1 NPS = 6 → 60; 10-02 drops out of 29 days: 1 ticket
    assert result.value("A1")["nps"] == 60.0
    assert result.value("A1")["support_tickets"] == 80.0


def test_round_half_up_to_one_decimal() -> None:
    values = np.array([56.25, 72.35, 0.05, 1.25, 6.25, 93.75, 18.75, np.nan, 100.0])
    got = round1(values)
    assert got[:-2].tolist() == [56.3, 72.4, 0.1, 1.3, 6.3, 93.8, 18.8]
    assert np.isnan(got[-2]) and got[-1] == 100.0


def test_weighted_score_renormalises_per_row() -> None:
    comps = np.array([[100.0, np.nan, 50.0], [np.nan, np.nan, np.nan], [0.0, 100.0, np.nan]])
    weights = np.array([1.0, 2.0, 3.0])
    got = weighted_score(comps, weights)
    # row 0: (100 + 150) / 4 = 62.5; row 1: nothing → NaN; row 2: 200 / 3
    assert got[0] == 62.5 and np.isnan(got[1]) and got[2] == pytest.approx(200 / 3)


def test_sessions_and_last_login_signals() -> None:
    result = compute_health(dataset(), as_of=AS_OF)
    sig = {k: dict(zip(result.account_ids, v, strict=True)) for k, v in result.signals.items()}
    # A1: a1v1 and a1v2 both active on 10-05 → 2 visitor-days; last login 11-01 − 10-05 = 27
    assert sig["sessions"]["A1"] == 2 and sig["days_since_last_login"]["A1"] == 27
    assert sig["sessions"]["A5"] == 16 and sig["days_since_last_login"]["A5"] == 15
    assert sig["tickets"]["A4"] == 6 and sig["nps_responses"]["A1"] == 2
    assert sig["renewal_in_days"]["A2"] == 90 and sig["renewal_in_days"]["A4"] == -1


def test_default_as_of_is_the_data_default() -> None:
    result = compute_health(dataset())
    assert result.as_of.isoformat() == "2026-11-02"  # latest usage row is 2026-11-01
