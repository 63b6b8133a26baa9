"""``health calibrate``: how well the score separates churned from renewed accounts."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import click

from pendo_segments.base.rendered import Rendered
from pendo_segments.cli.common import health_settings, load_data, status
from pendo_segments.cli.options import DEFAULT_DEFS, EXISTING, as_of, output_format
from pendo_segments.cli.output import emit, emit_text, resolve_format


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
    fmt = resolve_format(fmt, output, default_pipe="table")
    if fmt == "table":
        _calibration_report(result, output)
    else:
        emit(
            Rendered(frame=result.table(), payload=result.as_json() if fmt == "json" else None),
            fmt,
            output,
        )


def _calibration_report(result: Any, output: Path | None) -> None:
    """Counts, the separation table, how to read AUC, then the YAML to paste."""
    import io

    from rich.console import Console
    from rich.table import Table

    terminal = output is None and sys.stdout.isatty()
    buf = io.StringIO()
    console = Console() if terminal else Console(file=buf, width=110, color_system=None)
    dates = ", ".join(d.isoformat() for d in result.as_of)
    console.print(
        f"Calibration on {result.accounts} accounts with outcomes "
        f"({result.churned} churned, {result.renewed} renewed), as of {dates}."
    )
    table = Table(title="Separation of churned and renewed accounts")
    for c in ("measure", "weight", "accounts", "mean churned", "mean renewed", "ROC AUC"):
        table.add_column(c, justify="left" if c == "measure" else "right")
    for r in result.table().itertuples(index=False):
        table.add_row(
            r.measure,
            _num(r.weight, "g"),
            str(r.accounts),
            _num(r.mean_churned),
            _num(r.mean_renewed),
            _num(r.auc, ".3f"),
        )
    console.print(table)
    console.print(
        "ROC AUC = chance that a renewed account scores higher than a churned one\n"
        "(ties count half): 0.5 = coin flip, 1 = perfect."
    )
    for line in result.notes:
        console.print(f"Note: {line}", markup=False)
    console.print("")
    if terminal:
        click.echo(result.yaml_snippet(), nl=False)
    else:
        emit_text(buf.getvalue() + result.yaml_snippet(), output)


def _num(value: Any, spec: str = ".1f") -> str:
    return "" if value is None or value != value else format(value, spec)
