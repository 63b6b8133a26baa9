"""``alerts notify``: post each new alert to Slack, once; ``alerts`` itself is unchanged.

``alerts`` takes an optional DEFS argument, so a click group would read
``notify`` as a definitions folder: :class:`AlertsCommand` looks at the first
word instead — ``alerts notify …`` runs the sub-command, anything else the
``alerts`` command of :mod:`pendo_segments.cli.alerts_cmd` exactly as before.
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import click

from pendo_segments.base.words import plural
from pendo_segments.cli.alerts_cmd import alerts as plain_alerts
from pendo_segments.cli.common import load_data, status
from pendo_segments.cli.options import (
    alert_input_options,
    as_of,
    config_option,
    data_dir,
    defs_option,
    lock_wait_option,
    output_format,
    state_option,
)
from pendo_segments.cli.output import emit_json, emit_rows, resolve_format, warn

COLUMNS = ["account_id", "alert", "kind", "severity", "webhook", "result", "detail", "text"]


class AlertsCommand(click.Command):
    """``alerts [DEFS] …`` as before, plus the sub-commands named by the first word."""

    def __init__(self, plain: click.Command, subcommands: dict[str, click.Command]) -> None:
        shown = copy.copy(plain)
        lines = "\n".join(
            f"  alerts {n:<8} {c.get_short_help_str(60)}" for n, c in subcommands.items()
        )
        shown.epilog = f"\b\nSub-commands:\n{lines}"
        super().__init__(plain.name, help=plain.help, short_help=plain.short_help)
        self.plain = shown
        self.subcommands = subcommands

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        if args and args[0] in self.subcommands:
            name = args[0]
            group = click.Context(self, info_name=info_name, parent=parent)
            return self.subcommands[name].make_context(name, args[1:], parent=group, **extra)
        return self.plain.make_context(info_name, args, parent=parent, **extra)

    def get_help(self, ctx: click.Context) -> str:
        return self.plain.get_help(ctx)


@click.command("notify", short_help="Post each new alert to Slack once (dry run unless --send).")
@defs_option()
@data_dir
@as_of
@alert_input_options
@click.option(
    "--send",
    is_flag=True,
    help="Really post to Slack. Without it: a dry run that shows what would be posted.",
)
@click.option(
    "--release",
    "release",
    nargs=2,
    multiple=True,
    metavar="ACCOUNT_ID ALERT",
    help="Post an unconfirmed message of this account's alert again (with --send; "
    "repeatable). Only after checking the channel: it may be there already.",
)
@state_option("Notify state (SQLite). Default: [notify].state_file, else ./notify-state.sqlite.")
@config_option
@lock_wait_option(86400)
@output_format
def notify_cmd(
    defs: Path,
    data: str,
    lenient: bool,
    as_of: dt.date | None,
    rules_path: Path | None,
    policy: Path | None,
    overrides: Path | None,
    previous: Path | None,
    send: bool,
    release: tuple[tuple[str, str], ...],
    state: Path | None,
    config_file: Path | None,
    lock_wait: float,
    fmt: str | None,
    output: Path | None,
) -> None:
    """Post each new alert to Slack once; say when an account recovers.

    The webhook is PENDO_SEGMENTS_SLACK_WEBHOOK (or [notify] slack_webhook;
    [notify.csm_webhooks] gives a CSM their own, [notify.csm_locales] their
    language). A state file remembers what was posted: a re-run posts nothing,
    an alert that clears and fires again posts again, and a problem alert that
    clears posts "recovered" ([notify] recovered = false turns that off). A
    message whose run was killed between posting and recording is reported
    unconfirmed and not posted again; --release ACCOUNT_ID ALERT posts it again.
    Exit 1 unless every message was posted. Columns:
    account_id,alert,kind,severity,webhook,result,detail,text.

    \b
    Examples:
      pendo-segments alerts notify --data ./usage                 # dry run: what would be posted
      pendo-segments alerts notify --data ./usage --send
      pendo-segments alerts notify --data ./usage --send --release acc-042 at_risk
    """
    from pendo_segments.config import load_config
    from pendo_segments.notify import notify, notify_settings
    from pendo_segments.tiers.alerts import alert_inputs

    settings = notify_settings(load_config(config_file), state_file=state)
    inputs = alert_inputs(defs, rules=rules_path, policy=policy, overrides=overrides)
    ds = load_data(data, lenient, as_of, narrow=True)
    with status("Checking alerts" if not send else "Posting alerts"):
        report = notify(
            ds,
            inputs,
            settings,
            send=send,
            as_of=as_of,
            previous=previous,
            release=release,
            lock_wait=lock_wait,
        )
    fmt = resolve_format(fmt, output)
    records = [_record(o) for o in report.outcomes]
    if fmt == "json":
        emit_json(records, output)
    else:
        rows = [[r[c] for c in COLUMNS] for r in records]
        emit_rows(COLUMNS, rows, fmt, output, title=f"Slack messages as of {report.as_of}")
    for line in report.skipped:
        click.echo(f"Note: alert {line}", err=True)
    if send and not report.ok:
        from pendo_segments.errors import NotifyError

        raise NotifyError(_summary(report))
    click.echo(_summary(report), err=True)


def _record(outcome: Any) -> dict[str, Any]:
    m = outcome.message
    return {
        "account_id": m.account_id,
        "alert": m.alert,
        "kind": m.kind,
        "severity": m.severity,
        "webhook": m.webhook,
        "result": outcome.result,
        "detail": outcome.detail,
        "text": m.payload.get("text", ""),
        "payload": m.payload,
    }


def _summary(report: Any) -> str:
    n = len(report.outcomes)
    if not report.send:
        missing = report.count("no_webhook")
        if missing:
            warn(
                f"{plural(missing, 'message')} would have no webhook: set "
                "PENDO_SEGMENTS_SLACK_WEBHOOK (or [notify] slack_webhook)"
            )
        return f"Dry run: {plural(n, 'message')} to post; nothing was sent (add --send)."
    if n == 0:
        return "Nothing new to post."
    parts = [f"posted {report.count('posted')} of {n}"]
    for result in ("failed", "not_attempted", "no_webhook", "unconfirmed", "claimed_elsewhere"):
        k = report.count(result)
        if k:
            parts.append(f"{k} {result.replace('_', ' ')}")
    tail = ""
    if report.count("failed") or report.count("not_attempted"):
        tail = "; the next --send run posts what failed"
    if report.count("unconfirmed"):
        tail += "; unconfirmed messages are not posted again (--release ACCOUNT_ID ALERT)"
    return ", ".join(parts) + tail + "."


#: the command registered as ``alerts``
alerts = AlertsCommand(plain_alerts, {"notify": notify_cmd})
