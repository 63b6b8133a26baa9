"""``health --engine spark``: the §5 score of health/sql.py run in a SparkSession.

pyspark is imported only through the evaluate layer's Spark engine, when a
session is opened.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from pendo_segments.errors import EvaluationError
from pendo_segments.evaluate.spark_engine import error_line, open_spark
from pendo_segments.health.sql import Tables, health_query, health_result
from pendo_segments.semantics.catalogue import row_account_tables


def spark_tables(data: Any) -> Tables:
    """What the Spark views hold (counted during the data checks)."""
    return Tables(
        key_features=data.feature_count(key_only=True),
        features=data.feature_count(),
        nps=data.has("nps"),
        tickets=data.has("tickets"),
        renewal_date="renewal_date" in data.columns("accounts"),
        last_visit="last_visit" in data.columns("visitors"),
        first_visit="first_visit" in data.columns("visitors"),  # docs/semantics.md §2b
        created="created" in data.columns("accounts"),
        churn_date="churn_date" in data.columns("outcomes"),
        row_account=row_account_tables(lambda t, c: c in data.columns(t)),  # §1
    )


def spark_health(data: Any, config: Any, as_of: dt.date | None = None) -> Any:
    """The §5 health score computed by Spark (health/sql.py), as a HealthResult."""
    day = as_of or data.default_as_of()
    data.at(day)  # the fields of D−1 (history files, docs/semantics.md §2b)
    tables = spark_tables(data)
    try:
        frame = data.spark.sql(health_query(config, tables, day, dialect="spark")).toPandas()
    except Exception as err:
        raise EvaluationError(f"spark: the health job failed ({error_line(err)})") from None
    return health_result(frame, config, tables, day)


def health_on_spark(
    data_spec: str,
    config: Any,
    *,
    lenient: bool = False,
    as_of: dt.date | None = None,
    master: str | None = None,
    warn: Callable[[str], None] | None = None,
) -> Any:
    """``health --engine spark``: open a session, read and check the data, score."""
    data = open_spark(data_spec, master, lenient=lenient, warn=warn)
    return spark_health(data, config, as_of)
