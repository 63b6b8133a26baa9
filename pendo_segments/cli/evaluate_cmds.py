"""``evaluate`` and ``explain``: segments on usage data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from pendo_segments.cli.common import load_data, load_defs, status
from pendo_segments.cli.options import DEFAULT_DEFS, as_of, data_dir, defs_argument, output_format
from pendo_segments.cli.output import emit_frame, emit_rows, resolve_format, warn
from pendo_segments.cli.spark_options import check_spark_options, evaluate_on_spark, spark_options


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
@click.option(
    "--engine",
    type=click.Choice(["pandas", "duckdb", "spark"]),
    default="pandas",
    show_default=True,
    help="pandas engine, or the compiled SQL run on DuckDB or Spark.",
)
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
    spark_master: str | None,
    output_table: str | None,
    fmt: str | None,
    output: Path | None,
) -> None:
    """List the members of each segment on usage data.

    CSV columns are exactly segment,subject,subject_id, one row per member,
    sorted by segment then subject_id.

    \b
    Examples:
      pendo-segments evaluate segment_defs --data sample --format csv
      pendo-segments evaluate --data ./usage -s at_risk -s healthy --as-of 2026-11-01
      pendo-segments evaluate --data ./usage --counts
      pendo-segments evaluate --data ./usage --engine duckdb --format csv
      pendo-segments evaluate --data spark:usage --engine spark --output-table usage.members
    """
    from pendo_segments.evaluate import evaluate as run

    definitions = load_defs(defs)
    check_spark_options(engine, spark_master, output_table)
    ds = load_data(data, lenient, as_of) if engine != "spark" else None
    with status("Evaluating segments") as update:
        if engine == "spark":
            result = evaluate_on_spark(
                definitions, data, lenient=lenient, as_of=as_of, names=list(segments),
                master=spark_master, output_table=output_table, warn=warn,
            )  # fmt: skip
        elif engine == "duckdb":
            from pendo_segments.evaluate.duckdb_engine import evaluation_from_sql

            result = evaluation_from_sql(definitions, ds, as_of=as_of, names=list(segments))
        else:
            result = run(definitions, ds, as_of=as_of, names=list(segments), progress=update)
    fmt = resolve_format(fmt, output)
    if counts or output_table or (fmt == "table" and not segments):
        rows = [(name, result.segments[name].subject, n) for name, n in result.counts().items()]
        emit_rows(
            ["segment", "subject", "members"],
            rows,
            fmt,
            output,
            title=f"Segment members as of {result.as_of.isoformat()}",
        )
    else:
        emit_frame(
            result.membership(),
            fmt,
            output,
            title=f"Segment members as of {result.as_of.isoformat()}",
        )


@click.command()
@click.argument("name")
@click.argument("subject_id")
@click.option(
    "--defs",
    "defs",
    default=DEFAULT_DEFS,
    show_default=True,
    type=click.Path(exists=True, path_type=Path),
    help="Definitions folder or file.",
)
@data_dir
@as_of
@output_format
def explain(
    name: str,
    subject_id: str,
    defs: Path,
    data: str,
    lenient: bool,
    as_of: dt.date | None,
    fmt: str | None,
    output: Path | None,
) -> None:
    """Show each condition of segment NAME for SUBJECT_ID: value, threshold, pass/fail.

    \b
    Examples:
      pendo-segments explain at_risk acc-00042 --data sample
      pendo-segments explain never_used_data_explorer v-000123 --data ./usage --format json
    """
    from pendo_segments.evaluate import explain as run
    from pendo_segments.evaluate.explain import EXPLAIN_COLUMNS

    definitions = load_defs(defs)
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
