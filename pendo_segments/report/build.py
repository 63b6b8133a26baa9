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
    from pendo_segments.backtest import catch_rates, churn_days
    from pendo_segments.backtest.catch import risk_rules
    from pendo_segments.report.book import book_accounts, restrict
    from pendo_segments.report.definitions import Names, new_users
    from pendo_segments.shipped import shipped_path
    from pendo_segments.tiers.view import account_view

    w = Words(options.locale)
    defs_path = defs_path or shipped_path("segment_defs")
    notes: list[str] = []
    if not has_history(ds):
        notes.append(NO_HISTORY_NOTE)
    if saved is not None:
        as_of = saved.as_of
        keep = book_accounts(
            ds, defs, as_of, segment=options.segment, csm=options.csm, saved=saved.backtest
        )
        if keep is not None:
            progress("restricting to the book")
            ds, saved = restrict(ds, keep), saved.restrict(keep)
        bt, rollups = saved.backtest, saved.rollups
        days = bt.days
    else:
        bt, rollups, days, as_of, ds = _from_usage(defs, ds, defs_path, options, notes, progress)
    assert bt.last is not None and bt.last.as_of == as_of
    masks = bt.last.masks
    progress("tiers")
    view = account_view(
        ds,
        defs_path,
        defs=defs,
        as_of=as_of,
        metrics=bt.last.metrics,
        health=bt.last.health,
        masks=masks,
    )
    health = view.health
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
    score = health.score

    previous_health = None
    if options.previous is not None:
        from pendo_segments.report.movers import movers, read_previous

        prev_frame = read_previous(options.previous)
        if "health_score" in prev_frame.columns:
            from pendo_segments.health.csvfile import read_previous_health

            previous_health = read_previous_health(options.previous, health.account_ids)
        now = pd.DataFrame(
            {"account_id": ids, "name": names, "tier": tier, "health_score": _r1(score)}
        )
        mover_list = movers(now, prev_frame, tier_names)
    else:
        mover_list = None

    progress("raising alerts")
    rules = _alert_rules(defs_path, view)
    alert_rows = _alerts(ds, defs, rules, view, as_of, previous_health, masks)
    said = Names(w, defs, rules)
    alert_records = _records(alert_rows)
    at_risk_ids = {
        str(r["account_id"]) for r in alert_records if r["severity"] in PROBLEM_SEVERITIES
    }
    at_risk_mask = np.array([a in at_risk_ids for a in ids], dtype=bool)

    catch: list[dict[str, Any]] = []
    if getattr(ds, "outcomes", None) is not None:
        risky = risk_rules(defs, options.risk_tag, rules)
        rates = catch_rates(bt, churn_days(ds, bt.account_ids), options.horizon, risky)
        catch = [{**r.row(), "shown": _rule_name(r, said)} for r in rates]

    progress("usage, NPS and PES")
    n_visitors = int(rollups.visitors.sum())
    pes = rollups.pes()
    weekly = rollups.weekly()
    features = rollups.key_feature_usage()
    newcomers = new_users(defs)
    first_use = rollups.time_to_first_use(newcomers.days)
    if newcomers.segment in bt.counts:
        newcomers = dataclasses.replace(newcomers, members=bt.counts[newcomers.segment][-1])
    nps = rollups.nps()

    watched = health.subject_mask()  # accounts that exist at the as-of day (§2b)
    kpi_values = {
        "accounts": int(watched.sum()),
        "visitors": n_visitors,
        "arr": float(arr[watched].sum()),
        "arr_at_risk": float(arr[at_risk_mask].sum()),
        "avg_health": float(np.nanmean(score)) if np.isfinite(score).any() else math.nan,
        "pes": pes.score,
    }
    book = (
        w("book_csm", name=options.csm)
        if options.csm
        else w("book_segment", name=options.segment)
        if options.segment
        else w("book_all")
    )
    if options.csm and options.segment:
        book = f"{w('book_csm', name=options.csm)} · {w('book_segment', name=options.segment)}"

    svg.restart_ids()
    made = dashboard_charts(
        w,
        score=score,
        tier=tier,
        tier_names=tier_names,
        arr=arr,
        bt=bt,
        weekly=weekly,
        features=features,
        first_use=first_use,
        nps=nps,
        pes=pes,
        segment_name=said.segment,
    )
    charts, hist, mix = made["charts"], made["hist"], made["mix"]
    account_segments, day_labels = made["account_segments"], made["day_labels"]
    capacity = view.tiers.capacity().to_dict("records") if view.tiers is not None else []

    # -- P1 drill-downs ------------------------------------------------------------------------
    names_by_id = dict(zip(ids, names, strict=True))
    p1_name = tier_names[0] if view.policy else None
    last_login = health.signals["days_since_last_login"]
    alerts_of: dict[str, list[dict[str, Any]]] = {}
    alert_records = said.alert_rows(alert_records)  # as shown: title_ja, Japanese signals
    for r in alert_records:
        alerts_of.setdefault(str(r["account_id"]), []).append(r)
    # members of each visitor segment per account (the backtest's last day)
    visitor_counts = {n: c[-1, : len(ids)] for n, c in bt.member_counts.items()}
    rows = np.flatnonzero(tier == p1_name) if p1_name else np.array([], dtype=np.int64)
    p1 = _p1_accounts(
        rows,
        ids=ids,
        names=names,
        accounts=accounts,
        arr=arr,
        tier=tier,
        reason=_reasons(view.tiers, rows, said),
        score=score,
        components={w.component(c): v for c, v in health.components.items()},
        last_login=last_login,
        as_of=as_of,
        segments={said.segment(n): masks[n] for n in account_segments},
        visitor_counts={said.segment(n): c for n, c in visitor_counts.items()},
        alerts_of=alerts_of,
        trend=_r1(bt.scores) if bt.scores is not None else None,
    )
    taken: set[str] = set()
    for a in p1:
        a["page"] = page_name(a["id"], taken)
    page_of = {a["id"]: a["page"] for a in p1}

    alerts = [
        {
            **r,
            "name": names_by_id.get(str(r["account_id"]), ""),
            "page": page_of.get(str(r["account_id"])),
        }
        for r in alert_records
    ]
    snapshot = health.frame()
    snapshot.insert(1, "name", [names_by_id[a] for a in snapshot["account_id"]])
    tier_of = dict(zip(ids, tier, strict=True))
    snapshot.insert(2, "tier", [tier_of[a] for a in snapshot["account_id"]])

    return {
        "w": w,
        "lang": w.locale,
        "as_of": as_of,
        "book": book,
        "source": ds.source or "data",
        "kpi_values": kpi_values,
        "tiers": tier_names,
        "hist": hist,
        "mix": mix,
        "capacity": capacity,
        "movers": mover_list,
        "alerts": alerts,
        "alerts_shown": alerts[:INDEX_ROWS],
        # the frames of alerts.csv and accounts.csv, files for spreadsheets: text that
        # starts like a formula is quoted (pendo_segments.base.spreadsheet)
        "alert_table": spreadsheet_safe(alert_rows),
        "segment_days": bt.days,
        "segment_rows": made["segment_rows"],
        "weekly": weekly,
        "features": features,
        "first_use": first_use,
        "nps": nps,
        "pes": pes,
        "catch": catch,
        "has_outcomes": getattr(ds, "outcomes", None) is not None,
        "no_history": NO_HISTORY_NOTE in notes,
        "risk_tag": options.risk_tag,
        "new_users": newcomers,
        "bt_days": days,
        "horizon": options.horizon,
        "p1": p1,
        "p1_shown": sorted(p1, key=lambda a: (-a["arr"], a["id"]))[:INDEX_ROWS],
        "day_labels": day_labels,
        "trend_days": [w.date(d) for d in bt.days],
        "charts": charts,
        "notes": notes,
        "snapshot": spreadsheet_safe(snapshot),
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
