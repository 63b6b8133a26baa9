"""The QBR pack: an account's last 90 days on one printable page, for its business review.

``report --account ID`` (or ``--within N``: the accounts whose ``qbr_date`` or
``renewal_date`` is 0 to N days after the as-of day) writes a page per account
into the ``--out`` folder: key feature adoption per week, top features, active
users per week, NPS per month, the health score at each weekly as-of day and
the open alerts with their signals and actions, plus an ``index.html`` listing
the packs.

The numbers come from the library as the dashboard's do. The data is cut down
to the chosen accounts (an account's numbers do not depend on the others:
:mod:`pendo_segments.report.book`), indexed once
(:class:`~pendo_segments.backtest.history.UsageHistory`) and backtested over
the weekly as-of days the dashboard uses (:func:`~pendo_segments.report.build.backtest_days`):
that gives the health history and the last day's segments, health, tiers and
alerts. The weekly sums are windows read off the same index.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pendo_segments.errors import ConfigError
from pendo_segments.report.i18n import Words
from pendo_segments.report.qbr_usage import PACK_DAYS, WEEKS, AccountUsage

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset

#: the command named in a pack folder's marker: a dashboard's folder is refused and
#: the other way round (see pendo_segments.atomic.output_folder)
QBR_COMMAND = "report --account"
#: the accounts columns --within reads
DUE_COLUMNS = ("qbr_date", "renewal_date")


@dataclass
class QbrOptions:
    accounts: Sequence[str] = ()
    within: int | None = None
    as_of: dt.date | None = None
    segment: str | None = None
    csm: str | None = None
    locale: str = "en"


@dataclass
class WrittenPacks:
    """What :func:`build_qbr` wrote: nothing (``pages`` empty) when no account was due."""

    folder: Path
    as_of: dt.date
    pages: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# -- which accounts -----------------------------------------------------------------------------
def choose_accounts(
    ds: Dataset,
    as_of: dt.date,
    *,
    accounts: Sequence[str] = (),
    within: int | None = None,
    keep: np.ndarray | None = None,
) -> list[int]:
    """Rows of ``ds.accounts``: the ``accounts`` named (in that order, once each), or those
    of ``keep`` whose qbr_date or renewal_date is 0 to ``within`` days after ``as_of``
    (the soonest first, ties by account id)."""
    ids = ds.accounts["account_id"].astype(str)
    if accounts:
        from pendo_segments.definitions.yaml_lines import suggest

        row_of = {a: i for i, a in enumerate(ids)}  # ids are unique (the loader checks)
        for a in accounts:
            if a not in row_of:
                raise ConfigError(f"--account {a}: no such account_id in accounts{suggest(a, ids)}")
        return [row_of[a] for a in dict.fromkeys(accounts)]
    if within is None:
        return []
    soon = due_in(ds.accounts, as_of)
    with np.errstate(invalid="ignore"):
        due = (soon >= 0) & (soon <= within)
    if keep is not None:
        due &= keep
    return sorted(np.flatnonzero(due).tolist(), key=lambda r: (soon[r], ids.iat[r]))


def due_in(accounts: pd.DataFrame, as_of: dt.date) -> np.ndarray:
    """Days from ``as_of`` to each account's next date of :data:`DUE_COLUMNS` on or after it
    (NaN: none). A missing column counts as blank; both missing is an error."""
    from pendo_segments.evaluate.metrics import NAT_DAY, day_number, day_numbers

    present = [c for c in DUE_COLUMNS if c in accounts.columns]
    if not present:
        raise ConfigError(
            "--within: accounts has neither a qbr_date nor a renewal_date column "
            "(docs/semantics.md §1)"
        )
    out = np.full(len(accounts), np.nan)
    for column in present:
        days = day_numbers(accounts[column])
        left = np.where(days == NAT_DAY, np.nan, (days - day_number(as_of)).astype(float))
        with np.errstate(invalid="ignore"):
            left[left < 0] = np.nan
        out = np.fmin(out, left)  # fmin: NaN only when both are
    return out


# -- the numbers --------------------------------------------------------------------------------
def collect_packs(
    defs: Any,
    ds: Dataset,
    rows: Sequence[int],
    *,
    as_of: dt.date,
    defs_path: Path,
    locale: str = "en",
    progress: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    """Everything the pack pages show, as plain data (the tests read this too)."""
    from pendo_segments.backtest import UsageHistory, run_backtest
    from pendo_segments.report.book import restrict
    from pendo_segments.report.build import (
        _alert_rules,
        _alerts,
        _reasons,
        _records,
        backtest_days,
        page_name,
    )
    from pendo_segments.report.definitions import Names
    from pendo_segments.semantics.score import round1
    from pendo_segments.tiers.view import account_view

    w = Words(locale)
    notes: list[str] = []
    days = backtest_days(ds, as_of, WEEKS)  # on the whole data: where its usage starts
    keep = np.zeros(len(ds.accounts), dtype=bool)
    keep[list(rows)] = True
    wanted = [str(ds.accounts["account_id"].iat[r]) for r in rows]
    progress("restricting to the accounts")
    sub = restrict(ds, keep)
    progress("indexing the usage")
    history = UsageHistory(sub)
    progress("health at each week")
    bt = run_backtest(
        defs, sub, days, defs_path=defs_path, history=history, keep_last=True, progress=progress
    )
    assert bt.last is not None and bt.last.health is not None
    progress("tiers and alerts")
    view = account_view(
        sub,
        defs_path,
        defs=defs,
        as_of=as_of,
        metrics=bt.last.metrics,
        health=bt.last.health,
        masks=bt.last.masks,
    )
    rules = _alert_rules(defs_path, view)
    said = Names(w, defs, rules)
    alerts = said.alert_rows(_records(_alerts(sub, defs, rules, view, as_of, None, bt.last.masks)))
    alerts_of: dict[str, list[dict[str, Any]]] = {}
    for r in alerts:
        alerts_of.setdefault(str(r["account_id"]), []).append(r)

    progress("usage sums")
    usage = AccountUsage(sub, history, as_of)
    health = view.health
    position = {a: i for i, a in enumerate(history.account_ids)}
    at = np.array([position[a] for a in wanted], dtype=np.int64)
    tier = view.tiers.tier if view.tiers is not None else None
    reasons = _reasons(view.tiers, at, said)
    scores = round1(bt.scores) if bt.scores is not None else np.full((len(days), len(at)), np.nan)
    accounts = sub.accounts
    taken: set[str] = {"index.html"}
    packs = []
    for a, i in zip(wanted, at.tolist(), strict=True):
        packs.append(
            {
                "id": a,
                "name": _text(accounts, "name", i) or a,
                "page": page_name(a, taken),
                "arr": float(pd.to_numeric(accounts["arr"].iat[i], errors="coerce")),
                "plan": _text(accounts, "plan", i),
                "csm": _text(accounts, "csm_owner", i),
                "renewal": _date(accounts, "renewal_date", i),
                "qbr": _date(accounts, "qbr_date", i),
                "tier": str(tier[i]) if tier is not None else "–",
                "reason": str(reasons[i]) if reasons is not None else "",
                "score": float(health.score[i]),
                "components": [(w.component(c), float(v[i])) for c, v in health.components.items()],
                "last_login": _last_login(health.signals["days_since_last_login"][i], as_of),
                "health": [(d, float(scores[k, i])) for k, d in enumerate(bt.days)],
                "alerts": alerts_of.get(a, []),
                **usage.of(i),
            }
        )
    cut = days[0] > as_of - dt.timedelta(days=7 * WEEKS)
    if cut:
        notes.append(
            f"the health history starts on {days[0].isoformat()} ({len(days)} weekly as-of "
            "days): earlier 30-day windows would reach before the first usage date"
        )
    return {
        "w": w,
        "lang": w.locale,
        "as_of": as_of,
        "start": as_of - dt.timedelta(days=PACK_DAYS),
        "end": as_of - dt.timedelta(days=1),
        "weeks": usage.weeks,
        "key_features": usage.key_names,
        "has_nps": usage.has_nps,
        "health_days": bt.days,
        "history_cut": cut,
        "source": ds.source or "data",
        "notes": notes,
        "packs": packs,
    }


def _text(frame: pd.DataFrame, column: str, i: int) -> str:
    if column not in frame.columns:
        return ""
    value = frame[column].iat[i]
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _date(frame: pd.DataFrame, column: str, i: int) -> dt.date | None:
    if column not in frame.columns:
        return None
    value = frame[column].iat[i]
    return None if pd.isna(value) else pd.Timestamp(value).date()


def _last_login(days: float, as_of: dt.date) -> tuple[int, dt.date] | None:
    if math.isnan(days):
        return None
    return int(days), as_of - dt.timedelta(days=int(days))


# -- writing ------------------------------------------------------------------------------------
def build_qbr(
    defs: Any,
    ds: Dataset,
    out: Path,
    *,
    defs_path: Path | None = None,
    options: QbrOptions | None = None,
    progress: Callable[[str], None] = lambda _m: None,
    force: bool = False,
    inputs: Mapping[str, str | Path] | None = None,
) -> WrittenPacks:
    """Write ``out/<account>.html`` per chosen account and ``out/index.html``.

    ``out`` follows :func:`~pendo_segments.atomic.output_folder` with its own
    command (:data:`QBR_COMMAND`): written whole or not at all, never over a
    dashboard's or a saved backtest's folder. When ``--within`` finds no account
    nothing is written (the folder is not even created).
    """
    from pendo_segments.atomic import check_output_folder, output_folder
    from pendo_segments.evaluate.engine import resolve_as_of
    from pendo_segments.report.book import book_accounts
    from pendo_segments.shipped import shipped_path

    options = options or QbrOptions()
    inputs = dict(inputs or {})
    check_output_folder(out, force=force, command=QBR_COMMAND, inputs=inputs)
    defs_path = defs_path or shipped_path("segment_defs")
    as_of = resolve_as_of(ds, options.as_of, defs)
    keep = book_accounts(ds, defs, as_of, segment=options.segment, csm=options.csm)
    rows = choose_accounts(ds, as_of, accounts=options.accounts, within=options.within, keep=keep)
    if not rows:
        return WrittenPacks(folder=out, as_of=as_of)
    page = collect_packs(
        defs, ds, rows, as_of=as_of, defs_path=defs_path, locale=options.locale, progress=progress
    )
    progress("writing the packs")
    with output_folder(out, force=force, command=QBR_COMMAND, inputs=inputs) as tmp:
        render_packs(page, tmp)
    return WrittenPacks(
        folder=out,
        as_of=as_of,
        pages=[out / p["page"] for p in page["packs"]],
        notes=page["notes"],
    )


def render_packs(page: dict[str, Any], folder: Path) -> None:
    """Write each pack and the index into ``folder`` (the output folder's temp folder)."""
    from pendo_segments.report import svg
    from pendo_segments.report.charts import qbr_charts
    from pendo_segments.report.pages import _environment, _write

    w = page["w"]
    env = _environment(w)
    template = env.get_template("qbr.html.j2")
    for pack in page["packs"]:
        svg.restart_ids()
        charts = qbr_charts(w, pack, key_features=page["key_features"], days=page["health_days"])
        tables = pack_tables(w, pack, page)
        _write(folder / pack["page"], template.render(page, a=pack, charts=charts, t=tables))
    _write(folder / "index.html", env.get_template("qbr_index.html.j2").render(page))


def pack_tables(w: Words, a: dict[str, Any], page: dict[str, Any]) -> dict[str, Any]:
    """The data tables of a pack (each chart's numbers, under it)."""
    from pendo_segments.report.tables import table

    dash = "–"
    caption = w("data_table") + ": "
    keys = page["key_features"]
    return {
        "facts": table(
            w("account"),
            [w("name"), w("value")],
            [
                [w("plan"), a["plan"] or dash],
                [w("csm"), a["csm"] or dash],
                [w("renewal"), w.date(a["renewal"]) if a["renewal"] else dash],
                [w("qbr_date"), w.date(a["qbr"]) if a["qbr"] else dash],
                [w("reason"), a["reason"] or dash],
            ],
        ),
        "adoption": table(
            caption + w("adoption_trend"),
            [w("week_of"), *keys, w("key_features_used")],
            [
                [
                    _whole(w.date(r["start"])),
                    *(w.num(u) for u in r["key_users"]),
                    f"{r['key_used']}/{len(keys)}",
                ]
                for r in a["weekly"]
            ],
            numeric=range(1, len(keys) + 2),
        ),
        "top": table(
            caption + w("top_features"),
            [w("feature"), w("clicks"), w("users"), w("key_feature")],
            [
                [
                    f["name"],
                    w.num(f["clicks"]),
                    w.num(f["users"]),
                    w("yes") if f["key"] else w("no"),
                ]
                for f in a["top"]
            ],
            numeric=[1, 2],
        ),
        "active": table(
            caption + w("active_users"),
            [w("week_of"), w("users"), w("minutes")],
            [
                [_whole(w.date(r["start"])), w.num(r["active"]), w.num(r["minutes"], 0)]
                for r in a["weekly"]
            ],
            numeric=[1, 2],
        ),
        "nps": table(
            caption + w("nps_month"),
            [w("month"), w("mean_score"), "NPS", w("responses")],
            [[w.month(m), w.num(mean, 1), w.num(nps, 0), w.num(n)] for m, mean, nps, n in a["nps"]],
            numeric=[1, 2, 3],
        ),
        "health": table(
            caption + w("health_history"),
            [w("as_of", date=""), w("score")],
            [[_whole(w.date(d)), w.num(s, 1)] for d, s in a["health"]],
            numeric=[1],
        ),
        "components": table(
            caption + w("components"),
            [w("component"), w("value")],
            [[c, w("missing") if math.isnan(v) else w.num(v, 1)] for c, v in a["components"]],
            numeric=[1],
        ),
    }


def _whole(text: str) -> str:
    """A date that does not break across lines in a narrow table ("Aug 9, 2026")."""
    return text.replace(" ", "\u00a0")
