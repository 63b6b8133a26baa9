"""``health``: every account's score and components (``health calibrate`` in calibrate_cmd.py).

Settings come from the definitions folder (``health.yaml``; the built-in
docs/semantics.md §5 defaults when absent).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from pendo_segments.cli.options import EngineChoice

from pendo_segments.cli.calibrate_cmd import calibrate_cmd
from pendo_segments.cli.common import health_settings, note, status
from pendo_segments.cli.options import DEFAULT_DEFS, EXISTING, as_of, engine_options, output_format
from pendo_segments.cli.output import emit, resolve_format


# ``health`` prints scores itself; ``health calibrate`` is its one sub-command, and
# options given before the sub-command name (health --data X calibrate) carry over.
@click.group(invoke_without_command=True)
@click.option(
    "--data",
    "data",
    metavar="DIR",
    help="Usage data folder (CSV or Parquet; see docs/semantics.md §1), 'sample', or 'pendo:'.",
)
@click.option(
    "--lenient",
    is_flag=True,
    help="Drop usage rows of unknown visitors with a warning instead of failing.",
)
@as_of
@click.option(
    "--config",
    "config",
    type=EXISTING,
    default=None,
    help=f"Health settings (default: {DEFAULT_DEFS}/health.yaml here, else the shipped one).",
)
@engine_options
@output_format
@click.pass_context
def health(
    ctx: click.Context,
    data: str | None,
    lenient: bool,
    as_of: dt.date | None,
    config: Path | None,
    engine: EngineChoice,
    fmt: str | None,
    output: Path | None,
) -> None:
    """Health score (0-100) and its components per account.

    CSV columns: account_id,health_score, then login_frequency,
    core_feature_adoption, breadth, nps, support_tickets (0-100, 1 decimal,
    blank when the account has no data for it; its weight is then shared by
    the others). Notes on stderr say which components are missing and why.

    \b
    Examples:
      pendo-segments health --data sample
      pendo-segments health --data ./usage --as-of 2026-11-01 --format csv -o health.csv
      pendo-segments health --data ./usage --engine spark --spark-master sc://spark:15002
      pendo-segments health calibrate --data ./usage
    """
    ctx.ensure_object(dict)
    ctx.obj["health"] = {"data": data, "lenient": lenient, "as_of": as_of, "config": config}
    if ctx.invoked_subcommand is not None:
        return
    if not data:
        raise click.UsageError("Missing option '--data'.", ctx)
    from pendo_segments.health.engine import engine_health

    settings = health_settings(config)
    with engine.open(data, lenient=lenient, as_of=as_of) as eng, status("Scoring accounts"):
        result = engine_health(eng, settings, as_of)
    emit(result, resolve_format(fmt, output), output)
    for line in result.notes():
        note(line)


health.add_command(calibrate_cmd)
