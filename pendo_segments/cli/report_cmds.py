"""``backtest`` and ``report``: segments over past as-of days, and the CS manager's dashboard."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

from pendo_segments.cli.common import load_data, load_defs, status
from pendo_segments.cli.options import (
    AS_OF,
    EngineChoice,
    as_of,
    data_dir,
    defs_argument,
    engine_options,
    force_option,
    output_format,
)
from pendo_segments.cli.output import emit_frame, emit_text, resolve_format, warn

MAX_DAYS = 1000  # pendo_segments.backtest.run.MAX_DAYS (not imported: --help stays light)


@click.command()
@defs_argument
@data_dir
@click.option("--from", "start", type=AS_OF, required=True, help="First as-of day.")
@click.option("--to", "end", type=AS_OF, required=True, help="Last as-of day (included).")
@click.option(
    "--every",
    type=click.IntRange(min=1),
    default=7,
    show_default=True,
    help="Days between as-of days.",
)
@click.option(
    "--max-days",
    type=click.IntRange(min=1),
    default=MAX_DAYS,
    show_default=True,
    help="Refuse more as-of days than this (each holds a value per account and segment).",
)
@click.option(
    "--segment", "-s", "segments", multiple=True, metavar="NAME", help="Only these segments."
)
@click.option(
    "--horizon",
    type=click.IntRange(min=1),
    default=90,
    show_default=True,
    help="A churn counts when it falls within this many days after an as-of day.",
)
@click.option(
    "--scores",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write as_of,account_id,health_score for every as-of day to FILE (csv).",
)
@click.option(
    "--rates",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the catch rates (needs outcomes.csv) to FILE in --format (csv when table).",
)
@click.option(
    "--save",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also keep, in folder DIR, what `report --backtest DIR` needs (per-account "
    "flags, scores and usage sums), so the report does not read the usage again.",
)
@force_option
@engine_options
@output_format
def backtest(
    defs: Path,
    data: str,
    lenient: bool,
    start: dt.date,
    end: dt.date,
    every: int,
    max_days: int,
    segments: tuple[str, ...],
    horizon: int,
    scores: Path | None,
    rates: Path | None,
    save: Path | None,
    force: bool,
    engine: EngineChoice,
    fmt: str | None,
    output: Path | None,
) -> None:
    """Segment sizes, health and alerts at every as-of day from --from to --to.

    The data is read once and every as-of day is evaluated from one index of
    it (pandas), or by DuckDB / Spark over the files, which keep the usage
    (only per-account results come back; same output). CSV columns are exactly as_of,segment,members, sorted by as_of then
    segment. With outcomes.csv in the data folder, a second table says for
    each account segment and alert how many churners it flagged before they
    churned: precision, recall, lift over the base rate and the median lead
    time (days from the first flag to the churn). On a terminal both tables
    are printed; with --format csv/json the rates go to --rates FILE.

    \b
    Examples:
      pendo-segments backtest --data sample --from 2026-09-06 --to 2026-11-01
      pendo-segments backtest --data ./usage --from 2026-01-05 --to 2026-06-29 --every 7 \\
          --format csv --output sizes.csv --rates rates.csv --scores scores.csv
      pendo-segments backtest --data ./big --from 2026-08-09 --to 2026-11-01 \\
          --engine duckdb --memory-limit 1GB --format csv -o sizes.csv
      pendo-segments backtest --data ./usage --from 2026-08-09 --to 2026-11-01 --save bt
      pendo-segments report --data ./usage --backtest bt --out report
    """
    from pendo_segments.backtest import as_of_days, catch_frame, catch_rates, churn_days
    from pendo_segments.backtest.catch import horizon_note

    days = as_of_days(start, end, every, max_days=max_days)
    inputs = _inputs(defs, data)
    with engine.open(data, lenient=lenient) as eng:
        if save is not None:
            from pendo_segments.atomic import check_output_folder
            from pendo_segments.backtest.saved import SAVE_COMMAND

            if segments:
                raise click.UsageError("--save keeps every segment (the report needs them all)")
            check_output_folder(  # before the work
                save, force=force, option="--save", command=SAVE_COMMAND, inputs=inputs
            )
        definitions = load_defs(defs)
        if eng.name == "pandas":
            result, ds = _backtest_pandas(
                definitions, defs, data, eng, days, list(segments), save, force, inputs
            )
        else:
            result, ds = _backtest_sql(
                definitions,
                defs,
                data,
                eng,
                days,
                list(segments),
                save,
                force,
                inputs,
                scores=scores is not None,
            )
    fmt = resolve_format(fmt, output)
    emit_frame(result.counts_frame(), fmt, output, title="Segment members per as-of day")
    if scores is not None:
        emit_frame(result.scores_frame(), "csv", scores)
    for line in result.skipped:
        warn(f"alert {line}")
    if getattr(ds, "outcomes", None) is None:
        if rates is not None:
            churn_days(ds, result.account_ids)  # raises the "no outcomes.csv" error
        return
    frame = catch_frame(catch_rates(result, churn_days(ds, result.account_ids), horizon))
    if rates is not None:
        emit_frame(frame, "csv" if fmt == "table" else fmt, rates)
    elif fmt == "table" and output is None:
        emit_frame(frame, "table", None, title=f"Catch rates ({horizon_note(days, horizon)})")
    else:
        warn("outcomes.csv found: add --rates FILE to write the catch rates")


def _backtest_pandas(
    definitions: Any,
    defs: Path,
    data: str,
    eng: Any,
    days: list[dt.date],
    names: list[str],
    save: Path | None,
    force: bool,
    inputs: dict[str, Path],
) -> tuple[Any, Any]:
    """The data set loaded and its usage indexed once, every day read off the index."""
    from pendo_segments.backtest import UsageHistory, run_backtest
    from pendo_segments.backtest.history import window_warning
    from pendo_segments.data.history import NO_HISTORY_NOTE, has_history

    with status(f"Loading data from {data}"):
        ds = eng.in_memory  # the usage tables in the evaluator's narrow form
    note = window_warning(ds, days[0])
    if note:
        warn(note)
    if not has_history(ds):
        warn(NO_HISTORY_NOTE)
    with status(f"Backtesting {len(days)} as-of days") as update:
        history = UsageHistory(ds)
        result = run_backtest(
            definitions,
            ds,
            days,
            defs_path=defs,
            names=names,
            progress=update,
            history=history,
            keep_last=save is not None,
        )
        if save is not None:
            update("saving")
            _save(save, result, history, ds, definitions, defs, force, inputs)
        del history
    return result, ds


def _backtest_sql(
    definitions: Any,
    defs: Path,
    data: str,
    eng: Any,
    days: list[dt.date],
    names: list[str],
    save: Path | None = None,
    force: bool = False,
    inputs: dict[str, Path] | None = None,
    *,
    scores: bool = False,
) -> tuple[Any, Any]:
    """DuckDB / Spark keep the usage; each day's per-account answers come back (with
    ``save``: and the report's usage sums, from engine queries). Only what the output
    reads is held per day and account: flags for the catch rates (outcomes), health
    scores for ``--scores``, everything for ``--save``."""
    from types import SimpleNamespace

    from pendo_segments.backtest.sql import (
        KEEP_ALL,
        SqlDays,
        has_history_files,
        run_backtest_sql,
        window_warning_sql,
    )
    from pendo_segments.data.history import NO_HISTORY_NOTE

    definitions.select(names)  # an unknown --segment fails before the data is read
    what = {"duckdb": "DuckDB", "spark": "Spark"}.get(eng.name, eng.name)
    with status(f"Reading {data} with {what}"):
        sql_days = SqlDays(eng)
        note = window_warning_sql(sql_days, days[0])
    if note:
        warn(note)
    if not has_history_files(data):
        warn(NO_HISTORY_NOTE)
    with status(f"Backtesting {len(days)} as-of days on {what}") as update:
        result = run_backtest_sql(
            definitions,
            eng,
            days,
            defs_path=defs,
            names=names,
            progress=update,
            keep_last=save is not None,
            keep=KEEP_ALL
            if save is not None
            else [
                k for k, on in (("flags", sql_days.shape.has("outcomes")), ("scores", scores)) if on
            ],
        )
        # what the catch rates read: the outcomes, and the source their message names
        ds = SimpleNamespace(outcomes=sql_days.outcomes(), source=eng.data)
        if save is not None:
            from pendo_segments.backtest.usage_sql import engine_rollups

            update("saving")
            rollups = engine_rollups(eng, result.days[-1], _saved_weeks(result.days))
            _write_saved(save, result, rollups, ds, definitions, defs, force, inputs or {})
    return result, ds


def _save(
    folder: Path,
    result: Any,
    history: Any,
    ds: Any,
    definitions: Any,
    defs: Path,
    force: bool,
    inputs: dict[str, Path],
) -> None:
    """Keep the backtest and the usage sums at its last day for ``report --backtest``
    (minutes in app for the weeks the days span: 12 to the report's 104)."""
    from pendo_segments.backtest.usage import usage_rollups

    rollups = usage_rollups(ds, history, result.days[-1], _saved_weeks(result.days))
    _write_saved(folder, result, rollups, ds, definitions, defs, force, inputs)


def _saved_weeks(days: list[dt.date]) -> int:
    """Weeks of minutes in app a saved backtest keeps: the weeks its days span, 12 to 104."""
    from pendo_segments.backtest.saved import MAX_WEEKS

    return min(MAX_WEEKS, max(12, (days[-1] - days[0]).days // 7))


def _write_saved(
    folder: Path,
    result: Any,
    rollups: Any,
    ds: Any,
    definitions: Any,
    defs: Path,
    force: bool,
    inputs: dict[str, Path],
) -> None:
    from pendo_segments.backtest.saved import save_backtest

    save_backtest(
        folder, result, rollups, ds, defs=definitions, defs_path=defs, force=force, inputs=inputs
    )


def _inputs(defs: Path, data: str, saved: Path | None = None) -> dict[str, Path]:
    """The files and folders a command reads, which its output folder may not be, hold or
    sit inside (live Pendo data has none)."""
    out = {"DEFS": defs}
    if data == "sample":
        from pendo_segments.data import bundled_sample_path

        out["--data"] = bundled_sample_path()
    elif not data.startswith("pendo:"):
        out["--data"] = Path(data)
    if saved is not None:
        out["--backtest"] = saved
    return out


@click.command()
@defs_argument
@data_dir
@as_of
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write (new, empty, or an earlier report's folder).",
)
@force_option
@click.option(
    "--segment", "segment", metavar="NAME", default=None, help="Only this segment's book."
)
@click.option("--csm", "csm", metavar="NAME", default=None, help="Only this CSM's accounts.")
@click.option(
    "--previous",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="An earlier report's accounts.csv (or a health / tiers csv): movers since then.",
)
@click.option(
    "--locale", type=click.Choice(["en", "ja"]), default="en", show_default=True, help="Language."
)
@click.option(
    "--weeks",
    type=click.IntRange(min=1, max=104),
    default=12,
    show_default=True,
    help="Weeks of history for trends and the backtest.",
)
@click.option(
    "--risk-tag",
    default="risk",
    show_default=True,
    metavar="TAG",
    help="The backtest table lists the account segments tagged TAG in their definition "
    "(tags: [risk]) and the high and medium severity alerts.",
)
@click.option(
    "--backtest",
    "saved",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="A folder written by `backtest --save`: its days, segments, scores and usage "
    "sums are used and the usage files are not read (the as-of day is its last day).",
)
@click.option(
    "--account",
    "accounts",
    multiple=True,
    metavar="ID",
    help="Write this account's QBR pack instead of the dashboard (repeatable): its last "
    "90 days on one printable page.",
)
@click.option(
    "--within",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    help="Write the QBR packs of the accounts whose qbr_date or renewal_date is 0 to N "
    "days after the as-of day (with --csm / --segment: of that book).",
)
@engine_options
def report(
    defs: Path,
    data: str,
    lenient: bool,
    as_of: dt.date | None,
    out: Path,
    segment: str | None,
    csm: str | None,
    previous: Path | None,
    locale: str,
    weeks: int,
    risk_tag: str,
    saved: Path | None,
    force: bool,
    accounts: tuple[str, ...],
    within: int | None,
    engine: EngineChoice,
) -> None:
    """Write the CS manager's dashboard: one self-contained HTML page and a page per P1 account.

    KPIs, health by tier, tier mix and CSM capacity, movers since --previous,
    alerts and their signals, segment sizes over time, time in app, key
    feature usage and time to first use, NPS, Pendo's Product Engagement
    Score and the backtest of the at-risk rules. Charts are inline SVG with a
    data table under each; the page loads nothing from the network.
    accounts.csv (every account: health, tier; the next run's --previous) and
    alerts.csv (every alert) are written beside it; the page lists at most
    500 alerts (most severe first) and 500 P1 accounts (highest ARR first).

    With --account ID (repeatable) or --within N it writes QBR packs instead:
    per account, key feature adoption and active users per week, top features,
    NPS per month, the health score per week and the open alerts over the 90
    days before the as-of day, one printable page each, and an index.html.

    \b
    Examples:
      pendo-segments report --data sample --out report
      pendo-segments report --data sample --out qbr --account acc-00028 --locale ja
      pendo-segments report --data ./usage --out qbr --within 10 --csm "Emma Schmidt"
      pendo-segments report --data ./usage --out book-emma --csm "Emma Schmidt" --locale ja
      pendo-segments report --data ./usage --out report --previous last-month/accounts.csv
      pendo-segments backtest --data ./usage --from 2026-08-09 --to 2026-11-01 --save bt
      pendo-segments report --data ./usage --backtest bt --out report --csm "Emma Schmidt"
      pendo-segments report --data ./big --engine duckdb --memory-limit 1GB --out report
    """
    from pendo_segments.atomic import check_output_folder
    from pendo_segments.report import ReportOptions, build_report
    from pendo_segments.report.build import REPORT_COMMAND

    if (accounts or within is not None) and engine.name in ("duckdb", "spark"):
        raise click.UsageError(
            "--account / --within: QBR packs are read on pandas (--engine pandas)"
        )
    if accounts or within is not None:
        _qbr_packs(defs, data, lenient, as_of, out, force, accounts, within, segment, csm, locale)
        return
    inputs = _inputs(defs, data, saved)
    check_output_folder(out, force=force, command=REPORT_COMMAND, inputs=inputs)  # before reading
    definitions = load_defs(defs)
    kept = None
    if saved is not None and _given("weeks"):
        raise click.UsageError("--weeks: the saved backtest's days set the weeks shown")
    notes: list[str] = []
    if saved is not None:
        ds, kept = _saved(saved, data, lenient, as_of, definitions, defs)
    else:
        ds, kept, notes = _from_engine(engine, data, lenient, as_of, definitions, defs, weeks)
    options = ReportOptions(
        as_of=as_of,
        segment=segment,
        csm=csm,
        previous=previous,
        locale=locale,
        weeks=weeks,
        risk_tag=risk_tag,
    )
    with status("Building the report") as update:
        written = build_report(
            definitions,
            ds,
            out,
            defs_path=defs,
            options=options,
            progress=update,
            force=force,
            saved=kept,
            inputs=inputs,
        )
    emit_text(f"{written.index}\n", None)
    for note in written.notes + notes:
        warn(note)


def _from_engine(
    engine: EngineChoice,
    data: str,
    lenient: bool,
    as_of: dt.date | None,
    definitions: Any,
    defs: Path,
    weeks: int,
) -> tuple[Any, Any, list[str]]:
    """pandas: the data set (narrow usage), indexed by the report itself. DuckDB / Spark:
    the weekly backtest and usage sums computed by the engine, as a saved backtest is
    read, and the small tables; plus the note on the backtest's days."""
    from pendo_segments.backtest.sql import report_backtest
    from pendo_segments.sources import open_accounts

    with engine.open(data, lenient=lenient, as_of=as_of) as eng:
        if eng.in_memory is not None:
            with status(f"Loading data from {data}"):
                return eng.in_memory, None, []
        day = as_of or eng.default_as_of()
        eng.warn_as_of(definitions, as_of)
        with status("Backtesting and summing the usage") as update:
            kept, notes = report_backtest(
                definitions, eng, day, weeks, defs_path=defs, progress=update
            )
    return open_accounts(data, lenient=lenient, warn=warn), kept, notes


#: report options the QBR packs have no use for (parameter → option)
_DASHBOARD_ONLY = {
    "saved": "--backtest",
    "previous": "--previous",
    "weeks": "--weeks",
    "risk_tag": "--risk-tag",
}


def _qbr_packs(
    defs: Path,
    data: str,
    lenient: bool,
    as_of: dt.date | None,
    out: Path,
    force: bool,
    accounts: tuple[str, ...],
    within: int | None,
    segment: str | None,
    csm: str | None,
    locale: str,
) -> None:
    """``report --account`` / ``--within``: the QBR packs (pendo_segments.report.qbr)."""
    from pendo_segments.atomic import check_output_folder
    from pendo_segments.report.qbr import QBR_COMMAND, QbrOptions, build_qbr

    if accounts and within is not None:
        raise click.UsageError("--account and --within: give one (the accounts, or a window)")
    for option, flag in _DASHBOARD_ONLY.items():
        if _given(option):
            raise click.UsageError(f"{flag}: not used by the QBR packs (--account / --within)")
    if accounts and (segment or csm):
        raise click.UsageError("--csm / --segment choose the accounts of --within, not --account")
    inputs = _inputs(defs, data)
    check_output_folder(out, force=force, command=QBR_COMMAND, inputs=inputs)  # before reading
    definitions = load_defs(defs)
    ds = load_data(data, lenient, as_of, narrow=True)
    options = QbrOptions(
        accounts=accounts, within=within, as_of=as_of, segment=segment, csm=csm, locale=locale
    )
    with status("Building the QBR packs") as update:
        written = build_qbr(
            definitions,
            ds,
            out,
            defs_path=defs,
            options=options,
            progress=update,
            force=force,
            inputs=inputs,
        )
    if not written.pages:
        end = written.as_of + dt.timedelta(days=within or 0)
        warn(
            f"no account has a qbr_date or renewal_date from {written.as_of.isoformat()} to "
            f"{end.isoformat()} (--within {within}); nothing written"
        )
        return
    emit_text("".join(f"{page}\n" for page in written.pages), None)
    for note in written.notes:
        warn(note)


def _given(option: str) -> bool:
    source = click.get_current_context().get_parameter_source(option)
    return source is not None and source != click.core.ParameterSource.DEFAULT


def _saved(
    folder: Path, data: str, lenient: bool, as_of: dt.date | None, definitions: Any, defs: Path
) -> tuple[Any, Any]:
    """The accounts of ``data`` and the backtest saved for them in ``folder``."""
    from pendo_segments.backtest.saved import load_backtest
    from pendo_segments.sources import open_accounts

    with status(f"Reading the saved backtest in {folder}"):
        ds = open_accounts(data, lenient=lenient, warn=warn)
        kept = load_backtest(folder, ds, defs=definitions, defs_path=defs)
    if as_of is not None and as_of != kept.as_of:
        raise click.UsageError(
            f"--as-of {as_of.isoformat()}: the saved backtest ends on "
            f"{kept.as_of.isoformat()} (its last day is the report's as-of day)"
        )
    return ds, kept
