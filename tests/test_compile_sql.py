"""The SQL target's generated names: look-alike feature ids never share a CTE."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from click.testing import CliRunner

from pendo_segments.cli import main
from pendo_segments.compile.base import compile_segments
from pendo_segments.compile.sql import ident_slug
from pendo_segments.data.dataset import Dataset
from pendo_segments.definitions.loader import DefinitionSet
from pendo_segments.definitions.models import Segment
from pendo_segments.evaluate import evaluate
from pendo_segments.evaluate.duckdb_engine import evaluate_sql

IDS = ["a-b", "a_b", "A_B"]
RULE = {
    "all": [
        {"metric": "feature_clicks", "feature": "a-b", "op": ">=", "value": 2},
        {"metric": "feature_clicks", "feature": "a_b", "op": "=", "value": 0},
        {"metric": "feature_clicks", "feature": "A_B", "op": "<=", "value": 1},
    ]
}


def defs() -> DefinitionSet:
    seg = Segment.model_validate({"name": "s", "title": "S", "subject": "visitor", "rule": RULE})
    return DefinitionSet(segments={"s": seg})


def test_look_alike_ids_get_distinct_stable_names() -> None:
    slugs = [ident_slug(i) for i in IDS]
    assert len({s.lower() for s in slugs}) == 3
    assert all(s.startswith("a_b_") and re.fullmatch(r"[a-z0-9_]+", s) for s in slugs)
    assert ident_slug("a-b") == slugs[0]  # stable across calls (goldens depend on it)
    sql = compile_segments(defs(), "sql")[0].output
    names = set(re.findall(r"(clicks_a_b_[0-9a-f]{8}_30) AS", sql))
    assert len(names) == 3


def test_duckdb_answers_like_pandas_on_look_alike_ids() -> None:
    # v1: 2 clicks on a-b only -> member; v2: 2 on a-b and 1 on a_b -> not (a_b must be 0);
    # v3: 2 on a-b, 2 on A_B -> not (A_B <= 1); v4: nothing -> not (a-b >= 2).
    visitors = ["v1", "v2", "v3", "v4"]
    clicks = [
        ("v1", "a-b", 2),
        ("v2", "a-b", 2),
        ("v2", "a_b", 1),
        ("v3", "a-b", 2),
        ("v3", "A_B", 2),
    ]
    fu = pd.DataFrame(
        {
            "date": pd.to_datetime(["2026-10-20"] * len(clicks)),
            "visitor_id": pd.Categorical([c[0] for c in clicks], categories=visitors),
            "feature_id": pd.Categorical([c[1] for c in clicks], categories=IDS),
            "clicks": [c[2] for c in clicks],
        }
    )
    ds = Dataset(
        accounts=pd.DataFrame({"account_id": ["A"], "arr": [1.0], "plan": ["P"]}),
        visitors=pd.DataFrame({"visitor_id": visitors, "account_id": ["A"] * 4}),
        usage_daily=pd.DataFrame(
            {
                "date": pd.to_datetime(["2026-10-31"]),
                "visitor_id": pd.Categorical(["v1"], categories=visitors),
                "minutes": [1.0],
                "events": [1],
            }
        ),
        feature_usage=fu,
        features=pd.DataFrame({"feature_id": IDS, "name": IDS}),
        source="test",
    )
    assert list(evaluate(defs(), ds).members("s")) == ["v1"]
    assert evaluate_sql(defs(), ds) == {"s": ["v1"]}


def test_sql_counts_last_visit_only_when_asked() -> None:
    runner = CliRunner()
    args = ["compile", "-t", "sql", "-s", "no_login_30d", "-f", "text"]
    plain = runner.invoke(main, args)
    with_column = runner.invoke(main, [*args, "--last-visit-column"])
    assert plain.exit_code == with_column.exit_code == 0
    column = "CAST(v.last_visit AS DATE)"
    assert column not in plain.stdout
    assert column in with_column.stdout


@pytest.mark.parametrize("dialect", ["spark", "databricks"])
def test_spark_family_sql_keeps_nested_ctes_so_names_never_repeat(dialect: str) -> None:
    """sqlglot's Spark writer hoists a referenced segment's WITH to the top, where its
    ``params`` collides with the outer one (Spark 4: DUPLICATED_CTE_NAMES)."""
    import datetime as dt

    import sqlglot
    from sqlglot import exp

    from pendo_segments.compile import compile_segments
    from pendo_segments.definitions import load_definitions

    (result,) = compile_segments(
        load_definitions("segment_defs"),
        "sql",
        names=["at_risk_enterprise"],  # references at_risk and enterprise
        as_of=dt.date(2026, 11, 1),
        dialect=dialect,
    )
    tree = sqlglot.parse_one(str(result.output), read=dialect)
    withs = list(tree.find_all(exp.With))
    assert len(withs) > 1  # the references' WITH clauses stayed nested
    for w in withs:
        names = [cte.alias for cte in w.expressions]
        assert len(names) == len(set(names)), names


def day_arithmetic(tree) -> list[str]:
    """``date ± integer`` left in a parsed query: a date column/parameter or a DATE
    cast/literal on one side, a whole-number literal on the other."""
    from sqlglot import exp

    def is_date(node) -> bool:
        node = node.unnest()
        if isinstance(node, exp.Column):
            return node.name in ("as_of", "date", "opened_on", "first_visit", "last_visit")
        return isinstance(node, exp.Cast) and node.to.is_type(exp.DataType.Type.DATE)

    def is_int(node) -> bool:
        return isinstance(node, exp.Literal) and not node.is_string and "." not in node.name

    return [
        node.sql()
        for node in tree.find_all(exp.Add, exp.Sub)
        if (is_date(node.left) and is_int(node.right))
        or (is_int(node.left) and is_date(node.right))
    ]


@pytest.mark.parametrize("dialect", ["bigquery", "snowflake", "databricks"])
def test_warehouse_dialects_shift_dates_with_date_functions(dialect: str) -> None:
    """BigQuery rejects ``DATE - 30`` and Databricks SQL documents only DATE - DATE /
    DATE - INTERVAL: windows, the default as-of and anniversaries use a day function."""
    import datetime as dt

    import sqlglot
    from sqlglot import exp

    from pendo_segments.definitions import load_definitions
    from pendo_segments.health import HealthConfig
    from pendo_segments.health.sql import Tables, health_query

    shipped = load_definitions("segment_defs")
    texts = [
        str(r.output)
        for as_of in (None, dt.date(2026, 11, 1))  # default as-of: MAX(date) + 1 day
        for r in compile_segments(shipped, "sql", as_of=as_of, dialect=dialect)
    ]
    tables = Tables(key_features=4, features=5, nps=True, tickets=True)
    texts.append(health_query(HealthConfig(), tables, dt.date(2026, 11, 1), dialect=dialect))
    shifts = 0
    for text in texts:
        tree = sqlglot.parse_one(text, read=dialect)
        assert day_arithmetic(tree) == [], text
        shifts += sum(1 for _ in tree.find_all(exp.DateAdd, exp.DateSub, exp.TsOrDsAdd))
    assert shifts >= len(texts)  # every query has a window or the default as-of
    # the check itself finds what DuckDB (where it is valid) writes
    duck = compile_segments(shipped, "sql", names=["healthy"])[0].output
    assert "p.as_of - 30" in day_arithmetic(sqlglot.parse_one(str(duck), read="duckdb"))


def _anniversary_sql(dialect: str) -> str:
    from pendo_segments.definitions import load_definitions

    shipped = load_definitions("segment_defs")
    return str(compile_segments(shipped, "sql", names=["anniversary"], dialect=dialect)[0].output)


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "oracle", "redshift", "trino"])
def test_anniversary_never_writes_a_date_constructor_the_database_lacks(dialect: str) -> None:
    """None of these has DATE_FROM_PARTS (sqlglot's spelling of make_date for them);
    PostgreSQL has make_date(int, int, int), the others parse an ISO text."""
    text = _anniversary_sql(dialect)
    assert "DATE_FROM_PARTS" not in text.upper()
    if dialect == "postgres":
        assert text.count("MAKE_DATE(") == 2  # this year's and next year's anniversary
        assert 'CAST(EXTRACT(MONTH FROM s."first_visit") AS INT)' in text
    else:
        assert "'-'" in text


PG_BIN = sorted(__import__("glob").glob("/usr/lib/postgresql/*/bin/initdb"))


@pytest.mark.skipif(not PG_BIN, reason="needs PostgreSQL's server (Debian postgresql)")
def test_anniversary_runs_on_postgresql() -> None:
    """The compiled anniversary on a real PostgreSQL, hand-worked: usage ends 2026-02-27,
    so as-of is 2026-02-28 and the week is 02-28 … 03-06 (2026 is not a leap year)."""
    import os
    import shutil
    import subprocess
    import tempfile
    from pathlib import Path

    bindir = os.path.dirname(PG_BIN[-1])
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_postgres and not shutil.which("runuser"):
        pytest.skip("root without runuser cannot start PostgreSQL")
    # pytest's tmp_path sits under a root-only folder the postgres user cannot enter
    tmp_path = Path(tempfile.mkdtemp(prefix="pendo-pg-"))
    tmp_path.chmod(0o777)
    data = tmp_path / "data"
    run = lambda *args: subprocess.run([*as_postgres, *args], check=True, capture_output=True)  # noqa: E731
    run(f"{bindir}/initdb", "-D", str(data), "-A", "trust", "-U", "postgres")
    opts = f"-k {tmp_path} -p 54329 -c listen_addresses=''"
    run(f"{bindir}/pg_ctl", "-D", str(data), "-o", opts, "-w", "start", "-l", str(tmp_path / "log"))
    try:
        setup = """
        CREATE TABLE usage_daily(date DATE, visitor_id TEXT, minutes FLOAT, events INT,
                                 account_id TEXT);
        CREATE TABLE visitors(visitor_id TEXT, account_id TEXT, first_visit DATE);
        INSERT INTO usage_daily VALUES ('2026-02-27', 'v1', 1, 1, 'a');
        INSERT INTO visitors VALUES ('leap', 'a', '2024-02-29'), ('mar6', 'a', '2025-03-06'),
          ('mar7', 'a', '2025-03-07'), ('feb27', 'a', '2025-02-27'), ('new', 'a', '2026-02-20');
        """
        sql = setup + _anniversary_sql("postgres") + ";"
        out = run(
            "psql",
            "-h",
            str(tmp_path),
            "-p",
            "54329",
            "-U",
            "postgres",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ).stdout.decode()
    finally:
        run(f"{bindir}/pg_ctl", "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(tmp_path, ignore_errors=True)
    # 29 Feb falls on 28 Feb in 2026; 6 Mar is the week's last day; 7 Mar is out;
    # 27 Feb is before as-of; a visitor first seen this year has no anniversary yet
    assert sorted(out.split()) == ["leap", "mar6"]
