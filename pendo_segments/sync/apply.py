"""``sync apply``: carry out exactly a reviewed plan, resumably.

0. Take the subscription's apply lock (:mod:`~pendo_segments.sync.lock`): a
   second apply against the same subscription, from any folder, waits
   ``[sync] lock_wait`` seconds, then stops naming the holder.
1. Re-read Pendo. Every planned item must be in its planned ``before`` state
   (to do) or its ``after`` state (done by an earlier, interrupted run);
   anything else makes the plan stale and nothing is written.
2. Apply the items still to do in plan order (segments, then metadata in
   batches), logging each step to the audit log. Before each create, Pendo is
   asked again for a segment of that name, and again after an ambiguous failure
   (timeout, dropped connection, 5xx): a create Pendo finished after we gave up
   is adopted, never made twice; after each create the name is read again and a
   duplicate another run made at the same time is deleted, the lowest id kept
   (:mod:`~pendo_segments.sync.duplicates`). Each list write waits until Pendo has built it;
   409 "Operation in progress" is waited out (the transport retries it). A status
   word we do not know is polled like a build in progress, up to ``[sync]
   upload_timeout``. A list whose build Pendo reports as failed (or still with an
   unknown word) is never "already applied": the re-run sends the whole list again.
   A PATCH diff goes out in batches of at most ``[sync] patch_batch_size`` ids, each
   after the one before is built; a list holding part of the planned diff (a run cut
   short between batches) is finished with what is left, and a planned list that is
   only missing from the segment list (no longer shared with Everyone) is named as
   such, not as deleted.
3. Stop at the first failure and report what was applied, what failed and
   what was not attempted; running the same plan again finishes the job.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pendo_segments.base.words import plural
from pendo_segments.errors import PendoAPIError, SyncError
from pendo_segments.pendo import api_shapes as shapes
from pendo_segments.sync.audit import AuditLog
from pendo_segments.sync.duplicates import settle
from pendo_segments.sync.lock import ApplyLock
from pendo_segments.sync.plan import Plan, SegmentChange, members_fingerprint
from pendo_segments.sync.remote import Remote, RemoteState, one_segment, same_value
from pendo_segments.sync.settings import SyncSettings

Progress = Callable[[str, int, int], None]  # (step description, done, total)
STALE_SHOWN = 10


@dataclass
class ApplyResult:
    """What happened, item by item (descriptions a CS ops person reads)."""

    plan_id: str
    applied: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    not_attempted: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    metadata_errors: list[str] = field(default_factory=list)
    created: dict[str, str] = field(default_factory=dict)  # pendo name -> new segment id

    @property
    def ok(self) -> bool:
        return not self.failed and not self.not_attempted

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id,
            "ok": self.ok,
            "applied": self.applied,
            "already_applied": self.already,
            "failed": self.failed,
            "not_attempted": self.not_attempted,
            "missing": self.missing,
            "metadata_errors": self.metadata_errors,
            "created": self.created,
        }


@dataclass
class _Step:
    label: str
    run: Callable[[], None]


class Applier:
    def __init__(
        self,
        plan: Plan,
        client: Any,
        settings: SyncSettings,
        audit: AuditLog,
        progress: Progress | None = None,
    ) -> None:
        self.plan = plan
        self.client = client
        self.settings = settings
        self.audit = audit
        self.progress = progress or (lambda _label, _done, _total: None)
        self.remote = Remote(client, settings)
        self.result = ApplyResult(plan.plan_id)
        self._rebuild: set[str] = set()  # lists whose build is not done: sent whole again
        # PATCH diffs an interrupted run sent in part: what is left to send
        self._remaining: dict[str, tuple[list[str], list[str]]] = {}

    # -- 1. where does Pendo stand? --------------------------------------------------
    def check(self) -> tuple[list[SegmentChange], list[dict[str, Any]]]:
        """Items still to do; raise SyncError when the plan is stale."""
        if self.plan.base_url.rstrip("/") != self.client.base_url.rstrip("/"):
            raise SyncError(
                f"the plan was made for {self.plan.base_url}, not "
                f"{self.client.base_url}; run sync plan against this subscription"
            )
        stale: list[str] = []
        state = self.remote.segments({s.name for s in self.plan.segments})
        todo_segments = []
        for change in self.plan.segments:
            if not change.changes:
                continue
            current = self._current(state, change, stale)
            members = self._members(current)
            fp = self._fingerprint(current, members)
            partial = self._partial(change, current, members)
            if (
                change.action == "update"
                and current is not None
                and str(current.get("id")) != change.segment_id
            ):
                stale.append(
                    f"segment '{change.pendo_name}' now has id {current.get('id')}, "
                    f"the plan expected {change.segment_id}"
                )
            elif (
                fp is not None and fp in (change.before, change.after) and not self._built(current)
            ):
                self._rebuild.add(change.pendo_name)  # a failed or unknown build: not applied
                todo_segments.append(change)
            elif fp == change.after:
                self.result.already.append(f"{change.action} segment '{change.pendo_name}'")
            elif fp == change.before:
                todo_segments.append(change)
            elif partial is not None:  # an interrupted run sent some of the PATCH batches
                self._remaining[change.pendo_name] = partial
                todo_segments.append(change)
            elif fp is None and change.segment_id and self._private(change.segment_id):
                stale.append(
                    f"segment '{change.pendo_name}' (id {change.segment_id}) is no longer in "
                    "Pendo's list of segments shared with Everyone (GET /api/v1/segment lists "
                    "only those); set its Visibility to Everyone in Pendo"
                )
            else:
                what = (
                    "was created"
                    if change.before is None
                    else ("was deleted" if fp is None else "changed (members or kind)")
                )
                stale.append(f"segment '{change.pendo_name}' {what} in Pendo since the plan")
        todo_meta = self._check_metadata(stale)
        if stale:
            more = f" (and {len(stale) - STALE_SHOWN} more)" if len(stale) > STALE_SHOWN else ""
            self.audit.write(
                "apply",
                self.plan.plan_id,
                plan=self.plan.plan_id,
                result="refused: stale plan",
                stale=stale,
            )
            raise SyncError(
                "the plan is stale, Pendo changed since it was made: "
                + "; ".join(stale[:STALE_SHOWN])
                + more
                + "; run sync plan again and review the new plan"
            )
        return todo_segments, todo_meta

    def _members(self, current: dict[str, Any] | None) -> list[str] | None:
        """The members of an API-made list (None: no list, or not one we can write)."""
        if current is None or not current.get("createdByApi"):
            return None
        return self.remote.members(str(current["id"]))

    def _fingerprint(
        self, current: dict[str, Any] | None, members: list[str] | None = None
    ) -> str | None:
        """A list's members fingerprint; something we cannot write never matches."""
        if current is None:
            return None
        if not current.get("createdByApi"):
            return f"not-a-list:{current.get('id')}"
        if members is None:
            members = self.remote.members(str(current["id"]))
        return members_fingerprint(members)

    @staticmethod
    def _partial(
        change: SegmentChange, current: dict[str, Any] | None, members: list[str] | None
    ) -> tuple[list[str], list[str]] | None:
        """(add, remove) still to send when a planned PATCH was sent in part: the list
        differs from the planned result only by ids of the planned diff."""
        if change.action != "update" or change.method != "patch" or members is None:
            return None
        if current is None or str(current.get("id")) != change.segment_id:
            return None
        have, want = set(members), set(change.visitors)
        add, remove = sorted(want - have), sorted(have - want)
        if set(add) <= set(change.add) and set(remove) <= set(change.remove):
            return add, remove
        return None

    def _private(self, segment_id: str) -> bool:
        """The planned segment exists although the list (shared segments only) lacks it."""
        try:
            self.client.get_segment(segment_id)
        except PendoAPIError as err:
            if err.status == 404:
                return False
            raise
        return True

    def _built(self, current: dict[str, Any] | None) -> bool:
        """Pendo reports the list as built (only then it holds what its members say)."""
        if current is None or not current.get("createdByApi"):
            return True
        return self.remote.build(str(current["id"])).state == "done"

    def _current(
        self, state: RemoteState, change: SegmentChange, stale: list[str]
    ) -> dict[str, Any] | None:
        try:
            return one_segment(state.managed.get(change.name, []), change.pendo_name)
        except SyncError as err:
            if change.changes:
                stale.append(str(err))
            return None

    def _check_metadata(self, stale: list[str]) -> list[dict[str, Any]]:
        updates = self.plan.metadata_updates
        if not updates:
            return []
        fields = list(dict.fromkeys(k for u in updates for k in u["values"]))
        current = self.remote.account_values(fields)
        todo = []
        done = 0
        for update in updates:
            now = current.get(update["accountId"])
            if now is None:  # gone from Pendo: send anyway, Pendo reports it missing
                todo.append(update)
            elif all(same_value(now.get(k), v) for k, v in update["values"].items()):
                done += 1
            elif all(same_value(now.get(k), update["before"].get(k)) for k in update["values"]):
                todo.append(update)
            else:
                diff = next(
                    k
                    for k in update["values"]
                    if not same_value(now.get(k), update["before"].get(k))
                )
                stale.append(
                    f"account '{update['accountId']}' {diff} is {now.get(diff)!r} in "
                    f"Pendo, the plan expected {update['before'].get(diff)!r}"
                )
        if done:
            self.result.already.append(f"metadata of {plural(done, 'account')}")
        return todo

    # -- 2. apply ----------------------------------------------------------------------
    def run(self) -> ApplyResult:
        plan_id = self.plan.plan_id
        todo_segments, todo_meta = self.check()
        steps = [self._segment_step(c) for c in todo_segments]
        size = self.settings.batch_size
        batches = [todo_meta[i : i + size] for i in range(0, len(todo_meta), size)]
        steps += [self._metadata_step(b, n, len(batches)) for n, b in enumerate(batches, 1)]
        self.audit.write(
            "apply",
            plan_id,
            plan=plan_id,
            result="started",
            counts={"steps": len(steps), "already_applied": len(self.result.already)},
        )
        for index, step in enumerate(steps):
            self.progress(step.label, index, len(steps))
            try:
                step.run()
            except (PendoAPIError, SyncError) as err:
                self.result.failed.append(f"{step.label}: {err}")
                self.result.not_attempted = [s.label for s in steps[index + 1 :]]
                break
            self.result.applied.append(step.label)
        self.progress("done", len(steps), len(steps))
        outcome = "ok" if self.result.ok else "partial"
        self.audit.write(
            "apply",
            plan_id,
            plan=plan_id,
            result=outcome,
            counts={
                "applied": len(self.result.applied),
                "failed": len(self.result.failed),
                "not_attempted": len(self.result.not_attempted),
                "missing": len(self.result.missing),
            },
        )
        return self.result

    def _log(self, action: str, target: str, result: str, **detail: Any) -> None:
        self.audit.write(action, target, plan=self.plan.plan_id, result=result, **detail)

    def _guarded(
        self, action: str, target: str, counts: dict[str, Any], body: Callable[[], dict[str, Any]]
    ) -> None:
        """Run one write; log started / ok / failed with counts."""
        self._log(action, target, "started", counts=counts)
        try:
            extra = body()
        except (PendoAPIError, SyncError) as err:
            self._log(action, target, "failed", counts=counts, error=str(err))
            raise
        self._log(action, target, "ok", counts=counts, **extra)

    # -- segment steps ---------------------------------------------------------------
    def _segment_step(self, change: SegmentChange) -> _Step:
        verb = change.action
        label = f"{verb} segment '{change.pendo_name}'"
        counts = {
            "visitors": len(change.visitors),
            "added": len(change.add),
            "removed": len(change.remove),
        }
        body = {"create": self._create, "update": self._update, "delete": self._delete}[verb]
        return _Step(
            label,
            lambda: self._guarded(
                f"{verb}_segment", change.pendo_name, counts, lambda: body(change)
            ),
        )

    @property
    def _wait(self) -> dict[str, float]:
        return {
            "poll_interval": self.settings.poll_interval,
            "timeout": self.settings.upload_timeout,
        }

    def _create(self, change: SegmentChange) -> dict[str, Any]:
        existing = self._adoptable(change)  # a run that died (or timed out) made it already?
        if existing:
            return existing
        try:
            answer = self.client.upload_visitor_segment(
                change.pendo_name, change.visitors, wait=False
            )
        except PendoAPIError as err:
            if err.status is not None and err.status < 500:
                raise  # Pendo refused it: nothing was created
            # No answer, or a 5xx: Pendo may have created it anyway. Look before failing.
            adopted = self._adoptable(change)
            if adopted:
                return adopted
            raise
        sid = str(answer["segmentId"])
        # Another run (on another machine) may have uploaded the same name meanwhile.
        found = self.remote.named(change.pendo_name)
        keep = settle(found, self.client, self.remote, change.pendo_name, self._log)
        if keep is not None and keep != sid:  # ours was the duplicate: take theirs
            adopted = self._adoptable(change)
            if adopted:
                return adopted
        # Pendo answered with an id, so a failed build is no ambiguous create: the re-run
        # finds the list and sends it whole again (check() never counts it as applied).
        self.client.wait_until_built(sid, **self._wait)
        return self._created(change, sid)

    def _adoptable(self, change: SegmentChange) -> dict[str, Any] | None:
        """The list of this managed name, if Pendo already has it with the planned members
        (built; a failed or unknown build is sent whole again; duplicates deleted)."""
        found = self.remote.named(change.pendo_name)
        hand = [str(s.get("id")) for s in found if not s.get("createdByApi")]
        if hand:
            raise SyncError(
                f"Pendo already has a segment named '{change.pendo_name}' (id {hand[0]}) that "
                "was not made through the API; run sync plan again"
            )
        sid = settle(found, self.client, self.remote, change.pendo_name, self._log)
        if sid is None:
            return None
        segment = next(s for s in found if str(s.get("id")) == sid)
        build = self.remote.build(sid)
        if build.state == "pending":
            raise PendoAPIError(build.problem(self.settings.upload_timeout, f"segment {sid}: "))
        if self._fingerprint(segment) != change.after:
            raise SyncError(
                f"Pendo already has a segment named '{change.pendo_name}' (id {sid}) with other "
                "members than planned; run sync plan again"
            )
        if build.state != "done":
            why = build.problem(self.settings.upload_timeout)
            self._log("create_segment", change.pendo_name, "rebuilding", segment_id=sid, why=why)
            self.client.replace_segment_visitors(
                sid, change.visitors, name=change.pendo_name, **self._wait
            )
            self._log("create_segment", change.pendo_name, "rebuilt", segment_id=sid)
        else:
            self._log("create_segment", change.pendo_name, "adopted", segment_id=sid)
        return self._created(change, sid, resumed=True)

    def _update(self, change: SegmentChange) -> dict[str, Any]:
        assert change.segment_id
        if change.pendo_name in self._rebuild:  # a diff would not rebuild what failed
            self.client.replace_segment_visitors(
                change.segment_id, change.visitors, name=change.pendo_name, **self._wait
            )
            return {"segment_id": change.segment_id, "method": "put", "rebuilt": True}
        if change.method == "patch":
            add, remove = change.add, change.remove
            if change.pendo_name in self._remaining:
                add, remove = self._remaining[change.pendo_name]
                self.remote.build(change.segment_id)  # a write during a build answers 409
            sent = self.client.patch_segment_visitors(
                change.segment_id,
                add,
                remove,
                batch_size=self.settings.patch_batch_size,
                **self._wait,
            )
            return {
                "segment_id": change.segment_id,
                "method": "patch",
                "requests": sent.get("requests"),
                "resumed": change.pendo_name in self._remaining or None,
            }
        self.client.replace_segment_visitors(
            change.segment_id, change.visitors, name=change.pendo_name, **self._wait
        )
        return {"segment_id": change.segment_id, "method": change.method}

    def _delete(self, change: SegmentChange) -> dict[str, Any]:
        assert change.segment_id
        self.client.delete_segment(change.segment_id)
        return {"segment_id": change.segment_id}

    def _created(
        self, change: SegmentChange, segment_id: str, resumed: bool = False
    ) -> dict[str, Any]:
        self.result.created[change.pendo_name] = segment_id
        return {"segment_id": segment_id, "resumed": resumed or None}

    # -- metadata steps --------------------------------------------------------------
    def _metadata_step(self, batch: list[dict[str, Any]], number: int, total: int) -> _Step:
        meta = self.plan.metadata or {}
        kind, group = meta.get("kind", "account"), meta.get("group", self.plan.metadata_group)
        target = f"{kind}/{group}"
        label = f"set {kind} metadata, batch {number} of {total} ({len(batch)} accounts)"
        values = [{shapes.id_field(kind): u["accountId"], "values": u["values"]} for u in batch]

        def send() -> dict[str, Any]:
            res = self.client.set_metadata(kind, values, group=group, batch_size=len(values))
            self.result.missing.extend(res.missing)
            errors = [str(e) for e in res.errors]
            self.result.metadata_errors.extend(errors)
            counts = {
                "sent": len(values),
                "updated": res.updated,
                "failed": res.failed,
                "missing": len(res.missing),
            }
            self._log(
                "set_metadata",
                target,
                "ok" if res.ok else "incomplete",
                counts=counts,
                missing=res.missing or None,
                errors=errors or None,
            )
            if errors:
                raise SyncError(f"Pendo rejected {plural(len(errors), 'value')}: {errors[0]}")
            return {}

        return _Step(label, lambda: self._guarded_metadata(target, len(values), send))

    def _guarded_metadata(
        self, target: str, count: int, send: Callable[[], dict[str, Any]]
    ) -> None:
        self._log("set_metadata", target, "started", counts={"sent": count})
        try:
            send()
        except PendoAPIError as err:
            self._log("set_metadata", target, "failed", counts={"sent": count}, error=str(err))
            raise


def apply_plan(
    plan: Plan,
    client: Any,
    settings: SyncSettings,
    *,
    audit: AuditLog,
    progress: Progress | None = None,
) -> ApplyResult:
    """Apply ``plan`` (see the module docstring); failures are in the result, not raised.

    A stale plan, or another apply holding the lock, raises :class:`SyncError`
    before anything is written.
    """
    with contextlib.ExitStack() as locks:
        for path in settings.lock_paths(client.subscription_id()):
            locks.enter_context(ApplyLock(path, wait=settings.lock_wait))
        return Applier(plan, client, settings, audit, progress).run()
