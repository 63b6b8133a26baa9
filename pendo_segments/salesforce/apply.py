"""``salesforce apply``: write exactly a reviewed plan, refuse it when Salesforce moved on.

1. The Accounts of the plan are read again: each row must hold its planned
   ``before`` (to do) or ``after`` values (done by an earlier, interrupted
   apply); any other value means a person or another tool changed it since,
   and nothing is written (run ``salesforce plan`` again).
2. The rows to do go out through sObject Collections (200 a request,
   ``allOrNone: false``) or, for a large plan, one Bulk API 2.0 update job
   (CSV; an empty cell leaves a field alone, ``#N/A`` clears it). Salesforce
   answers per record; each failed record is reported with its error.
3. Tasks are claimed in the task state before they are sent (:mod:`.state`),
   under a lock so two applies never race for one claim.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from dataclasses import asdict, dataclass, field
from typing import Any

from pendo_segments.base.words import plural
from pendo_segments.salesforce.errors import SalesforceError
from pendo_segments.salesforce.org import COLLECTION_SIZE, Org, SessionRefused, TaskRefused
from pendo_segments.salesforce.plan import AccountUpdate, Plan, same
from pendo_segments.salesforce.settings import SalesforceSettings
from pendo_segments.salesforce.state import apply_lock, open_state

#: Bulk API 2.0 CSV: the value that sets a field to null (an empty cell is ignored).
BULK_NULL = "#N/A"
SAMPLE = 3


@dataclass
class ApplyResult:
    plan_id: str
    write_with: str
    updated: list[str] = field(default_factory=list)  # account ids
    already: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)  # account_id, record_id, error
    tasks_created: list[dict[str, str]] = field(default_factory=list)  # account_id, alert, task_id
    tasks_found: list[dict[str, str]] = field(default_factory=list)  # created by an earlier run
    tasks_already: list[dict[str, str]] = field(default_factory=list)
    tasks_failed: list[dict[str, str]] = field(default_factory=list)  # account_id, alert, error
    cleared: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.tasks_failed

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, **asdict(self)}


def apply_plan(plan: Plan, org: Org, settings: SalesforceSettings) -> ApplyResult:
    """Apply ``plan``; per-row failures are in the result, a stale plan is an error."""
    if plan.instance_url.rstrip("/") != org.instance_url.rstrip("/"):
        raise SalesforceError(
            f"the plan was made for {plan.instance_url}, but the login is for "
            f"{org.instance_url}; plan again against this org"
        )
    result = ApplyResult(plan_id=plan.plan_id, write_with=plan.write_with)
    with apply_lock(settings.state_file, settings.lock_wait):
        todo = _still_to_do(plan, org, result)
        if todo:
            if plan.write_with == "bulk":
                _write_bulk(org, todo, list(plan.fields.values()), result)
            else:
                _write_collections(org, todo, result)
        if plan.tasks or plan.cleared:
            _apply_tasks(plan, org, settings, result)
    return result


def _still_to_do(plan: Plan, org: Org, result: ApplyResult) -> list[AccountUpdate]:
    """The rows still holding their ``before`` values; an error for any changed since."""
    if not plan.updates:
        return []
    fields = list(plan.fields.values())
    current = org.records_by_id("Account", [u.record_id for u in plan.updates], fields)
    todo: list[AccountUpdate] = []
    stale: list[str] = []
    for update in plan.updates:
        record = current.get(update.record_id[:15])
        if record is None:
            result.failed.append(
                {
                    "account_id": update.account_id,
                    "record_id": update.record_id,
                    "error": "the Account is no longer in Salesforce (deleted since the plan)",
                }
            )
            continue
        now = {api: record.get(api) for api in update.values}
        if all(same(now[api], value) for api, value in update.values.items()):
            result.already.append(update.account_id)
        elif all(same(now[api], update.before.get(api)) for api in update.values):
            todo.append(update)
        else:
            api = next(a for a in update.values if not same(now[a], update.before.get(a)))
            stale.append(
                f"{update.account_id} ({update.record_id}) {api}: planned from "
                f"{_show(update.before.get(api))}, now {_show(now[api])}"
            )
    if stale:
        more = " …" if len(stale) > SAMPLE else ""
        raise SalesforceError(
            f"plan {plan.plan_id} is stale: {plural(len(stale), 'Account')} changed in "
            f"Salesforce since it was made ({'; '.join(stale[:SAMPLE])}{more}); nothing was "
            "written: run salesforce plan again"
        )
    return todo


def _show(value: Any) -> str:
    return "(empty)" if value is None or value == "" else repr(value)


def _errors(items: Any) -> str:
    """``STATUS_CODE: message (Field, …)`` for a SaveResult's errors."""
    parts = []
    for e in items or []:
        if not isinstance(e, dict):
            parts.append(str(e))
            continue
        where = f" ({', '.join(map(str, e.get('fields') or []))})" if e.get("fields") else ""
        code = str(e.get("statusCode") or e.get("errorCode") or "ERROR")
        parts.append(f"{code}: {e.get('message') or ''}".rstrip(": ") + where)
    return "; ".join(parts) or "refused without an error message"


def _write_collections(org: Org, rows: list[AccountUpdate], result: ApplyResult) -> None:
    for start in range(0, len(rows), COLLECTION_SIZE):
        chunk = rows[start : start + COLLECTION_SIZE]
        records = [
            {"attributes": {"type": "Account"}, "id": u.record_id, **u.values} for u in chunk
        ]
        for update, answer in zip(chunk, org.update_collection(records), strict=True):
            if answer.get("success"):
                result.updated.append(update.account_id)
            else:
                result.failed.append(
                    {
                        "account_id": update.account_id,
                        "record_id": update.record_id,
                        "error": _errors(answer.get("errors")),
                    }
                )


def bulk_csv(rows: list[AccountUpdate], fields: list[str]) -> str:
    """The Bulk API 2.0 CSV: Id, then every field; only changed cells are filled."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["Id", *fields])
    for update in rows:
        writer.writerow([update.record_id, *(_cell(update.values, f) for f in fields)])
    return buffer.getvalue()


def _cell(values: dict[str, Any], api: str) -> str:
    if api not in values:
        return ""  # Bulk API: an empty cell leaves the field as it is
    value = values[api]
    if value is None:
        return BULK_NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _write_bulk(
    org: Org, rows: list[AccountUpdate], fields: list[str], result: ApplyResult
) -> None:
    by_id = {u.record_id[:15]: u for u in rows}
    handle, path = tempfile.mkstemp(prefix="pendo-segments-sf-", suffix=".csv")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as fh:
            fh.write(bulk_csv(rows, fields))
        jobs = org.bulk_update("Account", path)
    finally:
        os.unlink(path)
    bad: dict[str, str] = {}
    for job in jobs:
        job_id = str(job["job_id"])
        if int(job.get("numberRecordsFailed") or 0):
            text = org.bulk_results("Account", job_id, "failed")
            for line in csv.DictReader(io.StringIO(text)):
                key = (line.get("Id") or line.get("sf__Id") or "")[:15]
                bad[key] = line.get("sf__Error") or "failed in the Bulk API job"
        if int(job.get("numberRecordsProcessed") or 0) < int(job.get("numberRecordsTotal") or 0):
            text = org.bulk_results("Account", job_id, "unprocessed")
            for line in csv.DictReader(io.StringIO(text)):
                bad.setdefault(
                    (line.get("Id") or "")[:15], f"not processed by Bulk API job {job_id}"
                )
    for key, update in by_id.items():
        if key in bad:
            result.failed.append(
                {"account_id": update.account_id, "record_id": update.record_id, "error": bad[key]}
            )
        else:
            result.updated.append(update.account_id)


def _apply_tasks(plan: Plan, org: Org, settings: SalesforceSettings, result: ApplyResult) -> None:
    with open_state(settings.state_file) as state:
        for item in plan.tasks:
            row, fresh = state.claim(
                account_id=item.account_id,
                alert=item.alert,
                record_id=item.record_id,
                subject=item.subject,
                fired_on=item.fired_on,
                plan_id=plan.plan_id,
            )
            who = {"account_id": item.account_id, "alert": item.alert}
            if row.state == "created":
                result.tasks_already.append({**who, "task_id": str(row.task_id)})
                continue
            if not fresh:  # an earlier run claimed it: its Task may exist
                found = org.find_task(row.record_id, row.subject)
                if found:
                    state.mark_created(row.id, found)
                    result.tasks_found.append({**who, "task_id": found})
                    continue
            body = {**item.fields(), "Subject": row.subject, "WhatId": row.record_id}
            task_id: str | None
            try:
                task_id = org.create_task(body)
            except TaskRefused as err:
                state.note_error(row.id, str(err))
                result.tasks_failed.append({**who, "error": str(err)})
                continue
            except SessionRefused:
                raise
            except SalesforceError as err:  # no answer: look before anyone tries again
                task_id = _look_again(org, row.record_id, row.subject)
                if task_id is None:
                    state.note_error(row.id, str(err))
                    result.tasks_failed.append(
                        {**who, "error": f"{err} (the next apply looks for it, then retries)"}
                    )
                    continue
            state.mark_created(row.id, task_id)
            result.tasks_created.append({**who, "task_id": task_id})
        for done in plan.cleared:
            if state.clear(done["account_id"], done["alert"], plan.as_of):
                result.cleared += 1


def _look_again(org: Org, record_id: str, subject: str) -> str | None:
    try:
        return org.find_task(record_id, subject)
    except SessionRefused:
        raise
    except SalesforceError:
        return None
