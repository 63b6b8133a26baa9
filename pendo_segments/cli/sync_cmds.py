"""``pull`` and ``sync plan`` / ``sync apply``: live Pendo data in, segments and metadata out."""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from pendo_segments.base.words import are, plural
from pendo_segments.cli.common import load_data, load_defs, status
from pendo_segments.cli.options import (
    EngineChoice,
    as_of,
    data_dir,
    defs_argument,
    defs_option,
    engine_options,
    output_format,
)
from pendo_segments.cli.output import emit_json, emit_rows, resolve_format, warn

#: ``sync plan`` exit code when the plan has changes (0: none, 1: error).
EXIT_CHANGES = 3
PLAN_COLUMNS = ["type", "target", "action", "detail"]


def _pendo() -> tuple[Any, Any]:
    """(client, sync settings) from the environment and pendo-segments.toml.

    The sync settings carry [pendo] app_ids and timezone too."""
    from pendo_segments.config import load_config
    from pendo_segments.pendo.client import client_from_config
    from pendo_segments.sync import load_sync_settings

    config = load_config()
    client = client_from_config(config)
    config.pendo.require_timezone("sync")  # a live subscription's days are never assumed UTC
    return client, load_sync_settings(config)


@click.command()
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write (replaced as a whole; must hold only data files).",
)
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=90,
    show_default=True,
    help="Days of usage before the as-of day.",
)
@as_of
@click.option("--parquet", is_flag=True, help="Write Parquet files instead of CSV.")
@click.option(
    "--page-size",
    type=click.IntRange(min=1),
    default=50_000,
    show_default=True,
    help="Rows per Aggregation API call.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print how many requests the pull sends and how long they take at its pace; send nothing.",
)
def pull(
    out: Path, days: int, as_of: dt.date | None, parquet: bool, page_size: int, dry_run: bool
) -> None:
    """Pull usage data from Pendo into a data folder (docs/semantics.md §1 format).

    Accounts, visitors and features come from Pendo's records (first_visit and
    last_visit from Pendo's own visit dates); usage_daily and feature_usage from
    event pulls of at most 30 days per call over the apps in [pendo] app_ids
    (default every app). Days are the subscription's [pendo] timezone days; the
    as-of day defaults to today there and is never included. Needs
    PENDO_INTEGRATION_KEY.

    The pull paces itself, about one request a second ([pendo]
    pull_requests_per_second), and waits as long as Pendo's Retry-After says
    after a 429. Once it has read Pendo's feature list it says how many requests
    the rest takes and how long (--dry-run: the same count, nothing sent), and
    shows a progress bar on a terminal.

    Into a folder that already holds data, the pull keeps the attribute history
    (docs/semantics.md §2b): accounts_history / visitors_history get a row closed
    and one opened for every record whose fields changed since the last pull, so
    a daily pull lets past as-of days see the ARR, plan or CSM of that day. The
    folder is replaced as a whole only once everything is written.

    \b
    Examples:
      pendo-segments pull --out usage/ --dry-run     # requests and time, nothing sent
      pendo-segments pull --out usage/
      pendo-segments pull --out usage/ --days 30 --as-of 2026-11-01 --parquet
      pendo-segments evaluate --data usage/ --format csv
    """
    from pendo_segments.config import load_config
    from pendo_segments.data.loaders import write_dataset
    from pendo_segments.data.pendo_source import estimate_pull, load_from_pendo
    from pendo_segments.data.pull_history import keep_history, read_previous
    from pendo_segments.pendo.client import pull_client_from_config
    from pendo_segments.sync import load_sync_settings

    config = load_config()
    rate = config.pendo.pull_rate
    first = estimate_pull(days, rate=rate)
    if dry_run:
        click.echo(
            f"pull --dry-run: nothing sent. {days} days of usage in "
            f"{plural(first.windows, 'window')} of at most 30 days: {first.text()}, "
            f"counting one page per call (an answer of {page_size:,} rows takes another)."
        )
        return
    previous = read_previous(out)  # a folder that cannot be read fails before any request
    client = pull_client_from_config(config)
    config.pendo.require_timezone("pull")
    settings = load_sync_settings(config)
    with PullProgress(first) as bar:
        ds = load_from_pendo(
            f"pendo:days={days},page_size={page_size}",
            as_of=as_of,
            warn=bar.warn,
            client=client,
            progress=bar.message,
            app_ids=settings.app_ids,
            timezone=settings.timezone,
            sent=bar.sent,
            estimate=bar.estimate,
            rate=rate,
        )
    kept = keep_history(ds, previous, ds.default_as_of())
    write_dataset(ds, out, fmt="parquet" if parquet else "csv")
    sizes = ", ".join(f"{name} {len(frame)}" for name, frame in ds.tables().items())
    click.echo(f"Wrote {out} (as of {ds.default_as_of().isoformat()}): {sizes} rows")
    click.echo(kept.text())


class PullProgress:
    """The pull's estimate on stderr (once Pendo's feature list is read, and on a
    terminal also before the first request), and a rich bar of requests there while
    it runs (only on a terminal; ``console`` is injectable for tests)."""

    def __init__(self, first: Any, console: Any = None) -> None:
        from rich.console import Console

        self.console = console or Console(stderr=True)
        self.total = first.fixed  # what is known before Pendo's feature list is read
        self.done = 0
        self.bar: Any = None
        self.task: Any = None
        if self.console.is_terminal:  # in logs the full estimate below is enough
            self.say(f"pull: {first.text()}")

    def __enter__(self) -> PullProgress:
        if self.console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("requests"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task("pull", total=self.total)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def say(self, line: str) -> None:
        from rich.markup import escape

        self.console.print(escape(line), highlight=False, soft_wrap=True)

    def warn(self, message: str) -> None:
        """A warning above the bar while it is drawn (else the usual stderr line)."""
        if self.bar is None:
            warn(message)
        else:
            self.say(f"Warning: {message}")

    def message(self, text: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, description=f"pull: {text}")

    def sent(self) -> None:
        self.done += 1
        self.total = max(self.total, self.done)  # a page more than counted
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done, total=self.total)

    def estimate(self, estimate: Any) -> None:
        self.total = max(estimate.requests, self.done)
        self.say(f"pull: {estimate.text()}")
        if self.bar is not None:
            self.bar.update(self.task, total=self.total)


@click.group()
def sync() -> None:
    """Plan / apply segments and account metadata to Pendo (like terraform plan/apply).

    Every managed segment (name prefix "[ps] " by default, see [sync] in
    pendo-segments.toml) is a visitor list computed locally; others are left
    alone. A rule segment built by hand under a managed name is compared with
    the compiled recipe, never written.

    \b
    Exit codes of `sync plan`: 0 no changes, 3 changes pending, 1 error or a
    segment a person must fix in Pendo (duplicate name, blocked, rule drift).
    Exit codes of `sync apply`: 0 applied (or nothing to do), 1 error, stale
    plan or partial failure (run the same command again to finish).

    \b
    Examples:
      pendo-segments sync plan --data pendo: --out plan.json
      pendo-segments sync apply --plan plan.json
    """


@sync.command("plan")
@defs_argument
@data_dir
@as_of
@click.option(
    "--segment",
    "-s",
    "segments",
    multiple=True,
    metavar="NAME",
    help="Only these segments and those they reference (repeatable). Default: all.",
)
@click.option("--no-segments", is_flag=True, help="Plan account metadata only.")
@click.option("--no-metadata", is_flag=True, help="Plan segments only.")
@click.option(
    "--out",
    "plan_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save the full plan here for `sync apply --plan`.",
)
@engine_options
@output_format
@click.pass_context
def plan_cmd(
    ctx: click.Context,
    defs: Path,
    data: str,
    lenient: bool,
    as_of: dt.date | None,
    segments: tuple[str, ...],
    no_segments: bool,
    no_metadata: bool,
    plan_file: Path | None,
    engine: EngineChoice,
    fmt: str | None,
    output: Path | None,
) -> None:
    """Show what `sync apply` would change in Pendo; change nothing.

    Lists to create / update (+N / -M visitors, sent as a PATCH diff or a
    whole-list PUT, whichever is smaller) / delete (emptied) / unchanged,
    drift of hand-built rule segments, account metadata updates with counts
    and a sample. Exit code 3 when changes are pending (0: none); 1 when a
    managed name is duplicated in Pendo or a row is blocked or drifted.

    \b
    Examples:
      pendo-segments sync plan --data pendo:
      pendo-segments sync plan segment_defs --data usage/ --out plan.json
      pendo-segments sync plan --data pendo: --format json --output plan-review.json
      pendo-segments sync plan --data sample -s at_risk --no-metadata
      pendo-segments sync plan segment_defs --data big/ --engine duckdb --out plan.json
    """
    from pendo_segments.sync import save_plan

    client, settings = _pendo()
    plan = _make_plan(
        client,
        settings,
        defs,
        data,
        lenient,
        as_of,
        segments,
        not no_segments,
        not no_metadata,
        engine=engine,
    )
    if plan_file is not None:
        save_plan(plan, plan_file)
    _show_plan(plan, fmt, output)
    if plan_file is not None:
        click.echo(
            f"Saved the plan to {plan_file}; apply it with: "
            f"pendo-segments sync apply --plan {plan_file}",
            err=True,
        )
    problems = plan.problems
    if problems:
        from pendo_segments.errors import SyncError

        names = ", ".join(f"'{s.pendo_name}' ({s.action})" for s in problems[:5])
        raise SyncError(
            f"{plural(len(problems), 'segment')} {'needs' if len(problems) == 1 else 'need'} a person in Pendo before sync can manage them: "
            f"{names}{' …' if len(problems) > 5 else ''}; see the plan above"
        )
    if plan.has_changes:
        ctx.exit(EXIT_CHANGES)


@sync.command("apply")
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A plan saved by `sync plan --out` (recommended: review first).",
)
@defs_option("Definitions, when planning here (no --plan).", exists=False)
@click.option(
    "--data",
    "data",
    metavar="DIR",
    help="Usage data when planning here (no --plan): folder, sample or pendo:.",
)
@as_of
@click.option("--yes", "-y", is_flag=True, help="Without --plan: apply without asking.")
@click.option(
    "--audit-log",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Audit log (JSON lines). Default: [sync] audit_log.",
)
@click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(["table", "json"]),
    default=None,
    help="Report format. Default: table.",
)
def apply_cmd(
    plan_file: Path | None,
    defs: Path,
    data: str | None,
    as_of: dt.date | None,
    yes: bool,
    audit_log: Path | None,
    fmt: str | None,
) -> None:
    """Apply a reviewed plan exactly; refuse it when Pendo changed since.

    Every step is written to the audit log. If a step fails, what was and
    was not applied is listed; running the same command again finishes the
    job without doing anything twice.

    \b
    Examples:
      pendo-segments sync apply --plan plan.json
      pendo-segments sync apply --plan plan.json --audit-log logs/sync.jsonl
      pendo-segments sync apply --data pendo: --yes      # plan and apply in one go
    """
    from pendo_segments.errors import SyncError
    from pendo_segments.sync import AuditLog, apply_plan, load_plan

    client, settings = _pendo()
    if plan_file is not None:
        plan = load_plan(plan_file)
    else:
        if not data:
            raise click.UsageError("pass --plan FILE, or --data to plan and apply in one go")
        plan = _make_plan(client, settings, defs, data, False, as_of, (), True, True)
        _show_plan(plan, "table", None)
        if not plan.has_changes:
            click.echo("No changes.")
            return
        if not yes:
            click.confirm("Apply these changes?", abort=True, err=True)
    with _progress_bar() as advance:
        result = apply_plan(
            plan,
            client,
            settings,
            audit=AuditLog(audit_log or settings.audit_log),
            progress=advance,
        )
    if fmt == "json":
        emit_json(result.to_dict(), None)
    else:
        _show_result(result)
    if result.missing:
        shown = ", ".join(result.missing[:10]) + (" …" if len(result.missing) > 10 else "")
        warn(
            f"{plural(len(result.missing), 'account')} {are(len(result.missing))} not in Pendo, so their metadata was not set "
            f"(Pendo reported them missing; all are in the audit log): {shown}"
        )
    if not result.ok:
        raise SyncError(
            f"apply stopped: {plural(len(result.applied), 'step')} applied, "
            f"{len(result.failed)} failed, {len(result.not_attempted)} not attempted; "
            "run the same command again to finish (nothing is applied twice)"
        )


# -- helpers -------------------------------------------------------------------------
def _make_plan(
    client: Any,
    settings: Any,
    defs: Path,
    data: str,
    lenient: bool,
    as_of: dt.date | None,
    segments: tuple[str, ...],
    with_segments: bool,
    with_metadata: bool,
    engine: EngineChoice | None = None,
) -> Any:
    from pendo_segments.sync import make_plan
    from pendo_segments.sync.guides import local_guide_segments

    definitions = load_defs(defs)
    with contextlib.ExitStack() as stack:
        if engine is None:  # sync apply without a saved plan: the pandas load
            ds, opened = load_data(data, lenient, as_of), None
        else:  # DuckDB / Spark keep the usage where it is (members, health, tiers)
            opened = stack.enter_context(engine.open(data, lenient=lenient, as_of=as_of))
            ds = opened.in_memory
        with status("Comparing with Pendo") as update:
            return make_plan(
                definitions,
                ds,
                client,
                settings,
                names=list(segments),
                as_of=as_of,
                data_label=data,
                segments=with_segments,
                metadata=with_metadata,
                defs_path=defs,
                local_guides=local_guide_segments(),
                progress=update,
                engine=opened,
            )


def plan_rows(plan: Any) -> list[tuple[str, str, str, str]]:
    """``type,target,action,detail``: one row per segment and per account update."""
    rows = [("segment", s.pendo_name, s.action, s.detail()) for s in plan.segments]
    meta = plan.metadata or {}
    target = f"{meta.get('kind', 'account')}/{meta.get('group', '')}"
    for u in plan.metadata_updates:
        detail = ", ".join(
            f"{k}: {_show(u['before'].get(k))} -> {_show(v)}" for k, v in u["values"].items()
        )
        rows.append(("metadata", f"{target} {u['accountId']}", "update", detail))
    return rows


def _show(value: Any) -> str:
    return "(none)" if value is None else str(value)


def _show_plan(plan: Any, fmt: str | None, output: Path | None) -> None:

    fmt = resolve_format(fmt, output)
    for line in plan.warnings:
        warn(line)
    if fmt == "json":
        emit_json(plan.summary(), output)
        return
    if fmt == "csv":
        emit_rows(PLAN_COLUMNS, plan_rows(plan), fmt, output)
        return
    rows: list[tuple[Any, ...]] = [
        ("segment", s.pendo_name, s.action, s.detail()) for s in plan.segments
    ]
    meta = plan.metadata
    if meta is not None:
        fields = ", ".join(f"{k} {n}" for k, n in meta["changed_per_field"].items() if n)
        sample = "; ".join(
            f"{u['accountId']}: "
            + ", ".join(
                f"{k}: {_show(u['before'].get(k))} -> {_show(v)}" for k, v in u["values"].items()
            )
            for u in meta["sample"]
        )
        if plan.metadata_updates:
            detail = (
                f"{plural(len(plan.metadata_updates), 'account')} to update ({fields}), "
                f"{meta['unchanged']} unchanged" + (f"; e.g. {sample}" if sample else "")
            )
        else:
            detail = f"all {plural(meta['unchanged'], 'account')} unchanged"
        rows.append(
            (
                "metadata",
                f"{meta['kind']}/{meta['group']}",
                "update" if plan.metadata_updates else "unchanged",
                detail,
            )
        )
    counts = plan.counts()
    title = (
        f"Sync plan {plan.plan_id} for {plan.base_url} as of {plan.as_of}: "
        f"{counts['create']} to create, {counts['update']} to update, "
        f"{counts['delete']} to delete, {counts['unchanged']} unchanged, "
        f"{counts['blocked'] + counts['drift']} needing a person, "
        f"{plural(counts['metadata_updates'], 'metadata update')}; "
        f"{plural(counts['unmanaged'], 'unmanaged segment')} left alone"
    )
    text = _table_text(rows, title)
    notes = "".join(f"Note: {n}\n" for n in plan.notes)
    verdict = (
        "No changes.\n"
        if not plan.has_changes
        else f"{plural(plan.change_count, 'change')} pending.\n"
    )
    from pendo_segments.cli.output import emit_text

    emit_text(text + notes + verdict, output)


def _table_text(rows: list[tuple[Any, ...]], title: str) -> str:
    import io

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(title), title_justify="left")
    for column in PLAN_COLUMNS:
        table.add_column(column, overflow="fold")
    for row in rows:  # Text(): "[ps] x" is a name, not rich markup
        table.add_row(*(Text(cell) for cell in row))
    import shutil

    width = shutil.get_terminal_size((160, 24)).columns if sys.stdout.isatty() else 160
    console = Console(file=io.StringIO(), width=width, color_system=None, highlight=False)
    console.print(table)
    return console.file.getvalue()  # type: ignore[attr-defined]


def _show_result(result: Any) -> None:
    sections = [
        ("Applied", result.applied),
        ("Already applied", result.already),
        ("Failed", result.failed),
        ("Not attempted", result.not_attempted),
    ]
    for title, items in sections:
        if items:
            click.echo(f"{title}:")
            for item in items:
                click.echo(f"  {item}")
    if result.missing:
        click.echo(
            f"Accounts Pendo reported missing ({len(result.missing)}): " + ", ".join(result.missing)
        )
    if result.ok and not result.applied:
        click.echo("Nothing to do: Pendo already matches the plan.")
    elif result.ok:
        click.echo(f"Done: plan {result.plan_id} applied.")


@contextlib.contextmanager
def _progress_bar() -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress bar on stderr when it is a terminal; silent otherwise."""
    if not sys.stderr.isatty():
        yield lambda _label, _done, _total: None
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as bar:
        task = bar.add_task("Applying", total=None)

        def advance(label: str, done: int, total: int) -> None:
            bar.update(task, description=escape(label), completed=done, total=total)

        yield advance
