"""Options shared by many commands, defined once as decorators."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_DEFS = "segment_defs"
#: a file to write / a file that must exist (the path handed to the command as a Path)
FILE = click.Path(dir_okay=False, path_type=Path)
EXISTING = click.Path(exists=True, dir_okay=False, path_type=Path)


class DateParam(click.ParamType):
    name = "YYYY-MM-DD"

    def __init__(self, as_of: bool = False) -> None:
        self.as_of = as_of  # an evaluation day: windows must stay in the calendar

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> dt.date:
        if isinstance(value, dt.date):
            return value
        try:
            day = dt.date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not an ISO date (YYYY-MM-DD)", param, ctx)
        if self.as_of:
            from pendo_segments.data.schema import AS_OF_RANGE  # imports pandas: not at --help

            first, last = AS_OF_RANGE
            if not first <= day <= last:
                self.fail(f"{value!r} is outside {first} to {last}", param, ctx)
        return day


DATE = DateParam()
AS_OF = DateParam(as_of=True)


def find_defs(ctx: click.Context | None, param: click.Parameter | None, value: Path | None) -> Path:
    """DEFS when given; else ./segment_defs, else the shipped definitions (one rule for all)."""
    if value is not None:
        return value
    from pendo_segments.errors import ConfigError
    from pendo_segments.shipped import shipped_path

    try:
        return shipped_path(DEFAULT_DEFS)
    except ConfigError as err:
        raise click.BadParameter(str(err), ctx=ctx, param=param) from None


def defs_argument(f: F) -> F:
    """Optional DEFS path (folder or file): ./segment_defs, else the shipped definitions."""
    return click.argument(
        "defs",
        required=False,
        default=None,
        callback=find_defs,
        type=click.Path(exists=True, path_type=Path),
    )(f)


def defs_option(
    help: str = "Definitions folder or file.", *, exists: bool = True
) -> Callable[[F], F]:
    """``--defs``, found by the same rule as the DEFS argument."""

    def callback(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path:
        try:
            return find_defs(ctx, param, value)
        except click.BadParameter:
            if exists:
                raise
            return Path(DEFAULT_DEFS)  # checked later, only where definitions are needed

    return click.option(
        "--defs",
        "defs",
        default=None,
        callback=callback,
        type=click.Path(exists=exists, path_type=Path),
        help=f"{help} Default: ./segment_defs, else the shipped definitions.",
    )


def data_dir(f: F) -> F:
    f = click.option(
        "--lenient",
        is_flag=True,
        help="Drop usage rows of unknown visitors with a warning instead of failing.",
    )(f)
    return click.option(
        "--data",
        "data",
        required=True,
        metavar="DIR",
        help="Usage data folder (CSV or Parquet), 'sample' for the bundled sample, "
        "or 'pendo:' for live Pendo data.",
    )(f)


def as_of(f: F) -> F:
    return click.option(
        "--as-of",
        "as_of",
        type=AS_OF,
        default=None,
        help="Evaluation day (UTC). Default: the day after the latest usage date in the data.",
    )(f)


def writable(_ctx: click.Context, _param: click.Parameter, value: Path | None) -> Path | None:
    """Callback: refuse an output file the write would refuse, before the data is read."""
    if value is not None:
        from pendo_segments.atomic import check_target
        from pendo_segments.errors import PendoSegmentsError

        try:
            check_target(value)
        except PendoSegmentsError as err:
            raise click.BadParameter(str(err)) from None
    return value


def output_format(f: F) -> F:
    f = click.option(
        "--output",
        "-o",
        "output",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        callback=writable,
        help="Write to FILE (atomically) instead of stdout.",
    )(f)
    return click.option(
        "--format",
        "-f",
        "fmt",
        type=click.Choice(["table", "csv", "json"]),
        default=None,
        help="Output format. Default: table on a terminal, csv otherwise.",
    )(f)


def config_option(f: F) -> F:
    """``--config FILE``: the settings file, found as :func:`pendo_segments.config.load_config`
    finds it when the option is not given."""
    return click.option(
        "--config",
        "config_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        metavar="FILE",
        help="Config file. Default: $PENDO_SEGMENTS_CONFIG, else ./pendo-segments.toml.",
    )(f)


def state_option(help: str) -> Callable[[F], F]:
    """``--state FILE``: a command's send-once state file (SQLite)."""
    return click.option(
        "--state",
        "state",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        metavar="FILE",
        help=help,
    )


def lock_wait_option(most: float | None = None) -> Callable[[F], F]:
    """``--wait SECONDS`` (``lock_wait``) for the state file's lock held by another run."""
    return click.option(
        "--wait",
        "lock_wait",
        type=click.FloatRange(0, most),
        default=0.0,
        show_default=True,
        metavar="SECONDS",
        help="Wait this long for a run in progress to finish.",
    )


def alert_input_options(f: F) -> F:
    """``--rules``, ``--policy``, ``--overrides``, ``--previous``: what alerts are checked
    with (:func:`pendo_segments.tiers.alerts.alert_inputs`)."""
    existing = click.Path(exists=True, dir_okay=False, path_type=Path)
    for option in reversed(
        [
            click.option(
                "--rules",
                "rules_path",
                type=existing,
                default=None,
                help="Alert rules (default: DEFS/alerts.yaml).",
            ),
            click.option(
                "--policy",
                type=existing,
                default=None,
                help="Tier policy for tier conditions and renewal risk (default: DEFS/tiers.yaml).",
            ),
            click.option(
                "--overrides",
                type=existing,
                default=None,
                help="Tier overrides CSV (account_id,tier,note), as for `tiers`.",
            ),
            click.option(
                "--previous",
                type=existing,
                default=None,
                help="A previous `health --format csv` run: enables recovery alerts and "
                "'fell from … to …' signals.",
            ),
        ]
    ):
        f = option(f)
    return f


def force_option(f: F) -> F:
    """``--force``: write into a non-empty folder the tool did not create."""
    return click.option(
        "--force",
        is_flag=True,
        help="Write into a non-empty folder pendo-segments did not create "
        "(only its own files are replaced; nothing else is removed).",
    )(f)


def engine_option(engines: Any) -> Callable[[F], F]:
    """``--engine NAME`` over the names of an engine table (``auto`` the default)."""

    def decorate(f: F) -> F:
        return click.option(
            "--engine",
            type=click.Choice(list(engines)),
            default="auto",
            show_default=True,
            help="pandas (in memory), duckdb (compiled SQL; reads the files itself), spark "
            "(compiled SQL in a SparkSession; needs the [spark] extra and Java), "
            "or auto: pandas unless the data is too large for its memory budget.",
        )(f)

    return decorate


def _memory_limit(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """A size of at least 64MB, checked before any data is read."""
    if value is not None:
        from pendo_segments.errors import PendoSegmentsError
        from pendo_segments.evaluate.budget import memory_limit_bytes

        try:
            memory_limit_bytes(value)
        except PendoSegmentsError as err:
            raise click.BadParameter(str(err).removeprefix("--memory-limit ")) from None
    return value


def memory_limit_option(f: F) -> F:
    return click.option(
        "--memory-limit",
        "memory_limit",
        default=None,
        metavar="SIZE",
        callback=_memory_limit,
        help="Memory cap for DuckDB (e.g. 3GB, at least 64MB); it spills to a temp folder "
        "beyond it. Also the budget --engine auto compares the data with.",
    )(f)


ENGINE_HELP = (
    "pandas (in memory), duckdb (compiled SQL; reads the files itself), spark (compiled SQL "
    "in a SparkSession; needs the [spark] extra and Java), or auto: pandas unless the data "
    "is too large for its memory budget. Output is the same on every engine."
)
SPARK_MASTER_HELP = (
    "Spark master for --engine spark: local[*] (default), spark://host:7077, yarn, k8s://…, "
    "or a Spark Connect URL sc://host:15002."
)


class EngineChoice:
    """``--engine`` and its settings, parsed once; :meth:`open` gives the command's engine."""

    def __init__(
        self,
        name: str,
        memory_limit: str | None = None,
        spark_master: str | None = None,
        spark_conf: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.memory_limit = memory_limit
        self.spark_master = spark_master
        self.spark_conf = spark_conf or {}

    def open(self, data: str, *, lenient: bool = False, as_of: dt.date | None = None) -> Any:
        from pendo_segments.cli.output import warn
        from pendo_segments.engines import open_engine
        from pendo_segments.sources import open_dataset

        return open_engine(
            self.name,
            data,
            lenient=lenient,
            as_of=as_of,
            memory_limit=self.memory_limit,
            spark_master=self.spark_master,
            spark_conf=self.spark_conf,
            warn=warn,
            opener=open_dataset,
        )


def _spark_conf(_ctx: click.Context, _param: click.Parameter, values: Any) -> dict[str, str]:
    conf = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r}: expected KEY=VALUE", param_hint="--spark-conf")
        conf[key.strip()] = value.strip()
    return conf


def engine_options(f: F) -> F:
    """``--engine``, ``--memory-limit``, ``--spark-master``, ``--spark-conf`` as one ``engine``.

    Every command that reads usage data takes these; the command receives an
    :class:`EngineChoice` and opens the engine once.
    """

    @functools.wraps(f)
    def wrapper(
        *args: Any,
        engine: str,
        memory_limit: str | None,
        spark_master: str | None,
        spark_conf: dict[str, str],
        **kwargs: Any,
    ) -> Any:
        given = [
            n for n, v in (("--spark-master", spark_master), ("--spark-conf", spark_conf)) if v
        ]
        if given and engine != "spark":
            raise click.UsageError(f"{' and '.join(given)} need --engine spark")
        choice = EngineChoice(engine, memory_limit, spark_master, spark_conf)
        return f(*args, engine=choice, **kwargs)

    decorated: Any = click.option(
        "--spark-conf",
        metavar="KEY=VALUE",
        multiple=True,
        callback=_spark_conf,
        help="With --engine spark: a Spark setting for the session (repeatable), "
        "e.g. spark.driver.memory=8g or spark.sql.shuffle.partitions=64.",
    )(wrapper)
    decorated = click.option("--spark-master", metavar="URL", default=None, help=SPARK_MASTER_HELP)(
        decorated
    )
    decorated = memory_limit_option(decorated)
    decorated = click.option(
        "--engine",
        type=click.Choice(["pandas", "duckdb", "spark", "auto"]),
        default="auto",
        show_default=True,
        help=ENGINE_HELP,
    )(decorated)
    return decorated
