"""``campaign no-login run | status``: the scheduled no-login re-engagement campaign."""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from pendo_segments.base.words import plural
from pendo_segments.cli.options import (
    EngineChoice,
    as_of,
    config_option,
    data_dir,
    engine_options,
    lock_wait_option,
    output_format,
    state_option,
    writable,
)
from pendo_segments.cli.output import emit_json, emit_records, emit_rows, resolve_format, warn

F = TypeVar("F", bound=Callable[..., Any])


def state_options(f: F) -> F:
    f = state_option(
        "Campaign state (SQLite). Default: [campaign].state_file, else ./campaign-state.sqlite."
    )(f)
    return config_option(f)


def _settings(config_file: Path | None, state: Path | None) -> tuple[Any, Any]:
    from pendo_segments.campaign.settings import no_login_settings
    from pendo_segments.config import load_config

    config = load_config(config_file)
    return config, no_login_settings(config, state_file=state)


@click.group("campaign")
def campaign() -> None:
    """Scheduled campaigns run from cron, a systemd timer or CI.

    \b
    Examples:
      pendo-segments campaign no-login run --data sample
      pendo-segments campaign no-login run --data pendo: --send
      pendo-segments campaign no-login status
    """


@campaign.group("no-login")
def no_login() -> None:
    """Email visitors with no login in 30 days once per lapse; enrol them in "welcome back".

    \b
    Examples:
      pendo-segments campaign no-login run --data ./usage            # dry run
      pendo-segments campaign no-login run --data ./usage --send
      pendo-segments campaign no-login status
    """


@no_login.command("run")
@data_dir
@as_of
@click.option(
    "--send/--dry-run",
    default=False,
    help="Really send the emails and update Pendo. --dry-run (the default): change nothing.",
)
@click.option(
    "--show-skipped",
    is_flag=True,
    help="Also list every visitor in the segment who is not emailed, with the reason.",
)
@click.option(
    "--csm-alerts",
    "csm_alerts_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    callback=writable,
    metavar="FILE",
    help="Write the CSM alerts (lapsed visitors of an excluded tier, one row per account; "
    "the columns of `alerts` first) to FILE: JSON if it ends in .json, else CSV.",
)
@lock_wait_option()
@state_options
@engine_options
@output_format
def run(
    data: str,
    lenient: bool,
    as_of: dt.date | None,
    send: bool,
    show_skipped: bool,
    lock_wait: float,
    csm_alerts_file: Path | None,
    config_file: Path | None,
    state: Path | None,
    engine: EngineChoice,
    fmt: str | None,
    output: Path | None,
) -> None:
    """Find lapsed visitors and email them (dry run unless --send).

    Eligible: in no_login_30d (window from config), tenure, not an excluded
    account or tier, not lapsed longer than max_days_lapsed, not opted out, not
    contacted for this lapse nor within the cooldown. By default P1 is excluded
    (its lapsed visitors become p1_lapsed_visitors alerts for their CSM, listed
    on a terminal and written by --csm-alerts) and so is anyone gone over 365
    days; [campaign.no_login] exclude_tiers and max_days_lapsed change that. A send run emails each once through the outbox (a crash never
    causes a duplicate), updates the welcome-back segment in Pendo (or writes
    the upload file without a key) and exits 1 when anything failed; failures
    are retried by the next run. SMTP settings: PENDO_SEGMENTS_SMTP_* variables.

    \b
    Examples:
      pendo-segments campaign no-login run --data sample --as-of 2026-11-01
      pendo-segments campaign no-login run --data pendo: --send --state /var/lib/ps/state.sqlite
      pendo-segments campaign no-login run --data ./usage --show-skipped --format csv
      pendo-segments campaign no-login run --data ./usage --csm-alerts csm-alerts.csv
      pendo-segments campaign no-login run --data ./big --engine duckdb
    """
    from pendo_segments.campaign.csm_alerts import CSM_ALERT_COLUMNS, policy
    from pendo_segments.campaign.run import REPORT_COLUMNS, run_no_login

    config, settings = _settings(config_file, state)
    smtp = enroller = None
    if send:
        from pendo_segments.campaign.enrol import enroller_from_config
        from pendo_segments.campaign.smtp import smtp_settings
        from pendo_segments.campaign.state import StateLock

        smtp = smtp_settings(config)
        enroller = enroller_from_config(config, settings)
        StateLock(settings.state_file).check()  # a bad --state fails before the data is read
    with engine.open(data, lenient=lenient, as_of=as_of) as opened, _progress_bar() as progress:
        report = run_no_login(
            None,
            settings,
            as_of=as_of,
            send=send,
            smtp=smtp,
            enroller=enroller,
            progress=progress,
            lock_wait=lock_wait,
            engine=opened,
        )
    rows = [r for r in report.rows if show_skipped or r["action"] != "skip"]
    fmt = resolve_format(fmt, output)
    if fmt == "table":  # the segment is in the title; keep the columns a terminal can show
        title = (
            f"{'Would contact' if not send else 'Contacted'} from {report.segment} "
            f"as of {report.as_of}"
        )
        columns = [
            c
            for c in REPORT_COLUMNS
            if c not in ("account_id", "segment") and (send or c != "result")
        ]
        if rows:
            emit_records(rows, columns, fmt, output, title=title)
        if report.csm_alerts:
            emit_records(
                report.csm_alerts,
                ["account_id", "csm_owner", "tier", "health_score", "visitors", "signals"],
                "table",
                None,
                title="For CSMs: lapsed visitors not emailed because of their tier",
            )
    else:
        emit_records(rows, REPORT_COLUMNS, fmt, output)
    if csm_alerts_file is not None:
        alerts_format = "json" if csm_alerts_file.suffix.lower() == ".json" else "csv"
        emit_records(report.csm_alerts, CSM_ALERT_COLUMNS, alerts_format, csm_alerts_file)
    click.echo(report.summary(), err=True)
    click.echo(policy(settings, report.csm_alerts), err=True)
    if csm_alerts_file is not None:
        click.echo(
            f"wrote {plural(len(report.csm_alerts), 'CSM alert')} to {csm_alerts_file}", err=True
        )
    if report.enrolment:
        click.echo(report.enrolment, err=True)
    if not send:
        click.echo("Nothing was sent (dry run); add --send to send.", err=True)
    for note in report.notes:
        warn(note)
    if report.problems:
        from pendo_segments.errors import CampaignError

        raise CampaignError("\n".join(report.problems))


@no_login.command("status")
@click.option(
    "--limit",
    type=click.IntRange(1),
    default=10,
    show_default=True,
    help="How many recent runs to list.",
)
@state_options
@output_format
def status(
    limit: int, config_file: Path | None, state: Path | None, fmt: str | None, output: Path | None
) -> None:
    """Recent runs, contacted / returned (logged in within 14 days), and the open outbox.

    csv prints the runs; json prints everything.

    \b
    Examples:
      pendo-segments campaign no-login status
      pendo-segments campaign no-login status --state /var/lib/ps/state.sqlite --format json
    """
    from pendo_segments.campaign.status import (
        ATTENTION_COLUMNS,
        RUN_COLUMNS,
        TERMINAL_RUN_COLUMNS,
        campaign_status,
    )

    _, settings = _settings(config_file, state)
    report = campaign_status(settings, limit=limit)
    fmt = resolve_format(fmt, output)
    if fmt == "json":
        emit_json(report.to_dict(), output)
        return
    if fmt == "csv":
        emit_records(report.runs, RUN_COLUMNS, fmt, output)
        return
    s = report.summary
    rate = "n/a" if s["return_rate"] is None else f"{s['return_rate']:.1%}"
    summary = [
        ("contacted", s["contacted"]),
        ("  unconfirmed (not re-sent)", s["unconfirmed"]),
        (f"returned within {s['return_window_days']} days", s["returned"]),
        ("  still in their return window", s["undecided"]),
        ("return rate", rate),
        ("enrolled in welcome-back", s["enrolled"]),
    ] + [(f"outbox {name}", n) for name, n in s["outbox"].items() if n]
    emit_rows(
        ["", "value"], summary, "table", None, title=f"No-login campaign ({report.state_file})"
    )
    emit_records(
        [{**run, "started_at": _minute(run.get("started_at"))} for run in report.runs],
        TERMINAL_RUN_COLUMNS,
        "table",
        None,
        title="Recent runs (started_at in UTC; --format csv or json for every column)",
    )
    if report.attention:
        emit_records(
            report.attention,
            ATTENTION_COLUMNS,
            "table",
            None,
            title="Open outbox (pending, failed, unconfirmed, given up)",
        )
    if output is not None:
        warn("--output is only used with --format csv or json")


def _minute(stamp: object) -> object:
    """``2026-11-02T06:00:01+00:00`` → ``2026-11-02 06:00``: a run's start, in a narrow column."""
    if not isinstance(stamp, str) or len(stamp) < 16:
        return stamp
    return stamp[:10] + " " + stamp[11:16]


@contextlib.contextmanager
def _progress_bar() -> Iterator[Callable[[str, int, int], None] | None]:
    """A rich progress bar on stderr for a terminal; nothing in pipes, cron and CI logs."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        tasks: dict[str, Any] = {}

        def update(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(escape(label), total=total)
            bar.update(tasks[label], completed=done, total=total)

        yield update
