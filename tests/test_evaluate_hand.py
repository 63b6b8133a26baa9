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


# -- last_visit (docs/semantics.md §2), as-of 2026-11-01: worked out by hand -------------
#: visitor -> (account, last_visit, active usage days, expected days_since_last_visit)
LAST_VISIT_CASES: dict[str, tuple[str, str | None, list[str], int | None]] = {
    "on_as_of": ("B1", "2026-11-01", [], None),  # the as-of day itself never counts
    "on_as_of_old_use": ("B2", "2026-11-01", ["2026-09-01"], 61),  # 09-01 → 61 days
    "back30": ("B3", "2026-10-02", [], 30),  # exactly 30 days back: not > 30
    "back31": ("B3", "2026-10-01", [], 31),  # 31 days back: lapsed
    "newer_than_use": ("B4", "2026-10-20", ["2026-09-01"], 12),  # 10-20 wins over 09-01
    "older_than_use": ("B4", "2026-06-01", ["2026-10-25"], 7),  # usage 10-25 wins
    "lapsed_before_use": ("B5", "2026-05-01", [], 184),  # 05-01 … 11-01 = 184 days
    "after_as_of": ("B6", "2026-11-05", ["2026-10-31"], 1),  # a later visit is ignored
    "never": ("B6", None, [], None),
}
#: Accounts take the latest over their visitors (B3: 10-02 → 30; B6: 10-31 → 1).
LAST_VISIT_ACCOUNTS = {"B1": None, "B2": 61, "B3": 30, "B4": 7, "B5": 184, "B6": 1}


@pytest.fixture(scope="module")
def lapsed() -> Dataset:
    import pandas as pd

    cases = LAST_VISIT_CASES
    accounts = pd.DataFrame(
        {
            "account_id": pd.array(sorted(LAST_VISIT_ACCOUNTS), dtype="string"),
            "arr": 1000.0,
            "plan": pd.array(["Starter"] * len(LAST_VISIT_ACCOUNTS), dtype="string"),
        }
    )
    visitors = pd.DataFrame(
        {
            "visitor_id": pd.array(list(cases), dtype="string"),
            "account_id": pd.array([c[0] for c in cases.values()], dtype="string"),
            "last_visit": pd.to_datetime([c[1] for c in cases.values()]),
        }
    )
    rows = [(d, v, 5.0, 2) for v, c in cases.items() for d in c[2]]
    rows.append(("2026-10-31", "never", 0.0, 0))  # an inactive row is not a visit
    usage = pd.DataFrame(rows, columns=["date", "visitor_id", "minutes", "events"])
    usage["date"] = pd.to_datetime(usage["date"])
    usage["visitor_id"] = pd.Categorical(usage["visitor_id"], categories=list(cases))
    features = pd.DataFrame({"feature_id": pd.array(["f"], dtype="string"), "name": ["F"]})
    fu = pd.DataFrame(
        {
            "date": pd.to_datetime([]),
            "visitor_id": pd.Categorical([], categories=list(cases)),
            "feature_id": pd.Categorical([], categories=["f"]),
            "clicks": pd.array([], dtype="int64"),
        }
    )
    return Dataset(
        accounts=accounts,
        visitors=visitors,
        usage_daily=usage,
        feature_usage=fu,
        features=features,
        source="last_visit",
    )


def _days(values) -> list[int | None]:
    return [None if v != v else int(v) for v in values]


def test_last_visit_boundaries_pandas(lapsed: Dataset) -> None:
    from pendo_segments.evaluate.metrics import Metrics

    m = Metrics(lapsed, AS_OF)
    want = {v: c[3] for v, c in LAST_VISIT_CASES.items()}
    got = dict(
        zip(m.ids("visitor"), _days(m.metric("visitor", "days_since_last_visit")), strict=True)
    )
    assert got == want
    got = dict(
        zip(m.ids("account"), _days(m.metric("account", "days_since_last_visit")), strict=True)
    )
    assert got == LAST_VISIT_ACCOUNTS


def test_last_visit_no_login_30d_in_both_engines(lapsed: Dataset, defs) -> None:
    want = sorted(["on_as_of_old_use", "back31", "lapsed_before_use"])
    ev = evaluate(defs, lapsed, as_of=AS_OF, names=["no_login_30d"])
    assert sorted(ev.members("no_login_30d")) == want
    assert evaluate_sql(defs, lapsed, as_of=AS_OF, names=["no_login_30d"]) == {"no_login_30d": want}


def test_explain_shows_last_visit(lapsed: Dataset, defs) -> None:
    result = explain(defs, lapsed, "no_login_30d", "back31", as_of=AS_OF)
    assert result.member
    row = result.rows[-1]
    assert (row.condition, row.value) == ("days_since_last_visit (last visit 2026-10-01)", 31)
    result = explain(defs, lapsed, "no_login_30d", "older_than_use", as_of=AS_OF)
    row = result.rows[-1]  # usage on 10-25 is later than last_visit 06-01
    assert (row.condition, row.value) == ("days_since_last_visit (last visit 2026-10-25)", 7)
    result = explain(defs, lapsed, "no_login_30d", "on_as_of", as_of=AS_OF)
    row = result.rows[-1]
    assert (row.condition, row.value) == ("days_since_last_visit (no last visit known)", None)
