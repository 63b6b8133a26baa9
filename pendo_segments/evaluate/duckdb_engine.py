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


def connect(ds: Dataset, as_of: dt.date | None = None) -> Any:
    """An in-memory DuckDB connection with every frame of ``ds`` registered as a table.

    With history files (docs/semantics.md §2b) ``accounts`` / ``visitors`` are views of
    the fields as they stood for ``as_of`` (default: the data's own as-of day).
    """
    try:
        import duckdb
    except ImportError:  # pragma: no cover - depends on the install
        raise EvaluationError(
            "the duckdb engine needs DuckDB: pip install 'pendo-segments[sql]'"
        ) from None
    from pendo_segments.data import history

    con = duckdb.connect()
    changed = history.held(ds)
    for name, frame in ds.tables().items():
        con.register(history.today_name(name) if name in changed else name, frame)
    if changed:
        day = as_of or ds.default_as_of()
        for name, rows in changed.items():
            con.register(history.history_name(name), rows.frame)
            columns = [str(c) for c in getattr(ds, name).columns]
            con.execute(f"CREATE VIEW {name} AS {history.view_sql(rows, columns, day, 'duckdb')}")
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
    subject_tables: bool = False,
) -> dict[str, list[str]]:
    """Members per segment (sorted ids), computed by DuckDB from the SQL target.

    ``shared`` runs the segments together over shared metric tables (what
    ``--engine duckdb`` does on a folder) instead of one query per segment;
    ``subject_tables`` also reads who exists from one shared table (what Spark does).
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

    wanted = [s.name for s in defs.select(names)]
    defs.use_features(ds.features, EvaluationError, check=wanted)  # feature names → ids
    for table, column in field_columns(defs, names):  # optional columns the data lacks: blank
        fill_optional(getattr(ds, table), table, column)
    con = connect(ds, options["as_of"])
    try:
        if shared:
            gen = SharedMetricSQL(defs, pretty=False, subject_tables=subject_tables, **options)
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

    day = resolve_as_of(ds, as_of)  # the engine's caller checks the day (Engine.check_day)
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
