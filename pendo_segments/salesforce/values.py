"""What each Account should hold in Salesforce, and which high alerts call for a Task.

The numbers are exactly those of ``export salesforce`` (:mod:`pendo_segments.export.salesforce`):
health score, last login day, key feature adoption %, sessions in 30 days,
mean NPS in 90 days and the at-risk flag (the ``at_risk`` alert's own
condition, so an escalated account is still at risk), plus the tier from
``tiers.yaml``. An account is written only when its ``crm_id`` is a usable
record id that no other account shares; the others are listed with the reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pendo_segments.salesforce.errors import SalesforceError

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset

#: The export's columns (export.salesforce.FIELDS, in order) by what they hold.
EXPORT_KEYS = ("health_score", "last_login", "feature_adoption", "sessions_30d", "nps", "at_risk")
TASK_SEVERITY = "high"


@dataclass
class AccountValues:
    account_id: str
    name: str
    crm_id: str
    csm: str
    values: dict[str, Any]  # health_score, tier, … -> plain JSON value (None: no value)


@dataclass
class HighAlert:
    account_id: str
    alert: str
    title: str
    action: str
    signals: str
    health_score: float | None
    tier: str | None


@dataclass
class Desired:
    as_of: dt.date
    accounts: list[AccountValues]
    skipped: list[dict[str, str]]  # account_id, crm_id, problem
    alerts: list[HighAlert] = field(default_factory=list)


def desired_values(
    ds: Dataset,
    defs_path: str | Path,
    *,
    keys: Collection[str],
    as_of: dt.date | None = None,
    definitions: Any = None,
    overrides_file: Path | None = None,
) -> Desired:
    """Values for ``keys`` (health_score, tier, …) and the high alerts, per account."""
    from pendo_segments.export.salesforce import FIELDS, salesforce_export
    from pendo_segments.sync.metadata import plain
    from pendo_segments.tiers.alerts import alert_rules_for, alerts_for_view, at_risk_flag
    from pendo_segments.tiers.view import account_view

    if definitions is None:
        from pendo_segments.definitions import load_definitions

        definitions = load_definitions(defs_path)
    defs_dir = Path(defs_path)
    view = account_view(ds, defs_dir, defs=definitions, as_of=as_of, overrides_file=overrides_file)
    if "tier" in keys and view.tiers is None:
        raise SalesforceError(
            f"the Account field for tier needs a tier policy: no tiers.yaml in {defs_path}; "
            'add one, or set tier = "" under [salesforce.fields]'
        )
    flag = at_risk_flag(ds, defs_dir, view.health, definitions=definitions)
    export = salesforce_export(ds, health=view.health, at_risk=flag)
    accounts = ds.accounts
    ids = [str(a) for a in accounts["account_id"]]
    by_crm: dict[str, str] = {}
    if "crm_id" in accounts.columns:
        for account, value in zip(ids, accounts["crm_id"], strict=True):
            if _text(value).strip():
                by_crm[_text(value).strip()] = account
    names = _column(accounts, "name")
    csms = _column(accounts, "csm_owner")
    tiers = view.tier_of()
    rows = []
    for record in export.rows.to_dict("records"):
        crm_id = str(record["crm_id"])
        account = by_crm[crm_id]
        values = {key: plain(record[name]) for key, name in zip(EXPORT_KEYS, FIELDS, strict=True)}
        values["tier"] = tiers.get(account)
        rows.append(
            AccountValues(
                account_id=account,
                name=names.get(account, ""),
                crm_id=crm_id,
                csm=csms.get(account, ""),
                values={k: values[k] for k in keys},
            )
        )
    rows.sort(key=lambda r: r.account_id)
    skipped = [
        {
            "account_id": str(e["account_id"]),
            "crm_id": _text(e["crm_id"]),
            "problem": str(e["problem"]),
        }
        for e in export.exceptions.to_dict("records")
    ]
    result = Desired(as_of=view.as_of, accounts=rows, skipped=skipped)
    alerts = alerts_for_view(ds, defs_dir, view, definitions=definitions)
    if alerts is not None:
        rules = alert_rules_for(
            defs_dir, tiers=view.policy.names if view.policy else None, required=False
        )
        titles = {a.spec.name: a.spec.title for a in rules.alerts} if rules else {}
        for row in alerts.rows.to_dict("records"):
            if row["severity"] != TASK_SEVERITY:
                continue
            result.alerts.append(
                HighAlert(
                    account_id=str(row["account_id"]),
                    alert=str(row["alert"]),
                    title=titles.get(str(row["alert"]), str(row["alert"])),
                    action=_text(row["action"]),
                    signals=_text(row["signals"]),
                    health_score=plain(row["health_score"]),
                    tier=plain(row["tier"]),
                )
            )
    return result


def _column(accounts: Any, name: str) -> dict[str, str]:
    if name not in accounts.columns:
        return {}
    return {str(a): _text(v) for a, v in zip(accounts["account_id"], accounts[name], strict=True)}


def _text(value: Any) -> str:
    if value is None:
        return ""
    try:
        if value != value:  # NaN / NA  # noqa: PLR0124
            return ""
    except (TypeError, ValueError):
        return ""
    return str(value)
