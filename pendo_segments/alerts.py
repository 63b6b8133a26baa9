"""Playbook alerts: thresholds as data (``alerts.yaml``), each alert with its signals.

An alert fires for every account its ``when`` condition matches (the
condition language of :mod:`pendo_segments.health.conditions`); ``replaces``
drops lesser alerts for the same account (an escalation replaces the at-risk
task). Each alert carries the signals that drove it: the parts of its
condition that hold, then the weakest (or strongest) health components, with
their change since ``--previous`` when known, and the last login.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from pendo_segments.definitions.yaml_lines import suggest
from pendo_segments.health.conditions import (
    LEAF_KEYS,
    SIGNAL_COMPONENT,
    Cond,
    Facts,
    component_text,
    describe,
    evaluate_segments,
    fmt,
    last_login_text,
    mask,
    parse_condition,
    segment_names,
)
from pendo_segments.health.config import COMPONENTS, LABELS
from pendo_segments.health.configfile import load_checked
from pendo_segments.health.score import HealthResult, compute_health

CONFIG_NAME = "alerts.yaml"
SEVERITIES = ("high", "medium", "low", "info")
ALERT_COLUMNS = ["account_id", "alert", "severity", "tier", "health_score", "action", "signals"]
WEAK_BELOW = 50  # components below this are named as drivers of a problem alert
STRONG_FROM = 80  # components from this are named as drivers of a positive alert
MAX_DRIVERS = 3


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AlertSpec(_Section):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str = Field(min_length=1)
    severity: Literal["high", "medium", "low", "info"] = "medium"
    action: str = ""
    when: Any
    replaces: list[str] = Field(default_factory=list)
    explain: Literal["weaknesses", "strengths", "none"] = "weaknesses"


class AlertsFile(_Section):
    alerts: list[AlertSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Alert:
    spec: AlertSpec
    when: Cond

    @property
    def needs_previous(self) -> bool:
        return any(n.kind == "previous" for n in self.when.walk())

    @property
    def needs_tiers(self) -> bool:
        return any(n.kind == "tier" for n in self.when.walk())


@dataclass(frozen=True)
class AlertRules:
    alerts: tuple[Alert, ...]
    source: str = ""


def load_alerts(path: str | Path, tiers: list[str] | None = None) -> AlertRules:
    """Read and check ``alerts.yaml`` (``tiers``: names a ``{tier: …}`` leaf may use)."""
    parsed, problems = load_checked(path, AlertsFile)
    doc = problems.doc
    names = [a.name for a in parsed.alerts]
    alerts = []
    for i, spec in enumerate(parsed.alerts):
        if names.index(spec.name) != i:
            problems.add(("alerts", i, "name"), f"alert '{spec.name}' is defined twice")
        for r in spec.replaces:
            if r not in names or r == spec.name:
                problems.add(
                    ("alerts", i, "replaces"),
                    f"'{r}' is not another alert{suggest(r, [n for n in names if n != spec.name])}",
                )
        when = parse_condition(
            doc["alerts"][i]["when"],
            ("alerts", i, "when"),
            problems,
            tiers=tiers,
            allowed=LEAF_KEYS,
        )
        if when is not None:
            alerts.append(Alert(spec=spec, when=when))
    problems.raise_if_any()
    return AlertRules(alerts=tuple(alerts), source=problems.file)


@dataclass
class AlertResult:
    as_of: dt.date
    rows: pd.DataFrame  # ALERT_COLUMNS
    skipped: list[str] = field(default_factory=list)  # why an alert could not run

    def counts(self) -> dict[str, int]:
        return self.rows["alert"].value_counts(sort=False).to_dict() if len(self.rows) else {}


def build_facts(
    ds: Any,
    conds: list[Cond],
    *,
    defs: Any = None,
    policy: Any = None,
    as_of: dt.date | None = None,
    health: HealthResult | None = None,
    previous: dict[str, np.ndarray] | None = None,
    overrides: pd.DataFrame | None = None,
    with_tiers: bool = True,
    tiers: np.ndarray | None = None,
) -> Facts:
    """Health, tiers (when a policy is given) and the segments ``conds`` mention.

    ``tiers`` are already assigned tiers (one per account, as ``assign_tiers``
    gives them); without them the policy is applied here.
    """
    health = health or compute_health(ds, as_of=as_of)
    tier = renewal = None
    if policy is not None:
        renewal = (policy.renewal_risk.within_days, policy.renewal_risk.score_below)
    if tiers is not None and with_tiers:
        tier = tiers
    elif policy is not None and with_tiers:
        from pendo_segments.tiers.assign import assign_tiers

        tier = assign_tiers(ds, policy, defs=defs, health=health, overrides=overrides).tier
    return Facts(
        ds=ds,
        health=health,
        previous=previous,
        tier=tier,
        renewal=renewal,
        segments=evaluate_segments(ds, defs, segment_names(conds), health.as_of, conds),
    )


def raw_masks(rules: AlertRules, facts: Facts) -> tuple[dict[str, np.ndarray], list[str]]:
    """Each alert's condition before ``replaces``; alerts that cannot run are listed."""
    masks: dict[str, np.ndarray] = {}
    skipped: list[str] = []
    for alert in rules.alerts:
        if alert.needs_previous and facts.previous is None:
            skipped.append(f"{alert.spec.name}: needs a previous health run (--previous FILE)")
        elif alert.needs_tiers and facts.tier is None:
            skipped.append(f"{alert.spec.name}: needs the tier policy (tiers.yaml)")
        else:
            masks[alert.spec.name] = mask(alert.when, facts).copy()
    return masks, skipped


def condition_mask(
    ds: Any,
    rules: AlertRules,
    name: str,
    *,
    defs: Any = None,
    policy: Any = None,
    health: HealthResult | None = None,
) -> np.ndarray | None:
    """Accounts meeting alert ``name``'s own condition (before ``replaces``); None if absent.

    Used for flags such as Salesforce's at-risk checkbox: an escalated account
    is still at risk even though its at-risk task was replaced.
    """
    chosen = [a for a in rules.alerts if a.spec.name == name]
    if not chosen:
        return None
    only = AlertRules(alerts=tuple(chosen), source=rules.source)
    facts = build_facts(
        ds,
        [chosen[0].when],
        defs=defs,
        policy=policy,
        health=health,
        with_tiers=chosen[0].needs_tiers,
    )
    return raw_masks(only, facts)[0].get(name)


def run_alerts(
    ds: Any,
    rules: AlertRules,
    *,
    defs: Any = None,
    policy: Any = None,
    as_of: dt.date | None = None,
    health: HealthResult | None = None,
    previous: dict[str, np.ndarray] | None = None,
    overrides: pd.DataFrame | None = None,
    tiers: np.ndarray | None = None,
) -> AlertResult:
    """Evaluate every alert; rows sorted by severity, alert order, then account."""
    facts = build_facts(
        ds,
        [a.when for a in rules.alerts],
        defs=defs,
        policy=policy,
        as_of=as_of,
        health=health,
        previous=previous,
        overrides=overrides,
        tiers=tiers,
    )
    masks, skipped = raw_masks(rules, facts)
    for alert in rules.alerts:
        if alert.spec.name in masks:
            for lesser in alert.spec.replaces:
                if lesser in masks:
                    masks[lesser] &= ~masks[alert.spec.name]
    rows = []
    score = facts.health_value("score")
    tier = facts.tier
    ids = np.asarray(facts.health.account_ids, dtype=object)
    for order, alert in enumerate(rules.alerts):
        if alert.spec.name not in masks:
            continue
        for i in np.flatnonzero(masks[alert.spec.name]):
            rows.append(
                {
                    "account_id": ids[i],
                    "alert": alert.spec.name,
                    "severity": alert.spec.severity,
                    "tier": tier[i] if tier is not None else None,
                    "health_score": score[i],
                    "action": alert.spec.action or alert.spec.title,
                    "signals": "; ".join(signals(alert, facts, int(i))),
                    "_rank": (SEVERITIES.index(alert.spec.severity), order),
                }
            )
    frame = pd.DataFrame(rows, columns=[*ALERT_COLUMNS, "_rank"])
    if len(frame):
        frame = frame.sort_values(["_rank", "account_id"], kind="stable")
    return AlertResult(
        as_of=facts.as_of, rows=frame[ALERT_COLUMNS].reset_index(drop=True), skipped=skipped
    )


def signals(alert: Alert, facts: Facts, i: int) -> list[str]:
    """What drove ``alert`` for account ``i``: its condition, then the components behind it."""
    texts = describe(alert.when, facts, i)
    mentioned = {n.leaf.health for n in alert.when.walk() if n.kind == "health"}
    mentioned |= {
        SIGNAL_COMPONENT.get(n.leaf.signal, "") for n in alert.when.walk() if n.kind == "signal"
    }
    if alert.spec.explain != "none":
        texts += drivers(facts, i, strengths=alert.spec.explain == "strengths", skip=mentioned)
    if alert.spec.explain == "weaknesses" and not any(
        t.startswith(("last login", "no login")) for t in texts
    ):
        texts.append(last_login_text(facts.health.signals["days_since_last_login"][i]))
    return list(dict.fromkeys(texts))


def drivers(facts: Facts, i: int, *, strengths: bool, skip: set[str]) -> list[str]:
    """The weakest (or strongest) components, with their change since the previous run."""
    values = [(c, facts.health_value(c)[i]) for c in COMPONENTS if c not in skip]
    values = [
        (c, v)
        for c, v in values
        if not math.isnan(v) and (v >= STRONG_FROM if strengths else v < WEAK_BELOW)
    ]
    values.sort(key=lambda cv: -cv[1] if strengths else cv[1])
    out = []
    for c, v in values[:MAX_DRIVERS]:
        before = facts.previous[c][i] if facts.previous and c in facts.previous else math.nan
        if not math.isnan(before) and before != v:
            verb = "rose" if v > before else "fell"
            out.append(
                f"{LABELS[c]} score {verb} from {fmt(before)} to {fmt(v)} "
                f"({component_text(facts, c, i)})"
            )
        else:
            out.append(f"{component_text(facts, c, i)} ({LABELS[c]} score {fmt(v)})")
    return out
