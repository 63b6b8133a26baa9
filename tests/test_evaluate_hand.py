"""Memberships on a hand-written data set, expected values worked out by hand."""

from __future__ import annotations

import pytest
from handmade import AS_OF, EXPECTED, frames

from pendo_segments.data.dataset import Dataset
from pendo_segments.definitions import load_definitions
from pendo_segments.errors import EvaluationError
from pendo_segments.evaluate import evaluate, explain
from pendo_segments.evaluate.duckdb_engine import evaluate_sql


@pytest.fixture(scope="module")
def ds() -> Dataset:
    return Dataset(**frames(), source="handmade")


@pytest.fixture(scope="module")
def defs():
    return load_definitions("segment_defs")


def test_every_shipped_segment_is_covered(defs) -> None:
    assert set(EXPECTED) == set(defs.segments)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_pandas_engine_matches_hand_results(ds: Dataset, defs, name: str) -> None:
    ev = evaluate(defs, ds, as_of=AS_OF, names=[name])
    assert sorted(ev.members(name)) == sorted(EXPECTED[name])


def test_sql_engine_matches_hand_results(ds: Dataset, defs) -> None:
    got = evaluate_sql(defs, ds, as_of=AS_OF)
    assert got == {k: sorted(v) for k, v in EXPECTED.items()}


def test_default_as_of_is_day_after_latest_usage(ds: Dataset, defs) -> None:
    # Latest usage row is a4v1 on 2026-11-01, so the default as-of is 2026-11-02.
    ev = evaluate(defs, ds, names=["no_login_30d"])
    assert ev.as_of.isoformat() == "2026-11-02"
    # a2v2 last active 10-01 → 32 days; a4v1 last active 11-01 → 1 day.
    assert list(ev.members("no_login_30d")) == ["a2v2"]


def test_membership_frame_is_sorted_contract(ds: Dataset, defs) -> None:
    frame = evaluate(defs, ds, as_of=AS_OF, names=["smb", "at_risk"]).membership()
    assert list(frame.columns) == ["segment", "subject", "subject_id"]
    assert frame.values.tolist() == [
        ["at_risk", "account", "A1"],
        ["at_risk", "account", "A3"],
        ["smb", "account", "A1"],
    ]


def test_explain_at_risk(ds: Dataset, defs) -> None:
    result = explain(defs, ds, "at_risk", "A4", as_of=AS_OF)
    assert not result.member
    rows = [(r.condition, r.value, r.op, r.threshold, r.passed) for r in result.rows]
    assert rows == [
        ("all of", None, "", None, False),
        ("active_days (last 30 days)", 1, "<=", 2, True),
        ("minutes (last 30 days)", 10.5, "<=", 10, False),
    ]


def test_explain_reference_and_unknown_subject(ds: Dataset, defs) -> None:
    result = explain(defs, ds, "at_risk_enterprise", "A3", as_of=AS_OF)
    assert result.member
    conditions = [r.condition for r in result.rows]
    assert conditions[:3] == ["all of", "in segment at_risk", "all of"]
    assert "plan" in conditions
    with pytest.raises(EvaluationError, match="no account 'A9' in the data"):
        explain(defs, ds, "at_risk", "A9", as_of=AS_OF)


def test_explain_null_last_visit(ds: Dataset, defs) -> None:
    result = explain(defs, ds, "no_login_30d", "a3v1", as_of=AS_OF)
    assert not result.member
    assert result.rows[-1].value is None  # never active: unknown, and unknown > 30 is false


def test_unknown_feature_and_column_are_clear_errors(ds: Dataset, tmp_path) -> None:
    (tmp_path / "x.yaml").write_text(
        "title: X\nsubject: visitor\nrule: {metric: feature_clicks, feature: core_event, "
        "op: '<=', value: 1}\n"
    )
    (tmp_path / "y.yaml").write_text(
        "title: Y\nsubject: account\nrule: {field: tier_name, op: '=', value: P1}\n"
    )
    defs = load_definitions(tmp_path)
    with pytest.raises(
        EvaluationError, match="unknown feature 'core_event'.*did you mean 'core_events'"
    ):
        evaluate(defs, ds, as_of=AS_OF, names=["x"])
    with pytest.raises(EvaluationError, match="no column 'tier_name' in accounts"):
        evaluate(defs, ds, as_of=AS_OF, names=["y"])
