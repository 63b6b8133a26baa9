"""``alerts``: playbook alerts with the signals behind each (``alerts notify`` in notify_cmds.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from pendo_segments.cli.options import EngineChoice

from pendo_segments.cli.common import note, status
from pendo_segments.cli.options import (
    alert_input_options,
    as_of,
    data_dir,
    defs_argument,
    engine_options,
    output_format,
)
from pendo_segments.cli.output import emit, resolve_format


@click.command()
@defs_argument
@data_dir
@as_of
@alert_input_options
@engine_options
@output_format
def alerts(
    defs: Path,
    data: str,
    lenient: bool,
    as_of: dt.date | None,
    rules_path: Path | None,
    policy: Path | None,
    overrides: Path | None,
    previous: Path | None,
    engine: EngineChoice,
    fmt: str | None,
    output: Path | None,
) -> None:
    """Playbook alerts with the signals that drove each one.

    Thresholds live in DEFS/alerts.yaml: score below 40 = at-risk task, below
    25 = escalation, Enterprise escalates below 50, recovery above 70 after
    being at risk (needs --previous), key feature adoption above 80 % =
    upsell signal, no login for 14 days in a P1 account, renewal risk.
    CSV columns: account_id,alert,severity,tier,health_score,action,signals,
    sorted by severity (high first), alert, account.

    \b
    Examples:
      pendo-segments alerts --data sample
      pendo-segments health --data ./usage --format csv -o health_2026-10.csv
      pendo-segments alerts --data ./usage --previous health_2026-10.csv --format csv
    """
    from pendo_segments.tiers.alerts import alert_inputs, alert_notes, alerts_on

    inputs = alert_inputs(defs, rules=rules_path, policy=policy, overrides=overrides)
    with engine.open(data, lenient=lenient, as_of=as_of) as eng, status("Checking alerts"):
        result = alerts_on(eng, inputs, as_of=as_of, previous=previous)
    emit(result, resolve_format(fmt, output), output)
    for line in alert_notes(result):
        note(line)
