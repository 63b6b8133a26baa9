"""``pendo-segments sample``: write the deterministic sample data set."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import click

from pendo_segments.cli.options import DATE


@click.command("sample")
@click.option(
    "--accounts",
    type=click.IntRange(min=1),
    default=250,
    show_default=True,
    help="Number of accounts.",
)
@click.option(
    "--visitors",
    type=click.IntRange(min=1),
    default=2000,
    show_default=True,
    help="Number of visitors.",
)
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=90,
    show_default=True,
    help="Days of usage, ending on --end.",
)
@click.option(
    "--seed", type=int, default=7, show_default=True, help="Random seed (same seed, same files)."
)
@click.option(
    "--end",
    type=DATE,
    default="2026-10-31",
    show_default=True,
    help="Last day of usage (the default as-of day is the day after).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet"]),
    default="csv",
    show_default=True,
    help="File format of the data folder.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write (created, or replaced if it holds only data files).",
)
def sample(
    accounts: int,
    visitors: int,
    days: int,
    seed: int,
    end: dt.date,
    fmt: Literal["csv", "parquet"],
    out: Path,
) -> None:
    """Generate a deterministic sample usage data set (docs/semantics.md §1 folder).

    The defaults reproduce the bundled sample exactly.

    \b
    Examples:
      pendo-segments sample --out demo_data
      pendo-segments sample --accounts 100000 --visitors 1000000 --days 60 \\
          --format parquet --out bench_data
    """
    from pendo_segments.data.sample import write_sample

    with _progress() as progress:
        ds = write_sample(
            out,
            fmt=fmt,
            accounts=accounts,
            visitors=visitors,
            days=days,
            seed=seed,
            end=end,
            progress=progress,
        )
    counts = ", ".join(f"{name} {len(frame):,}" for name, frame in ds.tables().items())
    click.echo(f"Wrote {out} ({fmt}): {counts} rows")


class _progress:
    """A rich status line on stderr while generating; silent when stderr is not a terminal."""

    def __enter__(self) -> Callable[[str], None]:
        from rich.console import Console

        console = Console(stderr=True)
        self.status = console.status("generating") if console.is_terminal else None
        if self.status is not None:
            self.status.start()
        return self.update

    def update(self, message: str) -> None:
        if self.status is not None:
            self.status.update(f"sample: {message}")

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.stop()
