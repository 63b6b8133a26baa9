"""``health calibrate``: how well the score separates churned from renewed accounts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from pendo_segments.cli.common import health_settings, load_data, status
from pendo_segments.cli.options import DEFAULT_DEFS, EXISTING, as_of, output_format
from pendo_segments.cli.output import emit, resolve_format


@click.command("calibrate")
@click.option(
    "--data",
    "data",
    metavar="DIR",
    default=None,
    help="Usage data folder with outcomes.csv (account_id,churned), or 'sample'.",
)
@click.option(
    "--lenient",
    is_flag=True,
    default=None,
    help="Drop usage rows of unknown visitors with a warning instead of failing.",
)
@as_of
@click.option(
    "--config",
    "config",
    type=EXISTING,
    default=None,
    help=f"Health settings to calibrate (default: {DEFAULT_DEFS}/health.yaml).",
)
@output_format
@click.pass_context
def calibrate_cmd(
    ctx: click.Context,
    data: str | None,
    lenient: bool | None,
    as_of: dt.date | None,
    config: Path | None,
    fmt: str | None,
    output: Path | None,
) -> None:
    """How well the score separates churned from renewed accounts, and better weights.

    For the score and each component: accounts with data, mean value of the
    churned and of the renewed accounts, and the ROC AUC (the chance that a
    renewed account scores higher than a churned one; 0.5 = no better than a
    coin, 1 = perfect). Accounts are scored as of outcomes.csv's as_of column
    when present. Then a `weights:` block to paste into health.yaml, found by
    trying every weighting in steps of 5 and keeping the closest to the
    current one among the best (same data: confirm on a later cohort).

    \b
    Examples:
      pendo-segments health calibrate --data sample
      pendo-segments health calibrate --data ./usage --format json -o calibration.json
    """
    parent = (ctx.obj or {}).get("health", {})
    data = data or parent.get("data")
    if not data:
        raise click.UsageError("Missing option '--data'.", ctx)
    from pendo_segments.health.calibrate import calibrate

    settings = health_settings(config or parent.get("config"))
    as_of = as_of or parent.get("as_of")
    ds = load_data(data, bool(lenient or parent.get("lenient")), as_of, narrow=True)
    with status("Calibrating against outcomes"):
        result = calibrate(ds, config=settings, as_of=as_of)
    emit(result, resolve_format(fmt, output, default_pipe="table"), output)
