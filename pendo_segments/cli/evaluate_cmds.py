"""``evaluate`` and ``explain``: segments on usage data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from pendo_segments.cli.options import EngineChoice

from pendo_segments.cli.common import load_defs, status
from pendo_segments.cli.options import (
    as_of,
    data_dir,
    defs_argument,
    defs_option,
    engine_options,
    output_format,
)
from pendo_segments.cli.output import emit, resolve_format


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
    "--output-table",
    metavar="DB.TABLE",
    default=None,
    help="With --engine spark: write the members (segment,subject,subject_id) to this "
    "catalog table instead of collecting them; prints the counts.",
)
@engine_options
@output_format
def evaluate(
    defs: Path,
    data: str,
    lenient: bool,
    as_of: dt.date | None,
    segments: tuple[str, ...],
    counts: bool,
    output_table: str | None,
    engine: EngineChoice,
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
    if output_table and engine.name != "spark":
        raise click.UsageError("--output-table needs --engine spark")
    with engine.open(data, lenient=lenient, as_of=as_of) as eng:
        eng.output_table = output_table
        with status("Evaluating segments") as update:
            result = eng.memberships(definitions, names=segments, as_of=as_of, progress=update)
        eng.check_day(definitions, as_of)  # the as-of warning and error of every engine
        fmt = resolve_format(fmt, output)
        summary = counts or bool(output_table) or (fmt == "table" and not segments)
        emit(result.render(fmt, counts=summary), fmt, output)


@click.command()
@click.argument("name")
@click.argument("subject_id")
@defs_option()
@data_dir
@as_of
@output_format
@engine_options
def explain(
    name: str,
    subject_id: str,
    defs: Path,
    data: str,
    lenient: bool,
    as_of: dt.date | None,
    fmt: str | None,
    output: Path | None,
    engine: EngineChoice,
) -> None:
    """Show each condition of segment NAME for SUBJECT_ID: value, threshold, pass/fail.

    \b
    Examples:
      pendo-segments explain at_risk acc-00042 --data sample
      pendo-segments explain never_used_data_explorer v-000123 --data ./usage --format json
    """
    from pendo_segments.engines.explain import explain_on

    definitions = load_defs(defs)
    with engine.open(data, lenient=lenient, as_of=as_of) as eng, status("Explaining"):
        result = explain_on(eng, definitions, name, subject_id, as_of=as_of)
    emit(result, resolve_format(fmt, output), output)
