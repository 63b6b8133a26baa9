"""``validate``, ``compile`` and ``schema``: work on definitions only (no data)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from pendo_segments.cli.common import load_defs
from pendo_segments.cli.options import DATE, defs_argument, output_format
from pendo_segments.cli.output import emit_json, emit_rows, emit_text, resolve_format, warn


@click.command()
@defs_argument
@click.option(
    "--data",
    "data",
    metavar="DIR",
    default=None,
    help="Also check feature ids against this data's features.csv ('sample' works too).",
)
@output_format
def validate(defs: Path, data: str | None, fmt: str | None, output: Path | None) -> None:
    """Load and check segment definitions; report every error as FILE:LINE.

    A folder's health.yaml, tiers.yaml and alerts.yaml are checked too. Feature
    ids are checked against --data's features.csv, else against
    DEFS/features.yaml (features: [id, ...]) when there is one.

    \b
    Examples:
      pendo-segments validate                      # ./segment_defs
      pendo-segments validate segment_defs/at_risk.yaml
      pendo-segments validate --data ./usage
    """
    from pendo_segments.cli.common import load_data
    from pendo_segments.tiers.check import check_folder

    features = load_data(data).features["feature_id"].astype(str) if data else None
    definitions = check_folder(defs, features=features)
    fmt = resolve_format(fmt, output)
    rows = [(s.name, s.subject, s.title, s.source) for s in definitions]
    if fmt == "table":
        emit_rows(
            ["segment", "subject", "title", "source"],
            rows,
            fmt,
            output,
            title=f"{len(rows)} segments valid",
        )
    else:
        emit_rows(["segment", "subject", "title", "source"], rows, fmt, output)
    for line in definitions.warnings:
        warn(line)


@click.command("compile")
@defs_argument
@click.option(
    "--target",
    "-t",
    type=click.Choice(["pendo", "aggregation", "sql"]),
    default="pendo",
    show_default=True,
    help="What to compile to.",
)
@click.option(
    "--segment",
    "-s",
    "segments",
    multiple=True,
    metavar="NAME",
    help="Only these segments (repeatable). Default: all.",
)
@click.option(
    "--as-of",
    "as_of",
    type=DATE,
    default=None,
    help="Fix the evaluation day in time windows (default: relative to today / data).",
)
@click.option(
    "--dialect",
    default="duckdb",
    show_default=True,
    help="SQL dialect for --target sql (any sqlglot dialect: snowflake, bigquery, …).",
)
@click.option(
    "--strict", is_flag=True, help="Fail on the first construct the target cannot express natively."
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also write one file per segment into DIR.",
)
@output_format
def compile_cmd(
    defs: Path,
    target: str,
    segments: tuple[str, ...],
    as_of: dt.date | None,
    dialect: str,
    strict: bool,
    out_dir: Path | None,
    fmt: str | None,
    output: Path | None,
) -> None:
    """Compile segments to Pendo segment rules, Aggregation API requests or SQL.

    Segments Pendo's segment builder cannot express are listed with the
    reason; `sync` uploads those as visitor lists computed locally.

    \b
    Examples:
      pendo-segments compile segment_defs --target pendo --format json
      pendo-segments compile --target aggregation -s at_risk --as-of 2026-11-01
      pendo-segments compile --target sql --dialect snowflake --out-dir build/sql
    """
    import json

    from pendo_segments.atomic import write_text
    from pendo_segments.compile import compile_segments

    definitions = load_defs(defs)
    results = compile_segments(
        definitions,
        target,
        names=list(segments),
        as_of=as_of,
        strict=strict,
        dialect=dialect,
        pretty=True,
    )
    fmt = resolve_format(fmt, output, default_pipe="json")
    if out_dir is not None:
        for r in results:
            ext, body = (
                ("sql", r.output + "\n")
                if target == "sql"
                else ("json", json.dumps(r.output, indent=2, ensure_ascii=False) + "\n")
            )
            write_text(out_dir / f"{r.segment.name}.{ext}", body)
    not_native = [r for r in results if not r.native]
    if fmt == "json":
        emit_json([r.to_dict() for r in results], output)
    elif fmt == "csv":
        emit_rows(
            ["segment", "subject", "target", "native", "reason"],
            [
                (
                    r.segment.name,
                    r.segment.subject,
                    target,
                    r.native,
                    "; ".join(f"{u.path}: {u.reason}" for u in r.unsupported),
                )
                for r in results
            ],
            fmt,
            output,
        )
    else:
        _print_compiled(results, target, output)
    if not_native:
        what = "native Pendo rules" if target == "pendo" else f"expressible in {target}"
        click.echo(
            f"{len(not_native)} of {len(results)} segments are not {what}: "
            + ", ".join(r.segment.name for r in not_native)
            + (" (sync uploads them as visitor lists)" if target == "pendo" else ""),
            err=True,
        )


def _print_compiled(results: list, target: str, output: Path | None) -> None:
    import io
    import json

    from rich.console import Console
    from rich.syntax import Syntax

    buf = io.StringIO()
    console = Console(
        file=buf if output else None, width=120, color_system=None if output else "auto"
    )
    for r in results:
        flag = "native" if r.native else "NOT native"
        console.rule(f"{r.segment.name} ({r.segment.subject}, {flag})")
        for u in r.unsupported:
            console.print(f"  ! {u.path}: {u.construct}: {u.reason}")
        text = r.output if target == "sql" else json.dumps(r.output, indent=2, ensure_ascii=False)
        console.print(Syntax(text, "sql" if target == "sql" else "json", word_wrap=True))
    if output:
        emit_text(buf.getvalue(), output)


@click.command()
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the schema to FILE (atomically) instead of stdout.",
)
def schema(output: Path | None) -> None:
    """Write the JSON Schema of a segment definition file (for editor completion).

    \b
    Examples:
      pendo-segments schema -o schema/segment-definition.schema.json
    Then, in VS Code with the YAML extension, start a definition with:
      # yaml-language-server: $schema=../schema/segment-definition.schema.json
    """
    from pendo_segments.definitions.schema import schema_text

    emit_text(schema_text(), output)
