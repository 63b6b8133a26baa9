"""``demo``: the whole flow on the bundled sample data."""

from __future__ import annotations

from pathlib import Path

import click

from pendo_segments.base.words import PENDO_UPLOAD_NOTE
from pendo_segments.cli.common import status
from pendo_segments.cli.options import force_option


@click.command()
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-report"),
    show_default=True,
    help="Report folder to write. A folder of other files is refused unless --force; "
    "only files the demo wrote are ever replaced or removed.",
)
@force_option
@click.option(
    "--defs",
    "defs",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="Definitions folder (default: ./segment_defs or the shipped one).",
)
@click.option(
    "--data",
    default="sample",
    show_default=True,
    help="Data to run on: 'sample' (bundled) or a data folder.",
)
def demo(out: Path, force: bool, defs: Path | None, data: str) -> None:
    """Run the whole flow on the bundled sample data and write a report folder.

    Validates and compiles the shipped segments, evaluates them, scores
    account health, assigns tiers, raises playbook alerts and builds the
    guide preview gallery.

    \b
    Examples:
      pendo-segments demo
      pendo-segments demo --out /tmp/report --data ./my-usage-data
    """
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from pendo_segments.demo import run_demo

    with status("Running the demo") as update:
        report = run_demo(out, defs_path=defs, data=data, progress=update, force=force)
    console = Console()
    console.print(
        f"[bold]pendo-segments demo[/bold] — data: {escape(data)}, as of {report.as_of.isoformat()}"
    )
    console.print(
        f"{report.segments} segments valid; "
        f"{report.segments - len(report.not_native)} with a Pendo builder recipe, "
        f"{len(report.not_native)} without ({escape(', '.join(report.not_native) or 'none')}); "
        f"{PENDO_UPLOAD_NOTE}"
    )
    table = Table(title="Segment members")
    for col in ("segment", "subject", "members"):
        table.add_column(col, justify="right" if col == "members" else "left")
    for name, (subject, n) in report.counts.items():
        table.add_row(escape(name), subject, str(n))
    console.print(table)
    if report.health:
        h = report.health
        console.print(
            f"Health score: {h['accounts']} accounts, mean {h['mean']:.1f}, "
            f"median {h['median']:.1f}; below 40: {h['below_40']}, "
            f"above 70: {h['above_70']}"
        )
    if report.tiers:
        tt = Table(title="Success tiers")
        for col in ("tier", "accounts", "ARR", "CSMs needed"):
            tt.add_column(col, justify="left" if col == "tier" else "right")
        for tier, n, arr, csms in report.tiers:
            tt.add_row(tier, str(n), f"${arr:,.0f}", f"{csms:g}")
        console.print(tt)
    if report.alerts:
        console.print(escape("Alerts: " + ", ".join(f"{k} {v}" for k, v in report.alerts.items())))
    if report.gallery:
        console.print(escape(f"Guide gallery: {report.gallery / 'index.html'}"))
    if report.report:
        console.print(escape(f"CS report: {report.report}"))
    console.print(escape(f"Report folder: {report.out} ({len(report.files)} files)"))
