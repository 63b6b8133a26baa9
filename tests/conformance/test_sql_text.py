"""The generated SQL's text: ids compared in their own type, warehouse dialects, shared scans.

A warehouse may store ``visitor_id`` as an integer. PostgreSQL and BigQuery
refuse ``text = bigint`` (DuckDB and Spark cast quietly), so a cast on one
side of a join makes the compiled SQL fail there. The queries are typed with
sqlglot's optimizer over a schema whose ids are BIGINT, and every comparison
of two columns must see one type on both sides.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

from pendo_segments.compile.base import compile_segments
from pendo_segments.definitions import load_definitions
from pendo_segments.health import HealthConfig
from pendo_segments.health.sql import Tables, health_query

AS_OF = dt.date(2026, 11, 1)
SCHEMA = {
    "accounts": {
        "account_id": "BIGINT",
        "arr": "DOUBLE",
        "plan": "VARCHAR",
        "contract_start": "DATE",
        "renewal_date": "DATE",
    },
    "visitors": {
        "visitor_id": "BIGINT",
        "account_id": "BIGINT",
        "first_visit": "DATE",
        "last_visit": "DATE",
    },
    "usage_daily": {
        "date": "DATE",
        "visitor_id": "BIGINT",
        "minutes": "DOUBLE",
        "events": "BIGINT",
    },
    "feature_usage": {
        "date": "DATE",
        "visitor_id": "BIGINT",
        "feature_id": "VARCHAR",
        "clicks": "BIGINT",
    },
    "features": {"feature_id": "VARCHAR", "name": "VARCHAR", "key": "BOOLEAN"},
    "nps": {"date": "DATE", "visitor_id": "BIGINT", "score": "DOUBLE"},
    "tickets": {"opened_on": "DATE", "account_id": "BIGINT"},
}


def mismatched_joins(sql: str) -> list[str]:
    """Comparisons of two columns whose types differ, as ``a = b: TEXT vs BIGINT``."""
    tree = qualify(sqlglot.parse_one(sql, read="duckdb"), schema=SCHEMA, dialect="duckdb")
    tree = annotate_types(tree, schema=SCHEMA, dialect="duckdb")
    return [
        f"{eq.sql('duckdb')}: {eq.this.type.sql()} vs {eq.expression.type.sql()}"
        for eq in tree.find_all(exp.EQ)
        if isinstance(eq.this, exp.Column)
        and isinstance(eq.expression, exp.Column)
        and eq.this.type.sql() != eq.expression.type.sql()
    ]


@pytest.mark.parametrize("last_visit", [False, True], ids=["usage", "with last_visit"])
def test_segment_sql_joins_visitor_ids_in_their_own_type(last_visit: bool) -> None:
    shipped = load_definitions("segment_defs")
    results = compile_segments(shipped, "sql", as_of=AS_OF, has_last_visit=last_visit)
    assert {r.segment.name: mismatched_joins(str(r.output)) for r in results} == {
        r.segment.name: [] for r in results
    }


@pytest.mark.parametrize("last_visit", [False, True], ids=["usage", "with last_visit"])
def test_health_sql_joins_visitor_ids_in_their_own_type(last_visit: bool) -> None:
    tables = Tables(key_features=2, features=3, nps=True, tickets=True, last_visit=last_visit)
    assert mismatched_joins(health_query(HealthConfig(), tables, AS_OF)) == []


def test_shared_metric_tables_answer_exists_like_per_segment_sql() -> None:
    """A windowed count is always known (0 without usage): exists holds for every subject."""
    from pendo_segments.data.loaders import load_sample
    from pendo_segments.definitions.loader import DefinitionSet
    from pendo_segments.definitions.models import Segment
    from pendo_segments.evaluate.duckdb_engine import evaluate_sql

    rules = {
        "known": {"metric": "minutes", "op": "exists"},
        "unknown": {"metric": "feature_clicks", "feature": "core_events", "op": "not_exists"},
    }
    segments = {
        name: Segment.model_validate({"name": name, "title": name, "subject": "account", "rule": r})
        for name, r in rules.items()
    }
    defs = DefinitionSet(segments=segments)
    ds = load_sample()
    shared = evaluate_sql(defs, ds, shared=True)
    assert shared == evaluate_sql(defs, ds)
    assert len(shared["known"]) == len(ds.accounts) and shared["unknown"] == []


@pytest.mark.parametrize("dialect", ["spark", "snowflake", "bigquery", "databricks"])
def test_health_query_transpiles_to_warehouse_dialects(dialect: str) -> None:
    tables = Tables(key_features=4, features=5, nps=True, tickets=True)
    sql = health_query(HealthConfig(), tables, AS_OF, dialect=dialect)
    assert sqlglot.parse_one(sql, read=dialect) is not None
    assert "2026-11-01" in sql


def test_each_usage_table_is_scanned_once_per_subject_and_window(tmp_path) -> None:
    from conformance.data import load_tricky_defs
    from pendo_segments.compile.sql import SharedMetricSQL

    defs = load_tricky_defs(tmp_path / "defs")
    shared = SharedMetricSQL(defs, as_of=AS_OF, has_first_visit=True).compile_shared(
        defs.select(None)
    )
    scans = [sql for sql in shared.tables.values() if "FROM usage_daily AS u JOIN" in sql]
    # account metrics over usage_daily: active_days and minutes of 30 days, one table
    assert len([s for s in scans if "- 30 " in s]) == 1
    assert all("ps_metric_" in q or "usage_daily" not in q for q in shared.queries.values())


@pytest.mark.parametrize("first_visit", [True, False], ids=["first_visit", "no_first_visit"])
def test_who_exists_read_from_one_shared_table_gives_the_same_members(
    tmp_path, first_visit: bool
) -> None:
    """Spark's plan (``subject_tables``: the subjects' rows in one table, no existence test
    per query) against one query per segment, on the boundary set with accounts churned
    and created around the as-of day, and visitors first seen by their usage only."""
    from conformance.data import churned_boundary_dataset, load_tricky_defs
    from pendo_segments.compile.sql import SharedMetricSQL
    from pendo_segments.evaluate.duckdb_engine import evaluate_sql

    defs = load_tricky_defs(tmp_path / "defs")
    ds = churned_boundary_dataset()
    if not first_visit:
        ds.visitors = ds.visitors.drop(columns=["first_visit"])
    per_segment = evaluate_sql(defs, ds, as_of=AS_OF)
    assert evaluate_sql(defs, ds, as_of=AS_OF, shared=True, subject_tables=True) == per_segment
    # the rewrite did happen: no query tests who exists, one table per subject does
    shared = SharedMetricSQL(
        defs, as_of=AS_OF, has_first_visit=first_visit, has_created=True, subject_tables=True
    ).compile_shared(defs.select(None))
    assert {"ps_metric_visitor_subjects", "ps_metric_account_subjects"} <= set(shared.tables)
    assert not any("ps_seen" in q or "created" in q for q in shared.queries.values())
