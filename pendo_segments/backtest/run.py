"""Evaluate every segment, the health score and the alerts at many as-of days.

The data set is loaded once and its usage indexed once
(:class:`~pendo_segments.backtest.history.UsageHistory`); each as-of day
then runs the ordinary evaluator and health scorer on a cheap per-day view
of that index, so the answers are those of ``evaluate --as-of D`` and
``health --as-of D`` for every D.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pendo_segments.backtest.history import UsageHistory
from pendo_segments.errors import ConfigError

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset

COUNT_COLUMNS = ["as_of", "segment", "members"]
SCORE_COLUMNS = ["as_of", "account_id", "health_score"]


#: as-of days a backtest takes unless told otherwise (``backtest --max-days``): daily
#: for almost three years, weekly for nineteen
MAX_DAYS = 1000


def as_of_days(
    start: dt.date, end: dt.date, every: int = 7, *, max_days: int = MAX_DAYS
) -> list[dt.date]:
    """``start``, ``start + every`` … up to and including ``end``; at most ``max_days``
    of them (every day holds a row per account of every segment: a century of days
    is gigabytes, refused before anything is allocated)."""
    if every < 1:
        raise ConfigError("--every must be at least 1 day")
    if end < start:
        raise ConfigError(f"--to {end.isoformat()} is before --from {start.isoformat()}")
    n = (end - start).days // every + 1
    if n > max_days:
        raise ConfigError(
            f"--from {start.isoformat()} --to {end.isoformat()} --every {every} gives {n:,} "
            f"as-of days, more than {max_days:,}; use a larger --every or a shorter range, "
            "or raise the limit with --max-days"
        )
    return [start + dt.timedelta(days=i * every) for i in range(n)]


def result_bytes(
    days: int, accounts: int, account_rules: int, visitor_segments: int, scores: bool = True
) -> int:
    """Memory of a backtest's results: a flag per day and account of every account
    segment and alert, members per account of every visitor segment (int32, one more
    column for visitors without an account) and a float64 health score."""
    per_day = accounts * account_rules + 4 * (accounts + 1) * visitor_segments
    return days * (per_day + 8 * accounts * scores)


def memory_budget() -> float:
    """What the results may take: half the machine's memory (as ``--engine auto``)."""
    from pendo_segments.evaluate.budget import machine_memory

    return machine_memory() / 2


def _check_memory(
    days: int, accounts: int, account_rules: int, visitor_segments: int, scores: bool = True
) -> None:
    need = result_bytes(days, accounts, account_rules, visitor_segments, scores)
    budget = memory_budget()
    if need > budget:
        raise ConfigError(
            f"{days:,} as-of days of {accounts:,} accounts need about {_size(need)} for the "
            f"backtest's results, over the budget of {_size(budget)} (half the machine's "
            "memory); use fewer as-of days (--every, --from, --to) or fewer segments (--segment)"
        )


def _size(n: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n:.0f} B"


@dataclass
class LastDay:
    """The evaluator's masks, metrics and health score at the backtest's last as-of day."""

    as_of: dt.date
    #: segment → mask, for every segment evaluated (with the ones they reference)
    masks: dict[str, np.ndarray]
    #: the day's :class:`~pendo_segments.evaluate.metrics.Metrics` over the shared index
    metrics: Any
    health: Any = None  # HealthResult when scored


@dataclass
class Backtest:
    """Per as-of day: segment sizes, account masks, health scores and alert masks."""

    days: list[dt.date]
    account_ids: pd.Index
    #: segment name → subject ("account" / "visitor")
    subjects: dict[str, str]
    #: segment → one member count per as-of day
    counts: dict[str, list[int]]
    #: account-level segment or alert → as-of days × accounts boolean matrix
    flags: dict[str, np.ndarray]
    #: which rules in ``flags`` are alerts (the rest are segments)
    alerts: list[str] = field(default_factory=list)
    #: visitor-level segment → as-of days × (accounts + 1) members per account; the last
    #: column counts members without an account (a book's sizes are its columns' sums)
    member_counts: dict[str, np.ndarray] = field(default_factory=dict)
    #: as-of days × accounts unrounded health scores
    scores: np.ndarray | None = None
    #: as-of days × accounts: a subject that day (docs/semantics.md §2b), so scored;
    #: None: every account every day (a saved backtest: the others' scores are NaN)
    scored: np.ndarray | None = None
    skipped: list[str] = field(default_factory=list)
    #: the last as-of day's evaluation, when asked for (``keep_last``): the report's
    #: "current" view is that day, so it is not computed a second time
    last: LastDay | None = None

    def counts_frame(self) -> pd.DataFrame:
        """``as_of,segment,members`` sorted by as_of then segment (docs/semantics.md §4)."""
        rows = [
            (day.isoformat(), name, self.counts[name][i])
            for i, day in enumerate(self.days)
            for name in sorted(self.counts)
        ]
        return pd.DataFrame(rows, columns=COUNT_COLUMNS)

    def scores_frame(self) -> pd.DataFrame:
        """``as_of,account_id,health_score`` (1 decimal) sorted by as_of then account,
        for the accounts that are subjects on each day."""
        from pendo_segments.health.score import round1

        if self.scores is None:
            return pd.DataFrame(columns=SCORE_COLUMNS)
        ids = np.asarray(self.account_ids, dtype=object)
        every = np.ones(len(ids), dtype=bool)
        frames = [
            pd.DataFrame(
                {
                    "as_of": day.isoformat(),
                    "account_id": ids[keep],
                    "health_score": round1(self.scores[i][keep]),
                }
            ).sort_values("account_id", kind="stable")
            for i, day in enumerate(self.days)
            for keep in [self.scored[i] if self.scored is not None else every]
        ]
        return pd.concat(frames, ignore_index=True)[SCORE_COLUMNS]

    def restrict(self, keep: np.ndarray, health: Any = None) -> Backtest:
        """The backtest of the accounts where ``keep`` is true, as if the data had held
        those accounts only (a book of business read from a saved backtest).

        ``health``: the last day's health of those accounts, for ``last``.
        """
        kept = np.flatnonzero(keep)
        flags = {n: f[:, kept] for n, f in self.flags.items()}
        member_counts = {
            n: np.concatenate([c[:, kept], np.zeros((len(c), 1), dtype=c.dtype)], axis=1)
            for n, c in self.member_counts.items()
        }
        counts = {
            n: [int(x) for x in (flags[n] if n in flags else member_counts[n]).sum(axis=1)]
            for n in self.counts
        }
        last = None
        if self.last is not None:
            # every account segment's last-day mask is its last row of flags
            masks = {n: flags[n][-1] for n in self.counts if n in flags}
            last = LastDay(self.last.as_of, masks=masks, metrics=None, health=health)
        return Backtest(
            days=self.days,
            account_ids=self.account_ids[kept],
            subjects=self.subjects,
            counts=counts,
            flags=flags,
            alerts=self.alerts,
            member_counts=member_counts,
            scores=self.scores[:, kept] if self.scores is not None else None,
            scored=self.scored[:, kept] if self.scored is not None else None,
            skipped=self.skipped,
            last=last,
        )


def run_backtest(
    defs: Any,
    ds: Dataset,
    days: Sequence[dt.date],
    *,
    defs_path: Path | None = None,
    names: Sequence[str] | None = None,
    with_health: bool = True,
    with_alerts: bool = True,
    progress: Callable[[str], None] | None = None,
    history: UsageHistory | None = None,
    keep_last: bool = False,
) -> Backtest:
    """Segments (all, or ``names``), health and alerts at each day of ``days``.

    ``history``: an index of ``ds`` already built by the caller (the report shares one).
    ``keep_last``: keep the last day's masks, metrics and health in ``Backtest.last``.
    """
    from pendo_segments.evaluate import Evaluator

    history = history or UsageHistory(ds)
    wanted = [s.name for s in defs.select(names)]
    closure = defs.closure(wanted)
    subjects = {n: defs.get(n).subject for n in wanted}
    counts: dict[str, list[int]] = {n: [] for n in wanted}
    n_acc = len(history.account_ids)
    config, rules, policy, skipped = _health_setup(defs_path, with_health, with_alerts)
    visitor_segments = sum(subject == "visitor" for subject in subjects.values())
    alerts_run = len(rules.alerts) if rules is not None else 0
    _check_memory(len(days), n_acc, len(wanted) - visitor_segments + alerts_run, visitor_segments)
    flags = {
        n: np.zeros((len(days), n_acc), dtype=bool) for n in wanted if subjects[n] == "account"
    }
    member_counts = {  # int32: 13 days x 100k accounts x 11 segments is 57 MB saved
        n: np.zeros((len(days), n_acc + 1), dtype=np.int32)
        for n in wanted
        if subjects[n] == "visitor"
    }
    v_bin = np.where(history.v2a >= 0, history.v2a, n_acc)
    scores = np.full((len(days), n_acc), np.nan) if with_health else None
    scored = np.ones((len(days), n_acc), dtype=bool) if with_health else None
    previous: dict[str, np.ndarray] | None = None
    last: LastDay | None = None
    ev = Evaluator(ds, days[0], defs) if days else None
    for i, day in enumerate(days):
        if progress:
            progress(day.isoformat())
        view = history.at(day)
        assert ev is not None
        # One evaluator, re-pointed at each day's Metrics over the shared index.
        ev.as_of, ev.metrics, ev.masks = day, view, {}
        ev.ds = ds.fields_at(day)  # account / visitor fields of D−1 (history files)
        for seg in closure:
            ev.segment_mask(seg)
        for n in wanted:
            counts[n].append(int(ev.masks[n].sum()))
            if n in flags:
                flags[n][i] = ev.masks[n]
            else:
                bins = v_bin if not history.moving else np.where(view.v2a >= 0, view.v2a, n_acc)
                member_counts[n][i] = np.bincount(bins[ev.masks[n]], minlength=n_acc + 1)
        if keep_last and i == len(days) - 1:
            last = LastDay(as_of=day, masks=dict(ev.masks), metrics=view)
        if scores is None:
            continue
        from pendo_segments.health import compute_health

        scoring = history.scoring_ds.fields_at(day)
        health = compute_health(scoring, as_of=day, config=config, metrics=view)
        scores[i] = health.score
        assert scored is not None
        scored[i] = health.subject_mask()
        if last is not None:
            last.health = health
        if rules is not None:
            masks, why = _alert_masks(scoring, defs, rules, policy, health, previous, ev.masks)
            for name, mask in masks.items():
                flags.setdefault(f"alert:{name}", np.zeros((len(days), n_acc), dtype=bool))[i] = (
                    mask
                )
            skipped = sorted(set(skipped) | set(why))
            previous = _as_previous(health)
    alerts = [k for k in flags if k.startswith("alert:")]
    return Backtest(
        days=list(days),
        account_ids=history.account_ids,
        subjects=subjects,
        counts=counts,
        flags=flags,
        alerts=alerts,
        member_counts=member_counts,
        scores=scores,
        scored=scored,
        skipped=skipped,
        last=last,
    )


def _health_setup(
    defs_path: Path | None, with_health: bool, with_alerts: bool
) -> tuple[Any, Any, Any, list[str]]:
    """Health config, alert rules and the tier policy found beside the definitions."""
    from pendo_segments.health import load_health_config
    from pendo_segments.health.config import find_config

    if not with_health:
        return None, None, None, []
    config = load_health_config(find_config(defs_path, "health.yaml"))
    alerts_path = find_config(defs_path, "alerts.yaml") if with_alerts else None
    if alerts_path is None:
        return config, None, None, []
    from pendo_segments.tiers.alerts import load_alerts
    from pendo_segments.tiers.policy import load_policy

    policy_path = find_config(defs_path, "tiers.yaml")
    policy = load_policy(policy_path) if policy_path else None
    rules = load_alerts(alerts_path, tiers=policy.names if policy else None)
    return config, rules, policy, []


def _alert_masks(
    ds: Any,  # a Dataset, or any holder of the accounts frame at the day
    defs: Any,
    rules: Any,
    policy: Any,
    health: Any,
    previous: dict[str, np.ndarray] | None,
    segments: dict[str, np.ndarray],
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Each alert's own condition (before ``replaces``): an escalated account is still at risk.

    Segments the alerts mention come from this day's evaluation (``segments``)
    when it has them. Tier-based alerts are left out: tiers would need the
    whole tier policy per day.
    """
    from pendo_segments.tiers.alerts import AlertRules, build_facts, raw_masks

    runnable = tuple(a for a in rules.alerts if not a.needs_tiers)
    why = [
        f"{a.spec.name}: needs tiers, which the backtest does not assign per day"
        for a in rules.alerts
        if a.needs_tiers
    ]
    only = AlertRules(alerts=runnable, source=rules.source)
    facts = build_facts(
        ds,
        [a.when for a in runnable],
        defs=defs,
        policy=policy,
        health=health,
        previous=previous,
        with_tiers=False,
        masks=segments,
    )
    masks, skipped = raw_masks(only, facts)
    return masks, why + [s for s in skipped if previous is not None]


def _as_previous(health: Any) -> dict[str, np.ndarray]:
    """This day's rounded scores as the ``previous`` run of the next day."""
    from pendo_segments.health.score import round1

    out = {"health_score": round1(health.score)}
    for name, values in health.components.items():
        out[name] = round1(values)
    return out
