"""``evaluate`` and ``explain``: segments on usage data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from pendo_segments.cli.common import load_data, load_defs, status
from pendo_segments.cli.options import (
    as_of,
    data_dir,
    defs_argument,
    defs_option,
    engine_option,
    memory_limit_option,
    output_format,
)
from pendo_segments.cli.output import emit_batches, emit_rows, resolve_format, warn
from pendo_segments.cli.spark_options import (
    check_spark_options,
    explain_engine_option,
    spark_options,
)

MEMBERSHIP_COLUMNS = ["segment", "subject", "subject_id"]


@dataclass
class EvalRequest:
    """What ``evaluate`` asks of an engine (every engine gets the same)."""

    data: str
    lenient: bool
    as_of: dt.date | None
    names: list[str]
    memory_limit: str | None = None
    spark_master: str | None = None
    output_table: str | None = None


def run_pandas(definitions: Any, request: EvalRequest) -> Any:
    """The pandas engine: load the whole data set, evaluate vectorised in memory."""
    from pendo_segments.evaluate import evaluate as run

    # usage tables in the compact form the evaluator needs (half the memory)
    ds = load_data(request.data, request.lenient, request.as_of, narrow=True)
    with status("Evaluating segments") as update:
        result = run(definitions, ds, as_of=request.as_of, names=request.names, progress=update)
    result.metrics.release()  # the members are written from ids and masks alone
    return result


def run_duckdb(definitions: Any, request: EvalRequest) -> Any:
    """The compiled SQL on DuckDB; a data folder is read by DuckDB itself."""
    from pendo_segments.data.history import refuse_engine

    refuse_engine(request.data, "duckdb")
    if request.data == "sample" or request.data.startswith("pendo:"):
        from pendo_segments.evaluate.duckdb_engine import evaluation_from_sql

        ds = load_data(request.data, request.lenient, request.as_of)
        with status("Evaluating segments"):
            return evaluation_from_sql(definitions, ds, as_of=request.as_of, names=request.names)
    from pendo_segments.evaluate.duckdb_folder import evaluate_folder

    with status(f"Reading {request.data} with DuckDB"):
        return evaluate_folder(
            definitions,
            request.data,
            as_of=request.as_of,
            names=request.names,
            lenient=request.lenient,
            warn=warn,
            memory_limit=request.memory_limit,
        )


def run_spark(definitions: Any, request: EvalRequest) -> Any:
    """The compiled SQL in a SparkSession (local, a cluster or Spark Connect); Spark reads the data."""
    from pendo_segments.data.history import refuse_engine
    from pendo_segments.evaluate.spark_engine import evaluate_on_spark

    refuse_engine(request.data, "spark")

    with status("Evaluating segments on Spark"):
        return evaluate_on_spark(
            definitions,
            request.data,
            lenient=request.lenient,
            as_of=request.as_of,
            names=request.names,
            master=request.spark_master,
            output_table=request.output_table,
            warn=warn,
        )


def run_auto(definitions: Any, request: EvalRequest) -> Any:
    """pandas while the data fits its memory budget, else DuckDB (said on stderr)."""
    from pendo_segments.evaluate.budget import choose_engine

    engine, reason = choose_engine(request.data, request.memory_limit)
    if reason:
        warn(reason)
    return ENGINES[engine](definitions, request)


# engine name -> runner; another engine is one more entry here
ENGINES: dict[str, Callable[[Any, EvalRequest], Any]] = {
    "pandas": run_pandas,
    "duckdb": run_duckdb,
    "spark": run_spark,
    "auto": run_auto,
}


@click.command()
@defs_argument
@data_dir
@as_of
@click.option(
    "--segment",
    "-s",
    "segments",
    multiple=True,
    metavar="NAME",
    help="Only these segments (repeatable). Default: all.",
)
@click.option("--counts", is_flag=True, help="Print member counts per segment instead of members.")
@engine_option(ENGINES)
@memory_limit_option
@spark_options
@output_format
def evaluate(
    defs: Path,
    data: str,
    lenient: bool,
    as_of: dt.date | None,
    segments: tuple[str, ...],
    counts: bool,
    engine: str,
    memory_limit: str | None,
    spark_master: str | None,
    output_table: str | None,
    fmt: str | None,
    output: Path | None,
) -> None:
    """List the members of each segment on usage data.

    CSV columns are exactly segment,subject,subject_id, one row per member,
    sorted by segment then subject_id. The default engine (auto) is pandas,
    or DuckDB reading the files itself when the data is too large for
    memory (say --memory-limit to bound DuckDB; it spills to a temp folder).

    \b
    Examples:
      pendo-segments evaluate segment_defs --data sample --format csv
      pendo-segments evaluate --data ./usage -s at_risk -s healthy --as-of 2026-11-01
      pendo-segments evaluate --data ./usage --counts
      pendo-segments evaluate --data ./big --engine duckdb --memory-limit 3GB -o members.csv
      pendo-segments evaluate --data spark:usage --engine spark --output-table usage.members
    """
    definitions = load_defs(defs)
    check_spark_options(engine, spark_master, output_table)
    request = EvalRequest(
        data, lenient, as_of, list(segments), memory_limit, spark_master, output_table
    )
    result = ENGINES[engine](definitions, request)
    try:
        fmt = resolve_format(fmt, output)
        title = f"Segment members as of {result.as_of.isoformat()}"
        if counts or output_table or (fmt == "table" and not segments):
            rows = [(name, result.segments[name].subject, n) for name, n in result.counts().items()]
            emit_rows(["segment", "subject", "members"], rows, fmt, output, title=title)
        else:
            emit_batches(MEMBERSHIP_COLUMNS, result.membership_batches(), fmt, output, title)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()


@click.command()
@click.argument("name")
@click.argument("subject_id")
@defs_option()
@data_dir
@as_of
@output_format
@explain_engine_option
def explain(
    name: str,
    subject_id: str,
    defs: Path,
    data: str,
    lenient: bool,
    as_of: dt.date | None,
    fmt: str | None,
    output: Path | None,
    engine: str,
    spark_master: str | None,
) -> None:
    """Show each condition of segment NAME for SUBJECT_ID: value, threshold, pass/fail.

    \b
    Examples:
      pendo-segments explain at_risk acc-00042 --data sample
      pendo-segments explain never_used_data_explorer v-000123 --data ./usage --format json
    """
    from pendo_segments.evaluate import explain as run
    from pendo_segments.evaluate.explain import EXPLAIN_COLUMNS

    check_spark_options(engine, spark_master)
    definitions = load_defs(defs)
    if engine == "spark":
        from pendo_segments.cli.spark_options import explain_on_spark

        with status("Explaining on Spark"):
            result = explain_on_spark(
                definitions, data, name, subject_id,
                lenient=lenient, as_of=as_of, master=spark_master, warn=warn,
            )  # fmt: skip
    else:
        ds = load_data(data, lenient, as_of)
        result = run(definitions, ds, name, subject_id, as_of=as_of)
    fmt = resolve_format(fmt, output)
    if fmt == "json":
        from pendo_segments.cli.output import emit_json

        emit_json(
            {
                "segment": name,
                "subject": result.segment.subject,
                "subject_id": subject_id,
                "as_of": result.as_of.isoformat(),
                "member": result.member,
                "params": result.segment.params,
                "conditions": [
                    dict(zip(EXPLAIN_COLUMNS, r.as_row(), strict=True)) for r in result.rows
                ],
            },
            output,
        )
        return
    if fmt == "table":
        rows = [
            (
                "  " * r.depth + r.condition,
                r.value,
                r.op,
                r.threshold,
                "✔ pass" if r.passed else "✘ fail",
            )
            for r in result.rows
        ]
        emit_rows(
            ["condition", "value", "op", "threshold", "result"],
            rows,
            fmt,
            output,
            title=result.summary,
        )
        return
    emit_rows(EXPLAIN_COLUMNS, [r.as_row() for r in result.rows], fmt, output)
