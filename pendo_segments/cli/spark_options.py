"""The ``--spark-master`` / ``--output-table`` options and the engine hooks of the commands.

Kept apart from the command modules so each of them needs a few lines only;
nothing here imports pyspark until the spark engine actually runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

MASTER_HELP = (
    "Spark master for --engine spark: local[*] (default), spark://host:7077, yarn, k8s://…, "
    "or a Spark Connect URL sc://host:15002."
)


def spark_master_option(f: F) -> F:
    """``--spark-master`` and ``--spark-conf`` (every command with ``--engine spark``)."""
    f = click.option(
        "--spark-conf",
        metavar="KEY=VALUE",
        multiple=True,
        expose_value=False,
        callback=_record_conf,
        help="With --engine spark: a Spark setting for the session (repeatable), "
        "e.g. spark.driver.memory=8g or spark.sql.shuffle.partitions=64.",
    )(f)
    return click.option("--spark-master", metavar="URL", default=None, help=MASTER_HELP)(f)


def _record_conf(ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> None:
    """Hand the settings to the Spark engine's session (no pyspark import here)."""
    conf = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r}: expected KEY=VALUE", param_hint="--spark-conf")
        conf[key.strip()] = value.strip()
    ctx.meta["spark_conf"] = conf
    from pendo_segments.evaluate import spark_engine

    spark_engine.SESSION_CONF.clear()
    spark_engine.SESSION_CONF.update(conf)


def explain_engine_option(f: F) -> F:
    """``explain --engine pandas|spark`` and the Spark options."""
    f = click.option(
        "--engine",
        type=click.Choice(["pandas", "spark"]),
        default="pandas",
        show_default=True,
        help="pandas (in memory) or spark: Spark reads and checks the data and picks the "
        "subject's rows (needs the [spark] extra and Java).",
    )(f)
    return spark_master_option(f)


def spark_options(f: F) -> F:
    """``--spark-master`` and ``--output-table`` (evaluate)."""
    f = click.option(
        "--output-table",
        metavar="DB.TABLE",
        default=None,
        help="With --engine spark: write the members (segment,subject,subject_id) to this "
        "catalog table instead of collecting them; prints the counts.",
    )(f)
    return spark_master_option(f)


def check_spark_options(engine: str, master: str | None, output_table: str | None = None) -> None:
    """The Spark-only options make no sense with another engine: a usage error, not a surprise."""
    if engine != "spark":
        ctx = click.get_current_context(silent=True)
        conf = ctx.meta.get("spark_conf") if ctx is not None else None
        given = [
            n
            for n, v in (
                ("--spark-master", master),
                ("--spark-conf", conf),
                ("--output-table", output_table),
            )
            if v
        ]
        if given:
            raise click.UsageError(f"{' and '.join(given)} need --engine spark")


def evaluate_on_spark(*args: Any, **kwargs: Any) -> Any:
    from pendo_segments.evaluate.spark_engine import evaluate_on_spark as run

    return run(*args, **kwargs)


def explain_on_spark(*args: Any, **kwargs: Any) -> Any:
    from pendo_segments.evaluate.explain import explain_on_spark as run

    return run(*args, **kwargs)


def health_on_engine(
    engine: str,
    data: str,
    ds: Any,
    *,
    lenient: bool,
    as_of: Any,
    config: Any,
    master: str | None = None,
) -> Any:
    """``health --engine duckdb|spark``: the §5 score computed by the SQL engine."""
    if engine == "duckdb":
        from pendo_segments.health.sql import duckdb_health

        return duckdb_health(ds, config, as_of)
    from pendo_segments.cli.output import warn
    from pendo_segments.health.spark import health_on_spark

    return health_on_spark(data, config, lenient=lenient, as_of=as_of, master=master, warn=warn)
