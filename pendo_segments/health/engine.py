"""The health score on whichever engine a command opened.

The pandas engine runs the numpy reference (``health/score.py``) on its
frames; the SQL engines get the same §5 score as one query of the semantic
core (``health/sql.py``) and run it. The engine knows nothing of health.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pendo_segments.engines import DataShape, Engine
    from pendo_segments.health.config import HealthConfig
    from pendo_segments.health.score import HealthResult
    from pendo_segments.health.sql import SharedMetrics, Tables


def shape_tables(shape: DataShape) -> Tables:
    """What the data holds, in the terms the health query is shaped by."""
    from pendo_segments.health.sql import Tables
    from pendo_segments.semantics.catalogue import row_account_tables

    return Tables(
        key_features=shape.key_features,
        features=shape.features,
        nps=shape.has("nps"),
        tickets=shape.has("tickets"),
        renewal_date=shape.has_column("accounts", "renewal_date"),
        last_visit=shape.has_column("visitors", "last_visit"),
        first_visit=shape.has_column("visitors", "first_visit"),  # docs/semantics.md §2b
        created=shape.has_column("accounts", "created"),
        churn_date=shape.has_column("outcomes", "churn_date"),
        row_account=row_account_tables(shape.has_column),  # docs/semantics.md §1
    )


def health_tree(
    config: HealthConfig, tables: Tables, as_of: dt.date, shared: SharedMetrics | None = None
) -> Any:
    """One row per account (ordered by id): components, ``health_score``, raw measures
    (with ``shared``: counted from a backtest day's metric tables)."""
    from pendo_segments.health.sql import health_ctes, with_ctes
    from pendo_segments.semantics.lazy import exp
    from pendo_segments.semantics.rules import col

    ordered = exp.Ordered(this=col("account_id"), nulls_first=False)
    query = exp.select(exp.Star()).from_("health").order_by(ordered, copy=False)
    return with_ctes(query, health_ctes(config, tables, as_of, shared))


def engine_health(
    engine: Engine, config: HealthConfig, as_of: dt.date | None = None
) -> HealthResult:
    """Every account's health at ``as_of`` (default: the data's) computed by ``engine``."""
    ds = engine.in_memory
    if ds is not None:
        from pendo_segments.health.score import compute_health

        return compute_health(ds, as_of=as_of, config=config)
    from pendo_segments.health.sql import health_result

    day = engine.day(as_of)
    tables = shape_tables(engine.shape())
    frame = engine.query(health_tree(config, tables, day), at=day)
    return health_result(frame, config, tables, day)
