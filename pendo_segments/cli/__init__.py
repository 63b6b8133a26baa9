"""The ``pendo-segments`` command line: thin click commands over the library.

Sub-commands are imported lazily so ``pendo-segments --help`` starts fast
(pandas is never imported for help). Each command module parses options,
calls one library function and formats its result.
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import importlib
import importlib.util
import logging
import os
import sys
from typing import Any

import click

from pendo_segments import __version__

# name -> (module, attribute, short help). Short help lives here so that the
# top-level --help does not import every command module.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "validate": (
        "pendo_segments.cli.definitions_cmds",
        "validate",
        "Check segment definitions; report every error as FILE:LINE.",
    ),
    "compile": (
        "pendo_segments.cli.definitions_cmds",
        "compile_cmd",
        "Compile segments to Pendo rules, Aggregation pipelines or SQL.",
    ),
    "schema": (
        "pendo_segments.cli.definitions_cmds",
        "schema",
        "Write the JSON Schema of a segment definition file.",
    ),
    "sample": (
        "pendo_segments.cli.data_cmds",
        "sample",
        "Generate a deterministic sample usage data set.",
    ),
    "evaluate": (
        "pendo_segments.cli.evaluate_cmds",
        "evaluate",
        "List the members of each segment on usage data.",
    ),
    "explain": (
        "pendo_segments.cli.evaluate_cmds",
        "explain",
        "Show why one subject is or is not in a segment.",
    ),
    "health": (
        "pendo_segments.cli.health_cmd",
        "health",
        "Account health score and its components.",
    ),
    "tiers": (
        "pendo_segments.cli.tiers_cmd",
        "tiers",
        "Assign every account to P1 / P2 / P3 / Neighborhood.",
    ),
    "alerts": (
        "pendo_segments.cli.notify_cmds",
        "alerts",
        "Playbook alerts: at-risk, escalation, upsell, renewal risk; post new ones to Slack.",
    ),
    "export": (
        "pendo_segments.cli.export_cmd",
        "export",
        "Export account scores for other systems (Salesforce).",
    ),
    "guides": (
        "pendo_segments.cli.guides_cmds",
        "guides",
        "Render, preview and lint guide copy per segment and locale.",
    ),
    "pull": (
        "pendo_segments.cli.sync_cmds",
        "pull",
        "Pull usage data from Pendo into a data folder.",
    ),
    "sync": (
        "pendo_segments.cli.sync_cmds",
        "sync",
        "Plan / apply segments and account metadata to Pendo.",
    ),
    "pendo": (
        "pendo_segments.cli.pendo_cmds",
        "pendo",
        "Check a Pendo subscription; run a local fake Pendo.",
    ),
    "campaign": (
        "pendo_segments.cli.campaign_cmds",
        "campaign",
        "Scheduled campaigns (no-login re-engagement).",
    ),
    "salesforce": (
        "pendo_segments.cli.salesforce_cmds",
        "salesforce",
        "Plan / apply Account fields and alert Tasks in Salesforce; check the org.",
    ),
    "backtest": (
        "pendo_segments.cli.report_cmds",
        "backtest",
        "Segment sizes, health and alerts over past as-of days; catch rates.",
    ),
    "report": (
        "pendo_segments.cli.report_cmds",
        "report",
        "Write the CS manager's HTML dashboard (self-contained, offline).",
    ),
    "demo": (
        "pendo_segments.cli.demo_cmd",
        "demo",
        "Run the whole flow on the bundled sample data.",
    ),
}


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if self._available(name)]

    @staticmethod
    def _available(name: str) -> bool:
        module = COMMANDS[name][0]
        return importlib.util.find_spec(module) is not None

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not self._available(cmd_name):
            return None
        module, attr, _ = COMMANDS[cmd_name]
        return getattr(importlib.import_module(module), attr)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """Suggest the closest command for a typo (``evalute``): click only suggests
        from ``self.commands``, which is empty for lazily imported commands."""
        name = args[0] if args else ""
        unknown = name and not name.startswith("-") and self.get_command(ctx, name) is None
        if unknown and not ctx.resilient_parsing:
            close = difflib.get_close_matches(name, self.list_commands(ctx), n=1)
            if close:
                ctx.fail(f"No such command '{name}'. Did you mean '{close[0]}'?")
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


#: OS errors that are the environment's, not a bug: one line and exit 1 (a full disk …).
_ENVIRONMENT_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}
)


class ErrorBoundary(LazyGroup):
    """The one place that turns library errors into ``Error: …`` and exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        from pendo_segments.errors import PendoSegmentsError

        try:
            return super().invoke(ctx)
        except PendoSegmentsError as err:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            lines = str(err).splitlines() or [type(err).__name__]
            for line in lines:
                click.echo(f"Error: {line}", err=True)
            ctx.exit(getattr(err, "exit_code", 1))
        except OSError as err:
            if err.errno not in _ENVIRONMENT_ERRNOS or (ctx.obj and ctx.obj.get("debug")):
                raise
            _report_os_error(err)
            ctx.exit(1)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Run, then flush stdout here: a full disk or a closed pipe on stdout is found
        at the last flush, which must not become a traceback at interpreter exit."""
        try:
            result = super().main(*args, **kwargs)
        except SystemExit:
            _flush_stdout()
            raise
        _flush_stdout()
        return result


def _report_os_error(err: OSError) -> None:
    where = f"{err.filename}: " if err.filename else "cannot write output: "
    try:
        sys.stdout.flush()
    except OSError:
        _silence_stdout()  # stdout is what failed: its buffer must not be flushed again
    with contextlib.suppress(OSError):
        click.echo(f"Error: {where}{err.strerror or err}", err=True)


def _flush_stdout() -> None:
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()  # the reader went away (`| head`): stop quietly
        raise SystemExit(1) from None
    except OSError as err:
        if err.errno not in _ENVIRONMENT_ERRNOS:
            raise
        _report_os_error(OSError(err.errno, err.strerror, "standard output"))
        raise SystemExit(1) from None


def _silence_stdout() -> None:
    """Point fd 1 at /dev/null so Python's exit-time flush of stdout cannot fail again."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):
        return  # not a real file (tests)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


class _WarningLine(logging.Handler):
    """Library warnings (``logging``) as ``Warning: …`` lines on stderr, like the CLI's own."""

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(OSError):
            click.echo(f"Warning: {record.getMessage()}", err=True)


def _show_library_warnings() -> None:
    logger = logging.getLogger("pendo_segments")
    if not any(isinstance(h, _WarningLine) for h in logger.handlers):
        logger.addHandler(_WarningLine(logging.WARNING))


@click.group(cls=ErrorBoundary, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pendo-segments")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Customer segments as code for Pendo.

    \b
    Examples:
      pendo-segments demo
      pendo-segments validate segment_defs
      pendo-segments compile segment_defs --target pendo --format json
      pendo-segments evaluate segment_defs --data DIR --format csv
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    _show_library_warnings()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
