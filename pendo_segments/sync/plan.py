"""``sync plan``: what would change in Pendo, computed before anything is touched.

Each change carries the fingerprint of the Pendo state it was planned against
(``before``) and of the state it produces (``after``). ``sync apply`` re-reads
Pendo and accepts an item only in one of those two states: ``before`` means
"still to do", ``after`` means "an earlier, interrupted run already did it"
(so a re-run never duplicates), anything else means the plan is stale.

Native segments become builder rule segments; the others (and all of them
with ``[sync] rule_segments = false``) visitor lists computed locally, account
segments expanded to their visitors because Pendo guides target visitors.
Segments not marked as managed (name prefix / description tag) are only
counted, never changed; managed segments no longer defined are listed, not
deleted (Pendo's API has no known delete).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pendo_segments.errors import SyncError
from pendo_segments.pendo.api_shapes import RULE_SEGMENTS_UNVERIFIED
from pendo_segments.sync.remote import (
    Remote,
    RemoteState,
    canonical_definition,
    fingerprint,
    is_rule_segment,
    one_segment,
)
from pendo_segments.sync.settings import SyncSettings

PLAN_VERSION = 1
SAMPLE = 5
CHANGE_ACTIONS = ("create", "update")
Progress = Callable[[str], None]


@dataclass
class SegmentChange:
    """One managed segment: what Pendo has, what the definitions want."""

    name: str
    pendo_name: str
    subject: str
    mode: str  # "rule" | "list"
    action: str  # "create" | "update" | "unchanged" | "blocked"
    summary: str
    segment_id: str | None = None
    description: str = ""
    definition: dict[str, Any] | None = None
    visitors: list[str] | None = None
    before: str | None = None
    after: str = ""
    rule_diff: dict[str, list[str]] | None = None
    added: int = 0
    removed: int = 0
    added_sample: list[str] = field(default_factory=list)
    removed_sample: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)

    @property
    def changes(self) -> bool:
        return self.action in CHANGE_ACTIONS

    def detail(self) -> str:
        """One line for tables: the rule diff or the membership diff."""
        if self.action == "blocked":
            return "; ".join(self.notes)
        if self.mode == "list":
            count = len(self.visitors or [])
            if self.action == "create":
                return f"+{self.added} visitors (list of {count})"
            if self.action == "update":
                return f"+{self.added} / -{self.removed} visitors (list of {count})"
            return f"list of {count} visitors"
        if self.action == "update" and self.rule_diff:
            parts = [f"- {t}" for t in self.rule_diff["removed"]]
            parts += [f"+ {t}" for t in self.rule_diff["added"]]
            return "; ".join(parts)
        return self.summary


@dataclass
class Plan:
    """Everything ``sync apply`` needs, reviewable as JSON."""

    base_url: str
    as_of: str
    data: str
    managed_prefix: str
    metadata_group: str
    segments: list[SegmentChange] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unmanaged: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    created_at: str = ""
    version: int = PLAN_VERSION
    plan_id: str = ""

    # -- counts --------------------------------------------------------------
    @property
    def metadata_updates(self) -> list[dict[str, Any]]:
        return list((self.metadata or {}).get("updates") or [])

    @property
    def change_count(self) -> int:
        return sum(s.changes for s in self.segments) + len(self.metadata_updates)

    @property
    def has_changes(self) -> bool:
        return self.change_count > 0

    def counts(self) -> dict[str, int]:
        out = {
            a: sum(s.action == a for s in self.segments)
            for a in ("create", "update", "unchanged", "blocked")
        }
        out["metadata_updates"] = len(self.metadata_updates)
        out["unmanaged"] = len(self.unmanaged)
        return out

    # -- (de)serialisation -----------------------------------------------------
    def identity(self) -> str:
        """Hash of what the plan would do (not when it was made)."""
        body = self.to_dict()
        body.pop("created_at", None)
        body.pop("plan_id", None)
        return fingerprint(body)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"

    @classmethod
    def from_dict(cls, raw: dict[str, Any], where: str = "plan") -> Plan:
        if not isinstance(raw, dict) or raw.get("version") != PLAN_VERSION:
            raise SyncError(f"{where}: not a pendo-segments plan (version {PLAN_VERSION})")
        try:
            segments = [SegmentChange(**s) for s in raw.get("segments") or []]
            plan = cls(**{**raw, "segments": segments})
        except TypeError as err:
            raise SyncError(f"{where}: malformed plan ({err})") from None
        if plan.plan_id != plan.identity():
            raise SyncError(
                f"{where}: the plan was edited after it was made (its id does not "
                "match its content); run sync plan again"
            )
        return plan

    def summary(self) -> dict[str, Any]:
        """The reviewable view (``--format json``): no full member or value lists."""
        segs = []
        for s in self.segments:
            item: dict[str, Any] = {
                "name": s.name,
                "pendo_name": s.pendo_name,
                "subject": s.subject,
                "mode": s.mode,
                "action": s.action,
                "segment_id": s.segment_id,
                "summary": s.summary,
            }
            if s.mode == "list":
                item.update(
                    visitors=len(s.visitors or []),
                    added=s.added,
                    removed=s.removed,
                    added_sample=s.added_sample,
                    removed_sample=s.removed_sample,
                )
            if s.rule_diff:
                item["rule_diff"] = s.rule_diff
            if s.notes:
                item["notes"] = s.notes
            segs.append(item)
        meta = None
        if self.metadata is not None:
            meta = {k: v for k, v in self.metadata.items() if k != "updates"}
            meta["updates"] = len(self.metadata_updates)
        return {
            "plan_id": self.plan_id,
            "base_url": self.base_url,
            "as_of": self.as_of,
            "data": self.data,
            "changes": self.change_count,
            "counts": self.counts(),
            "segments": segs,
            "metadata": meta,
            "warnings": self.warnings,
            "notes": self.notes,
            "unmanaged": self.unmanaged,
            "orphans": self.orphans,
        }


def save_plan(plan: Plan, path: str | Path) -> None:
    from pendo_segments.atomic import write_text

    write_text(path, plan.to_json())


def load_plan(path: str | Path) -> Plan:
    file = Path(path)
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SyncError(f"{file}: plan file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SyncError(f"{file}: cannot read the plan ({err})") from None
    return Plan.from_dict(raw, str(file))


# -- building a plan ------------------------------------------------------------------
@dataclass
class Desired:
    """One definition as it should be in Pendo."""

    name: str
    subject: str
    mode: str
    summary: str
    description: str
    definition: dict[str, Any] | None = None
    visitors: list[str] | None = None
    notes: list[str] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        if self.mode == "rule":
            return fingerprint(
                {"mode": "rule", "definition": canonical_definition(self.definition, {})}
            )
        return fingerprint({"mode": "list", "visitors": self.visitors})


def remote_fingerprint(
    remote: Remote, segment: dict[str, Any] | None, mode: str, names_by_id: dict[str, str]
) -> tuple[str | None, list[str] | None]:
    """Fingerprint of a Pendo segment read as ``mode`` (and its members for lists)."""
    if segment is None:
        return None, None
    if is_rule_segment(segment):
        canon = canonical_definition(segment["definition"], names_by_id)
        return fingerprint({"mode": "rule", "definition": canon}), None
    if mode == "rule":
        return fingerprint({"mode": "other", "id": segment.get("id")}), None
    members = remote.members(str(segment["id"]))
    return fingerprint({"mode": "list", "visitors": members}), members


def make_plan(
    defs: Any,
    ds: Any,
    client: Any,
    settings: SyncSettings,
    *,
    names: Sequence[str] | None = None,
    as_of: dt.date | None = None,
    data_label: str = "",
    segments: bool = True,
    metadata: bool = True,
    defs_path: str | Path | None = None,
    local_guides: dict[str, list[str]] | None = None,
    progress: Progress | None = None,
) -> Plan:
    """Compare the definitions (and local data) with Pendo; nothing is written."""
    say = progress or (lambda _m: None)
    day = as_of or ds.default_as_of()
    remote = Remote(client, settings)
    selected = (
        [s.name for s in defs.closure([s.name for s in defs.select(names)])] if segments else []
    )
    plan = Plan(
        base_url=client.base_url,
        as_of=day.isoformat(),
        data=data_label,
        managed_prefix=settings.managed_prefix,
        metadata_group=settings.metadata_group,
        created_at=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
    )
    say("reading segments")
    state = remote.segments(set(selected))
    plan.unmanaged = sorted(str(s.get("name")) for s in state.unmanaged)
    plan.orphans = sorted(str(s.get("name")) for s in state.orphans)
    for name in plan.orphans:
        plan.warnings.append(
            f"managed segment '{name}' is no longer defined; it is left in "
            "Pendo (no delete through the API): remove it in Pendo if unused"
        )
    if selected:
        say("computing segments")
        wanted = desired_segments(
            defs, ds, selected, settings, as_of=day, remote=remote, warnings=plan.warnings
        )
        plan.segments = [segment_change(d, state, remote, settings) for d in wanted]
        if any(s.mode == "rule" and s.changes for s in plan.segments):
            plan.notes.append(RULE_SEGMENTS_UNVERIFIED)
        say("reading guides")
        _guide_warnings(plan, remote, state, local_guides)
    if metadata and settings.metadata_fields:
        say("computing metadata")
        plan.metadata = metadata_section(defs, ds, remote, settings, as_of=day, defs_path=defs_path)
        unknown = plan.metadata["unknown"]
        if unknown:
            more = " …" if len(unknown) > SAMPLE else ""
            plan.warnings.append(
                f"{len(unknown)} account(s) of the data are not in Pendo and "
                f"get no metadata (Pendo does not create accounts): "
                f"{', '.join(unknown[:SAMPLE])}{more}"
            )
    plan.plan_id = plan.identity()
    return plan


def desired_segments(
    defs: Any,
    ds: Any,
    names: list[str],
    settings: SyncSettings,
    *,
    as_of: dt.date,
    remote: Remote,
    warnings: list[str],
) -> list[Desired]:
    from pendo_segments.compile import compile_segments
    from pendo_segments.definitions.loader import references

    compiled = {r.segment.name: r for r in compile_segments(defs, "pendo", names=names)}
    out: list[Desired] = []
    lists: list[str] = []
    for name in names:
        result = compiled[name]
        seg = result.segment
        description = settings.description(seg.title)
        if result.native and settings.rule_segments:
            out.append(
                Desired(
                    name,
                    seg.subject,
                    "rule",
                    result.output["summary"],
                    description,
                    definition=result.output["definition"],
                    refs=references(seg),
                )
            )
            continue
        why = [str(u) for u in result.unsupported] or [
            "[sync] rule_segments = false: every segment is uploaded as a visitor list"
        ]
        out.append(
            Desired(
                name, seg.subject, "list", result.output.get("summary", ""), description, notes=why
            )
        )
        lists.append(name)
    if lists:
        members = list_members(defs, ds, lists, as_of=as_of)
        known = remote.visitor_ids()
        for d in out:
            if d.mode != "list":
                continue
            ids = members[d.name]
            d.visitors = sorted(v for v in ids if v in known)
            left_out = len(ids) - len(d.visitors)
            if left_out:
                warnings.append(
                    f"segment '{d.name}': {left_out} member visitor(s) are not in "
                    "Pendo and are left out of the uploaded list"
                )
            d.summary = (
                f"visitor list computed locally ({len(d.visitors)} visitors"
                f"{', from its accounts' if d.subject == 'account' else ''})"
            )
    return out


def list_members(defs: Any, ds: Any, names: list[str], *, as_of: dt.date) -> dict[str, list[str]]:
    """Visitor ids per segment; an account segment's visitors are its accounts' visitors."""
    from pendo_segments.evaluate import evaluate

    ev = evaluate(defs, ds, as_of=as_of, names=names)
    visitors = ds.visitors
    out = {}
    for name in names:
        ids = ev.members(name)
        if ev.segments[name].subject == "account":
            accounts = {str(a) for a in ids}
            hit = visitors["account_id"].astype(str).isin(accounts).to_numpy()
            ids = visitors["visitor_id"][hit]
        out[name] = sorted({str(v) for v in ids})
    return out


def segment_change(
    d: Desired, state: RemoteState, remote: Remote, settings: SyncSettings
) -> SegmentChange:
    pendo_name = settings.pendo_name(d.name)
    change = SegmentChange(
        name=d.name,
        pendo_name=pendo_name,
        subject=d.subject,
        mode=d.mode,
        action="create",
        summary=d.summary,
        description=d.description,
        definition=d.definition,
        visitors=d.visitors,
        after=d.fingerprint,
        notes=list(d.notes),
        refs=list(d.refs),
    )
    try:
        current = one_segment(state.managed.get(d.name, []), pendo_name)
    except SyncError as err:
        change.action, change.notes = "blocked", [str(err)]
        return change
    names_by_id = state.names_by_id()
    if current is not None and is_rule_segment(current) != (d.mode == "rule"):
        kind = "a rule segment" if d.mode == "list" else "a visitor list"
        change.action = "blocked"
        change.segment_id = str(current.get("id"))
        change.notes = [
            f"'{pendo_name}' is {kind} in Pendo but is now planned as a "
            f"{'visitor list' if d.mode == 'list' else 'rule segment'}; Pendo's API "
            "cannot convert or delete it: rename or delete it in Pendo, then plan "
            "again"
        ]
        return change
    before, members = remote_fingerprint(remote, current, d.mode, names_by_id)
    change.before = before
    if current is None:
        change.added = len(d.visitors or [])
        change.added_sample = (d.visitors or [])[:SAMPLE]
        return change
    change.segment_id = str(current.get("id"))
    if before == change.after:
        change.action = "unchanged"
        return change
    change.action = "update"
    if d.mode == "list":
        have, want = set(members or []), set(d.visitors or [])
        plus, minus = sorted(want - have), sorted(have - want)
        change.added, change.removed = len(plus), len(minus)
        change.added_sample, change.removed_sample = plus[:SAMPLE], minus[:SAMPLE]
    else:
        change.rule_diff = rule_diff(
            canonical_definition(current.get("definition"), names_by_id),
            canonical_definition(d.definition, {}),
        )
    return change


def rule_diff(old: Any, new: Any) -> dict[str, list[str]]:
    """Builder rule groups (AND of ORs) removed and added, in words."""
    from pendo_segments.compile.pendo import row_text

    def groups(definition: Any) -> list[str]:
        out = []
        for group in (definition or {}).get("filters") or []:
            try:
                texts = [row_text(r) for r in group]
            except (KeyError, TypeError):
                texts = [json.dumps(group, sort_keys=True)]
            out.append(texts[0] if len(texts) == 1 else "(" + " OR ".join(texts) + ")")
        return out

    before, after = groups(old), groups(new)
    return {
        "removed": [g for g in before if g not in after],
        "added": [g for g in after if g not in before],
    }


def metadata_section(
    defs: Any,
    ds: Any,
    remote: Remote,
    settings: SyncSettings,
    *,
    as_of: dt.date,
    defs_path: str | Path | None,
) -> dict[str, Any]:
    from pendo_segments.sync.metadata import desired_metadata, metadata_diff

    fields = list(settings.metadata_fields)
    files = list(getattr(defs, "files", []) or [])
    if defs_path is None and files:  # tiers.yaml / health.yaml sit beside the segments
        defs_path = Path(files[0]).parent
    desired = desired_metadata(
        ds, defs, fields, as_of=as_of, defs_path=defs_path, tier_overrides=settings.tier_overrides
    )
    current = remote.account_values(fields)
    section = metadata_diff(desired, current, fields)
    return {"kind": "account", "group": settings.metadata_group, **section}


def _guide_warnings(
    plan: Plan, remote: Remote, state: RemoteState, local: dict[str, list[str]] | None
) -> None:
    from pendo_segments.sync.guides import guide_targets, guide_warnings

    rules = {s.name: s.definition for s in plan.segments}
    targets = guide_targets(remote.guides(), state.names_by_id(), local)
    plan.warnings.extend(guide_warnings(targets, rules))
