"""``validate``, ``compile`` and ``schema``: work on definitions only (no data)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pendo_segments.base.words import PENDO_UPLOAD_NOTE, plural
from pendo_segments.cli.common import load_defs
from pendo_segments.cli.options import DATE, defs_argument, output_format
from pendo_segments.cli.output import emit_json, emit_rows, emit_text, resolve_format, warn

if TYPE_CHECKING:
    from pendo_segments.compile import CompileResult, Generator


@click.command()
@defs_argument
@click.option(
    "--data",
    "data",
    metavar="DIR",
    default=None,
    help="Also check feature ids (features.csv) and fields (the columns of accounts and "
    "visitors) against this data ('sample' works too).",
)
@output_format
def validate(defs: Path, data: str | None, fmt: str | None, output: Path | None) -> None:
    """Load and check segment definitions; report every error as FILE:LINE.

    A folder's health.yaml, tiers.yaml and alerts.yaml are checked too. Feature
    ids are checked against --data's features.csv, else against
    DEFS/features.yaml (features: [id, ...]) when there is one; with --data,
    fields are checked against its columns (a typo gets the closest column).

    \b
    Examples:
      pendo-segments validate                      # ./segment_defs
      pendo-segments validate segment_defs/at_risk.yaml
      pendo-segments validate --data ./usage
    """
    from pendo_segments.cli.common import load_data
    from pendo_segments.tiers.check import check_folder

    features = columns = None
    if data:
        ds = load_data(data)
        features = ds.features  # ids and names: a feature may be written either way
        columns = {"account": ds.accounts.columns, "visitor": ds.visitors.columns}
    definitions = check_folder(defs, features=features, columns=columns)
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


def _target_choices() -> list[str]:
    from pendo_segments.compile import targets

    return list(targets())


def _target_help() -> str:
    from pendo_segments.compile import targets

    return "What to compile to: " + "; ".join(
        f"{name}: {cls.notes}" for name, cls in targets().items()
    )


COMPILE_FORMATS = ["table", "text", "markdown", "json", "csv"]


@click.command("compile")
@defs_argument
@click.option(
    "--target",
    "-t",
    type=click.Choice(_target_choices()),
    default="pendo",
    show_default=True,
    help=_target_help(),
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
    callback=lambda ctx, param, value: _sql_dialect(value),
    help="SQL dialect for --target sql (any sqlglot dialect: snowflake, bigquery, …).",
)
@click.option(
    "--last-visit-column",
    "last_visit_column",
    is_flag=True,
    help="--target sql: the visitors table has last_visit (Pendo's last visit), which "
    "then counts in days_since_last_visit as it does in evaluate.",
)
@click.option(
    "--timezone",
    default=None,
    metavar="IANA",
    help="Time zone whose midnights start Pendo's days (--target aggregation). "
    "Default: [pendo] timezone in the config, else UTC (with a Pendo key and --as-of "
    "it must be set).",
)
@click.option(
    "--app-id",
    "app_ids",
    multiple=True,
    metavar="ID",
    help="Pendo app id the event sources count (repeatable; '*' = every app; "
    "--target aggregation). Default: [pendo] app_ids in the config, else every app.",
)
@click.option(
    "--data",
    "data",
    metavar="DIR",
    default=None,
    help="Feature catalogue: DIR/features.csv (pull writes it; 'sample' works too). "
    "Features written by name become their ids; recipes show the name and the id.",
)
@click.option(
    "--strict", is_flag=True, help="Fail on the first construct the target cannot express natively."
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also write one file per segment into DIR (extension per target).",
)
@click.option(
    "--output",
    "-o",
    "output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to FILE (atomically) instead of stdout.",
)
@click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(COMPILE_FORMATS),
    default=None,
    help="table (rich, for a terminal), text (plain), markdown, json (stable, every "
    "detail) or csv (one row per segment: native or why not). "
    "Default: table on a terminal, json when piped or written with -o.",
)
def compile_cmd(
    defs: Path,
    target: str,
    segments: tuple[str, ...],
    as_of: dt.date | None,
    dialect: str,
    last_visit_column: bool,
    timezone: str | None,
    app_ids: tuple[str, ...],
    data: str | None,
    strict: bool,
    out_dir: Path | None,
    fmt: str | None,
    output: Path | None,
) -> None:
    """Compile segments to Pendo builder recipes, Aggregation API requests or SQL.

    For --target pendo, each segment is the list of rows to enter in Pendo's
    segment builder (field, operator, value, time window, AND/OR groups);
    segments the builder cannot express say why, and `sync` keeps them as
    visitor lists computed locally. Nothing here talks to Pendo.

    \b
    Examples:
      pendo-segments compile                                  # recipes, on a terminal
      pendo-segments compile --format markdown -o recipes.md  # hand to whoever builds them
      pendo-segments compile segment_defs --target pendo --format json
      pendo-segments compile --data ./usage     # feature names -> ids of usage/features.csv
      pendo-segments compile --target aggregation -s at_risk --as-of 2026-11-01 \\
          --timezone America/New_York --app-id '*'
      pendo-segments compile --target sql --dialect snowflake --out-dir build/sql
    """
    from pendo_segments.atomic import write_text
    from pendo_segments.compile import compile_segments, markdown_document, targets

    generator = targets()[target]
    definitions = load_defs(defs)
    if data is not None:
        from pendo_segments.data.catalogue import data_catalogue

        definitions.use_features(data_catalogue(data), check=list(segments) or None)
    elif unresolved := definitions.unresolved_features(list(segments)):
        from pendo_segments.definitions.features import unresolved_warning

        warn(unresolved_warning(unresolved))
    options: dict[str, object] = {
        "dialect": dialect,
        "pretty": True,
        "has_last_visit": last_visit_column,
    }
    options.update(_pendo_settings(generator.pendo_settings, timezone, app_ids, as_of))
    results = compile_segments(
        definitions, target, names=list(segments), as_of=as_of, strict=strict, **options
    )
    if out_dir is not None:
        for r in results:
            write_text(
                out_dir / f"{r.segment.name}{generator.extension}",
                generator.file_text(r),
                parents=True,
            )
        click.echo(f"Wrote {plural(len(results), 'file')} to {out_dir}", err=True)
        if fmt is None and output is None:
            _say_not_native(results, target)
            return  # the files are the output: no need to print every query too
    fmt = resolve_format(fmt, output, default_pipe="json")
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
    elif fmt == "text":
        emit_text("\n".join(generator.render_text(r) for r in results), output)
    elif fmt == "markdown":
        emit_text(markdown_document(target, results), output)
    else:
        _print_rich(generator, results, output)
    _say_not_native(results, target)


def _say_not_native(results: list[CompileResult], target: str) -> None:
    not_native = [r for r in results if not r.native]
    if not_native:
        names = ", ".join(r.segment.name for r in not_native)
        if target == "pendo":
            click.echo(
                f"{len(not_native)} of {len(results)} segments have no Pendo builder recipe: "
                f"{names} ({PENDO_UPLOAD_NOTE})",
                err=True,
            )
        else:
            click.echo(
                f"{len(not_native)} of {len(results)} segments are not expressible in "
                f"{target}: {names}",
                err=True,
            )


def _sql_dialect(name: str) -> str:
    """A sqlglot dialect name, or a usage error with the closest one."""
    import difflib

    from sqlglot.dialects.dialect import Dialect

    known = sorted(d for d in Dialect.classes if d)
    if name.lower() in known:
        return name.lower()
    close = difflib.get_close_matches(name.lower(), known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else f"; one of: {', '.join(known)}"
    raise click.BadParameter(f"unknown SQL dialect '{name}'{hint}")


def _pendo_settings(
    wanted: tuple[str, ...],
    timezone: str | None,
    app_ids: tuple[str, ...],
    as_of: dt.date | None = None,
) -> dict[str, object]:
    """The ``[pendo]`` settings a target takes: command line, else config, else defaults.

    Pipelines for a fixed ``--as-of`` day with a live key configured are meant for that
    subscription: their windows start at its midnights, so its time zone must be set."""
    if not wanted:
        return {}
    overrides: dict[str, object] = {}
    if timezone:
        overrides["timezone"] = timezone
    if app_ids:
        overrides["app_ids"] = tuple(app_ids)
    if any(name not in overrides for name in wanted):
        from pendo_segments.config import load_config

        settings = load_config().pendo
        live_day = as_of is not None and settings.integration_key is not None
        if live_day and "timezone" in wanted and "timezone" not in overrides:
            settings.require_timezone("compile --as-of with a Pendo key (or pass --timezone)")
        for name in wanted:
            overrides.setdefault(name, getattr(settings, name))
    return {name: overrides[name] for name in wanted}


def _print_rich(
    generator: type[Generator], results: list[CompileResult], output: Path | None
) -> None:
    import io

    from rich.console import Console

    buf = io.StringIO()
    console = Console(
        file=buf if output else None, width=120, color_system=None if output else "auto"
    )
    for r in results:
        console.print(generator.render_rich(r))
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
