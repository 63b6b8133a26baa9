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
import json
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


# -- health's sessions: visitor-days active FOR the account (issue 26 #3) -------------------
#: The engine world plus w (home B) active on Oct 2 and 3 (blank row account: B's).
#: Hand-worked as of Oct 4: visitor-days FOR A: v Oct 1, v Oct 2 = 2; FOR B: v Oct 3,
#: w Oct 2, w Oct 3 = 3 (B's distinct active days: 2). By each visitor's own account
#: instead: A 3 (all v's days), B 2 (w's).
SESSIONS_USAGE = (
    "date,visitor_id,minutes,events,account_id\n"
    "2026-10-01,v,5,1,A\n2026-10-02,v,5,1,A\n2026-10-03,v,7,1,B\n"
    "2026-10-02,w,1,1,\n2026-10-03,w,1,1,\n"
)


def sessions_world(folder: Path) -> Path:
    data = world(folder)
    (data / "usage_daily.csv").write_text(SESSIONS_USAGE, encoding="utf-8")
    return data


def engine_signals(engine: str, data: Path) -> dict[str, dict[str, float]]:
    """Health signals per account id (subjects only), on ``engine``."""
    from pendo_segments.engines import open_engine
    from pendo_segments.health.config import HealthConfig
    from pendo_segments.health.engine import engine_health

    master = {"spark_master": "local[1]"} if engine == "spark" else {}
    with open_engine(engine, str(data), **master) as opened:
        health = engine_health(opened, HealthConfig(), AS_OF)
    keep = health.subject_mask()
    ids = [str(a) for a, k in zip(health.account_ids, keep, strict=True) if k]
    return {
        name: dict(zip(ids, values[keep].tolist(), strict=True))
        for name, values in health.signals.items()
    }


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_sessions_count_visitor_days_for_the_account(tmp_path: Path, engine: str) -> None:
    signals = engine_signals(engine, sessions_world(tmp_path / "data"))
    assert signals["sessions"] == {"A": 2.0, "B": 3.0}
    assert signals["active_days"] == {"A": 2.0, "B": 2.0}


# -- a visitor whose own account is not a subject counts for no account (CONTRACT §2b) ------
#: v's home A is not a subject at Oct 4 (churned Oct 2, or created Oct 10); v is active for
#: A on Oct 1-2 and for B on Oct 3 (7 minutes, 4 clicks on f1); w (home B) is active on
#: Oct 2 with 10 minutes. v is not a subject, so B has only w: 1 active day, 10 minutes,
#: no clicks, last and first visit Oct 2 (2 days), 1 session; A is in no segment.
#: Counting v's Oct 3 for B instead: 2 days, 17 minutes, 4 clicks, last visit 1 day ago.
GONE_HOME = {
    "churned": {
        "outcomes.csv": "account_id,churned,churn_date\nA,true,2026-10-02\n",
    },
    "not-yet-created": {
        "accounts.csv": "account_id,arr,plan,created\nA,1000,Growth,2026-10-10\nB,2000,Growth,\n",
    },
}
GONE_HOME_MEMBERS = [
    "segment,subject,subject_id",
    "one_day,account,B",
    "seen_two_days_ago,account,B",
    "ten_minutes,account,B",
]


def gone_home_world(folder: Path, how: str) -> Path:
    data = world(folder)
    usage = "date,visitor_id,minutes,events,account_id\n"
    usage += "2026-10-01,v,5,1,A\n2026-10-02,v,5,1,A\n2026-10-03,v,7,1,B\n2026-10-02,w,10,1,\n"
    (data / "usage_daily.csv").write_text(usage, encoding="utf-8")
    for name, text in GONE_HOME[how].items():
        (data / name).write_text(text, encoding="utf-8")
    return data


def gone_home_csv(tmp_path: Path, engine: str, how: str, *extra: str) -> list[str]:
    defs, data = engine_defs(tmp_path / "defs"), gone_home_world(tmp_path / "data", how)
    args = ["evaluate", str(defs), "--data", str(data), "--as-of", AS_OF.isoformat()]
    result = CliRunner().invoke(main, [*args, "--engine", engine, "--format", "csv", *extra])
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


@pytest.mark.parametrize("how", list(GONE_HOME))
@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_a_visitor_of_a_gone_account_counts_nowhere(tmp_path: Path, engine: str, how: str) -> None:
    assert gone_home_csv(tmp_path, engine, how) == GONE_HOME_MEMBERS
    signals = engine_signals(engine, tmp_path / "data")
    assert signals["active_days"] == {"B": 1.0}
    assert signals["sessions"] == {"B": 1.0}
    assert signals["days_since_last_login"] == {"B": 2.0}


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_a_backtest_day_leaves_a_gone_accounts_visitor_out(tmp_path: Path, engine: str) -> None:
    defs, data = engine_defs(tmp_path / "defs"), gone_home_world(tmp_path / "data", "churned")
    day = AS_OF.isoformat()
    args = ["backtest", str(defs), "--data", str(data), "--from", day, "--to", day]
    result = CliRunner().invoke(main, [*args, "--engine", engine, "--format", "csv"])
    assert result.exit_code == 0, result.output
    counts = {line.split(",")[1]: line.split(",")[2] for line in result.stdout.splitlines()[1:]}
    assert {name for name, n in counts.items() if n != "0"} == {
        "one_day",
        "seen_two_days_ago",
        "ten_minutes",
    }
    assert all(counts[name] == "1" for name in ("one_day", "seen_two_days_ago", "ten_minutes"))


def test_spark_sessions_and_gone_accounts(tmp_path: Path, spark) -> None:  # noqa: ANN001
    signals = engine_signals("spark", sessions_world(tmp_path / "sessions"))
    assert signals["sessions"] == {"A": 2.0, "B": 3.0}
    for how in GONE_HOME:
        folder = tmp_path / how
        folder.mkdir()
        members = gone_home_csv(folder, "spark", how, "--spark-master", "local[1]")
        assert members == GONE_HOME_MEMBERS
        signals = engine_signals("spark", folder / "data")
        assert signals["active_days"] == {"B": 1.0}
        assert signals["sessions"] == {"B": 1.0}


# -- visitor_accounts: a visitor's links to other accounts (metadata.auto.accountids) -------
def links_world(folder: Path, links: str) -> Path:
    data = world(folder)
    (data / "visitor_accounts.csv").write_text(links, encoding="utf-8")
    return data


def test_visitor_accounts_are_loaded(tmp_path: Path) -> None:
    data = links_world(tmp_path / "data", "visitor_id,account_id\nv,B\nw,A\n")
    ds = load_dataset(data)
    assert ds.visitor_accounts is not None
    pairs = ds.visitor_accounts[["visitor_id", "account_id"]].values.tolist()
    assert pairs == [["v", "B"], ["w", "A"]]


BAD_LINKS = [
    (
        "visitor_id,account_id\nv,B\nghost,A\n",
        "visitor_accounts.csv: row 2 (line 3), column 'visitor_id': unknown visitor 'ghost'",
    ),
    (
        "visitor_id,account_id\nv,B\nw,Z\n",
        "visitor_accounts.csv: row 2 (line 3), column 'account_id': unknown account 'Z'",
    ),
    (
        "visitor_id,account_id\nv,B\nw,A\nv,B\n",
        "visitor_accounts.csv: row 3 (line 4), column 'account_id': visitor 'v' is linked "
        "to account 'B' twice (first at row 1 (line 2))",
    ),
    (
        "visitor_id,account\nv,B\n",
        "visitor_accounts.csv: missing required column 'account_id'",
    ),
]
BAD_LINK_IDS = ["unknown-visitor", "unknown-account", "duplicate-pair", "missing-column"]


def bad_links_verdict(folder: Path, links: str, engine: str, *extra: str) -> list[str]:
    """stderr lines of ``evaluate --engine ENGINE`` on the world with ``links``."""
    data = links_world(folder / "data", links)
    defs = engine_defs(folder / "defs")
    args = ["evaluate", str(defs), "--data", str(data), "--as-of", AS_OF.isoformat()]
    result = CliRunner().invoke(main, [*args, "--engine", engine, *extra])
    assert result.exit_code == 1, result.output
    return result.stderr.strip().splitlines()


@pytest.mark.parametrize(("links", "message"), BAD_LINKS, ids=BAD_LINK_IDS)
@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_bad_visitor_accounts_are_one_line(
    tmp_path: Path, engine: str, links: str, message: str
) -> None:
    lines = bad_links_verdict(tmp_path, links, engine)
    assert len(lines) == 1
    assert message in lines[0]


def test_bad_visitor_accounts_on_spark(tmp_path: Path, spark) -> None:  # noqa: ANN001
    for i, (links, message) in enumerate(BAD_LINKS):
        (tmp_path / str(i)).mkdir()
        lines = bad_links_verdict(tmp_path / str(i), links, "spark", "--spark-master", "local[1]")
        assert len(lines) == 1
        assert message in lines[0]


def test_lenient_drops_unknown_links_with_a_warning(tmp_path: Path) -> None:
    data = links_world(tmp_path / "data", "visitor_id,account_id\nv,B\nghost,A\nw,Z\n")
    warnings: list[str] = []
    ds = load_dataset(data, lenient=True, warn=warnings.append)
    assert ds.visitor_accounts is not None
    assert ds.visitor_accounts[["visitor_id", "account_id"]].values.tolist() == [["v", "B"]]
    assert any("visitor_accounts.csv: dropped 1 row of 1 unknown visitor" in w for w in warnings)
    assert any("visitor_accounts.csv: dropped 1 row of 1 unknown account" in w for w in warnings)


def test_pull_writes_each_visitors_other_accounts(
    fake_pendo: FakePendo, pendo_env: dict[str, str], tmp_path: Path
) -> None:
    """v is in A and B (A its own: visitors.account_id), x in B, A and C (C unknown to
    Pendo's accounts: dropped with a warning, pull is lenient), w only in B."""
    pendo_world(fake_pendo)
    fake_pendo.add_visitor("x", "B", auto={"accountids": ["B", "A", "C"]})
    out = tmp_path / "usage"
    result = CliRunner().invoke(
        main, ["pull", "--out", str(out), "--days", "3", "--as-of", AS_OF.isoformat()]
    )
    assert result.exit_code == 0, result.output
    text = (out / "visitor_accounts.csv").read_text(encoding="utf-8")
    assert text.splitlines() == ["visitor_id,account_id", "v,B", "x,A"]


# -- sync plan: an account segment's visitor list holds every visitor linked to it ----------
#: B is the one member of ``big`` (arr >= 2000). Its visitors: w (visitors.account_id = B),
#: x (home A, linked to B in visitor_accounts.csv) and v (home A, a usage row for B on
#: Oct 3); y (home A, no link, no row for B) is not one. Through visitors.account_id
#: alone the list would be [w].
def sync_data(folder: Path) -> Path:
    data = links_world(folder, "visitor_id,account_id\nx,B\n")
    (data / "visitors.csv").write_text(
        "visitor_id,account_id\nv,A\nw,B\nx,A\ny,A\n", encoding="utf-8"
    )
    return data


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_sync_plan_lists_every_visitor_linked_to_the_account(
    fake_pendo: FakePendo, pendo_env: dict[str, str], tmp_path: Path, engine: str
) -> None:
    sync_plan_lists_every_linked_visitor(fake_pendo, tmp_path, engine)


def test_spark_sync_plan_lists_every_linked_visitor(
    fake_pendo: FakePendo,
    pendo_env: dict[str, str],
    tmp_path: Path,
    spark,  # noqa: ANN001
) -> None:
    sync_plan_lists_every_linked_visitor(
        fake_pendo, tmp_path, "spark", "--spark-master", "local[1]"
    )


def sync_plan_lists_every_linked_visitor(
    fake_pendo: FakePendo, tmp_path: Path, engine: str, *extra: str
) -> None:
    fake_pendo.add_account("A", agent={"arr": 1000, "plan": "Growth"})
    fake_pendo.add_account("B", agent={"arr": 2000, "plan": "Growth"})
    for visitor, account in (("v", "A"), ("w", "B"), ("x", "A"), ("y", "A")):
        fake_pendo.add_visitor(visitor, account)
    defs = tmp_path / "defs"
    defs.mkdir()
    (defs / "big.yaml").write_text(
        "name: big\ntitle: Big\nsubject: account\n"
        'rule:\n  all:\n    - {field: arr, op: ">=", value: 2000}\n',
        encoding="utf-8",
    )
    data, out = sync_data(tmp_path / "data"), tmp_path / "plan.json"
    args = ["sync", "plan", str(defs), "--data", str(data), "--as-of", AS_OF.isoformat()]
    result = CliRunner().invoke(main, [*args, "--engine", engine, *extra, "--out", str(out)])
    assert result.exit_code == 3, result.output
    saved = json.loads(out.read_text(encoding="utf-8"))
    segments = {s["name"]: s for s in saved["segments"]}
    assert segments["big"]["visitors"] == ["v", "w", "x"]
    # the metadata field 'plan' (pendo_env) of both accounts, as the accounts file says
    assert saved["metadata"]["fields"] == ["plan"]


# -- the full load's filled account_id is not a row's own account ---------------------------
def test_only_rows_naming_other_accounts_make_sql_read_the_rows_account(tmp_path: Path) -> None:
    """The full load fills a missing usage account_id with the visitor's account of today;
    the SQL engines must not read that as the row's own (it would pin the row to today's
    account when visitors_history moves the visitor): only the world's rows for B make
    usage_daily and feature_usage row-account tables."""
    data = world(tmp_path / "data")
    assert load_dataset(data).row_account_tables() == ("usage_daily", "feature_usage")
    (data / "usage_daily.csv").write_text(
        "date,visitor_id,minutes,events\n2026-10-01,v,5,1\n", encoding="utf-8"
    )
    (data / "feature_usage.csv").write_text(
        "date,visitor_id,feature_id,clicks,account_id\n2026-10-03,v,f1,4,A\n", encoding="utf-8"
    )
    ds = load_dataset(data)  # usage_daily.account_id filled with A; feature rows name A
    assert "account_id" in ds.usage_daily.columns
    assert ds.row_account_tables() == ()


def test_sync_plan_on_duckdb_matches_pandas_with_tier_and_health(
    handmade_pendo: FakePendo,
    pendo_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The shipped definitions on the hand-made data with tier and health_score metadata:
    DuckDB's plan (members, health and tiers from SQL) is pandas' plan, byte for byte
    (but the time it was made)."""
    from handmade import frames

    from pendo_segments.data.loaders import dataset_from_frames, write_dataset

    config = Path(pendo_env["PENDO_SEGMENTS_CONFIG"])
    text = config.read_text(encoding="utf-8").replace(
        'metadata_fields = ["plan"]', 'metadata_fields = ["plan", "tier", "health_score"]'
    )
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("PENDO_SEGMENTS_CONFIG", str(tmp_path / "config.toml"))
    data = tmp_path / "usage"
    write_dataset(dataset_from_frames(frames()), data)
    shipped = str(Path(__file__).parent.parent / "segment_defs")
    plans = []
    for engine in ("pandas", "duckdb"):
        out = tmp_path / f"{engine}.json"
        args = ["sync", "plan", shipped, "--data", str(data), "--as-of", "2026-11-01"]
        result = CliRunner().invoke(main, [*args, "--engine", engine, "--out", str(out)])
        assert result.exit_code == 3, result.output
        saved = json.loads(out.read_text(encoding="utf-8"))
        del saved["created_at"], saved["plan_id"]
        plans.append(saved)
    assert plans[0]["metadata"]["fields"] == ["plan", "tier", "health_score"]
    assert plans[0]["metadata"]["updates"]  # tiers and scores to send
    assert plans[1] == plans[0]


def test_links_round_trip_through_the_fake_and_pull(
    fake_pendo: FakePendo, pendo_env: dict[str, str], tmp_path: Path
) -> None:
    """A data set's visitor_accounts become the fake's metadata.auto.accountids (the
    visitor's own account first), and pull writes them back: v→B, w→A."""
    data = links_world(tmp_path / "data", "visitor_id,account_id\nv,B\nw,A\n")
    fake_pendo.load_dataset(load_dataset(data))
    assert fake_pendo.visitors["v"]["metadata"]["auto"]["accountids"] == ["A", "B"]
    assert fake_pendo.visitors["w"]["metadata"]["auto"]["accountids"] == ["B", "A"]
    out = tmp_path / "pulled"
    args = ["pull", "--out", str(out), "--days", "3", "--as-of", AS_OF.isoformat()]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    text = (out / "visitor_accounts.csv").read_text(encoding="utf-8")
    assert text.splitlines() == ["visitor_id,account_id", "v,B", "w,A"]
