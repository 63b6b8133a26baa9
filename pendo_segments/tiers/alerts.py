"""Playbook alerts: thresholds as data (``alerts.yaml``), each alert with its signals.

An alert fires for every account its ``when`` condition matches (the one
rule language, with the account leaves of :mod:`pendo_segments.health.rules`); ``replaces``
drops lesser alerts for the same account (an escalation replaces the at-risk
task). Each alert carries the signals that drove it: the parts of its
condition that hold, then the weakest (or strongest) health components, with
their change since ``--previous`` when known, and the last login.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from pendo_segments.base.rendered import Rendered
from pendo_segments.data.history import fields_for
from pendo_segments.definitions.models import HealthCondition, SignalCondition
from pendo_segments.definitions.rules import ALERT_LEAVES
from pendo_segments.definitions.yaml_lines import suggest
from pendo_segments.errors import DefinitionError
from pendo_segments.health.config import (
    COMPONENTS,
    LABELS,
    HealthConfig,
    health_config_for,
    settings_file,
)
from pendo_segments.health.configfile import load_checked
from pendo_segments.health.rules import (
    SIGNAL_COMPONENT,
    AccountRule,
    Facts,
    evaluate_segments,
    mask,
    parse_account_rule,
    segment_names,
)
from pendo_segments.health.score import HealthResult, compute_health
from pendo_segments.health.wording import component_text, describe, fmt, last_login_text

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset

CONFIG_NAME = "alerts.yaml"
SEVERITIES = ("high", "medium", "low", "info")
ALERT_COLUMNS = ["account_id", "alert", "severity", "tier", "health_score", "action", "signals"]
WEAK_BELOW = 50  # components below this are named as drivers of a problem alert
STRONG_FROM = 80  # components from this are named as drivers of a positive alert
MAX_DRIVERS = 3


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class AlertSpec(_Section):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str = Field(min_length=1)
    title_ja: str | None = Field(default=None, min_length=1)
    severity: Literal["high", "medium", "low", "info"] = "medium"
    action: str = ""
    action_ja: str | None = Field(default=None, min_length=1)  # the Japanese report's
    when: Any
    replaces: list[str] = Field(default_factory=list)
    explain: Literal["weaknesses", "strengths", "none"] = "weaknesses"


class AlertsFile(_Section):
    alerts: list[AlertSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Alert:
    spec: AlertSpec
    when: AccountRule

    @property
    def needs_previous(self) -> bool:
        return "previous" in self.when.kinds()

    @property
    def needs_tiers(self) -> bool:
        return "tier" in self.when.kinds()


@dataclass(frozen=True)
class AlertRules:
    alerts: tuple[Alert, ...]
    source: str = ""


def load_alerts(
    path: str | Path,
    tiers: list[str] | None = None,
    *,
    segments: Mapping[str, Any] | None = None,
) -> AlertRules:
    """Read and check ``alerts.yaml`` (``tiers``: names a ``{tier: …}`` leaf may use;
    ``segments``: name → subject of the segments a condition may name)."""
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
        when = parse_account_rule(
            doc["alerts"][i],
            "when",
            ("alerts", i),
            problems,
            leaves=ALERT_LEAVES,
            tiers=tiers,
            segments=segments,
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

    def render(self, _fmt: str) -> Rendered:
        return Rendered(frame=self.rows, title=f"Alerts as of {self.as_of.isoformat()}")


def build_facts(
    ds: Dataset,
    conds: list[AccountRule],
    *,
    defs: Any = None,
    policy: Any = None,
    as_of: dt.date | None = None,
    health: HealthResult | None = None,
    previous: dict[str, np.ndarray] | None = None,
    overrides: pd.DataFrame | None = None,
    with_tiers: bool = True,
    tiers: np.ndarray | None = None,
    masks: Mapping[str, np.ndarray] | None = None,
) -> Facts:
    """Health, tiers (when a policy is given) and the segments ``conds`` mention.

    ``tiers`` are already assigned tiers (one per account, as ``assign_tiers``
    gives them); without them the policy is applied here.
    """
    health = health or compute_health(ds, as_of=as_of)
    ds = fields_for(ds, health.as_of)  # account fields of D−1 (history files)
    tier = renewal = None
    if policy is not None:
        renewal = (policy.renewal_risk.within_days, policy.renewal_risk.score_below)
    if tiers is not None and with_tiers:
        tier = tiers
    elif policy is not None and with_tiers:
        from pendo_segments.tiers.assign import assign_tiers

        tier = assign_tiers(
            ds, policy, defs=defs, health=health, overrides=overrides, masks=masks
        ).tier
    return Facts(
        ds=ds,
        health=health,
        previous=previous,
        tier=tier,
        renewal=renewal,
        segments=evaluate_segments(ds, defs, segment_names(conds), health.as_of, conds, masks),
    )


def raw_masks(rules: AlertRules, facts: Facts) -> tuple[dict[str, np.ndarray], list[str]]:
    """Each alert's condition before ``replaces``; alerts that cannot run are listed.

    Only accounts that exist at the as-of day can raise one (docs/semantics.md §2b).
    """
    masks: dict[str, np.ndarray] = {}
    skipped: list[str] = []
    subjects = facts.health.subject_mask()
    for alert in rules.alerts:
        if alert.needs_previous and facts.previous is None:
            skipped.append(f"{alert.spec.name}: needs a previous health run (--previous FILE)")
        elif alert.needs_tiers and facts.tier is None:
            skipped.append(f"{alert.spec.name}: needs the tier policy (tiers.yaml)")
        else:
            masks[alert.spec.name] = mask(alert.when, facts) & subjects
    return masks, skipped


def condition_mask(
    ds: Dataset,
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
    ds: Dataset,
    rules: AlertRules,
    *,
    defs: Any = None,
    policy: Any = None,
    as_of: dt.date | None = None,
    health: HealthResult | None = None,
    previous: dict[str, np.ndarray] | None = None,
    overrides: pd.DataFrame | None = None,
    tiers: np.ndarray | None = None,
    masks: Mapping[str, np.ndarray] | None = None,
) -> AlertResult:
    """Evaluate every alert; rows sorted by severity, alert order, then account.

    ``masks``: segment masks already evaluated at this as-of day (the report's).
    """
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
        masks=masks,
    )
    masks, skipped = raw_masks(rules, facts)
    for alert in rules.alerts:
        if alert.spec.name in masks:
            for lesser in alert.spec.replaces:
                if lesser in masks:
                    masks[lesser] &= ~masks[alert.spec.name]
    score = facts.health_value("score")
    ids = np.asarray(facts.health.account_ids, dtype=object)
    fired = [(k, a) for k, a in enumerate(rules.alerts) if a.spec.name in masks]
    where = [np.flatnonzero(masks[a.spec.name]) for _, a in fired]
    rows = np.concatenate([np.zeros(0, dtype=np.int64), *where])
    counts = [len(w) for w in where]

    def each(values: list[Any], dtype: Any = object) -> np.ndarray:
        """One value per alert, repeated for its rows."""
        return np.repeat(np.asarray(values, dtype=dtype), counts)

    specs = [a.spec for _, a in fired]
    frame = pd.DataFrame(
        {
            "account_id": ids[rows],
            "alert": each([s.name for s in specs]),
            "severity": each([s.severity for s in specs]),
            "tier": facts.tier[rows] if facts.tier is not None else None,
            "health_score": score[rows],
            "action": each([s.action or s.title for s in specs]),
            "signals": [
                text
                for (_, alert), w in zip(fired, where, strict=True)
                for text in map(_Explainer(alert, facts), w.tolist())
            ],
            "_severity": each([SEVERITIES.index(s.severity) for s in specs], np.int64),
            "_order": each([k for k, _ in fired], np.int64),
        },
        columns=[*ALERT_COLUMNS, "_severity", "_order"],
    )
    if len(frame):
        frame = frame.sort_values(["_severity", "_order", "account_id"], kind="stable")
    return AlertResult(
        as_of=facts.as_of, rows=frame[ALERT_COLUMNS].reset_index(drop=True), skipped=skipped
    )


class _Explainer:
    """An alert's signal texts per account; what does not depend on the account
    (the condition's mentions, the component columns) is taken once per alert."""

    def __init__(self, alert: Alert, facts: Facts) -> None:
        self.alert, self.facts = alert, facts
        nodes = alert.when.walk()
        mentioned = {n.health for n in nodes if isinstance(n, HealthCondition)}
        mentioned |= {
            SIGNAL_COMPONENT.get(n.signal, "") for n in nodes if isinstance(n, SignalCondition)
        }
        self.strengths = alert.spec.explain == "strengths"
        self.components = [(c, facts.health_value(c)) for c in COMPONENTS if c not in mentioned]
        self.last_login = facts.health.signals["days_since_last_login"]

    def __call__(self, i: int) -> str:
        """What drove the alert for account ``i``: its condition, then the components."""
        texts = describe(self.alert.when, self.facts, i)
        explain = self.alert.spec.explain
        if explain != "none":
            texts += self.drivers(i)
        if explain == "weaknesses" and not any(
            t.startswith(("last login", "no login")) for t in texts
        ):
            texts.append(last_login_text(self.last_login[i]))
        return "; ".join(dict.fromkeys(texts))

    def drivers(self, i: int) -> list[str]:
        """The weakest (or strongest) components, with their change since the previous run."""
        strengths, facts = self.strengths, self.facts
        values = [(c, float(v[i])) for c, v in self.components]
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


# -- one call for the command line, the demo and exports --------------------------------


def alert_rules_for(
    defs: str | Path | None,
    explicit: str | Path | None = None,
    *,
    tiers: list[str] | None = None,
    required: bool = True,
    segments: Mapping[str, Any] | None = None,
) -> AlertRules | None:
    """``explicit`` or ``DEFS/alerts.yaml``; None (or an error when required) if absent."""
    path = settings_file(defs, explicit, CONFIG_NAME)
    if path is None:
        if required:
            raise DefinitionError(f"{defs}: no {CONFIG_NAME} alert rules (or pass --rules FILE)")
        return None
    return load_alerts(path, tiers, segments=segments)


@dataclass
class AlertInputs:
    """Everything ``alerts`` needs besides the data, already checked."""

    rules: AlertRules
    policy: Any  # TierPolicy | None
    definitions: Any
    health_config: HealthConfig
    overrides: pd.DataFrame | None = None


def alert_inputs(
    defs: str | Path,
    *,
    rules: str | Path | None = None,
    policy: str | Path | None = None,
    overrides: str | Path | None = None,
    definitions: Any = None,
) -> AlertInputs:
    """Read the alert rules, the tier policy when there is one, and tier overrides."""
    from pendo_segments.definitions import load_definitions
    from pendo_segments.tiers.files import read_overrides
    from pendo_segments.tiers.run import policy_for

    the_policy = policy_for(defs, policy, required=False)
    the_rules = alert_rules_for(defs, rules, tiers=the_policy.names if the_policy else None)
    assert the_rules is not None
    return AlertInputs(
        rules=the_rules,
        policy=the_policy,
        overrides=read_overrides(overrides, the_policy) if overrides and the_policy else None,
        definitions=definitions if definitions is not None else load_definitions(defs),
        health_config=health_config_for(defs),
    )


def check_alerts(
    ds: Dataset,
    inputs: AlertInputs,
    *,
    as_of: dt.date | None = None,
    previous: str | Path | None = None,
    health: HealthResult | None = None,
    tiers: np.ndarray | None = None,
) -> AlertResult:
    """Score (unless ``health`` is given), read a previous health run, raise the alerts."""
    from pendo_segments.health.csvfile import read_previous_health

    health = health or compute_health(ds, as_of=as_of, config=inputs.health_config)
    before = read_previous_health(previous, health.account_ids) if previous else None
    return run_alerts(
        ds,
        inputs.rules,
        defs=inputs.definitions,
        policy=inputs.policy,
        as_of=as_of,
        health=health,
        previous=before,
        overrides=inputs.overrides,
        tiers=tiers,
    )


def alert_notes(result: AlertResult) -> list[str]:
    """Alerts that could not run, then the count per alert."""
    counts = ", ".join(f"{n} {name}" for name, n in result.counts().items())
    return [*(f"alert {line}" for line in result.skipped), counts or "no alerts"]


def at_risk_flag(
    ds: Dataset, defs: str | Path, health: HealthResult, *, definitions: Any = None
) -> np.ndarray | None:
    """The ``at_risk`` alert's own condition from DEFS/alerts.yaml, if there is one.

    An escalated account is still at risk although its at-risk task was replaced.
    """
    from pendo_segments.tiers.run import policy_for

    policy = policy_for(defs, required=False)
    rules = alert_rules_for(defs, tiers=policy.names if policy else None, required=False)
    if rules is None:
        return None
    if definitions is None:
        from pendo_segments.definitions import load_definitions

        definitions = load_definitions(defs)
    return condition_mask(ds, rules, "at_risk", defs=definitions, policy=policy, health=health)


def alerts_for_view(
    ds: Dataset, defs: str | Path, view: Any, *, definitions: Any = None
) -> AlertResult | None:
    """Alerts of ``DEFS/alerts.yaml`` for an already scored and tiered :class:`AccountView`.

    None when there are no alert rules. Reuses the view's health and tiers
    instead of computing them again.
    """
    policy = view.policy
    rules = alert_rules_for(defs, tiers=policy.names if policy else None, required=False)
    if rules is None:
        return None
    if definitions is None:
        from pendo_segments.definitions import load_definitions

        definitions = load_definitions(defs)
    return run_alerts(
        ds,
        rules,
        defs=definitions,
        policy=policy,
        as_of=view.as_of,
        health=view.health,
        tiers=view.tiers.tier if view.tiers is not None else None,
    )


@dataclass
class _AccountFields:
    """The accounts' fields at D, one row per scored account (what ``Facts.ds`` reads)."""

    accounts: pd.DataFrame


def alerts_on(
    engine: Any,
    inputs: AlertInputs,
    *,
    as_of: dt.date | None = None,
    previous: str | Path | None = None,
) -> AlertResult:
    """``alerts`` on any engine: it gives health, tiers and segment masks per account;
    the alert logic then runs once over that account-level result."""
    ds = engine.in_memory
    if ds is not None:
        return check_alerts(ds, inputs, as_of=as_of, previous=previous)
    from pendo_segments.health.csvfile import read_previous_health
    from pendo_segments.health.engine import engine_health
    from pendo_segments.health.rules import segment_names
    from pendo_segments.tiers.run import engine_tiers

    day = engine.day(as_of)
    tier = None
    if inputs.policy is not None:
        tiers = engine_tiers(engine, inputs, day)  # type: ignore[arg-type]
        health, tier = tiers.health, tiers.tier
    else:
        health = engine_health(engine, inputs.health_config, day)
    ids = health.account_ids
    names = segment_names([a.when for a in inputs.rules.alerts])
    masks: dict[str, np.ndarray] = {}
    if names:
        engine.check_day(inputs.definitions, day)  # as the numpy path's evaluate() does
        members = engine.memberships(inputs.definitions, names=names, as_of=day)
        try:
            masks = {n: members.mask(n, ids) for n in names}
        finally:
            members.close()
    fields = engine.fields_at("account", day).set_index("account_id", drop=False)
    accounts = fields.loc[list(ids)].reset_index(drop=True)
    before = read_previous_health(previous, ids) if previous else None
    return run_alerts(
        _AccountFields(accounts),  # type: ignore[arg-type]
        inputs.rules,
        defs=inputs.definitions,
        policy=inputs.policy,
        as_of=day,
        health=health,
        previous=before,
        overrides=inputs.overrides,
        tiers=tier,
        masks=masks,
    )
