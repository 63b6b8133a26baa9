"""Build the CS manager's report: numbers from the library, charts as SVG, HTML via jinja2.

Every number comes from a library call (health, tiers, alerts, evaluate,
backtest) or from :mod:`pendo_segments.backtest.usage`; this module only puts
them on a page. Templates autoescape everything; the SVG charts escape their
own text (:mod:`pendo_segments.report.svg`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pendo_segments.base.spreadsheet import spreadsheet_safe
from pendo_segments.data.history import NO_HISTORY_NOTE, has_history
from pendo_segments.report import svg
from pendo_segments.report.charts import dashboard_charts
from pendo_segments.report.i18n import Words

if TYPE_CHECKING:
    from pendo_segments.backtest.saved import SavedBacktest
    from pendo_segments.data.dataset import Dataset

PROBLEM_SEVERITIES = ("high", "medium")
#: rows of the index's alert and P1 tables; the rest are in alerts.csv / accounts.csv
#: (51,847 alerts at 1M visitors made a 24 MB page nobody reads to the end)
INDEX_ROWS = 500
#: the command named in the report folder's marker (see pendo_segments.atomic)
REPORT_COMMAND = "report"
#: the usage roll-ups the dashboard charts and the page show
DASHBOARD_USAGE = ("weekly", "features", "first_use", "nps", "pes")


@dataclass
class ReportOptions:
    as_of: dt.date | None = None
    segment: str | None = None
    csm: str | None = None
    previous: Path | None = None
    locale: str = "en"
    weeks: int = 12
    horizon: int = 90
    #: the tag of the segments the backtest table lists (see backtest.catch.risk_rules)
    risk_tag: str = "risk"


@dataclass
class WrittenReport:
    folder: Path
    index: Path
    pages: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: headline numbers (for the demo and tests)
    kpis: dict[str, Any] = field(default_factory=dict)
    catch: list[dict[str, Any]] = field(default_factory=list)


def backtest_days(ds: Dataset, as_of: dt.date, weeks: int) -> list[dt.date]:
    """Weekly as-of days ending at ``as_of``, none whose 30-day window starts before the data."""
    from pendo_segments.backtest.history import first_full_day

    full = first_full_day(ds) or as_of
    days = [as_of - dt.timedelta(days=7 * k) for k in range(weeks + 1)]
    kept = [d for d in days if d >= full] or [as_of]
    return sorted(kept)


def page_name(account_id: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]", "_", account_id)[:80] or "account"
    name, n = f"{base}.html", 1
    while name.lower() in taken:
        n += 1
        name = f"{base}-{n}.html"
    taken.add(name.lower())
    return name


def build_report(
    defs: Any,
    ds: Dataset,
    out: Path,
    *,
    defs_path: Path | None = None,
    options: ReportOptions | None = None,
    progress: Callable[[str], None] = lambda _m: None,
    force: bool = False,
    saved: SavedBacktest | None = None,
    inputs: Mapping[str, str | Path] | None = None,
) -> WrittenReport:
    """Write ``out/index.html``, ``out/accounts/<id>.html`` per P1 account and ``out/accounts.csv``.

    ``out`` is handled by :func:`~pendo_segments.atomic.output_folder`: a folder
    of someone else's files is refused unless ``force``, a folder another
    command wrote (a saved backtest) always, and only the report's own files
    are ever replaced or removed. ``inputs`` (option → path: the data folder,
    the definitions) and the saved backtest's folder may not be, hold or
    contain ``out``.
    """
    from pendo_segments.atomic import check_output_folder, output_folder
    from pendo_segments.report.pages import render_pages

    options = options or ReportOptions()
    inputs = dict(inputs or {})
    if saved is not None and saved.folder is not None:
        inputs.setdefault("--backtest", saved.folder)
    check_output_folder(out, force=force, command=REPORT_COMMAND, inputs=inputs)  # before the work
    page = collect(defs, ds, defs_path=defs_path, options=options, progress=progress, saved=saved)
    progress("writing the pages")
    with output_folder(out, force=force, command=REPORT_COMMAND, inputs=inputs) as tmp:
        render_pages(page, tmp)
    return WrittenReport(
        folder=out,
        index=out / "index.html",
        pages=[f"accounts/{a['page']}" for a in page["p1"]],
        notes=page["notes"],
        kpis=page["kpi_values"],
        catch=page["catch"],
    )


# -- numbers ----------------------------------------------------------------------------------
@dataclass
class _Book:
    """The accounts of the report, aligned: ids, names, ARR and tier per account."""

    accounts: pd.DataFrame
    ids: list[str]
    names: list[str]
    arr: np.ndarray
    tier: np.ndarray
    tier_names: list[str]


def collect(
    defs: Any,
    ds: Dataset,
    *,
    defs_path: Path | None,
    options: ReportOptions,
    progress: Callable[[str], None],
    saved: SavedBacktest | None = None,
) -> dict[str, Any]:
    """Everything the pages show, as plain data (the tests read this too).

    ``saved``: a backtest written by ``backtest --save`` for the accounts of
    ``ds`` (which then needs no usage): its days, masks, scores and usage sums
    replace indexing the usage and running the backtest.
    """
    from pendo_segments.shipped import shipped_path

    w = Words(options.locale)
    defs_path = defs_path or shipped_path("segment_defs")
    notes: list[str] = []
    if not has_history(ds):
        notes.append(NO_HISTORY_NOTE)
    bt, rollups, days, as_of, ds = _backtest(defs, ds, defs_path, options, notes, progress, saved)
    assert bt.last is not None and bt.last.as_of == as_of
    view = _view(defs, ds, defs_path, bt, as_of, progress)
    book = _book(ds, view)
    previous_health, mover_list = _movers(options, book, view.health)
    progress("raising alerts")
    rules = _alert_rules(defs_path, view)
    alert_rows = _alerts(ds, defs, rules, view, as_of, previous_health, bt.last.masks)
    said = _names(w, defs, rules)
    alert_records = _records(alert_rows)
    catch = _catch(ds, defs, options, rules, bt, said)
    progress("usage, NPS and PES")
    usage = _usage(defs, bt, rollups)
    parts = _Parts(as_of, days, bt, view, book, said, alert_rows, alert_records, catch, usage)
    return _page(w, options, ds, notes, parts, mover_list)


@dataclass
class _Parts:
    """What :func:`collect` found, handed to :func:`_page` to lay out."""

    as_of: dt.date
    days: list[dt.date]
    bt: Any
    view: Any
    book: _Book
    said: Any
    alert_rows: pd.DataFrame
    alert_records: list[dict[str, Any]]
    catch: list[dict[str, Any]]
    usage: dict[str, Any]


def _page(
    w: Words,
    options: ReportOptions,
    ds: Dataset,
    notes: list[str],
    f: _Parts,
    mover_list: Any,
) -> dict[str, Any]:
    """The plain data of the pages: the charts, the P1 drill-downs and every table."""
    made = _charts(w, f)
    kpi_values = _kpis(f.book, f.view.health, f.alert_records, f.usage)
    p1, alerts = _drill_downs(f.book, f.view, f.bt, f.said, f.alert_records, made, f.as_of)
    tiers = f.view.tiers
    return {
        "w": w,
        "lang": w.locale,
        "as_of": f.as_of,
        "book": _book_label(w, options),
        "source": ds.source or "data",
        "kpi_values": kpi_values,
        "tiers": f.book.tier_names,
        "hist": made["hist"],
        "mix": made["mix"],
        "capacity": tiers.capacity().to_dict("records") if tiers is not None else [],
        "movers": mover_list,
        **_tables(alerts, f.alert_rows, f.book, f.view.health),
        "segment_days": f.bt.days,
        "segment_rows": made["segment_rows"],
        **{k: f.usage[k] for k in DASHBOARD_USAGE},
        **_backtest_part(ds, options, notes, f.catch, f.usage["newcomers"], f.days),
        "p1": p1,
        "p1_shown": sorted(p1, key=lambda a: (-a["arr"], a["id"]))[:INDEX_ROWS],
        "day_labels": made["day_labels"],
        "trend_days": [w.date(d) for d in f.bt.days],
        "charts": made["charts"],
        "notes": notes,
    }


def _charts(w: Words, f: _Parts) -> dict[str, Any]:
    svg.restart_ids()
    return dashboard_charts(
        w,
        score=f.view.health.score,
        tier=f.book.tier,
        tier_names=f.book.tier_names,
        arr=f.book.arr,
        bt=f.bt,
        segment_name=f.said.segment,
        **{k: f.usage[k] for k in DASHBOARD_USAGE},
    )


def _backtest(
    defs: Any,
    ds: Dataset,
    defs_path: Path,
    options: ReportOptions,
    notes: list[str],
    progress: Callable[[str], None],
    saved: SavedBacktest | None,
) -> tuple[Any, Any, list[dt.date], dt.date, Dataset]:
    """The backtest, its usage sums, days, as-of day and the book's data: from the
    saved folder when given, else from the usage."""
    from pendo_segments.report.book import book_accounts, restrict

    if saved is None:
        return _from_usage(defs, ds, defs_path, options, notes, progress)
    keep = book_accounts(
        ds, defs, saved.as_of, segment=options.segment, csm=options.csm, saved=saved.backtest
    )
    if keep is not None:
        progress("restricting to the book")
        ds, saved = restrict(ds, keep), saved.restrict(keep)
    return saved.backtest, saved.rollups, saved.backtest.days, saved.as_of, ds


def _view(
    defs: Any,
    ds: Dataset,
    defs_path: Path,
    bt: Any,
    as_of: dt.date,
    progress: Callable[[str], None],
) -> Any:
    """Health and tiers at the as-of day: the backtest's last day, reused."""
    from pendo_segments.tiers.view import account_view

    progress("tiers")
    return account_view(
        ds,
        defs_path,
        defs=defs,
        as_of=as_of,
        metrics=bt.last.metrics,
        health=bt.last.health,
        masks=bt.last.masks,
    )


def _book(ds: Dataset, view: Any) -> _Book:
    accounts = ds.accounts.reset_index(drop=True)
    ids = [str(a) for a in accounts["account_id"]]
    names = accounts["name"].fillna("").astype(str).tolist() if "name" in accounts.columns else ids
    arr = pd.to_numeric(accounts["arr"], errors="coerce").fillna(0).to_numpy(dtype=float)
    tier = (
        np.asarray(view.tiers.tier, dtype=object)
        if view.tiers is not None
        else np.full(len(ids), "—", dtype=object)
    )
    tier_names = view.policy.names if view.policy else ["—"]
    return _Book(accounts, ids, names, arr, tier, tier_names)


def _movers(options: ReportOptions, book: _Book, health: Any) -> tuple[Any, Any]:
    """(previous health for the alerts, tier movers) from ``--previous``, else (None, None)."""
    if options.previous is None:
        return None, None
    from pendo_segments.report.movers import movers, read_previous

    prev_frame = read_previous(options.previous)
    previous_health = None
    if "health_score" in prev_frame.columns:
        from pendo_segments.health.csvfile import read_previous_health

        previous_health = read_previous_health(options.previous, health.account_ids)
    now = pd.DataFrame(
        {
            "account_id": book.ids,
            "name": book.names,
            "tier": book.tier,
            "health_score": _r1(health.score),
        }
    )
    return previous_health, movers(now, prev_frame, book.tier_names)


def _names(w: Words, defs: Any, rules: Any) -> Any:
    from pendo_segments.report.definitions import Names

    return Names(w, defs, rules)


def _catch(
    ds: Dataset, defs: Any, options: ReportOptions, rules: Any, bt: Any, said: Any
) -> list[dict[str, Any]]:
    """The backtest's catch rates of the risk segments (only with outcomes)."""
    from pendo_segments.backtest import catch_rates, churn_days
    from pendo_segments.backtest.catch import risk_rules

    if getattr(ds, "outcomes", None) is None:
        return []
    risky = risk_rules(defs, options.risk_tag, rules)
    rates = catch_rates(bt, churn_days(ds, bt.account_ids), options.horizon, risky)
    return [{**r.row(), "shown": _rule_name(r, said)} for r in rates]


def _usage(defs: Any, bt: Any, rollups: Any) -> dict[str, Any]:
    """The usage roll-ups the dashboard shows, and the new users' segment."""
    from pendo_segments.report.definitions import new_users

    newcomers = new_users(defs)
    first_use = rollups.time_to_first_use(newcomers.days)
    if newcomers.segment in bt.counts:
        newcomers = dataclasses.replace(newcomers, members=bt.counts[newcomers.segment][-1])
    return {
        "visitors": int(rollups.visitors.sum()),
        "pes": rollups.pes(),
        "weekly": rollups.weekly(),
        "features": rollups.key_feature_usage(),
        "first_use": first_use,
        "newcomers": newcomers,
        "nps": rollups.nps(),
    }


def _kpis(
    book: _Book, health: Any, alert_records: list[dict[str, Any]], usage: dict[str, Any]
) -> dict[str, Any]:
    at_risk_ids = {
        str(r["account_id"]) for r in alert_records if r["severity"] in PROBLEM_SEVERITIES
    }
    at_risk_mask = np.array([a in at_risk_ids for a in book.ids], dtype=bool)
    score = health.score
    watched = health.subject_mask()  # accounts that exist at the as-of day (§2b)
    return {
        "accounts": int(watched.sum()),
        "visitors": usage["visitors"],
        "arr": float(book.arr[watched].sum()),
        "arr_at_risk": float(book.arr[at_risk_mask].sum()),
        "avg_health": float(np.nanmean(score)) if np.isfinite(score).any() else math.nan,
        "pes": usage["pes"].score,
    }


def _book_label(w: Words, options: ReportOptions) -> str:
    if options.csm and options.segment:
        return f"{w('book_csm', name=options.csm)} · {w('book_segment', name=options.segment)}"
    if options.csm:
        return w("book_csm", name=options.csm)
    if options.segment:
        return w("book_segment", name=options.segment)
    return w("book_all")


def _drill_downs(
    book: _Book,
    view: Any,
    bt: Any,
    said: Any,
    alert_records: list[dict[str, Any]],
    made: dict[str, Any],
    as_of: dt.date,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The P1 accounts' pages (each with its page name) and the alerts as shown."""
    health, w = view.health, said.w
    p1_name = book.tier_names[0] if view.policy else None
    alert_records = said.alert_rows(alert_records)  # as shown: title_ja, Japanese signals
    alerts_of: dict[str, list[dict[str, Any]]] = {}
    for r in alert_records:
        alerts_of.setdefault(str(r["account_id"]), []).append(r)
    # members of each visitor segment per account (the backtest's last day)
    visitor_counts = {n: c[-1, : len(book.ids)] for n, c in bt.member_counts.items()}
    rows = np.flatnonzero(book.tier == p1_name) if p1_name else np.array([], dtype=np.int64)
    p1 = _p1_accounts(
        rows,
        ids=book.ids,
        names=book.names,
        accounts=book.accounts,
        arr=book.arr,
        tier=book.tier,
        reason=_reasons(view.tiers, rows, said),
        score=health.score,
        components={w.component(c): v for c, v in health.components.items()},
        last_login=health.signals["days_since_last_login"],
        as_of=as_of,
        segments={said.segment(n): bt.last.masks[n] for n in made["account_segments"]},
        visitor_counts={said.segment(n): c for n, c in visitor_counts.items()},
        alerts_of=alerts_of,
        trend=_r1(bt.scores) if bt.scores is not None else None,
    )
    taken: set[str] = set()
    for a in p1:
        a["page"] = page_name(a["id"], taken)
    return p1, _alerts_shown(alert_records, book, p1)


def _alerts_shown(
    alert_records: list[dict[str, Any]], book: _Book, p1: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each alert with its account's name and, for a P1 account, its page."""
    page_of = {a["id"]: a["page"] for a in p1}
    names_by_id = dict(zip(book.ids, book.names, strict=True))
    return [
        {
            **r,
            "name": names_by_id.get(str(r["account_id"]), ""),
            "page": page_of.get(str(r["account_id"])),
        }
        for r in alert_records
    ]


def _tables(
    alerts: list[dict[str, Any]], alert_rows: pd.DataFrame, book: _Book, health: Any
) -> dict[str, Any]:
    """The alerts (all, shown) and the frames of alerts.csv and accounts.csv: files for
    spreadsheets, so text that starts like a formula is quoted (base.spreadsheet)."""
    snapshot = health.frame()
    names_by_id = dict(zip(book.ids, book.names, strict=True))
    snapshot.insert(1, "name", [names_by_id[a] for a in snapshot["account_id"]])
    tier_of = dict(zip(book.ids, book.tier, strict=True))
    snapshot.insert(2, "tier", [tier_of[a] for a in snapshot["account_id"]])
    return {
        "alerts": alerts,
        "alerts_shown": alerts[:INDEX_ROWS],
        "alert_table": spreadsheet_safe(alert_rows),
        "snapshot": spreadsheet_safe(snapshot),
    }


def _backtest_part(
    ds: Dataset,
    options: ReportOptions,
    notes: list[str],
    catch: list[dict[str, Any]],
    newcomers: Any,
    days: list[dt.date],
) -> dict[str, Any]:
    return {
        "catch": catch,
        "has_outcomes": getattr(ds, "outcomes", None) is not None,
        "no_history": NO_HISTORY_NOTE in notes,
        "risk_tag": options.risk_tag,
        "new_users": newcomers,
        "bt_days": days,
        "horizon": options.horizon,
    }


def _from_usage(
    defs: Any,
    ds: Dataset,
    defs_path: Path,
    options: ReportOptions,
    notes: list[str],
    progress: Callable[[str], None],
) -> tuple[Any, Any, list[dt.date], dt.date, Dataset]:
    """Index the usage once; backtest the weekly days (the last is the report's as-of
    day, so its masks, metrics and health are the current view) and sum the usage."""
    from pendo_segments.backtest import UsageHistory, run_backtest
    from pendo_segments.backtest.usage import usage_rollups
    from pendo_segments.evaluate.engine import resolve_as_of
    from pendo_segments.report.book import book_accounts, restrict

    as_of = resolve_as_of(ds, options.as_of, defs)
    keep = book_accounts(ds, defs, as_of, segment=options.segment, csm=options.csm)
    if keep is not None:
        progress("restricting to the book")
        ds = restrict(ds, keep)
    progress("indexing the usage")
    history = UsageHistory(ds)
    progress("backtesting the rules")
    days = backtest_days(ds, as_of, options.weeks)
    if len(days) < options.weeks + 1:
        notes.append(
            f"trends and the backtest start on {days[0].isoformat()} ({len(days)} weekly as-of "
            "days): earlier 30-day windows would reach before the first usage date"
        )
    bt = run_backtest(
        defs, ds, days, defs_path=defs_path, history=history, keep_last=True, progress=progress
    )
    progress("usage sums")
    rollups = usage_rollups(ds, history, as_of, options.weeks)
    return bt, rollups, days, as_of, ds


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """``frame.to_dict("records")`` from whole columns (``to_dict`` boxes every cell:
    1 s for the 51,847 alerts at 1M visitors)."""
    columns = [str(c) for c in frame.columns]
    values = [[None if v is pd.NA else v for v in frame[c].tolist()] for c in columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]


def _r1(values: np.ndarray) -> np.ndarray:
    from pendo_segments.health.score import round1

    return round1(values)


def _p1_accounts(
    rows: np.ndarray,
    *,
    ids: list[str],
    names: list[str],
    accounts: pd.DataFrame,
    arr: np.ndarray,
    tier: np.ndarray,
    reason: np.ndarray | None,
    score: np.ndarray,
    components: dict[str, np.ndarray],
    last_login: np.ndarray,
    as_of: dt.date,
    segments: dict[str, np.ndarray],
    visitor_counts: dict[str, np.ndarray],
    alerts_of: dict[str, list[dict[str, Any]]],
    trend: np.ndarray | None,
) -> list[dict[str, Any]]:
    """The drill-down data of the accounts at ``rows``: each column is taken once for all
    of them (no per-account lookups into the frames)."""
    plan, csm, renewal = (_column(accounts, c, rows) for c in ("plan", "csm_owner", "renewal_date"))
    comp = {name: values[rows].tolist() for name, values in components.items()}
    since = last_login[rows]
    member = {n: m[rows].tolist() for n, m in segments.items()}
    visitors = {n: c[rows].tolist() for n, c in visitor_counts.items()}
    trends = trend[:, rows].T.tolist() if trend is not None else [[] for _ in rows]
    out = []
    for k, i in enumerate(rows.tolist()):
        days = float(since[k])
        out.append(
            {
                "id": ids[i],
                "name": names[i],
                "arr": float(arr[i]),
                "plan": plan[k],
                "csm": csm[k],
                "renewal": renewal[k],
                "tier": str(tier[i]),
                "reason": str(reason[i]) if reason is not None else "",
                "score": float(score[i]),
                "components": [{"name": c, "value": v[k]} for c, v in comp.items()],
                "last_login": None
                if math.isnan(days)
                else (int(days), as_of - dt.timedelta(days=int(days))),
                "segments": [n for n, m in member.items() if m[k]]
                + [f"{n} ({c[k]})" for n, c in visitors.items() if c[k]],
                "alerts": alerts_of.get(ids[i], []),
                "trend": trends[k],
            }
        )
    return out


def _column(frame: pd.DataFrame, column: str, rows: np.ndarray) -> list[Any]:
    """``frame[column]`` at ``rows`` as Python values, None where missing."""
    if column not in frame.columns:
        return [None] * len(rows)
    values = frame[column].iloc[rows]
    return [None if v is None or (not isinstance(v, str) and pd.isna(v)) else v for v in values]


def _alert_rules(defs_path: Path, view: Any) -> Any:
    """The alert rules beside the definitions (None: there is no alerts.yaml)."""
    from pendo_segments.health.config import find_config
    from pendo_segments.tiers.alerts import load_alerts

    path = find_config(defs_path, "alerts.yaml")
    if path is None:
        return None
    return load_alerts(path, tiers=view.policy.names if view.policy else None)


def _rule_name(rate: Any, names: Any) -> str:
    """A backtest row's rule as the page names it (a segment's or an alert's title_ja)."""
    return names.alert(rate.rule) if rate.kind == "alert" else names.segment(rate.rule)


def _reasons(tiers: Any, rows: np.ndarray, names: Any) -> np.ndarray | None:
    """Tier reasons with the P1 accounts' (``rows``) in the page's language."""
    if tiers is None:
        return None
    reason = np.asarray(tiers.reason, dtype=object).copy()
    reason[rows] = names.tier_reasons(tiers, rows)
    return reason


def _alerts(
    ds: Dataset,
    defs: Any,
    rules: Any,
    view: Any,
    as_of: dt.date,
    previous: Any,
    masks: dict[str, np.ndarray],
) -> pd.DataFrame:
    from pendo_segments.tiers.alerts import ALERT_COLUMNS, run_alerts

    if rules is None:
        return pd.DataFrame(columns=ALERT_COLUMNS)
    policy = view.policy
    result = run_alerts(
        ds,
        rules,
        defs=defs,
        policy=policy,
        as_of=as_of,
        health=view.health,
        previous=previous,
        tiers=view.tiers.tier if view.tiers is not None else None,
        masks=masks,
    )
    return result.rows
