"""Calibration: AUC against brute force, and a crafted data set whose answer is known."""

from __future__ import annotations

import datetime as dt
import itertools
import math

import numpy as np
import pandas as pd
import pytest
from health_handmade import sample

from pendo_segments.data.dataset import Dataset
from pendo_segments.errors import DataError
from pendo_segments.health.calibrate import average_ranks, calibrate, roc_auc, weight_grid

AS_OF = dt.date(2026, 11, 1)


def brute_auc(scores: list[float], positive: list[bool]) -> float:
    """P(positive > negative) + ½ P(tie), by counting every pair."""
    pos = [s for s, p in zip(scores, positive, strict=True) if p]
    neg = [s for s, p in zip(scores, positive, strict=True) if not p]
    wins = sum((a > b) + 0.5 * (a == b) for a in pos for b in neg)
    return wins / (len(pos) * len(neg))


def test_average_ranks_with_ties() -> None:
    assert average_ranks(np.array([10, 20, 20, 5, 20])).tolist() == [2, 4, 4, 1, 4]
    cols = average_ranks(np.array([[1, 3], [1, 2], [2, 1]]))
    assert cols.tolist() == [[1.5, 3], [1.5, 2], [3, 1]]


def test_auc_matches_pair_counting() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        scores = rng.integers(0, 6, 30).astype(float)  # many ties
        positive = rng.random(30) < 0.4
        positive[:2] = [True, False]
        assert roc_auc(scores, positive) == pytest.approx(brute_auc(list(scores), list(positive)))


def test_auc_per_column_and_nan_rows() -> None:
    matrix = np.array([[1.0, np.nan], [2.0, 5.0], [3.0, 1.0], [4.0, 2.0]])
    positive = np.array([False, False, True, True])
    got = roc_auc(matrix, positive)
    assert got[0] == 1.0
    # column 2 without its NaN row: scores 5 (neg) vs 1, 2 (pos) → 0 of 2 pairs
    assert got[1] == 0.0
    assert math.isnan(roc_auc(np.array([1.0, 2.0]), np.array([True, True])))


def test_weight_grid_covers_every_split() -> None:
    grid = weight_grid(3, units=4)
    assert len(grid) == math.comb(4 + 2, 2) == 15
    assert (grid.sum(axis=1) == 4).all()
    assert len({tuple(r) for r in grid}) == 15
    assert len(weight_grid(5)) == math.comb(24, 4)  # 10,626 candidates for 5 components


def crafted(outcome_day: str | None = None) -> Dataset:
    """R1–R3 renew: active 16 days (10-02 … 10-17), no feature clicks.
    C1–C3 churn: active on 10-05 only, clicking both key features f1, f2 that day.

    By hand (weights 20/30/20 over login, adoption, breadth; no NPS, no tickets):
      renewed: login 100, adoption 0, breadth 0 → 2000 / 70 = 28.57
      churned: login 6.25, adoption 100, breadth 2/3 ÷ 0.5 → 100 → 5125 / 70 = 73.21
    so the current score ranks every churned account above every renewed one (AUC 0),
    while login alone separates perfectly (AUC 1).
    """
    ids = ["R1", "R2", "R3", "C1", "C2", "C3"]
    accounts = pd.DataFrame(
        {
            "account_id": pd.array(ids, dtype="string"),
            "arr": [20000.0] * 6,
            "plan": pd.array(["Growth"] * 6, dtype="string"),
        }
    )
    visitors = pd.DataFrame(
        {
            "visitor_id": pd.array([i.lower() for i in ids], dtype="string"),
            "account_id": pd.array(ids, dtype="string"),
        }
    )
    rows = [(f"2026-10-{d:02d}", v, 5.0, 3) for v in ("r1", "r2", "r3") for d in range(2, 18)]
    rows += [("2026-10-05", v, 5.0, 3) for v in ("c1", "c2", "c3")]
    usage = pd.DataFrame(rows, columns=["date", "visitor_id", "minutes", "events"])
    usage["date"] = pd.to_datetime(usage["date"])
    fu = pd.DataFrame(
        [("2026-10-05", v, f, 2) for v in ("c1", "c2", "c3") for f in ("f1", "f2")],
        columns=["date", "visitor_id", "feature_id", "clicks"],
    )
    fu["date"] = pd.to_datetime(fu["date"])
    for frame in (usage, fu):
        for c in ("visitor_id", "feature_id"):
            if c in frame:
                frame[c] = frame[c].astype("category")
    features = pd.DataFrame(
        {
            "feature_id": pd.array(["f1", "f2", "f3"], dtype="string"),
            "name": ["F1", "F2", "F3"],
            "key": pd.array([True, True, False], dtype="boolean"),
        }
    )
    outcomes = pd.DataFrame(
        {
            "account_id": pd.array(ids, dtype="string"),
            "churned": pd.array([False] * 3 + [True] * 3, dtype="boolean"),
        }
    )
    if outcome_day:
        outcomes["as_of"] = pd.to_datetime([outcome_day] * 6)
    return Dataset(
        accounts=accounts,
        visitors=visitors,
        usage_daily=usage,
        feature_usage=fu,
        features=features,
        outcomes=outcomes,
        source="crafted",
    )


def test_crafted_separation_and_suggestion() -> None:
    result = calibrate(crafted(), as_of=AS_OF)
    table = result.table().set_index("measure")
    assert (result.accounts, result.churned, result.renewed) == (6, 3, 3)
    assert table.loc["health_score", ["mean_churned", "mean_renewed", "auc"]].tolist() == [
        73.2,
        28.6,
        0.0,
    ]
    assert table.loc["login_frequency", ["mean_churned", "mean_renewed", "auc"]].tolist() == [
        6.3,
        100.0,
        1.0,
    ]  # 6.25 rounds half up
    assert table.loc["core_feature_adoption", "auc"] == 0.0
    assert table.loc["breadth", "auc"] == 0.0
    assert table.loc["nps", "accounts"] == 0 and result.uncalibrated == ["nps", "support_tickets"]
    # Renewed (100·wl/W) beat churned ((6.25·wl + 100·(wa + wb))/W) iff 93.75·wl > 100·(wa + wb).
    # Weights move in 3.5-point steps (70 / 20); the least change from 20 that does it is
    # wl = 11 steps = 38.5, leaving wa + wb = 31.5. NPS and tickets (no data) keep 15.
    w = result.suggested_weights
    assert result.changed and result.current_auc == 0.0 and result.suggested_auc == 1.0
    assert w["login_frequency"] == 38.5
    assert w["core_feature_adoption"] + w["breadth"] == pytest.approx(31.5)
    assert (w["nps"], w["support_tickets"]) == (15, 15)


def test_yaml_snippet_is_pasteable() -> None:
    import yaml

    result = calibrate(crafted(), as_of=AS_OF)
    snippet = result.yaml_snippet()
    assert yaml.safe_load(snippet) == {"weights": result.suggested_weights}
    assert "  nps: 15  # not calibrated: no data" in snippet
    assert "0.000 with the current weights, 1.000 with these" in snippet


def test_outcome_as_of_column_sets_the_scoring_day() -> None:
    # as of 10-06 the 30-day window is 09-06 … 10-05: renewed accounts have 4 active days
    result = calibrate(crafted("2026-10-06"))
    assert result.as_of == [dt.date(2026, 10, 6)]
    # renewed: login 4/16 → 25 → 500 / 70 = 7.14
    assert result.table().set_index("measure").loc["health_score", "mean_renewed"] == 7.1


def test_errors_without_outcomes_or_one_class() -> None:
    ds = crafted()
    ds.outcomes = None
    with pytest.raises(DataError, match="^crafted: no outcomes.csv; calibration needs"):
        calibrate(ds, as_of=AS_OF)
    ds = crafted()
    ds.outcomes["churned"] = pd.array([True] * 6, dtype="boolean")
    with pytest.raises(
        DataError,
        match=r"needs both churned and renewed accounts .*found 6 "
        r"churned of 6",
    ):
        calibrate(ds, as_of=AS_OF)


def test_finds_the_planted_signal_on_the_sample() -> None:
    result = calibrate(sample())
    table = result.table().set_index("measure")
    score = table.loc["health_score"]
    # churn in the sample rises with low usage, adoption and NPS and with tickets
    assert score["auc"] > 0.75
    assert score["mean_renewed"] - score["mean_churned"] > 25
    for component in (
        "login_frequency",
        "core_feature_adoption",
        "breadth",
        "nps",
        "support_tickets",
    ):
        assert table.loc[component, "auc"] > 0.6, component
    assert result.suggested_auc >= result.current_auc


def test_grid_search_never_loses_separation() -> None:
    rng = np.random.default_rng(11)
    from pendo_segments.health.calibrate import search_weights

    matrix = rng.uniform(0, 100, (40, 3))
    matrix[::4, 2] = np.nan
    renewed = rng.random(40) < 0.5
    current = np.array([20.0, 30.0, 20.0])
    best, auc = search_weights(matrix, renewed, current, [0, 1, 2])
    from pendo_segments.health.score import weighted_score

    assert auc >= roc_auc(weighted_score(matrix, current), renewed) - 1e-12
    assert best.sum() == pytest.approx(70)
    for w in itertools.islice(weight_grid(3, 4) * 17.5, 15):
        assert auc >= roc_auc(weighted_score(matrix, w), renewed) - 0.002 - 1e-12


def test_json_document_by_hand(tmp_path) -> None:  # noqa: ANN001
    """``health calibrate --format json`` on the hand-made set (tests/health_handmade.py,
    no NPS or tickets: scores A1 26.6, A2 5.4, A3 0.0, A4 1.8) with A1 and A2 renewed, A3
    and A4 churned: every renewed score is above every churned one, so the score's AUC is
    1; means (0 + 1.8) / 2 = 0.9 churned and (26.6 + 5.4) / 2 = 16 renewed. The command
    prints the result's own document (Calibration.render), keys in a fixed order."""
    import json

    from click.testing import CliRunner
    from health_handmade import dataset, write_folder

    from pendo_segments.cli import main

    folder = write_folder(dataset(nps=False, tickets=False), tmp_path / "usage")
    (folder / "outcomes.csv").write_text(
        "account_id,churned\nA1,false\nA2,false\nA3,true\nA4,true\n", encoding="utf-8"
    )
    args = ["health", "calibrate", "--data", str(folder), "--as-of", AS_OF.isoformat()]
    out = CliRunner().invoke(main, [*args, "--format", "json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert list(doc)[:5] == ["as_of", "accounts", "churned", "renewed", "separation"]
    assert (doc["as_of"], doc["accounts"], doc["churned"], doc["renewed"]) == (
        [AS_OF.isoformat()],
        4,
        2,
        2,
    )
    score = doc["separation"][0]
    assert score == {
        "measure": "health_score",
        "weight": None,
        "accounts": 4,
        "mean_churned": 0.9,
        "mean_renewed": 16.0,
        "auc": 1.0,
    }
    from pendo_segments.data.loaders import load_dataset

    result = calibrate(load_dataset(folder), as_of=AS_OF)
    mine = result.render("json").payload  # its YAML names the data as given: a path here
    assert {k: v for k, v in mine.items() if k != "yaml"} == {
        k: v for k, v in doc.items() if k != "yaml"
    }
    assert result.render("csv").frame.equals(result.table())
    assert result.render("table").text.endswith(result.yaml_snippet())
