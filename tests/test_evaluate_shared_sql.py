"""The shared-metrics SQL (``--engine duckdb``) gives the per-segment SQL's members.

``SharedMetricSQL`` computes each metric once for all segments (one table
per subject and window) instead of once per segment; the members must not
change. Checked on the hand-made set (whose expected members were worked
out by hand), the bundled sample and hypothesis data sets around the
docs/semantics.md §2 boundaries.
"""

from __future__ import annotations

import pytest
from handmade import AS_OF, EXPECTED, frames
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_evaluate_crosscheck import datasets, load_tricky_defs

from pendo_segments.compile.sql import SharedMetricSQL
from pendo_segments.data.dataset import Dataset
from pendo_segments.definitions import load_definitions
from pendo_segments.evaluate.duckdb_engine import evaluate_sql


@pytest.fixture(scope="module")
def defs(tmp_path_factory: pytest.TempPathFactory):
    return load_tricky_defs(tmp_path_factory.mktemp("defs"))


def test_shared_matches_hand_results() -> None:
    shipped = load_definitions("segment_defs")
    ds = Dataset(**frames(), source="handmade")
    got = evaluate_sql(shipped, ds, as_of=AS_OF, shared=True)
    assert got == {k: sorted(v) for k, v in EXPECTED.items()}


def test_shared_matches_per_segment_on_sample(defs) -> None:
    from pendo_segments.data.loaders import load_sample

    ds = load_sample()
    names = [n for n in defs.segments if not n.startswith("tricky_")]
    assert evaluate_sql(defs, ds, names=names, shared=True) == evaluate_sql(defs, ds, names=names)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ds=datasets(), fixed=st.booleans())
def test_shared_matches_per_segment(defs, ds: Dataset, fixed: bool) -> None:
    as_of = AS_OF if fixed else None
    assert evaluate_sql(defs, ds, as_of=as_of, shared=True) == evaluate_sql(defs, ds, as_of=as_of)


def test_each_usage_table_is_scanned_once_per_subject_and_window(defs) -> None:
    shared = SharedMetricSQL(defs, as_of=AS_OF, has_first_visit=True).compile_shared(
        defs.select(None)
    )
    scans = [sql for sql in shared.tables.values() if "FROM usage_daily AS u JOIN" in sql]
    # account metrics over usage_daily: active_days and minutes of 30 days, one table
    assert len([s for s in scans if "- 30 " in s]) == 1
    assert all("ps_metric_" in q or "usage_daily" not in q for q in shared.queries.values())
