"""Visitors in several accounts (issue 26 #3): roll-ups use each usage row's own account.

Pendo's event rows carry the account they happened in (``accountId``) and a visitor
may be in several accounts (``metadata.auto.accountids``). The hand-worked world:
visitor ``v`` (``visitors.account_id`` = A) is active for account A on Oct 1 and 2
and for account B on Oct 3, with 4 clicks on feature f1 for B. As of Oct 4 (30-day
window): A has 2 active days and 10 minutes, B 1 active day, 7 minutes, 4 clicks;
read through ``visitors.account_id`` instead, A would have 3 and B none.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_pendo import FakePendo

from pendo_segments.cli import main
from pendo_segments.data.loaders import load_dataset
from pendo_segments.evaluate.metrics import Metrics

AS_OF = dt.date(2026, 10, 4)


def world(folder: Path) -> Path:
    files = {
        "accounts.csv": "account_id,arr,plan\nA,1000,Growth\nB,2000,Growth\n",
        "visitors.csv": "visitor_id,account_id\nv,A\nw,B\n",
        "usage_daily.csv": "date,visitor_id,minutes,events,account_id\n"
        "2026-10-01,v,5,1,A\n2026-10-02,v,5,1,A\n2026-10-03,v,7,1,B\n",
        "feature_usage.csv": "date,visitor_id,feature_id,clicks,account_id\n2026-10-03,v,f1,4,B\n",
        "features.csv": "feature_id,name\nf1,Feature one\n",
    }
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize("narrow", [True, False], ids=["evaluator-load", "full-load"])
def test_account_roll_ups_follow_each_rows_account(tmp_path: Path, narrow: bool) -> None:
    metrics = Metrics(load_dataset(world(tmp_path / "data"), narrow=narrow), AS_OF)
    assert list(metrics.ids("account")) == ["A", "B"]
    assert metrics.metric("account", "active_days", 30).tolist() == [2.0, 1.0]
    assert metrics.metric("account", "minutes", 30).tolist() == [10.0, 7.0]
    assert metrics.metric("account", "events", 30).tolist() == [2.0, 1.0]
    assert metrics.metric("account", "feature_clicks", 30, "f1").tolist() == [0.0, 4.0]
    # the visitor's own metrics are unchanged: 3 active days, whoever they were for
    assert metrics.metric("visitor", "active_days", 30).tolist() == [3.0, 0.0]


def test_a_blank_row_account_is_the_visitors(tmp_path: Path) -> None:
    data = world(tmp_path / "data")
    (data / "usage_daily.csv").write_text(
        "date,visitor_id,minutes,events,account_id\n"
        "2026-10-01,v,5,1,\n2026-10-02,v,5,1,A\n2026-10-03,v,7,1,B\n",
        encoding="utf-8",
    )
    metrics = Metrics(load_dataset(data, narrow=True), AS_OF)
    assert metrics.metric("account", "active_days", 30).tolist() == [2.0, 1.0]


def test_evaluate_puts_each_account_where_its_rows_say(tmp_path: Path) -> None:
    defs = tmp_path / "defs"
    defs.mkdir()
    for name, days in (("one_day", 1), ("two_days", 2)):
        (defs / f"{name}.yaml").write_text(
            f"name: {name}\ntitle: T\nsubject: account\nwindow_days: 30\n"
            f'rule:\n  all:\n    - {{metric: active_days, op: "=", value: {days}}}\n',
            encoding="utf-8",
        )
    data = world(tmp_path / "data")
    args = ["evaluate", str(defs), "--data", str(data), "--as-of", AS_OF.isoformat()]
    result = CliRunner().invoke(main, [*args, "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "segment,subject,subject_id",
        "one_day,account,B",
        "two_days,account,A",
    ]


# -- every engine: DuckDB, Spark and the backtest's index follow the row's account -----------
#: Hand-worked as of Oct 4 (30 days): A has 2 active days (Oct 1-2), B 1 (Oct 3), B 4
#: clicks; A's last visit FOR A is Oct 2 (2 days ago), B's Oct 3 (1 day); B's first day
#: there is Oct 3 (1 day), A's Oct 1 (3 days). Through visitors.account_id instead: A 3
#: days, last visit 1 day ago, first 3; B no usage at all (its day counts unknown).
ENGINE_DEFS = {
    "one_day": '{metric: active_days, op: "=", value: 1}',
    "two_days": '{metric: active_days, op: "=", value: 2}',
    "clicked": '{metric: feature_clicks, feature: f1, op: ">=", value: 4}',
    "ten_minutes": '{metric: minutes, op: "=", value: 10}',
    "seen_yesterday": '{metric: days_since_last_visit, op: "=", value: 1}',
    "seen_two_days_ago": '{metric: days_since_last_visit, op: "=", value: 2}',
    "new_here": '{metric: days_since_first_visit, op: "<=", value: 1}',
}
ENGINE_MEMBERS = [
    "segment,subject,subject_id",
    "clicked,account,B",
    "new_here,account,B",
    "one_day,account,B",
    "seen_two_days_ago,account,A",
    "seen_yesterday,account,B",
    "ten_minutes,account,A",
    "two_days,account,A",
]


def engine_defs(folder: Path) -> Path:
    folder.mkdir()
    for name, condition in ENGINE_DEFS.items():
        (folder / f"{name}.yaml").write_text(
            f"name: {name}\ntitle: T\nsubject: account\nwindow_days: 30\n"
            f"rule:\n  all:\n    - {condition}\n",
            encoding="utf-8",
        )
    return folder


def evaluate_csv(tmp_path: Path, engine: str, *extra: str) -> list[str]:
    defs, data = engine_defs(tmp_path / "defs"), world(tmp_path / "data")
    args = ["evaluate", str(defs), "--data", str(data), "--as-of", AS_OF.isoformat()]
    result = CliRunner().invoke(main, [*args, "--engine", engine, "--format", "csv", *extra])
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_every_metric_follows_the_rows_account(tmp_path: Path, engine: str) -> None:
    assert evaluate_csv(tmp_path, engine) == ENGINE_MEMBERS


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_health_signals_follow_the_rows_account(tmp_path: Path, engine: str) -> None:
    """Health's login days and last login (sessions still count a visitor's days for its
    own account: docs/semantics.md §2)."""
    from pendo_segments.engines import open_engine
    from pendo_segments.health.config import HealthConfig
    from pendo_segments.health.engine import engine_health

    data = world(tmp_path / "data")
    with open_engine(engine, str(data)) as opened:
        health = engine_health(opened, HealthConfig(), AS_OF)
    assert list(health.account_ids) == ["A", "B"]
    assert health.signals["active_days"].tolist() == [2.0, 1.0]
    assert health.signals["days_since_last_login"].tolist() == [2.0, 1.0]


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_a_backtest_day_follows_the_rows_account(tmp_path: Path, engine: str) -> None:
    defs, data = engine_defs(tmp_path / "defs"), world(tmp_path / "data")
    day = AS_OF.isoformat()
    args = ["backtest", str(defs), "--data", str(data), "--from", day, "--to", day]
    result = CliRunner().invoke(main, [*args, "--engine", engine, "--format", "csv"])
    assert result.exit_code == 0, result.output
    counts = {line.split(",")[1]: line.split(",")[2] for line in result.stdout.splitlines()[1:]}
    assert counts == {
        "clicked": "1",
        "new_here": "1",
        "one_day": "1",
        "seen_two_days_ago": "1",
        "seen_yesterday": "1",
        "ten_minutes": "1",
        "two_days": "1",
    }


def test_spark_follows_the_rows_account(tmp_path: Path, spark) -> None:  # noqa: ANN001
    assert evaluate_csv(tmp_path, "spark", "--spark-master", "local[1]") == ENGINE_MEMBERS


# -- Pendo: the fake's events, the compiled pipelines and pull ------------------------------
def pendo_world(fake: FakePendo) -> None:
    fake.add_account("A", agent={"arr": 1000, "plan": "Growth"})
    fake.add_account("B", agent={"arr": 2000, "plan": "Growth"})
    fake.add_visitor("v", "A", auto={"accountids": ["A", "B"]})
    fake.add_visitor("w", "B")
    fake.add_events(
        [
            {"visitorId": "v", "accountId": "A", "day": "2026-10-01", "numEvents": 1},
            {"visitorId": "v", "accountId": "A", "day": "2026-10-02", "numEvents": 1},
            {"visitorId": "v", "accountId": "B", "day": "2026-10-03", "numEvents": 1},
            {"visitorId": "w", "day": "2026-10-03", "numEvents": 1},  # Pendo fills B
        ]
    )


def test_the_fake_gives_every_event_an_account(fake_pendo: FakePendo) -> None:
    pendo_world(fake_pendo)
    assert [e["accountId"] for e in fake_pendo.events] == ["A", "A", "B", "B"]


def test_compiled_aggregation_counts_days_per_event_account(fake_pendo: FakePendo) -> None:
    """The account usage sub-pipeline the aggregation target merges into its accounts
    (the fake has no ``merge``, so it runs on its own): grouped by the event's accountId."""
    from pendo_segments.compile.aggregation import AggregationGenerator
    from pendo_segments.definitions.loader import DefinitionSet
    from pendo_segments.pendo.client import PendoClient

    pendo_world(fake_pendo)
    client = PendoClient(fake_pendo.url, fake_pendo.key, sleep=lambda _s: None)
    generator = AggregationGenerator(DefinitionSet(segments={}), as_of=AS_OF)
    pipeline = generator.usage_pipeline("accountId", 30, {"days": "active_days"})
    rows = client.aggregate(pipeline)
    # w is active for B on Oct 3 as well: still one day for B
    assert {r["accountId"]: r["days"] for r in rows} == {"A": 2, "B": 1}


def test_pull_keeps_each_rows_account(
    fake_pendo: FakePendo, pendo_env: dict[str, str], tmp_path: Path
) -> None:
    pendo_world(fake_pendo)
    out = tmp_path / "usage"
    result = CliRunner().invoke(
        main, ["pull", "--out", str(out), "--days", "3", "--as-of", AS_OF.isoformat()]
    )
    assert result.exit_code == 0, result.output
    lines = (out / "usage_daily.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    rows = [dict(zip(header, line.split(","), strict=True)) for line in lines[1:]]
    got = sorted((r["date"], r["visitor_id"], r["account_id"]) for r in rows)
    assert got == [
        ("2026-10-01", "v", "A"),
        ("2026-10-02", "v", "A"),
        ("2026-10-03", "v", "B"),
        ("2026-10-03", "w", "B"),
    ]
    # and the pulled folder evaluates as the hand-worked world: A 2 days, B 1
    metrics = Metrics(load_dataset(out, narrow=True), AS_OF)
    active = metrics.metric("account", "active_days", 30)
    days = dict(zip(metrics.ids("account"), active, strict=True))
    assert days == {"A": 2.0, "B": 1.0}
