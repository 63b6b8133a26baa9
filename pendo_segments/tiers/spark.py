"""``tiers --engine spark``: the tier policy of tiers/sql.py run in a SparkSession.

pyspark is imported only through the evaluate layer's Spark engine, when a
session is opened; the reason texts, overrides, moves and capacity come after,
on the one row per account Spark returns.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pandas as pd

from pendo_segments.definitions.features import spark_catalogue
from pendo_segments.errors import EvaluationError
from pendo_segments.evaluate.spark_data import fill_optional
from pendo_segments.evaluate.spark_engine import error_line, open_spark
from pendo_segments.health.rules import segment_names
from pendo_segments.health.spark import spark_tables
from pendo_segments.tiers.assign import TierResult
from pendo_segments.tiers.columns import policy_field_columns
from pendo_segments.tiers.sql import Kinds, PolicyQuery, policy_query, tier_result


def spark_kinds(frame: Any) -> Kinds:
    """Column kinds of a Spark DataFrame, named as evaluate/fields.py names pandas ones."""
    from pyspark.sql import types as T

    def kind(dtype: Any) -> str:
        if isinstance(dtype, T.BooleanType):
            return "bool"
        if isinstance(dtype, T.NumericType):
            return "number"
        if isinstance(dtype, T.DateType | T.TimestampType | T.TimestampNTZType):
            return "date"
        return "text"

    return {f.name: kind(f.dataType) for f in frame.schema.fields}


def spark_policy_rows(
    data: Any, inputs: Any, as_of: dt.date | None = None
) -> tuple[pd.DataFrame, PolicyQuery]:
    """The policy query's rows computed by Spark, collected (one row per account)."""
    day = as_of or data.default_as_of()
    data.at(day)  # the fields of D−1 (history files, docs/semantics.md §2b)
    features = spark_catalogue(data.frames["features"])
    named = segment_names([r.when for r in inputs.policy.rules])
    inputs.definitions.use_features(features, EvaluationError, check=named)  # names → ids
    fill_optional(data, policy_field_columns(inputs.policy, inputs.definitions))
    query = policy_query(
        inputs.policy,
        inputs.definitions,
        inputs.health_config,
        spark_tables(data),
        day,
        spark_kinds(data.frames["accounts"]),
        has_first_visit="first_visit" in data.columns("visitors"),
        dialect="spark",
    )
    try:
        return data.spark.sql(query.sql).toPandas(), query
    except Exception as err:
        raise EvaluationError(f"spark: the tiers job failed ({error_line(err)})") from None


def spark_tiers(data: Any, inputs: Any, as_of: dt.date | None = None) -> TierResult:
    """Every account's tier decided by Spark (tiers/sql.py), as a TierResult."""
    frame, query = spark_policy_rows(data, inputs, as_of)
    return tier_result(frame, query, inputs.policy, inputs.health_config, inputs.overrides)


def tiers_on_spark(
    data_spec: str,
    inputs: Any,
    *,
    lenient: bool = False,
    as_of: dt.date | None = None,
    master: str | None = None,
    warn: Callable[[str], None] | None = None,
) -> TierResult:
    """``tiers --engine spark``: open a session, read and check the data, tier."""
    data = open_spark(data_spec, master, lenient=lenient, warn=warn)
    return spark_tiers(data, inputs, as_of)
