"""``salesforce plan``: what would change in Salesforce, computed before anything is written.

Like ``sync plan``: the plan reads the Accounts' current values (SOQL, ``Id IN
(…)`` in chunks that keep each query URL short), keeps only the fields that
differ, and records both sides of each change. ``salesforce apply`` reads the
Accounts again and accepts a row only in one of those two states: ``before``
(still to do) or ``after`` (already done by an earlier, interrupted run);
anything else means someone changed the Account since, and the plan is refused
as stale. The plan's id is a hash of its content, so an edited plan is refused too.

Numbers are rounded to the field's own decimal places (from ``describe``) before
they are compared, so a field with fewer decimals than the score does not
show a change on every run. A missing value (no NPS answers, never logged in)
clears the field.

Tasks: one per high-severity alert that has no open Task yet in the task
state (:mod:`.state`), owned by the account CSM's User Id (``[salesforce.owners]``).
Alerts that stopped firing are listed as ``cleared``: apply closes their
episode, so a later return of the alert gets a new Task.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from pendo_segments.base.words import are, plural
from pendo_segments.salesforce.errors import SalesforceError
from pendo_segments.salesforce.org import Org
from pendo_segments.salesforce.settings import SalesforceSettings
from pendo_segments.salesforce.state import open_state
from pendo_segments.salesforce.values import Desired, HighAlert

PLAN_VERSION = 1
PLAN_KIND = "pendo-segments salesforce plan"
SAMPLE = 5
NUMBER_TYPES = ("double", "percent", "currency", "int", "long")
#: describe "type" values each field may have (what the value is written as).
FIELD_TYPES: dict[str, tuple[str, ...]] = {
    "health_score": NUMBER_TYPES,
    "feature_adoption": NUMBER_TYPES,
    "sessions_30d": NUMBER_TYPES,
    "nps": NUMBER_TYPES,
    "last_login": ("date",),
    "at_risk": ("boolean",),
    "tier": ("picklist", "string", "textarea"),
}
TASK_FIELDS = ("Subject", "WhatId", "OwnerId", "Description", "Priority", "ActivityDate")
SUBJECT_MAX = 255


@dataclass
class AccountUpdate:
    account_id: str
    record_id: str  # the Account's 18-character Id
    values: dict[str, Any]  # API name -> new value (only fields that change)
    before: dict[str, Any]  # API name -> value when planned


@dataclass
class TaskItem:
    account_id: str
    record_id: str
    alert: str
    subject: str
    description: str
    owner_id: str
    csm: str
    due: str | None
    fired_on: str
    resume: bool = False  # an earlier apply claimed it without a confirmed Task

    def fields(self) -> dict[str, Any]:
        """The Task as POSTed to /sobjects/Task."""
        body: dict[str, Any] = {
            "Subject": self.subject,
            "WhatId": self.record_id,
            "OwnerId": self.owner_id,
            "Description": self.description,
            "Priority": "High",
        }
        if self.due:
            body["ActivityDate"] = self.due
        return body


@dataclass
class Plan:
    instance_url: str
    api_version: str
    as_of: str
    data: str
    fields: dict[str, str]  # health_score, … -> Account field API name
    write_with: str  # "collections" (sObject Collections) | "bulk" (Bulk API 2.0)
    updates: list[AccountUpdate] = field(default_factory=list)
    unchanged: int = 0
    tasks: list[TaskItem] = field(default_factory=list)
    cleared: list[dict[str, str]] = field(default_factory=list)  # account_id, alert
    skipped: list[dict[str, str]] = field(default_factory=list)  # account_id, crm_id, problem
    warnings: list[str] = field(default_factory=list)
    created_at: str = ""
    kind: str = PLAN_KIND
    version: int = PLAN_VERSION
    plan_id: str = ""

    @property
    def change_count(self) -> int:
        return len(self.updates) + len(self.tasks) + len(self.cleared)

    @property
    def has_changes(self) -> bool:
        return self.change_count > 0

    def identity(self) -> str:
        """Hash of what the plan would do (not when it was made)."""
        from pendo_segments.sync.remote import fingerprint

        body = self.to_dict()
        body.pop("created_at", None)
        body.pop("plan_id", None)
        return fingerprint(body)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def write_label(self) -> str:
        return "Bulk API 2.0" if self.write_with == "bulk" else "sObject Collections"

    @classmethod
    def from_dict(cls, raw: Any, where: str = "plan") -> Plan:
        if not isinstance(raw, dict) or raw.get("kind") != PLAN_KIND:
            raise SalesforceError(f"{where}: not a plan made by `pendo-segments salesforce plan`")
        if raw.get("version") != PLAN_VERSION:
            raise SalesforceError(
                f"{where}: plan version {raw.get('version')!r} is not {PLAN_VERSION}; "
                "run salesforce plan again"
            )
        try:
            plan = cls(
                **{
                    **raw,
                    "updates": [AccountUpdate(**u) for u in raw.get("updates") or []],
                    "tasks": [TaskItem(**t) for t in raw.get("tasks") or []],
                }
            )
        except TypeError as err:
            raise SalesforceError(f"{where}: malformed plan ({err})") from None
        if plan.plan_id != plan.identity():
            raise SalesforceError(
                f"{where}: the plan was edited after it was made (its id does not match "
                "its content); run salesforce plan again"
            )
        return plan

    def summary(self) -> dict[str, Any]:
        """The reviewable view (``--format json``)."""
        return {
            "plan_id": self.plan_id,
            "instance_url": self.instance_url,
            "as_of": self.as_of,
            "data": self.data,
            "write_with": self.write_with,
            "changes": self.change_count,
            "counts": {
                "updates": len(self.updates),
                "unchanged": self.unchanged,
                "tasks": len(self.tasks),
                "cleared": len(self.cleared),
                "skipped": len(self.skipped),
            },
            "updates": [asdict(u) for u in self.updates],
            "tasks": [asdict(t) for t in self.tasks],
            "cleared": self.cleared,
            "skipped": self.skipped,
            "warnings": self.warnings,
        }


def save_plan(plan: Plan, path: str | Path) -> None:
    from pendo_segments.atomic import write_text

    write_text(path, plan.to_json())


def load_plan(path: str | Path) -> Plan:
    from pendo_segments.base.jsonfile import read_json

    return Plan.from_dict(read_json(path, SalesforceError, "plan"), str(Path(path)))


# -- building a plan -------------------------------------------------------------------
def account_fields(org: Org, fields: dict[str, str]) -> dict[str, dict[str, Any]]:
    """describe of each configured Account field by API name; an error when one is missing."""
    described = {str(f["name"]).lower(): f for f in org.describe("Account").get("fields", [])}
    missing = [api for api in fields.values() if api.lower() not in described]
    if missing:
        raise SalesforceError(
            f"Salesforce Account has no field {', '.join(missing)}: create "
            f"{'it' if len(missing) == 1 else 'them'} (README: Salesforce), or set the name "
            "under [salesforce.fields]; `pendo-segments salesforce check` lists every field"
        )
    return {api: described[api.lower()] for api in fields.values()}


def to_field(value: Any, spec: dict[str, Any]) -> Any:
    """The value as the field stores it: numbers rounded to its decimal places."""
    if value is None:
        return None
    kind = spec.get("type")
    if kind in NUMBER_TYPES and not isinstance(value, bool):
        scale = int(spec.get("scale") or 0)
        # Salesforce rounds half up (2.5 -> 3), not to even as round() does (2.5 -> 2)
        step = Decimal(1).scaleb(-scale)
        number = Decimal(str(value)).quantize(step, rounding=ROUND_HALF_UP)
        return int(number) if kind in ("int", "long") or scale == 0 else float(number)
    if kind == "boolean":
        return bool(value)
    return value


def same(a: Any, b: Any) -> bool:
    """Field equality as Salesforce round-trips it (2 == 2.0; "" and None are both empty)."""
    from pendo_segments.sync.remote import same_value

    a = None if a == "" else a
    b = None if b == "" else b
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b  # True / False are singletons; 1 is not a checkbox value
    return same_value(a, b)


def make_plan(
    org: Org,
    desired: Desired,
    settings: SalesforceSettings,
    *,
    data_label: str = "",
) -> Plan:
    """Compare the desired values (and alerts) with Salesforce and the task state."""
    fields = dict(settings.fields)
    specs = account_fields(org, fields) if fields else {}
    plan = Plan(
        instance_url=org.instance_url,
        api_version=settings.api_version,
        as_of=desired.as_of.isoformat(),
        data=data_label,
        fields=fields,
        write_with="collections",
        skipped=list(desired.skipped),
        created_at=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
    )
    current = org.records_by_id(
        "Account", [a.crm_id for a in desired.accounts], list(fields.values())
    )
    found: dict[str, str] = {}  # account_id -> 18-character Id
    for account in desired.accounts:
        record = current.get(account.crm_id[:15])
        if record is None:
            plan.skipped.append(
                {
                    "account_id": account.account_id,
                    "crm_id": account.crm_id,
                    "problem": f"crm_id '{account.crm_id}' is not an Account in Salesforce "
                    "(deleted, or not visible to this user)",
                }
            )
            continue
        record_id = str(record["Id"])
        found[account.account_id] = record_id
        values, before = {}, {}
        for key, api in fields.items():
            want = to_field(account.values.get(key), specs[api])
            if not same(want, record.get(api)):
                values[api], before[api] = want, record.get(api)
        if values:
            plan.updates.append(AccountUpdate(account.account_id, record_id, values, before))
        else:
            plan.unchanged += 1
    plan.skipped.sort(key=lambda s: s["account_id"])
    if len(plan.updates) > settings.bulk_threshold:
        plan.write_with = "bulk"
    if settings.tasks:
        _plan_tasks(plan, desired, settings, found)
    if plan.skipped:
        shown = ", ".join(s["account_id"] for s in plan.skipped[:SAMPLE])
        more = " …" if len(plan.skipped) > SAMPLE else ""
        plan.warnings.append(
            f"{plural(len(plan.skipped), 'account')} {are(len(plan.skipped))} not written "
            f"(no usable crm_id, or not in Salesforce): {shown}{more}; see 'skipped' in the plan"
        )
    plan.plan_id = plan.identity()
    return plan


def task_subject(title: str, alert: str, day: str) -> str:
    """``Pendo: <title> [<alert> <day>]``: unique per Account and episode, so an apply
    that lost its answer can find the Task again by Subject."""
    tail = f" [{alert} {day}]"
    head = f"Pendo: {title}"
    return head[: SUBJECT_MAX - len(tail)] + tail


def task_description(alert: HighAlert, name: str) -> str:
    lines = [
        f"{alert.action}" if alert.action else alert.title,
        "",
        f"Account: {name or alert.account_id} ({alert.account_id})",
        f"Health score: {'' if alert.health_score is None else alert.health_score}",
    ]
    if alert.tier:
        lines.append(f"Tier: {alert.tier}")
    if alert.signals:
        lines.append(f"Signals: {alert.signals}")
    lines.append("Raised by pendo-segments (Pendo usage).")
    return "\n".join(lines)[:32000]


def _plan_tasks(
    plan: Plan, desired: Desired, settings: SalesforceSettings, found: dict[str, str]
) -> None:
    with open_state(settings.state_file, read_only=True) as state:
        open_rows = state.open_rows()
    accounts = {a.account_id: a for a in desired.accounts}
    firing = {(a.account_id, a.alert) for a in desired.alerts}
    no_owner: dict[str, int] = {}
    not_written = 0
    due = (
        (desired.as_of + dt.timedelta(days=settings.task_due_days)).isoformat()
        if settings.task_due_days
        else None
    )
    for alert in desired.alerts:
        row = open_rows.get((alert.account_id, alert.alert))
        if row is not None and row.state == "created":
            continue  # its Task exists; nothing until the alert clears
        record_id = found.get(alert.account_id)
        if record_id is None:
            not_written += 1
            continue
        account = accounts[alert.account_id]
        owner = settings.owner_for(account.csm)
        if not owner:
            csm = account.csm or "(no csm_owner)"
            no_owner[csm] = no_owner.get(csm, 0) + 1
            continue
        fired_on = row.fired_on if row is not None else plan.as_of
        plan.tasks.append(
            TaskItem(
                account_id=alert.account_id,
                record_id=record_id,
                alert=alert.alert,
                subject=row.subject
                if row is not None
                else task_subject(alert.title, alert.alert, fired_on),
                description=task_description(alert, account.name),
                owner_id=owner,
                csm=account.csm,
                due=due,
                fired_on=fired_on,
                resume=row is not None,
            )
        )
    plan.cleared = [
        {"account_id": a, "alert": n} for (a, n) in sorted(open_rows) if (a, n) not in firing
    ]
    if no_owner:
        names = ", ".join(f"'{c}' ({n})" for c, n in sorted(no_owner.items()))
        count = sum(no_owner.values())
        plan.warnings.append(
            f"{plural(count, 'high alert')} {'gets' if count == 1 else 'get'} no Task: "
            "no Salesforce User Id "
            f"for CSM {names}; add them under [salesforce.owners] or set default_owner"
        )
    if not_written:
        plan.warnings.append(
            f"{plural(not_written, 'high alert')} of accounts that are not written "
            f"{'gets' if not_written == 1 else 'get'} no Task"
        )
