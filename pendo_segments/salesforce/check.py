"""``salesforce check``: can ``salesforce apply`` run against this org? Read-only probes.

1. the login works (a session id is tried with the first call: describe of Account);
2. each configured Account field exists, this user may edit it, and its type holds
   the value (a number, a date, a checkbox, text);
3. Tasks can be created with the fields apply sets (when ``tasks`` is on);
4. every User Id of ``[salesforce.owners]`` / ``default_owner`` is an active user;
5. the task state file can be written.

Nothing is written. Each finding is a :class:`Probe` with one line that says
what to do when it fails.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pendo_segments.base.words import plural
from pendo_segments.errors import ConfigError
from pendo_segments.pendo.check import Probe
from pendo_segments.salesforce.errors import SalesforceError
from pendo_segments.salesforce.plan import FIELD_TYPES, TASK_FIELDS
from pendo_segments.salesforce.settings import SalesforceSettings

#: What to create for each field (README, "Salesforce").
SUGGESTED_TYPE = {
    "health_score": "Number(4, 1)",
    "tier": "Picklist (P1, P2, P3, Neighborhood) or Text(40)",
    "last_login": "Date",
    "feature_adoption": "Percent(4, 1)",
    "sessions_30d": "Number(9, 0)",
    "nps": "Number(3, 1)",
    "at_risk": "Checkbox",
}


def run_checks(settings: SalesforceSettings, connect: Any = None) -> list[Probe]:
    """Every probe in order; the ones after a refused login are reported as not checked."""
    from pendo_segments.salesforce.org import connect as default_connect

    names = [f"field {k}" for k in settings.fields]
    later = [*names, "Task", "owners", "state file"]
    try:
        login = settings.credentials()
        org = (connect or default_connect)(settings)
        account = org.describe("Account")
    except (SalesforceError, ConfigError) as err:
        return [Probe("login", False, str(err))] + [
            Probe(n, False, "not checked (no login)") for n in later
        ]
    probes = [Probe("login", True, f"{org.instance_url} ({login.describe()})")]
    described = {str(f.get("name", "")).lower(): f for f in account.get("fields", [])}
    for key, api in settings.fields.items():
        probes.append(_field_probe(key, api, described.get(api.lower())))
    probes.append(_task_probe(org, settings))
    probes.append(_owners_probe(org, settings))
    probes.append(_state_probe(settings.state_file))
    return probes


def _field_probe(key: str, api: str, spec: dict[str, Any] | None) -> Probe:
    name = f"field {key}"
    if spec is None:
        return Probe(
            name,
            False,
            f"Account has no field {api}: create it as {SUGGESTED_TYPE[key]}, or set "
            f"{key} under [salesforce.fields] to its API name",
        )
    kind = str(spec.get("type"))
    if kind not in FIELD_TYPES[key]:
        return Probe(
            name,
            False,
            f"{api} is a {kind} field, which cannot hold this value: make it {SUGGESTED_TYPE[key]}",
        )
    if not spec.get("updateable"):
        return Probe(
            name,
            False,
            f"{api} exists but this user cannot edit it: give the integration user edit "
            "access (field-level security), or it is a formula field",
        )
    return Probe(name, True, f"{api} ({kind}, editable)")


def _task_probe(org: Any, settings: SalesforceSettings) -> Probe:
    if not settings.tasks:
        return Probe("Task", True, "tasks = false: no Tasks are created")
    try:
        task = org.describe("Task")
    except SalesforceError as err:
        return Probe("Task", False, str(err))
    if not task.get("createable"):
        return Probe("Task", False, "this user cannot create Tasks (profile: Edit Tasks)")
    creatable = {str(f.get("name")) for f in task.get("fields", []) if f.get("createable")}
    missing = [f for f in TASK_FIELDS if f not in creatable]
    if missing:
        return Probe("Task", False, f"Task fields this user cannot set: {', '.join(missing)}")
    return Probe("Task", True, f"Tasks can be created ({', '.join(TASK_FIELDS)})")


def _owners_probe(org: Any, settings: SalesforceSettings) -> Probe:
    if not settings.tasks:
        return Probe("owners", True, "tasks = false: not needed")
    wanted = {**settings.owners}
    if settings.default_owner:
        wanted["(default_owner)"] = settings.default_owner
    if not wanted:
        return Probe(
            "owners",
            False,
            "no [salesforce.owners] and no default_owner: high alerts would get no Task",
        )
    try:
        users = org.records_by_id("User", list(wanted.values()), ["IsActive"])
    except SalesforceError as err:
        return Probe("owners", False, str(err))
    bad = [
        f"{csm} ({uid}: {'inactive' if uid[:15] in users else 'no such user'})"
        for csm, uid in wanted.items()
        if not users.get(uid[:15], {}).get("IsActive")
    ]
    if bad:
        return Probe("owners", False, "cannot own Tasks: " + ", ".join(bad))
    return Probe("owners", True, f"{plural(len(wanted), 'active user')}")


def _state_probe(path: Path) -> Probe:
    target = Path(path)
    if target.is_dir():
        return Probe("state file", False, f"{target} is a folder")
    if target.exists():
        ok = os.access(target, os.W_OK)
        return Probe("state file", ok, f"{target}" + ("" if ok else ": not writable"))
    parent = next((p for p in target.parents if p.exists()), Path("."))
    ok = parent.is_dir() and os.access(parent, os.W_OK)
    return Probe(
        "state file",
        ok,
        f"{target} (created by the first apply)" if ok else f"{target}: {parent} is not writable",
    )
