"""``tiers``: one tier per account with a reason, and the CSM capacity table."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from pendo_segments.cli.options import EngineChoice

from pendo_segments.base.rendered import Rendered
from pendo_segments.cli.common import note, status, stderr_table
from pendo_segments.cli.options import (
    EXISTING,
    FILE,
    as_of,
    data_dir,
    defs_argument,
    engine_options,
    output_format,
)
from pendo_segments.cli.output import emit, emit_text, resolve_format


@click.command()
@defs_argument
@data_dir
@as_of
@click.option(
    "--policy", type=EXISTING, default=None, help="Tier policy (default: DEFS/tiers.yaml)."
)
@click.option(
    "--overrides",
    type=EXISTING,
    default=None,
    help="CSV account_id,tier,note of manual decisions; they win over the policy.",
)
@click.option(
    "--previous",
    type=EXISTING,
    default=None,
    help="A previous `tiers --format csv` run: adds columns previous_tier,move.",
)
@click.option(
    "--capacity",
    "capacity_out",
    type=FILE,
    default=None,
    help="Also write the CSM capacity table as CSV to this file.",
)
@click.option(
    "--ratio",
    "ratios",
    multiple=True,
    metavar="TIER=N",
    help="Accounts per CSM for a tier, e.g. --ratio P1=20 (repeatable).",
)
@engine_options
@output_format
def tiers(
    defs: Path,
    data: str,
    lenient: bool,
    as_of: dt.date | None,
    policy: Path | None,
    overrides: Path | None,
    previous: Path | None,
    capacity_out: Path | None,
    ratios: tuple[str, ...],
    engine: EngineChoice,
    fmt: str | None,
    output: Path | None,
) -> None:
    """Assign every account one tier (P1 / P2 / P3 / Neighborhood) with a reason.

    CSV columns are exactly account_id,tier,reason; with --previous FILE the
    columns previous_tier,move follow (move: up / down / unchanged / new; up
    means towards P1). The first matching rule of DEFS/tiers.yaml wins;
    --overrides beats it and the reason says so. Renewal risk (renewal within
    90 days, score below 60) is added to the reason. The CSM capacity table
    (accounts, ARR and CSMs needed per tier at the tiers.yaml ratios: P1 15,
    P2 40, P3 150, Neighborhood 200 accounts per CSM) goes to stderr, or
    after the table on a terminal, and to --capacity FILE.

    \b
    Examples:
      pendo-segments tiers --data sample
      pendo-segments tiers segment_defs --data ./usage --format csv -o tiers.csv
      pendo-segments tiers --data ./usage --previous last_month.csv --overrides overrides.csv
      pendo-segments tiers --data ./usage --ratio P1=20 --capacity capacity.csv
      pendo-segments tiers --data ./usage --engine spark --spark-master sc://spark:15002
    """
    from pendo_segments.tiers.capacity import capacity_csv
    from pendo_segments.tiers.run import tier_inputs, tiers_on

    inputs = tier_inputs(defs, policy=policy, overrides=overrides, previous=previous, ratios=ratios)
    with engine.open(data, lenient=lenient, as_of=as_of) as eng, status("Assigning tiers"):
        run = tiers_on(eng, inputs, as_of=as_of)
    fmt = resolve_format(fmt, output)
    emit(run, fmt, output)
    if capacity_out is not None:
        emit_text(capacity_csv(run.capacity), capacity_out)
    if fmt == "table" and output is None:
        emit(Rendered(frame=run.capacity, title="CSM capacity"), "table", None)
    else:
        stderr_table(run.capacity, "CSM capacity")
    for line in run.notes:
        note(line)
