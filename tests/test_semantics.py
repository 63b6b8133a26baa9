"""Each rule of the semantic core, run both ways on the same hand-made rows.

The SQL tree runs on DuckDB, the numpy function on the same rows as arrays,
and both must give the values worked out by hand below (as-of 2026-11-01).

Usage rows (visitor, date, minutes, events):

=====  ==========  =======  ======  =============================================
row    date        minutes  events  why it is there
=====  ==========  =======  ======  =============================================
v1     2026-10-01  3        5       D−31: one day before a 30-day window
v1     2026-10-02  2        1       D−30: the window's first day
v1     2026-10-31  0.5      0       D−1: active on minutes alone; the last day
v1     2026-11-01  4        9       D: the as-of day never counts
v2     2026-09-01  1        2       active, long before the window
v2     2026-10-20  0        0       no events, no minutes: not active
=====  ==========  =======  ======  =============================================

Visitors: v1 (account A1), v2 (A1, first_visit 2026-01-15, last_visit
2026-10-25), v3 (A2, last_visit 2026-11-01: the as-of day, says nothing), v4
(A2, last_visit 2026-10-10, no usage).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from sqlglot import exp

from pendo_segments.semantics import catalogue, rules, score
from pendo_segments.semantics.rules import NAT_DAY

duckdb = pytest.importorskip("duckdb")

AS_OF = dt.date(2026, 11, 1)
D = (AS_OF - dt.date(1970, 1, 1)).days
USAGE = [
    ("v1", "2026-10-01", 3.0, 5),
    ("v1", "2026-10-02", 2.0, 1),
    ("v1", "2026-10-31", 0.5, 0),
    ("v1", "2026-11-01", 4.0, 9),
    ("v2", "2026-09-01", 1.0, 2),
    ("v2", "2026-10-20", 0.0, 0),
]
VISITORS = [  # visitor, account, first_visit, last_visit
    ("v1", "A1", None, None),
    ("v2", "A1", "2026-01-15", "2026-10-25"),
    ("v3", "A2", None, "2026-11-01"),
    ("v4", "A2", None, "2026-10-10"),
]
VISITOR_IDS = [v[0] for v in VISITORS]
ACCOUNT_IDS = ["A1", "A2"]


def day(text: str | None) -> int:
    return NAT_DAY if text is None else (dt.date.fromisoformat(text) - dt.date(1970, 1, 1)).days


def days(texts: list[str | None]) -> np.ndarray:
    return np.array([day(t) for t in texts], dtype=np.int64)


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE usage_daily (visitor_id VARCHAR, date DATE, minutes DOUBLE, events BIGINT)"
    )
    con.executemany("INSERT INTO usage_daily VALUES (?, ?, ?, ?)", USAGE)
    con.execute(
        "CREATE TABLE visitors (visitor_id VARCHAR, account_id VARCHAR, first_visit DATE, "
        "last_visit DATE)"
    )
    con.executemany("INSERT INTO visitors VALUES (?, ?, ?, ?)", VISITORS)
    yield con
    con.close()


def run(con, select: exp.Select) -> list[tuple]:
    """``select`` with the ``params`` CTE of AS_OF, on DuckDB, rows sorted."""
    query = select.with_("params", as_=rules.params(AS_OF))
    return sorted(con.execute(query.sql("duckdb")).fetchall(), key=repr)


def usage_arrays() -> dict[str, np.ndarray]:
    return {
        "vidx": np.array([VISITOR_IDS.index(r[0]) for r in USAGE]),
        "day": days([r[1] for r in USAGE]).astype(np.int32),  # the engines' int32 days
        "minutes": np.array([r[2] for r in USAGE]),
        "events": np.array([r[3] for r in USAGE]),
    }


def by_visitor(rows: list[tuple]) -> dict[str, str | None]:
    """``visitor_id, day`` rows as {visitor: ISO day}, every visitor present."""
    got = {v: (d.isoformat() if d is not None else None) for v, d in rows}
    return {v: got.get(v) for v in VISITOR_IDS}


def numpy_days(values: np.ndarray, ids: list[str]) -> dict[str, str | None]:
    epoch = dt.date(1970, 1, 1)
    return {
        i: None if v == NAT_DAY else (epoch + dt.timedelta(days=int(v))).isoformat()
        for i, v in zip(ids, values, strict=True)
    }


# -- window and active day -----------------------------------------------------------
def row_keys(con, where: exp.Expression) -> list[tuple[str, str]]:
    select = rules.with_params(
        exp.select(rules.col("visitor_id", "u"), exp.cast(rules.col("date", "u"), "VARCHAR"))
        .from_(rules.table("usage_daily", "u"))
        .where(where)
    )
    return run(con, select)


@pytest.mark.parametrize(
    "n, expected",
    [
        (30, [("v1", "2026-10-02"), ("v1", "2026-10-31"), ("v2", "2026-10-20")]),
        (1, [("v1", "2026-10-31")]),
        (
            31,
            [
                ("v1", "2026-10-01"),
                ("v1", "2026-10-02"),
                ("v1", "2026-10-31"),
                ("v2", "2026-10-20"),
            ],
        ),
    ],
)
def test_window_is_the_n_days_before_as_of(con, n: int, expected) -> None:
    assert row_keys(con, rules.window_sql(rules.col("date", "u"), n)) == expected
    u = usage_arrays()
    mask = rules.in_window(u["day"], D, n)
    assert sorted((USAGE[i][0], USAGE[i][1]) for i in np.flatnonzero(mask)) == expected
    assert rules.window_bounds(D, n) == (D - n, D)


def test_active_day_is_events_or_minutes(con) -> None:
    expected = [
        ("v1", "2026-10-01"),
        ("v1", "2026-10-02"),
        ("v1", "2026-10-31"),
        ("v1", "2026-11-01"),
        ("v2", "2026-09-01"),
    ]
    assert row_keys(con, rules.active_sql()) == expected
    u = usage_arrays()
    mask = rules.is_active(u["events"], u["minutes"])
    assert sorted((USAGE[i][0], USAGE[i][1]) for i in np.flatnonzero(mask)) == expected


# -- visit days ------------------------------------------------------------------------
def latest_active(latest: bool) -> np.ndarray:
    """Per visitor, the latest / earliest active day before as-of (the engines' own step)."""
    u = usage_arrays()
    keep = rules.is_active(u["events"], u["minutes"]) & rules.before(u["day"], D)
    out = np.full(len(VISITOR_IDS), NAT_DAY if latest else np.iinfo(np.int64).max)
    (np.maximum if latest else np.minimum).at(out, u["vidx"][keep], u["day"][keep])
    out[out == np.iinfo(np.int64).max] = NAT_DAY
    return out


LAST_VISIT = {
    # v2: last_visit 10-25 is later than its last active day 09-01; v3: last_visit on
    # the as-of day says nothing; v4: only last_visit
    True: {"v1": "2026-10-31", "v2": "2026-10-25", "v3": None, "v4": "2026-10-10"},
    False: {"v1": "2026-10-31", "v2": "2026-09-01", "v3": None, "v4": None},
}
FIRST_SEEN = {
    True: {"v1": "2026-10-01", "v2": "2026-01-15", "v3": None, "v4": None},
    False: {"v1": "2026-10-01", "v2": "2026-09-01", "v3": None, "v4": None},
}


@pytest.mark.parametrize("declared", [True, False], ids=["with last_visit", "usage only"])
def test_last_visit(con, declared: bool) -> None:
    assert by_visitor(run(con, rules.last_visit_sql(declared))) == LAST_VISIT[declared]
    column = days([v[3] for v in VISITORS]) if declared else None
    got = rules.last_visit(latest_active(latest=True), column, D)
    assert numpy_days(got, VISITOR_IDS) == LAST_VISIT[declared]


@pytest.mark.parametrize("declared", [True, False], ids=["with first_visit", "usage only"])
def test_first_seen(con, declared: bool) -> None:
    assert by_visitor(run(con, rules.first_seen_sql(declared))) == FIRST_SEEN[declared]
    column = days([v[2] for v in VISITORS]) if declared else None
    got = rules.first_seen(latest_active(latest=False), column)
    assert numpy_days(got, VISITOR_IDS) == FIRST_SEEN[declared]


def test_days_since_and_roll_up(con) -> None:
    # accounts: A1 latest of (10-31, 10-25), earliest of (10-01, 01-15); A2 latest 10-10
    # (v3 unknown), earliest unknown
    for latest, sql, expected in (
        (True, rules.last_visit_sql(True), {"A1": 1.0, "A2": 22.0}),
        (False, rules.first_seen_sql(True), {"A1": 290.0, "A2": None}),
    ):
        per_account = rules.roll_up_sql(sql, latest)
        since = exp.select(
            rules.col("subject_id", "a"), rules.days_since_sql(rules.col("value", "a"))
        )
        got = dict(run(con, rules.with_params(since.from_(per_account.subquery("a")))))
        assert {a: (None if got.get(a) is None else float(got[a])) for a in ACCOUNT_IDS} == expected
        visitor_days = LAST_VISIT[True] if latest else FIRST_SEEN[True]
        v2a = np.array([ACCOUNT_IDS.index(v[1]) for v in VISITORS])
        account = rules.roll_up(days(list(visitor_days.values())), v2a, 2, latest)
        values = rules.days_since(D, account)
        assert [None if np.isnan(x) else float(x) for x in values] == list(expected.values())


# -- the catalogue -----------------------------------------------------------------------
#: 30 days: v1 active on 10-02 and 10-31 (2 days, 2.5 minutes, 1 event); v2's 10-20 row
#: is in the window but inactive: no active day (no row), its 0 minutes / 0 events sum.
#: Subjects without rows are absent (the targets COALESCE them to 0).
METRICS = {
    ("visitor", "active_days"): {"v1": 2},
    ("visitor", "minutes"): {"v1": 2.5, "v2": 0.0},
    ("visitor", "events"): {"v1": 1, "v2": 0},
    ("account", "active_days"): {"A1": 2},
    ("account", "minutes"): {"A1": 2.5},
    ("account", "events"): {"A1": 1},
}


@pytest.mark.parametrize(("subject", "name"), list(METRICS))
def test_catalogue_metrics_on_duckdb(con, subject: str, name: str) -> None:
    got = dict(run(con, catalogue.metric_sql(name, subject, 30)))
    assert {k: float(v) for k, v in got.items()} == METRICS[(subject, name)]


def test_catalogue_names_are_the_rule_language_metrics() -> None:
    from pendo_segments.definitions.models import METRICS as NAMES
    from pendo_segments.definitions.models import NULLABLE_METRICS, WINDOWED_METRICS

    assert tuple(catalogue.CATALOGUE) == NAMES
    assert {m.name for m in catalogue.CATALOGUE.values() if m.windowed} == WINDOWED_METRICS
    assert {m.name for m in catalogue.CATALOGUE.values() if m.table is None} == NULLABLE_METRICS


# -- the health score ------------------------------------------------------------------------
def sql_values(con, tree_of, values: list[float | None]) -> list[float | None]:
    rows = ", ".join(
        f"({i}, {'NULL' if v is None else repr(v)}::DOUBLE)" for i, v in enumerate(values)
    )
    out = tree_of(rules.col("x", "t"))
    query = f"SELECT {out.sql('duckdb')} FROM (VALUES {rows}) AS t(i, x) ORDER BY t.i"
    return [None if r[0] is None else float(r[0]) for r in con.execute(query).fetchall()]


def nan_as_none(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values]


def test_round1_half_up(con) -> None:
    # 72.35 is stored as 72.34999…: half up all the same; 0.049 stays down; NULL stays NULL
    values = [56.25, 72.35, 0.049, 12.25, 99.95, None]
    expected = [56.3, 72.4, 0.0, 12.3, 100.0, None]
    assert sql_values(con, score.round1_sql, values) == expected
    assert nan_as_none(score.round1([np.nan if v is None else v for v in values])) == expected
    assert [score.round1_float(v) for v in values[:-1]] == expected[:-1]


def test_component_curves(con) -> None:
    # saturating at 16: 8 → 50, 16 and 20 → 100; falling to 0 at 5: 2 → 60, 7 → 0
    values = [0.0, 8.0, 16.0, 20.0]
    assert sql_values(con, lambda x: score.saturate_sql(x, 16), values) == [0, 50, 100, 100]
    assert score.saturate(np.array(values), 16).tolist() == [0, 50, 100, 100]
    values = [0.0, 2.0, 5.0, 7.0]
    assert sql_values(con, lambda x: score.falling_sql(x, 5), values) == [100, 60, 0, 0]
    assert score.falling(np.array(values), 5).tolist() == [100, 60, 0, 0]


def test_weighted_mean_renormalises_over_present_components(con) -> None:
    # (80·20 + 50·50) / 70 = 58.571…; a zero weight alone counts for nothing: unknown
    rows = [(80.0, None, 50.0), (None, None, None), (None, 10.0, None), (40.0, 60.0, 70.0)]
    weights = [20.0, 0.0, 50.0]
    expected = [4100 / 70, None, None, (40 * 20 + 70 * 50) / 70]
    cols = [rules.col(c, "t") for c in ("a", "b", "c")]
    tree = score.weighted_mean_sql(list(zip(cols, weights, strict=True)))
    values = ", ".join(
        "(" + ", ".join("NULL::DOUBLE" if v is None else repr(v) for v in row) + f", {i})"
        for i, row in enumerate(rows)
    )
    query = f"SELECT {tree.sql('duckdb')} FROM (VALUES {values}) AS t(a, b, c, i) ORDER BY t.i"
    got = [None if r[0] is None else r[0] for r in con.execute(query).fetchall()]
    assert got == pytest.approx(expected)
    matrix = np.array([[np.nan if v is None else v for v in row] for row in rows])
    assert nan_as_none(score.weighted_mean(matrix, np.array(weights))) == pytest.approx(expected)


# -- stated once ------------------------------------------------------------------------
#: spellings of a rule that belong in pendo_segments/semantics/ only (code, not docstrings)
RESTATED = {
    "the active day": r"events\s*>\s*0|minutes\s*>\s*0|numEvents\s*>\s*0",
    "the window": r"asof_day\s*-\s*window|as_of\s*-\s*\{",
    "round1": r"1e-0?7\b",
    "a component curve": r"LEAST\(1|GREATEST\(0|np\.minimum\(1\.0|np\.maximum\(0\.0",
}


def restatements(root: Path) -> list[str]:
    """``file: rule`` for every module under ``root`` (but semantics/) spelling a rule."""
    import ast
    import re

    found = []
    for path in sorted(root.rglob("*.py")):
        if "semantics" in path.relative_to(root).parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):  # docstrings describe outputs; only code counts
            body = getattr(node, "body", None)
            first = body[0] if isinstance(body, list) and body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                body[0] = ast.Pass()  # type: ignore[index]
        code = ast.unparse(tree)
        found += [
            f"{path.relative_to(root)}: {rule}"
            for rule, pattern in RESTATED.items()
            if re.search(pattern, code)
        ]
    return found


def test_no_module_outside_semantics_restates_a_rule() -> None:
    import pendo_segments

    assert restatements(Path(pendo_segments.__file__).parent) == []
