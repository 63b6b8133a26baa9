"""``backtest --engine pandas|duckdb|spark``: the same bytes on every engine.

The pandas backtest (one index of the usage, every day read off it) is the
reference; DuckDB and Spark compute each day in SQL over the files and bring
back per-account answers only. Compared on the bundled sample and on two
hand-made boundary worlds: tests/health_handmade.py (windows' first and last
days, NPS, tickets, a visitor of no account) and tests/test_subjects.py's
(accounts created or churned on D−1 / D, visitors first seen D−1 / D / after
D), over as-of days on both sides of each edge. Counts per day, health scores
per day and the catch rates are compared byte for byte; and
tests/test_history_engines.py's attribute history around D.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from pendo_segments.cli import main

pytest.importorskip("duckdb")

#: one segment per kind of read: account and visitor metrics, clicks by feature id,
#: first visit, a field, a reference, a negation
DEFS = """\
segments:
  - {name: quiet, title: Q, subject: account, window_days: 30,
     rule: {all: [{metric: active_days, op: "<=", value: 2}, {metric: minutes, op: "<=", value: 10}]}}
  - {name: busy, title: B, subject: account, window_days: 7,
     rule: {not: {metric: events, op: "<", value: 3}}}
  - {name: enterprise, title: E, subject: account,
     rule: {all: [{field: plan, op: "=", value: Enterprise}]}}
  - {name: quiet_enterprise, title: QE, subject: account,
     rule: {all: [{segment: quiet}, {segment: enterprise}]}}
  - {name: lapsed, title: L, subject: visitor,
     rule: {all: [{metric: days_since_last_visit, op: ">", value: 3}]}}
  - {name: newcomers, title: N, subject: visitor,
     rule: {all: [{metric: days_since_first_visit, op: "<=", value: 30}]}}
  - {name: clickers, title: C, subject: visitor, window_days: 30,
     rule: {all: [{metric: feature_clicks, feature: path_reports, op: ">=", value: 1}]}}
  - {name: in_quiet_account, title: IQ, subject: visitor,
     rule: {all: [{segment: quiet}]}}
"""
ALERTS = """\
alerts:
  - {name: low, title: Low, severity: high, when: {health: score, op: "<", value: 40}}
  - name: quiet_big
    title: Quiet enterprise
    severity: medium
    when: {all: [{segment: enterprise}, {health: score, op: "<", value: 60}]}
  - {name: many_tickets, title: Tickets, severity: medium,
     when: {signal: tickets, op: ">=", value: 5}}
"""


@pytest.fixture(scope="module")
def defs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("defs")
    (folder / "segments.yaml").write_text(DEFS)
    (folder / "alerts.yaml").write_text(ALERTS)
    return folder


@pytest.fixture(scope="module")
def handmade_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from health_handmade import dataset, write_folder

    outcomes = pd.DataFrame(
        {
            "account_id": pd.array(["A1", "A2", "A3"], dtype="string"),
            "churned": [True, False, True],
            "churn_date": pd.to_datetime(["2026-10-20", None, "2026-11-03"]),
        }
    )
    return write_folder(dataset(outcomes=outcomes), tmp_path_factory.mktemp("handmade"))


@pytest.fixture(scope="module")
def subjects_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from test_subjects import write_folder

    return write_folder(tmp_path_factory.mktemp("subjects"))


def backtest(
    tmp: Path, engine: str, args: list[str], defs: Path | None = None
) -> dict[str, bytes | str]:
    """Run ``backtest`` on ``engine``; its stdout, --scores and --rates bytes and stderr."""
    out = tmp / engine
    out.mkdir()
    argv = ["backtest", *([str(defs)] if defs else []), *args, "--engine", engine]
    argv += ["--format", "csv", "--scores", str(out / "scores.csv")]
    has_outcomes = "sample" in args or any(Path(a, "outcomes.csv").exists() for a in args)
    if has_outcomes:
        argv += ["--rates", str(out / "rates.csv")]
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 0, result.output
    got: dict[str, bytes | str] = {
        "counts": result.stdout,
        "scores": (out / "scores.csv").read_bytes(),
        "stderr": result.stderr,
    }
    if has_outcomes:
        got["rates"] = (out / "rates.csv").read_bytes()
    return got


def test_sample_duckdb_same_bytes(tmp_path: Path) -> None:
    args = ["--data", "sample", "--from", "2026-09-06", "--to", "2026-11-01", "--every", "14"]
    want = backtest(tmp_path, "pandas", args)
    got = backtest(tmp_path, "duckdb", args)
    assert got == want
    assert want["counts"].count("\n") > 30  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "start,end,every",
    [
        ("2026-10-02", "2026-11-03", 1),  # every day across the windows' edges
        # before the data to after it: 08-01 (nothing yet), 08-28 and 09-24 (only the
        # 08-02 / 08-03 NPS), 10-21 (in the usage), 11-17 (after its last day); the days
        # across the usage's edges are the case above's
        ("2026-08-01", "2026-11-20", 27),
    ],
)
def test_handmade_duckdb_same_bytes(
    tmp_path: Path, defs_dir: Path, handmade_dir: Path, start: str, end: str, every: int
) -> None:
    args = ["--data", str(handmade_dir), "--from", start, "--to", end, "--every", str(every)]
    want = backtest(tmp_path, "pandas", args, defs_dir)
    assert backtest(tmp_path, "duckdb", args, defs_dir) == want
    if every == 1:  # worked by hand from tests/handmade.py's table and the outcomes above
        rows = pd.read_csv(pd.io.common.StringIO(want["counts"]))  # type: ignore[arg-type]
        quiet = rows[rows["segment"] == "quiet"].set_index("as_of")["members"]
        # 10-20: window 09-20 … 10-19; A1 (1 day, 10 min) and A3 (no usage); A1 churned on
        # 10-20, so it is a subject that day and gone the next
        assert (quiet["2026-10-20"], quiet["2026-10-21"]) == (2, 1)
        at = rows[rows["as_of"] == "2026-11-03"].set_index("segment")["members"]
        assert at["enterprise"] == 2  # A3 churns on 11-03 (still a subject that day), A5


def test_subjects_duckdb_same_bytes(tmp_path: Path, subjects_dir: Path) -> None:
    """Accounts created / churned and visitors first seen around D (2026-09-14)."""
    from test_subjects import DEFS as SUBJECT_DEFS

    defs = tmp_path / "defs"
    defs.mkdir()
    (defs / "subjects.yaml").write_text(SUBJECT_DEFS)
    args = ["--data", str(subjects_dir), "--from", "2026-09-11", "--to", "2026-09-17"]
    args += ["--every", "1"]
    want = backtest(tmp_path, "pandas", args, defs)
    assert backtest(tmp_path, "duckdb", args, defs) == want
    # at D the hand-worked subjects of tests/test_subjects.py: A1, A2, A5 exist
    rows = pd.read_csv(pd.io.common.StringIO(want["counts"]))  # type: ignore[arg-type]
    at = rows[rows["as_of"] == "2026-09-14"].set_index("segment")["members"]
    assert at["all_accounts"] == 3 and at["few_minutes"] == 2 and at["seen_lately"] == 1


def test_history_duckdb_same_bytes(tmp_path: Path) -> None:
    """tests/test_history_engines.py's world: fields of D−1 from history rows starting or
    ending on D−1 / D, accounts created or churned then; every day around D."""
    from test_history_engines import DEFS as HISTORY_DEFS
    from test_history_engines import EXPECTED
    from test_history_engines import write_folder as history_folder

    defs = tmp_path / "defs"
    defs.mkdir()
    (defs / "history.yaml").write_text(HISTORY_DEFS)
    data = history_folder(tmp_path / "data")
    args = ["--data", str(data), "--from", "2026-09-08", "--to", "2026-09-12", "--every", "1"]
    want = backtest(tmp_path, "pandas", args, defs)
    assert backtest(tmp_path, "duckdb", args, defs) == want
    rows = pd.read_csv(pd.io.common.StringIO(want["counts"]))  # type: ignore[arg-type]
    at = rows[rows["as_of"] == "2026-09-10"].set_index("segment")["members"]
    assert (at["smb"], at["japanese"]) == (len(EXPECTED["smb"]), len(EXPECTED["japanese"]))


def test_spark_same_bytes(tmp_path: Path, defs_dir: Path, subjects_dir: Path, spark) -> None:  # noqa: ANN001
    """One small Spark case (Spark is slow on two shared cores): the boundary world."""
    from test_subjects import DEFS as SUBJECT_DEFS

    defs = tmp_path / "defs"
    defs.mkdir()
    (defs / "subjects.yaml").write_text(SUBJECT_DEFS)
    args = ["--data", str(subjects_dir), "--from", "2026-09-13", "--to", "2026-09-15"]
    args += ["--every", "1"]
    want = backtest(tmp_path, "pandas", args, defs)
    got = backtest(tmp_path, "spark", [*args, "--spark-master", "local[1]"], defs)
    assert got == want


def _days(*spans: tuple[str, str]) -> list[dt.date]:
    """Every day of each (first, last) span, both included."""
    out = []
    for first, last in spans:
        day, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
        while day <= end:
            out.append(day)
            day += dt.timedelta(days=1)
    return out


#: as-of days on both sides of each health window's edges (30 days: logins, clicks,
#: tickets, events; 60: the events' earlier window; 90: NPS). tests/health_handmade.py:
#: its first usage (10-01) and A4's / A5's first day (10-02) come in (10-02, 10-03);
#: A1's one day and the first clicks (10-05 … 10-07) come in; A3's tickets (10-15), A5's
#: last day (10-17), the visitor of no account and A4's tickets (10-20) come in; then the
#: first usage leaves the 30-day window (11-01, 11-02, 11-03), the as-of day's usage and
#: the 10-31 NPS / ticket come in and the 08-02 / 08-03 NPS leave the 90-day one (11-01,
#: 11-02). The days left out (10-04, 10-09 … 10-14, 10-19, 10-22 … 10-30) only move a
#: count along a run of days or change nothing. tests/test_subjects.py: every day from
#: before its first usage (09-10) to after D + 1 (09-15), accounts created or churned on
#: D - 1 / D and visitors first seen then.
EDGE_DAYS = {
    "handmade": _days(
        ("2026-10-02", "2026-10-03"),
        ("2026-10-05", "2026-10-08"),
        ("2026-10-15", "2026-10-18"),
        ("2026-10-20", "2026-10-21"),
        ("2026-10-31", "2026-11-03"),
    ),
    "subjects": _days(("2026-09-08", "2026-09-17")),
}


@pytest.mark.parametrize("world", ["handmade", "subjects"])
def test_duckdb_day_health_reads_the_segments_tables(
    defs_dir: Path, handmade_dir: Path, subjects_dir: Path, world: str
) -> None:
    """A DuckDB backtest day scans the usage once for segments and health: the health
    reads the day's metric tables (its visitor-days aside), and every unrounded component
    and signal equals the health query's own scans, on each day across the windows' edges
    (tests/health_handmade.py: NPS, tickets, a visitor of no account): EDGE_DAYS."""
    import numpy as np

    from pendo_segments.backtest.sql import DuckDays, SqlDays, day_plan
    from pendo_segments.definitions.loader import load_definitions
    from pendo_segments.engines import open_engine
    from pendo_segments.health import load_health_config
    from pendo_segments.health.engine import health_tree, shape_tables
    from pendo_segments.health.sql import health_result

    defs = load_definitions(defs_dir)
    config = load_health_config(None)
    segments = list(defs.select(None))
    data = handmade_dir if world == "handmade" else subjects_dir
    with open_engine("duckdb", str(data)) as engine:
        days = SqlDays(engine)
        tables = shape_tables(days.shape)
        plan = day_plan(days, defs, segments, dt.date(2026, 10, 20), config)
        text = engine.render(plan.health)
        # its visitor-days; and the visits FOR each account when usage rows name them (§1)
        own = 1 + ("usage_daily" in tables.row_account)
        assert (text.count("usage_daily"), text.count("feature_usage")) == (own, 0)
        duck = DuckDays(days, pd.Index(engine.subjects("account")["account_id"].astype(str)))
        for day in EDGE_DAYS[world]:
            got = health_result(duck.run(defs, segments, day, config)[2], config, tables, day)
            own = engine.query(health_tree(config, tables, day), at=day)
            want = health_result(own, config, tables, day)
            assert list(got.account_ids) == list(want.account_ids)
            for name in want.components:
                np.testing.assert_array_equal(got.components[name], want.components[name])
            for name in want.signals:
                np.testing.assert_array_equal(got.signals[name], want.signals[name])
        duck.close()


def test_duckdb_backtest_keeps_only_what_is_asked(defs_dir: Path, handmade_dir: Path) -> None:
    """``keep=()`` (what ``backtest`` holds without outcomes, --scores or --save) holds no
    per-account matrix, and every day's segment sizes are those of a run that holds all."""
    from pendo_segments.backtest.sql import KEEP_ALL, run_backtest_sql
    from pendo_segments.definitions.loader import load_definitions
    from pendo_segments.engines import open_engine

    defs = load_definitions(defs_dir)
    days = [dt.date(2026, 10, 2), dt.date(2026, 10, 20), dt.date(2026, 11, 3)]
    with open_engine("duckdb", str(handmade_dir)) as engine:
        full = run_backtest_sql(defs, engine, days, defs_path=defs_dir, keep=KEEP_ALL)
        bare = run_backtest_sql(defs, engine, days, defs_path=defs_dir, keep=())
    assert (bare.flags, bare.member_counts, bare.scores, bare.alerts) == ({}, {}, None, [])
    assert bare.counts == full.counts
    assert full.alerts and full.member_counts and full.scores is not None
    # the sizes are the held matrices' sums (flags per account, members per account)
    for name, sizes in full.counts.items():
        matrix = full.flags.get(name, full.member_counts.get(name))
        assert sizes == [int(x) for x in matrix.sum(axis=1)], name


def test_day_plans_write_the_first_days_sql_again_only_when_that_is_exact(
    defs_dir: Path, handmade_dir: Path, tmp_path: Path
) -> None:
    """A DuckDB backtest compiles its first two days; later days are the first day's SQL
    with the date written again. That text must be what compiling the day gives; and a
    definition whose literal is the first day's date (which the rewrite would move too)
    makes every day compile."""
    from pendo_segments.backtest.sql import DayPlans, SqlDays
    from pendo_segments.definitions.loader import load_definitions
    from pendo_segments.engines import open_engine
    from pendo_segments.health import load_health_config

    config = load_health_config(None)
    first, second, third = dt.date(2026, 10, 2), dt.date(2026, 10, 9), dt.date(2026, 11, 3)
    pinned = tmp_path / "defs"
    pinned.mkdir()
    (pinned / "segments.yaml").write_text(
        DEFS
        + "  - {name: renews_late, title: R, subject: account,\n"
        + f'     rule: {{all: [{{field: renewal_date, op: ">", value: "{first}"}}]}}}}\n'
    )
    with open_engine("duckdb", str(handmade_dir)) as engine:
        days = SqlDays(engine)
        for folder, moved in ((defs_dir, True), (pinned, False)):
            defs = load_definitions(folder)
            segments = list(defs.select(None))
            plans = DayPlans(days)
            for day in (first, second):
                plans.at(defs, segments, day, config)
            assert plans.same is moved
            compiled = DayPlans(days)._compiled(defs, segments, third, config)
            assert plans.at(defs, segments, third, config) == compiled
            assert f"'{third}'" in compiled.segments and f"'{first}'" not in compiled.health
