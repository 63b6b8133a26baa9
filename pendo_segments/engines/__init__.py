"""One engine interface, chosen once per command (as dbt picks an adapter).

A command that reads usage data parses its options, opens ONE engine and
hands it to the library, then renders the result::

    from pendo_segments.engines import open_engine

    with open_engine(engine, data, lenient=lenient, as_of=as_of,
                     memory_limit=memory_limit, spark_master=master,
                     spark_conf=conf, warn=warn) as eng:
        members = eng.memberships(defs, names=names, as_of=as_of)   # any engine
        health = engine_health(eng, config, as_of)                  # health/score.py
        tiers = engine_tiers(eng, inputs, as_of)                    # tiers/run.py

``open_engine`` reads nothing yet: the data is opened on first use, so
definition errors still come before the big files are read. ``auto`` asks
:func:`pendo_segments.evaluate.budget.choose_engine` (pandas while the data
fits its memory budget, else DuckDB, said through ``warn``). Engines know
nothing of health or tiers: those build queries of the semantic core and call
:meth:`Engine.query`, or run their numpy reference on :attr:`Engine.in_memory`.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from pendo_segments.engines.base import DataShape, Engine, Memberships, Opener, Warn

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset

ENGINE_NAMES = ("pandas", "duckdb", "spark", "auto")

__all__ = ["ENGINE_NAMES", "DataShape", "Engine", "Memberships", "open_engine"]


def open_engine(
    name: str,
    data: str,
    *,
    lenient: bool = False,
    as_of: dt.date | None = None,
    memory_limit: str | None = None,
    spark_master: str | None = None,
    spark_conf: dict[str, str] | None = None,
    warn: Warn | None = None,
    opener: Opener | None = None,
    dataset: Dataset | None = None,
) -> Engine:
    """The engine ``name`` (pandas, duckdb, spark or auto) over ``data``; ``opener`` loads
    frames (default: folders and ``sample``; the CLI's also pulls ``pendo:``).

    ``dataset``: frames already loaded (tests, benchmarks, a notebook), for pandas and
    DuckDB; ``data`` then only names them in messages.
    """
    if dataset is not None and name not in ("pandas", "duckdb"):
        raise ValueError(f"open_engine(dataset=...) is for pandas and duckdb, not {name!r}")
    if name == "auto":
        from pendo_segments.evaluate.budget import choose_engine

        name, reason = choose_engine(data, memory_limit)
        if reason and warn is not None:
            warn(reason)
    if name == "pandas":
        from pendo_segments.engines.pandas_engine import PandasEngine

        return PandasEngine(
            data, lenient=lenient, warn=warn, as_of=as_of, opener=opener, dataset=dataset
        )
    if name == "duckdb":
        from pendo_segments.engines.duckdb_engine import DuckDBEngine

        return DuckDBEngine(
            data,
            lenient=lenient,
            warn=warn,
            as_of=as_of,
            memory_limit=memory_limit,
            opener=opener,
            dataset=dataset,
        )
    if name == "spark":
        from pendo_segments.engines.spark_engine import SparkEngine

        return SparkEngine(
            data, lenient=lenient, warn=warn, master=spark_master, conf=spark_conf, opener=opener
        )
    raise ValueError(f"unknown engine {name!r} (one of {', '.join(ENGINE_NAMES)})")
