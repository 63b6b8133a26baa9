"""Segment members on every engine: by hand on the hand-made set, the pandas bytes elsewhere.

Definitions: every shipped segment, the held-out DSL shapes of tests/defs_extra and
look-alike feature ids (``conformance.data.TRICKY_DEFS``).
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pandas as pd
import pytest
from handmade import AS_OF, EXPECTED, frames
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conformance.data import (
    SHIPPED_DEFS,
    boundary_dataset,
    datasets,
    defs_folder,
    load_tricky_defs,
    write_folder,
)
from conformance.run import run, same_as_pandas, skip_the_sample_on_spark
from pendo_segments.data.dataset import Dataset
from pendo_segments.evaluate import evaluate

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def defs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return defs_folder(tmp_path_factory.mktemp("defs"))


def members(csv_text: str) -> dict[str, list[str]]:
    frame = pd.read_csv(io.StringIO(csv_text), dtype=str, keep_default_na=False)
    assert list(frame.columns) == ["segment", "subject", "subject_id"]
    return {s: sorted(g["subject_id"]) for s, g in frame.groupby("segment")}


def test_handmade_members_are_the_hand_worked_ones(engine: str, tmp_path: Path) -> None:
    """tests/handmade.py: windows D-30/D-31, the as-of day excluded, thresholds, no usage."""
    folder = write_folder(Dataset(**frames(), source="handmade"), tmp_path / "usage")
    args = ["evaluate", SHIPPED_DEFS, "--data", folder, "--as-of", AS_OF, "--format", "csv"]
    out = same_as_pandas(engine, *args)
    got = members(out.stdout)
    assert {name: got.get(name, []) for name in EXPECTED} == EXPECTED


@pytest.mark.parametrize("as_of", [AS_OF, None], ids=["as-of", "default as-of"])
def test_boundary_sets_give_the_pandas_members(
    engine: str, defs_dir: Path, tmp_path: Path, as_of: dt.date | None
) -> None:
    """Twelve hypothesis boundary draws in one folder, every segment."""
    folder = write_folder(boundary_dataset(), tmp_path / "usage")
    day = ["--as-of", as_of] if as_of else []
    args = ["evaluate", defs_dir, "--data", folder, *day, "--format", "csv", "--lenient"]
    out = same_as_pandas(engine, *args)
    assert len(members(out.stdout)) >= 15  # most segments have members somewhere


def test_bundled_sample_gives_the_pandas_members(engine: str) -> None:
    skip_the_sample_on_spark(engine)
    out = same_as_pandas(engine, "evaluate", SHIPPED_DEFS, "--data", "sample", "--format", "csv")
    counts = run("pandas", "evaluate", SHIPPED_DEFS, "--data", "sample", "--counts")
    assert counts.exit_code == 0, counts.output
    rows = counts.stdout.splitlines()[1:]
    empty = [r for r in rows if r.endswith(",0")]
    assert len(empty) <= 3, empty  # realistic: most segments have members
    assert len(members(out.stdout)) == len(rows) - len(empty)


# -- many small draws, in-process -----------------------------------------------------------
def engine_members(engine: str, defs, ds: Dataset, as_of: dt.date | None) -> list[dict]:
    """Members per segment on ``engine`` (DuckDB: per-segment and shared-metric SQL; pandas:
    the backtest's one-index evaluation, a second numpy path)."""
    if engine == "duckdb":
        from pendo_segments.evaluate.duckdb_engine import evaluate_sql

        return [evaluate_sql(defs, ds, as_of=as_of, shared=s) for s in (False, True)]
    if engine == "spark":
        from conformance.run import spark_over

        with spark_over(ds) as spark:  # the ``spark`` fixture's session, already started
            got = spark.memberships(defs, as_of=as_of)
            return [{n: sorted(map(str, got.members(n))) for n in defs.segments}]
    from pendo_segments.backtest.history import UsageHistory
    from pendo_segments.evaluate.engine import Evaluator

    day = as_of or evaluate(defs, ds).as_of
    ev = Evaluator(ds, day, defs)
    ev.metrics = UsageHistory(ds).at(day)
    ids = {s: ev.metrics.ids(s) for s in ("account", "visitor")}
    return [
        {
            n: sorted(map(str, ids[seg.subject][ev.segment_mask(seg)]))
            for n, seg in defs.segments.items()
        }
    ]


#: draws per engine: a Spark query costs seconds, DuckDB milliseconds
EXAMPLES = {"pandas": 30, "duckdb": 15, "spark": 2}


def test_boundary_draws_give_the_pandas_members(engine: str, tmp_path: Path) -> None:
    defs = load_tricky_defs(tmp_path / "defs")

    @settings(
        max_examples=EXAMPLES[engine],
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(ds=datasets(), fixed=st.booleans())
    def check(ds: Dataset, fixed: bool) -> None:
        # each Spark draw costs seconds: empty tables are covered on Spark by
        # test_boundary_sets_give_the_pandas_members
        assume(engine != "spark" or not any(f.empty for f in ds.tables().values()))
        as_of = AS_OF if fixed else None
        ev = evaluate(defs, ds, as_of=as_of)
        want = {name: sorted(map(str, ev.members(name))) for name in ev.masks}
        for got in engine_members(engine, defs, ds, as_of):
            assert got == want

    check()
