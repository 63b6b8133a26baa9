"""``health``, ``tiers``, ``alerts`` and ``export``: account scores and what follows from them.

Settings come from the definitions folder (DEFS, default ``segment_defs``):
``health.yaml`` (built-in docs/semantics.md §5 defaults when absent), ``tiers.yaml``
and ``alerts.yaml``.
"""

from __future__ import annotations

import datetime as dt
import numbers
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from pendo_segments.cli.options import EngineChoice

from pendo_segments.cli.common import load_data, status
from pendo_segments.cli.options import (
    DEFAULT_DEFS,
    alert_input_options,
    as_of,
    data_dir,
    defs_argument,
    engine_options,
    find_defs,
    output_format,
)
from pendo_segments.cli.output import emit_frame, emit_json, emit_text, resolve_format

FILE = click.Path(dir_okay=False, path_type=Path)
EXISTING = click.Path(exists=True, dir_okay=False, path_type=Path)


def note(message: str) -> None:
    click.echo(f"Note: {message}", err=True)


def _health_config(defs: Path | None, explicit: Path | None = None) -> Any:
    from pendo_segments.health.config import health_config_for

    return health_config_for(defs, explicit)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool | complex)


def _human(value: Any, column: str) -> str:
    """A number as people read it in a table: 18,726,000 (dollars for ``arr``), not 18726000.0."""
    if not _is_number(value):
        return str(value)
    number = float(value)
    text = f"{number:,.0f}" if number.is_integer() else f"{number:,.1f}"
    return f"${text}" if column == "arr" else text


def _stderr_table(frame: Any, title: str) -> None:
    """A small table for humans on stderr (rich on a terminal, plain text otherwise)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from pendo_segments.cli.output import _cell

    cells = [[_cell(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    columns = [str(c) for c in frame.columns]
    numeric = [
        all(v == "" or _is_number(v) for v in column) and any(_is_number(v) for v in column)
        for column in zip(*cells, strict=True)
    ] or [False] * len(columns)
    table = Table(title=Text(title))
    for c, right in zip(columns, numeric, strict=True):
        table.add_column(Text(c), justify="right" if right else "left")
    for row in cells:  # Text(): names are not markup
        table.add_row(*[Text(_human(v, c)) for v, c in zip(row, columns, strict=True)])
    Console(
        stderr=True,
        width=None if sys.stderr.isatty() else 120,
        color_system="auto" if sys.stderr.isatty() else None,
    ).print(table)


# -- health ----------------------------------------------------------------------


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

    settings = _health_config(find_defs(None, None, None), config)
    with engine.open(data, lenient=lenient, as_of=as_of) as eng, status("Scoring accounts"):
        result = engine_health(eng, settings, as_of)
    fmt = resolve_format(fmt, output)
    title = f"Account health as of {result.as_of.isoformat()}"
    if fmt == "json":
        frame = result.frame(with_missing=True)
        frame["missing"] = [m.split(", ") if m else [] for m in frame["missing"]]
        emit_json([_json_record(r) for r in frame.to_dict(orient="records")], output)
    else:
        emit_frame(result.frame(with_missing=fmt == "table"), fmt, output, title=title)
    for line in result.notes():
        note(line)


def _json_record(record: dict[str, Any]) -> dict[str, Any]:
    import math

    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in record.items()}


@health.command("calibrate")
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

    settings = _health_config(find_defs(None, None, None), config or parent.get("config"))
    as_of = as_of or parent.get("as_of")
    ds = load_data(data, bool(lenient or parent.get("lenient")), as_of, narrow=True)
    with status("Calibrating against outcomes"):
        result = calibrate(ds, config=settings, as_of=as_of)
    fmt = resolve_format(fmt, output, default_pipe="table")
    if fmt == "json":
        emit_json(result.as_json(), output)
        return
    if fmt == "csv":
        emit_frame(result.table(), fmt, output)
        return
    _calibration_report(result, output)


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


# -- tiers -----------------------------------------------------------------------


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
    emit_frame(run.frame, fmt, output, title=f"Tiers as of {run.as_of.isoformat()}")
    if capacity_out is not None:
        emit_text(capacity_csv(run.capacity), capacity_out)
    if fmt == "table" and output is None:
        emit_frame(run.capacity, "table", None, title="CSM capacity")
    else:
        _stderr_table(run.capacity, "CSM capacity")
    for line in run.notes:
        note(line)


# -- alerts ----------------------------------------------------------------------


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
    fmt = resolve_format(fmt, output)
    emit_frame(result.rows, fmt, output, title=f"Alerts as of {result.as_of.isoformat()}")
    for line in alert_notes(result):
        note(line)


# -- export ----------------------------------------------------------------------


@click.group()
def export() -> None:
    """Export account scores for other systems.

    \b
    Examples:
      pendo-segments export salesforce --data sample --out salesforce.csv
    """


@export.command("salesforce")
@defs_argument
@data_dir
@as_of
@click.option("--out", "out", type=FILE, required=True, help="Upsert CSV to write.")
@click.option(
    "--exceptions",
    "exceptions_out",
    type=FILE,
    default=None,
    help="Accounts that cannot be upserted, with the reason (default: OUT with .exceptions.csv).",
)
@click.option(
    "--crm-ids",
    "crm_ids",
    type=EXISTING,
    default=None,
    help="CSV of the record ids that exist in Salesforce (column Id or crm_id, "
    "else the first); accounts whose crm_id is not in it are exceptions.",
)
@click.option(
    "--key-header",
    default="crm_id",
    show_default=True,
    help="Header of the key column (e.g. Id for Data Loader's automatic mapping).",
)
def salesforce(
    defs: Path,
    data: str,
    lenient: bool,
    as_of: dt.date | None,
    out: Path,
    exceptions_out: Path | None,
    crm_ids: Path | None,
    key_header: str,
) -> None:
    """Write an upsert-ready Salesforce CSV keyed by crm_id, plus an exception report.

    Columns: crm_id, Pendo_Health_Score__c (0-100), Pendo_Last_Login__c
    (YYYY-MM-DD), Pendo_Feature_Adoption_Rate__c (% of key features used in
    30 days), Pendo_Session_Count_30d__c (visitor-days with activity in 30
    days), Pendo_NPS_Score__c (mean response 0-10 over 90 days),
    Pendo_At_Risk_Flag__c (true/false: the at_risk alert of DEFS/alerts.yaml,
    else score below 40). Accounts without a usable crm_id (blank, not a
    Salesforce id, shared by two accounts, or not in --crm-ids) go to the
    exception report (account_id,name,crm_id,problem) instead.

    \b
    Examples:
      pendo-segments export salesforce --data sample --out salesforce.csv
      pendo-segments export salesforce --data ./usage --out sf.csv --crm-ids sf_accounts.csv
    """
    from pendo_segments.export import export_for_salesforce, read_crm_ids

    known = read_crm_ids(crm_ids) if crm_ids else None
    ds = load_data(data, lenient, as_of, narrow=True)
    with status("Scoring accounts"):
        result = export_for_salesforce(
            ds, defs, as_of=as_of, known_ids=known, key_header=key_header
        )
    target = exceptions_out or out.with_name(f"{out.stem}.exceptions.csv")
    emit_frame(result.exceptions, "csv", target)
    emit_frame(result.rows, "csv", out)
    note(
        f"wrote {len(result.rows)} accounts to {out}; {len(result.exceptions)} without a CRM "
        f"match listed in {target}"
    )
