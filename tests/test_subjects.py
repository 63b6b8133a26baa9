"""Who exists at the as-of day (docs/semantics.md §2b), worked out by hand.

as-of D = 2026-09-14, so the 30-day window is 2026-08-15 … 2026-09-13.

=======  =======  ======================  ==========================  ===========
visitor  account  first_visit             usage (minutes / events)    subject?
=======  =======  ======================  ==========================  ===========
a1       A1       2026-09-13 (D−1)        09-13 1 / 1                 yes
a2       A1       2026-09-14 (D)          09-10 5 / 2 (before it)     no: first_visit wins
a3       A1       2026-09-20 (after D)    —                           no
a4       A1       —                       09-15 3 / 1 (only after D)  no
a5       A1       —                       —                           yes (neither)
a6       A1       —                       09-12 2 / 1                 yes
b1       A2       —                       —                           yes
c1       A3       —                       09-12 1 / 1                 no: A3 not one
d1       A4       —                       09-12 1 / 1                 no: A4 not one
e1       A5       —                       09-13 4 / 3                 yes
=======  =======  ======================  ==========================  ===========

Accounts: A1; A2 created 2026-09-13 (D−1): yes; A3 created 2026-09-14 (D): no;
A4 churned 2026-09-13 (D−1): no; A5 churned 2026-09-14 (D): yes.

So A1 rolls up a1, a5, a6 only: minutes 1 + 2 = 3 (not 8 with a2's 5), active
days 09-12 and 09-13 = 2 (not 3 with a2's 09-10), last visit 09-13 (1 day),
first seen 09-12 (a6; 2 days).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pendo_segments.data.dataset import Dataset
from pendo_segments.definitions import load_definitions
from pendo_segments.semantics import rules
from pendo_segments.semantics.rules import NAT_DAY

duckdb = pytest.importorskip("duckdb")

D = dt.date(2026, 9, 14)
DAY = (D - dt.date(1970, 1, 1)).days
VISITORS = [  # visitor, account, first_visit
    ("a1", "A1", "2026-09-13"),
    ("a2", "A1", "2026-09-14"),
    ("a3", "A1", "2026-09-20"),
    ("a4", "A1", None),
    ("a5", "A1", None),
    ("a6", "A1", None),
    ("b1", "A2", None),
    ("c1", "A3", None),
    ("d1", "A4", None),
    ("e1", "A5", None),
]
ACCOUNTS = [  # account, created
    ("A1", None),
    ("A2", "2026-09-13"),
    ("A3", "2026-09-14"),
    ("A4", None),
    ("A5", None),
]
OUTCOMES = [("A4", True, "2026-09-13"), ("A5", True, "2026-09-14"), ("A1", False, None)]
USAGE = [  # date, visitor, minutes, events
    ("2026-09-10", "a2", 5.0, 2),
    ("2026-09-15", "a4", 3.0, 1),
    ("2026-09-12", "a6", 2.0, 1),
    ("2026-09-12", "c1", 1.0, 1),
    ("2026-09-12", "d1", 1.0, 1),
    ("2026-09-13", "e1", 4.0, 3),
    ("2026-09-13", "a1", 1.0, 1),
]
CLICKS = [("2026-09-11", "a2", "f1", 7), ("2026-09-12", "a6", "f1", 2)]
VISITOR_SUBJECTS = ["a1", "a5", "a6", "b1", "e1"]
ACCOUNT_SUBJECTS = ["A1", "A2", "A5"]


def day(text: str | None) -> int:
    return NAT_DAY if text is None else (dt.date.fromisoformat(text) - dt.date(1970, 1, 1)).days


def dataset() -> Dataset:
    vids = [v[0] for v in VISITORS]
    accounts = pd.DataFrame(
        {
            "account_id": pd.array([a[0] for a in ACCOUNTS], dtype="string"),
            "arr": 1000.0,
            "plan": pd.array(["Starter"] * len(ACCOUNTS), dtype="string"),
            "created": pd.to_datetime([a[1] for a in ACCOUNTS]),
        }
    )
    visitors = pd.DataFrame(
        {
            "visitor_id": pd.array(vids, dtype="string"),
            "account_id": pd.array([v[1] for v in VISITORS], dtype="string"),
            "first_visit": pd.to_datetime([v[2] for v in VISITORS]),
        }
    )
    usage = pd.DataFrame(USAGE, columns=["date", "visitor_id", "minutes", "events"])
    usage["date"] = pd.to_datetime(usage["date"])
    usage["visitor_id"] = pd.Categorical(usage["visitor_id"], categories=vids)
    fu = pd.DataFrame(CLICKS, columns=["date", "visitor_id", "feature_id", "clicks"])
    fu["date"] = pd.to_datetime(fu["date"])
    fu["visitor_id"] = pd.Categorical(fu["visitor_id"], categories=vids)
    fu["feature_id"] = pd.Categorical(fu["feature_id"], categories=["f1"])
    features = pd.DataFrame({"feature_id": pd.array(["f1"], dtype="string"), "name": ["F1"]})
    outcomes = pd.DataFrame(OUTCOMES, columns=["account_id", "churned", "churn_date"])
    outcomes["account_id"] = outcomes["account_id"].astype("string")
    outcomes["churn_date"] = pd.to_datetime(outcomes["churn_date"])
    return Dataset(
        accounts=accounts,
        visitors=visitors,
        usage_daily=usage,
        feature_usage=fu,
        features=features,
        outcomes=outcomes,
        source="subjects",
    )


DEFS = """\
segments:
  - {name: all_accounts, title: A, subject: account, rule: {all: [{metric: minutes, op: ">=", value: 0}]}}
  - {name: all_visitors, title: V, subject: visitor, rule: {all: [{metric: minutes, op: ">=", value: 0}]}}
  - name: few_minutes
    title: few_minutes
    subject: account
    rule: {all: [{metric: minutes, op: "<=", value: 3}]}
  - name: few_days
    title: few_days
    subject: account
    rule: {all: [{metric: active_days, op: "<=", value: 2}]}
  - name: few_clicks
    title: few_clicks
    subject: account
    rule: {all: [{metric: feature_clicks, feature: f1, op: "<=", value: 2}]}
  - name: seen_lately
    title: seen_lately
    subject: account
    rule:
      all:
        - {metric: days_since_first_visit, op: ">=", value: 2}
        - {metric: days_since_last_visit, op: "<=", value: 1}
  - name: not_minutes
    title: not_minutes
    subject: account
    rule: {not: {metric: minutes, op: ">", value: 3}}
"""
# few_minutes: A1 3, A2 0, A5 4 → A1, A2; few_days: A1 2, A2 0, A5 1 → all three;
# few_clicks: A1 2 (a6; not a2's 7), A2 0, A5 0 → all three; seen_lately: A1 first seen
# 09-12 (2 days), last 09-13 (1); A5 first 09-13 (1 day) → A1; not_minutes: A1, A2.
EXPECTED = {
    "all_accounts": ACCOUNT_SUBJECTS,
    "all_visitors": VISITOR_SUBJECTS,
    "few_minutes": ["A1", "A2"],
    "few_days": ACCOUNT_SUBJECTS,
    "few_clicks": ACCOUNT_SUBJECTS,
    "seen_lately": ["A1"],
    "not_minutes": ["A1", "A2"],
}


@pytest.fixture(scope="module")
def defs(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("defs")
    (folder / "subjects.yaml").write_text(DEFS)
    return load_definitions(folder)


# -- the rule itself: SQL tree and numpy function on the same rows ----------------------
@pytest.fixture(scope="module")
def con():
    ds = dataset()
    con = duckdb.connect()
    for name, frame in ds.tables().items():
        con.register(name, frame)
    con.execute(f"CREATE TABLE params AS SELECT DATE '{D.isoformat()}' AS as_of")
    yield con
    con.close()


def test_visitor_subjects_sql(con) -> None:
    where = rules.subject_exists_sql("visitor", True, True, True, row="s")
    sql = f"SELECT s.visitor_id FROM visitors s CROSS JOIN params p WHERE {where.sql('duckdb')}"
    assert sorted(r[0] for r in con.execute(sql).fetchall()) == VISITOR_SUBJECTS


def test_account_subjects_sql(con) -> None:
    where = rules.subject_exists_sql("account", True, True, True, row="s")
    sql = f"SELECT s.account_id FROM accounts s CROSS JOIN params p WHERE {where.sql('duckdb')}"
    assert sorted(r[0] for r in con.execute(sql).fetchall()) == ACCOUNT_SUBJECTS


def test_subjects_numpy() -> None:
    created = np.array([day(a[1]) for a in ACCOUNTS], dtype=np.int64)
    churn = np.array([NAT_DAY, NAT_DAY, NAT_DAY, day("2026-09-13"), day("2026-09-14")])
    accounts = rules.account_exists(created, churn, DAY)
    assert accounts is not None
    assert [a[0] for a, ok in zip(ACCOUNTS, accounts, strict=True) if ok] == ACCOUNT_SUBJECTS
    # first seen over all history: first_visit, else the earliest active day (a4: 09-15)
    seen = np.array([day(v[2]) for v in VISITORS], dtype=np.int64)
    seen[3], seen[5], seen[7], seen[8], seen[9] = (
        day("2026-09-15"),
        day("2026-09-12"),
        day("2026-09-12"),
        day("2026-09-12"),
        day("2026-09-13"),
    )
    v2a = np.array([0, 0, 0, 0, 0, 0, 1, 2, 3, 4])
    ok = rules.visitor_exists(seen, v2a, accounts, DAY)
    assert [v[0] for v, k in zip(VISITORS, ok, strict=True) if k] == VISITOR_SUBJECTS
    assert rules.account_exists(None, None, DAY) is None


# -- every engine applies it --------------------------------------------------------------
def test_pandas_engine(defs) -> None:
    from pendo_segments.evaluate import evaluate

    ev = evaluate(defs, dataset(), as_of=D)
    assert {n: sorted(ev.members(n)) for n in EXPECTED} == EXPECTED


@pytest.mark.parametrize("shared", [False, True])
def test_duckdb_engine(defs, shared: bool) -> None:
    from pendo_segments.evaluate.duckdb_engine import evaluate_sql

    got = evaluate_sql(defs, dataset(), as_of=D, shared=shared)
    assert {n: got[n] for n in EXPECTED} == EXPECTED


def test_backtest_day_equals_evaluate(defs) -> None:
    """The backtest's index gives ``evaluate``'s counts on every day, across the edges."""
    from pendo_segments.backtest.history import UsageHistory
    from pendo_segments.evaluate import evaluate
    from pendo_segments.evaluate.engine import Evaluator

    ds = dataset()
    history = UsageHistory(ds)
    for offset in range(-3, 4):
        as_of = D + dt.timedelta(days=offset)
        ev = Evaluator(ds, as_of, defs)
        ev.metrics = history.at(as_of)
        want = evaluate(defs, ds, as_of=as_of).counts()
        got = {n: int(ev.segment_mask(defs.get(n)).sum()) for n in want}
        assert got == want, as_of
    # and on D itself the hand-worked members
    ev = Evaluator(ds, D, defs)
    ev.metrics = history.at(D)
    assert sorted(ev.metrics.ids("account")[ev.segment_mask(defs.get("few_minutes"))]) == [
        "A1",
        "A2",
    ]


def write_folder(folder: Path) -> Path:
    ds = dataset()
    for name, frame in ds.tables().items():
        out = frame.copy()
        for column in out.columns:
            if str(out[column].dtype).startswith("datetime"):
                out[column] = out[column].dt.strftime("%Y-%m-%d")
        out.to_csv(folder / f"{name}.csv", index=False)
    return folder


def test_duckdb_folder_engine(defs, tmp_path: Path) -> None:
    from pendo_segments.evaluate.duckdb_folder import evaluate_folder

    ev = evaluate_folder(defs, write_folder(tmp_path), as_of=D)
    try:
        got = {
            n: sorted(str(i) for i in t.column("subject_id").to_pylist())
            for n, t in zip(sorted(ev.segments), ev.membership_batches(), strict=True)
        }
    finally:
        ev.close()
    assert {n: got[n] for n in EXPECTED} == EXPECTED


# -- explain, warnings and the empty day ------------------------------------------------
@pytest.mark.parametrize(
    ("subject_id", "segment", "why"),
    [
        ("a3", "all_visitors", "not a subject at 2026-09-14: first seen 2026-09-20"),
        ("a4", "all_visitors", "not a subject at 2026-09-14: first seen on or after it"),
        ("A3", "all_accounts", "not a subject at 2026-09-14: created 2026-09-14"),
        ("A4", "all_accounts", "not a subject at 2026-09-14: churned 2026-09-13"),
        ("a1", "all_visitors", None),
    ],
)
def test_explain_says_why_not_a_subject(defs, subject_id: str, segment: str, why) -> None:
    from pendo_segments.evaluate import explain

    out = explain(defs, dataset(), segment, subject_id, as_of=D)
    assert out.absent == why
    assert out.member is (why is None)
    if why:
        assert out.summary.endswith(f"as of 2026-09-14 ({why})")


def test_as_of_outside_the_usage_warns_once(defs, caplog: pytest.LogCaptureFixture) -> None:
    from pendo_segments.evaluate import evaluate

    ds = dataset()  # usage 2026-09-10 … 2026-09-15
    for as_of, expected in [
        (dt.date(2026, 9, 10), "on or before the first usage day (2026-09-10)"),
        (dt.date(2026, 9, 18), "is 3 days after the latest usage (2026-09-15)"),
        (dt.date(2026, 9, 16), None),  # the default as-of: no warning
        (dt.date(2026, 9, 11), None),
    ]:
        caplog.clear()
        with caplog.at_level("WARNING", logger="pendo_segments.evaluate"):
            evaluate(defs, ds, as_of=as_of)
        warnings = [r.getMessage() for r in caplog.records]
        if expected is None:
            assert warnings == [], as_of
        else:
            assert len(warnings) == 1 and expected in warnings[0], (as_of, warnings)


def test_a_day_with_no_subjects_is_an_error(defs) -> None:
    from pendo_segments.errors import EvaluationError
    from pendo_segments.evaluate import evaluate

    ds = dataset()
    ds.accounts["created"] = pd.to_datetime(["2026-09-01"] * len(ACCOUNTS))
    with pytest.raises(EvaluationError, match="no account or visitor exists at as-of 2026-09-01"):
        evaluate(defs, ds, as_of=dt.date(2026, 9, 1))
    # a day later all five exist (created 09-01; no churn date before 09-02)
    assert evaluate(defs, ds, as_of=dt.date(2026, 9, 2)).counts()["all_accounts"] == 5


def test_sample_new_users_first_seen_before_as_of() -> None:
    """Issue 23: at 2026-09-06, 148 of 207 new_users had a first_visit after that day."""
    from pendo_segments.data import load_sample
    from pendo_segments.evaluate import evaluate
    from pendo_segments.shipped import shipped_path

    ds = load_sample()
    ev = evaluate(load_definitions(shipped_path("segment_defs")), ds, as_of=dt.date(2026, 9, 6))
    members = set(ev.members("new_users"))
    first = ds.visitors.set_index(ds.visitors["visitor_id"].astype(str))["first_visit"]
    assert members, "new_users should still have members"
    assert not [v for v in members if first[v] >= pd.Timestamp("2026-09-06")]
