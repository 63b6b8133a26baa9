"""``salesforce plan`` / ``apply`` / ``check``: Account fields and alert Tasks in Salesforce."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

from pendo_segments.base.words import plural
from pendo_segments.cli.common import load_data, status
from pendo_segments.cli.options import as_of, data_dir, defs_argument, output_format
from pendo_segments.cli.output import (
    emit_checks,
    emit_json,
    emit_rows,
    emit_text,
    resolve_format,
    warn,
)

#: ``salesforce plan`` exit code when the plan has changes (0: none, 1: error), as ``sync plan``.
EXIT_CHANGES = 3
PLAN_COLUMNS = ["type", "target", "action", "detail"]


def _settings() -> Any:
    from pendo_segments.config import load_config
    from pendo_segments.salesforce import load_salesforce_settings

    return load_salesforce_settings(load_config())


@click.group()
def salesforce() -> None:
    """Write health, tier and usage fields to Salesforce Accounts; a Task per new high alert.

    Accounts are matched by accounts.csv crm_id (the Account Id). Log in with
    SALESFORCE_SESSION_ID + SALESFORCE_INSTANCE_URL, or SALESFORCE_USERNAME,
    SALESFORCE_PASSWORD and SALESFORCE_SECURITY_TOKEN (or [salesforce] in
    pendo-segments.toml); field names, CSM owners and the rest are under
    [salesforce]. Needs the [salesforce] extra (simple-salesforce).

    \b
    Exit codes of `salesforce plan`: 0 no changes, 3 changes pending, 1 error.
    `salesforce apply`: 0 applied, 1 error, stale plan or a row Salesforce refused.
    `salesforce check`: 0 when apply can run, 1 otherwise.

    \b
    Examples:
      pendo-segments salesforce check
      pendo-segments salesforce plan --data usage/ --out sf-plan.json
      pendo-segments salesforce apply --plan sf-plan.json
    """


@salesforce.command("plan")
@defs_argument
@data_dir
@as_of
@click.option(
    "--out",
    "plan_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save the plan here for `salesforce apply --plan`.",
)
@output_format
@click.pass_context
def plan_cmd(
    ctx: click.Context,
    defs: Path,
    data: str,
    lenient: bool,
    as_of: dt.date | None,
    plan_file: Path | None,
    fmt: str | None,
    output: Path | None,
) -> None:
    """Show what `salesforce apply` would change in Salesforce; change nothing.

    Reads the current Account values (SOQL) and lists only the fields that
    differ, with their current and new values; the Tasks new high-severity
    alerts call for (owner from [salesforce.owners]); alerts that cleared; and
    accounts that are skipped (no usable crm_id, or not in Salesforce). More
    than [salesforce] bulk_threshold rows are written with Bulk API 2.0,
    fewer with sObject Collections. Exit code 3 when changes are pending.

    \b
    Examples:
      pendo-segments salesforce plan --data usage/
      pendo-segments salesforce plan segment_defs --data usage/ --out sf-plan.json
      pendo-segments salesforce plan --data usage/ --format json --output sf-review.json
    """
    from pendo_segments.salesforce.org import connect
    from pendo_segments.salesforce.plan import make_plan, save_plan
    from pendo_segments.salesforce.values import desired_values

    settings = _settings()
    settings.credentials()  # a missing login fails before the data is read
    ds = load_data(data, lenient, as_of, narrow=True)
    with status("Scoring accounts"):
        desired = desired_values(ds, defs, keys=list(settings.fields), as_of=as_of)
    org = connect(settings)
    with status("Reading Salesforce"):
        plan = make_plan(org, desired, settings, data_label=data)
    if plan_file is not None:
        save_plan(plan, plan_file)
    for line in plan.warnings:
        warn(line)
    _show_plan(plan, fmt, output)
    if plan_file is not None:
        click.echo(
            f"Saved the plan to {plan_file}; apply it with: "
            f"pendo-segments salesforce apply --plan {plan_file}",
            err=True,
        )
    if plan.has_changes:
        ctx.exit(EXIT_CHANGES)


@salesforce.command("apply")
@click.option(
    "--plan",
    "plan_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A plan saved by `salesforce plan --out`.",
)
@click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(["table", "json"]),
    default=None,
    help="Report format. Default: table.",
)
def apply_cmd(plan_file: Path, fmt: str | None) -> None:
    """Apply a reviewed plan exactly; refuse it when the Accounts changed since.

    Each Account row must still hold the values the plan read (or already
    the new ones, after an interrupted run); otherwise nothing is written.
    Every row Salesforce refuses is listed with its error, and the exit code
    is 1. Each Task is created once: a re-run, or a run after a crash, finds
    what was created instead of creating it again (state: [salesforce]
    state_file).

    \b
    Examples:
      pendo-segments salesforce apply --plan sf-plan.json
      pendo-segments salesforce apply --plan sf-plan.json --format json
    """
    from pendo_segments.salesforce.apply import apply_plan
    from pendo_segments.salesforce.errors import SalesforceError
    from pendo_segments.salesforce.org import connect
    from pendo_segments.salesforce.plan import load_plan

    settings = _settings()
    plan = load_plan(plan_file)
    org = connect(settings)
    with status("Writing to Salesforce"):
        result = apply_plan(plan, org, settings)
    if fmt == "json":
        emit_json(result.to_dict(), None)
    else:
        _show_result(result, plan)
    if not result.ok:
        raise SalesforceError(
            f"apply finished with {plural(len(result.failed), 'Account')} and "
            f"{plural(len(result.tasks_failed), 'Task')} failed (listed above); fix them and "
            "run the same command again (nothing is written twice)"
        )


@salesforce.command("check")
@output_format
@click.pass_context
def check_cmd(ctx: click.Context, fmt: str | None, output: Path | None) -> None:
    """Read-only probe: can `salesforce apply` run against the configured org?

    One line per finding: the login works; each Account field of
    [salesforce.fields] exists, is editable and has a type that holds its
    value (it says what to create); Tasks can be created; the CSM owners are
    active users; the task state file can be written. Writes nothing. Exit 0
    when apply can run, 1 otherwise.

    \b
    Examples:
      pendo-segments salesforce check
      pendo-segments salesforce check --format json
    """
    from pendo_segments.salesforce.check import run_checks

    if not emit_checks(run_checks(_settings()), fmt, output):
        ctx.exit(1)


# -- output ------------------------------------------------------------------------------
def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "(empty)" if value is None or value == "" else str(value)


def plan_rows(plan: Any) -> list[tuple[str, str, str, str]]:
    rows = [
        (
            "account",
            f"{u.account_id} {u.record_id}",
            "update",
            ", ".join(f"{k}: {_show(u.before.get(k))} -> {_show(v)}" for k, v in u.values.items()),
        )
        for u in plan.updates
    ]
    for t in plan.tasks:
        due = f"; due {t.due}" if t.due else ""
        action = "create" if not t.resume else "create (resume)"
        rows.append(
            ("task", f"{t.account_id} {t.alert}", action, f"{t.subject}; owner {t.owner_id}{due}")
        )
    for c in plan.cleared:
        rows.append(
            (
                "alert",
                f"{c['account_id']} {c['alert']}",
                "cleared",
                "no longer fires: if it fires again it gets a new Task",
            )
        )
    for s in plan.skipped:
        rows.append(
            ("account", f"{s['account_id']} {s['crm_id']}".strip(), "skipped", s["problem"])
        )
    return rows


def _show_plan(plan: Any, fmt: str | None, output: Path | None) -> None:
    fmt = resolve_format(fmt, output)
    if fmt == "json":
        emit_json(plan.summary(), output)
        return
    if fmt == "csv":
        emit_rows(PLAN_COLUMNS, plan_rows(plan), fmt, output)
        return
    title = (
        f"Salesforce plan {plan.plan_id} for {plan.instance_url} as of {plan.as_of}: "
        f"{plural(len(plan.updates), 'Account')} to update ({plan.write_label()}), "
        f"{plan.unchanged} unchanged, {plural(len(plan.tasks), 'Task')} to create, "
        f"{plural(len(plan.cleared), 'alert')} cleared, {len(plan.skipped)} skipped"
    )
    verdict = (
        f"{plural(plan.change_count, 'change')} pending.\n" if plan.has_changes else "No changes.\n"
    )
    rows = plan_rows(plan)
    if rows:
        emit_rows(PLAN_COLUMNS, rows, "table", output, title=title)
        click.echo(verdict, nl=False)
    else:
        emit_text(f"{title}\n{verdict}", output)


def _show_result(result: Any, plan: Any) -> None:
    click.echo(
        f"Accounts: {len(result.updated)} updated ({plan.write_label()}), "
        f"{len(result.already)} already up to date, {len(result.failed)} failed"
    )
    for f in result.failed:
        click.echo(f"  failed: {f['account_id']} {f['record_id']}: {f['error']}")
    click.echo(
        f"Tasks: {len(result.tasks_created)} created, {len(result.tasks_found)} found from an "
        f"earlier run, {len(result.tasks_already)} already created, "
        f"{len(result.tasks_failed)} failed; {plural(result.cleared, 'cleared alert')} closed"
    )
    for t in result.tasks_created:
        click.echo(f"  created: {t['account_id']} {t['alert']}: Task {t['task_id']}")
    for t in result.tasks_found:
        click.echo(f"  found: {t['account_id']} {t['alert']}: Task {t['task_id']}")
    for t in result.tasks_failed:
        click.echo(f"  failed: {t['account_id']} {t['alert']}: {t['error']}")
    if result.ok:
        click.echo(f"Done: plan {result.plan_id} applied.")
