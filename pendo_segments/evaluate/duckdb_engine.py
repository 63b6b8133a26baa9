"""Run the compiled SQL target on DuckDB over the same frames.

This is the independent second engine: the test suite and ``evaluate
--engine duckdb`` use it to check the pandas engine (and the SQL compiler)
against each other on the same data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from pendo_segments.definitions.loader import DefinitionSet
from pendo_segments.errors import EvaluationError


def connect(ds: Any) -> Any:
    """An in-memory DuckDB connection with every frame of ``ds`` registered as a table."""
    try:
        import duckdb
    except ImportError:  # pragma: no cover - depends on the install
        raise EvaluationError("the duckdb engine needs DuckDB: pip install 'pendo-segments[sql]'")
    con = duckdb.connect()
    for name, frame in ds.tables().items():
        con.register(name, frame)
    return con


def evaluate_sql(defs: DefinitionSet, ds: Any, *, as_of: dt.date | None = None,
                 names: Sequence[str] | None = None, pretty: bool = True) -> dict[str, list[str]]:
    """Members per segment (sorted ids), computed by DuckDB from the SQL target."""
    from pendo_segments.compile.sql import SQLGenerator

    gen = SQLGenerator(defs, as_of=as_of or ds.default_as_of(), pretty=pretty,
                       has_first_visit="first_visit" in ds.visitors.columns)
    con = connect(ds)
    try:
        return {seg.name: [str(r[0]) for r in con.execute(gen.compile(seg).output).fetchall()]
                for seg in defs.select(names)}
    finally:
        con.close()
