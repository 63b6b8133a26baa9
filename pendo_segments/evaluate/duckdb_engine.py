"""Run the compiled SQL target on DuckDB over the same frames.

This is the independent second engine: the test suite and ``evaluate
--engine duckdb`` use it to check the pandas engine (and the SQL compiler)
against each other on the same data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pendo_segments.definitions.loader import DefinitionSet
from pendo_segments.errors import EvaluationError

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset


def connect(ds: Dataset) -> Any:
    """An in-memory DuckDB connection with every frame of ``ds`` registered as a table."""
    try:
        import duckdb
    except ImportError:  # pragma: no cover - depends on the install
        raise EvaluationError(
            "the duckdb engine needs DuckDB: pip install 'pendo-segments[sql]'"
        ) from None
    con = duckdb.connect()
    for name, frame in ds.tables().items():
        con.register(name, frame)
    return con


def existence_options(account_columns: Any, outcomes: Any) -> dict[str, bool]:
    """The SQL generator's ``has_created`` / ``has_churn_date`` (docs/semantics.md §2b)."""
    return {
        "has_created": "created" in account_columns,
        "has_churn_date": outcomes is not None and "churn_date" in outcomes.columns,
    }


def evaluate_sql(
    defs: DefinitionSet,
    ds: Dataset,
    *,
    as_of: dt.date | None = None,
    names: Sequence[str] | None = None,
    pretty: bool = True,
    shared: bool = False,
) -> dict[str, list[str]]:
    """Members per segment (sorted ids), computed by DuckDB from the SQL target.

    ``shared`` runs the segments together over shared metric tables (what
    ``--engine duckdb`` does on a folder) instead of one query per segment.
    """
    from pendo_segments.compile.sql import SharedMetricSQL, SQLGenerator
    options: dict[str, Any] = {
        "as_of": as_of or ds.default_as_of(),
        "has_first_visit": "first_visit" in ds.visitors.columns,
        "has_last_visit": "last_visit" in ds.visitors.columns,
        **existence_options(ds.accounts.columns, ds.outcomes),
        "row_account": ds.row_account_tables(),  # rows naming other accounts (§1)
    }
    from pendo_segments.evaluate.duckdb_folder import duck_errors, run_shared
    from pendo_segments.evaluate.fields import field_columns, fill_optional

    for table, column in field_columns(defs, names):  # optional columns the data lacks: blank
        fill_optional(getattr(ds, table), table, column)
    con = connect(ds)
    try:
        if shared:
            gen = SharedMetricSQL(defs, pretty=False, **options)
            queries = run_shared(con, gen.compile_shared(defs.select(names)))
        else:
            per_segment = SQLGenerator(defs, pretty=pretty, **options)
            queries = {seg.name: per_segment.compile(seg).output for seg in defs.select(names)}
        with duck_errors():  # out of memory, a full disk: one line, not a traceback
            return {
                name: [str(r[0]) for r in con.execute(sql).fetchall()]
                for name, sql in queries.items()
            }
    finally:
        con.close()


def evaluation_from_sql(
    defs: DefinitionSet,
    ds: Dataset,
    *,
    as_of: dt.date | None = None,
    names: Sequence[str] | None = None,
) -> Any:
    """An :class:`~pendo_segments.evaluate.engine.Evaluation` whose masks come from DuckDB."""
    import numpy as np

    from pendo_segments.evaluate.engine import Evaluation, resolve_as_of
    from pendo_segments.evaluate.metrics import Metrics

    day = resolve_as_of(ds, as_of, defs)
    members = evaluate_sql(defs, ds, as_of=day, names=names)
    metrics = Metrics(ds, day)
    masks = {}
    for name, ids in members.items():
        index = metrics.ids(defs.get(name).subject)
        mask = np.zeros(len(index), dtype=bool)
        mask[index.get_indexer(ids)] = True
        masks[name] = mask
    return Evaluation(
        as_of=day, metrics=metrics, masks=masks, segments={n: defs.get(n) for n in members}
    )
