"""``sync plan``: what would change in Pendo, computed before anything is touched.

Every managed segment is a **visitor list** computed locally (account segments
expanded to their accounts' visitors), because Pendo's API writes only lists
(docs/pendo-api.md §1). A list is created with an upload, changed with a
PATCH add/remove diff, or replaced whole with a PUT when that sends fewer ids.

Each change carries the fingerprint of the Pendo state it was planned against
(``before``) and of the state it produces (``after``). ``sync apply`` re-reads
Pendo and accepts an item only in one of those two states: ``before`` means
"still to do", ``after`` means "an earlier, interrupted run already did it"
(so a re-run never duplicates), anything else means the plan is stale.

Pendo cannot hold an empty list. A segment that has no members is not created;
a managed list that empties is **deleted** (it is recreated when members come
back), unless a guide targets it: then it is blocked, because deleting a
guide's audience is a decision for a person.

Only a list Pendo reports as built counts as holding its members: a failed build,
one still unfinished after ``[sync] upload_timeout`` or a status word we do not know
plans a whole-list PUT, never "unchanged".

A segment built by hand in Pendo's segment builder under the managed name is
left alone: the plan compares its rules with the compiled recipe and reports
drift, and writes nothing. Segments not marked as managed are only counted.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pendo_segments.base.words import are, plural
from pendo_segments.errors import SyncError
from pendo_segments.sync.remote import (
    Remote,
    RemoteState,
    fingerprint,
    is_hand_built_rule,
    one_segment,
)
from pendo_segments.sync.settings import SyncSettings

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pendo_segments.data.dataset import Dataset

PLAN_VERSION = 2
SAMPLE = 5
CHANGE_ACTIONS = ("create", "update", "delete")
#: Actions a person must resolve in Pendo: ``sync plan`` exits 1 while any is left.
PROBLEM_ACTIONS = ("blocked", "drift")
Progress = Callable[[str], None]


def members_fingerprint(visitors: list[str] | None) -> str | None:
    """The state of one list segment: its sorted members, or None when it does not exist."""
    return None if visitors is None else fingerprint({"visitors": sorted(visitors)})


@dataclass
class SegmentChange:
    """One managed segment: what Pendo has, what the definitions want."""

    name: str
    pendo_name: str
    subject: str
    action: str  # create | update | delete | unchanged | blocked | drift
    summary: str
    segment_id: str | None = None
    visitors: list[str] = field(default_factory=list)
    method: str | None = None  # update: "patch" (add/remove diff) or "put" (whole list)
    add: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    before: str | None = None
    after: str | None = None
    notes: list[str] = field(default_factory=list)
    drift: dict[str, list[str]] | None = None
    hand_built: bool = False  # a rule segment a person built from the recipe

    @property
    def changes(self) -> bool:
        return self.action in CHANGE_ACTIONS

    def detail(self) -> str:
        """One line for tables."""
        if self.action in PROBLEM_ACTIONS:
            return "; ".join(self.notes)
        count = len(self.visitors)
        if self.action == "create":
            return f"upload a list of {count} visitors"
        if self.action == "update":
            how = "PATCH diff" if self.method == "patch" else "PUT whole list"
            line = f"+{len(self.add)} / -{len(self.remove)} visitors ({how}; list of {count})"
            return "; ".join([line, *self.notes])
        if self.action == "delete":
            return "; ".join(self.notes)
        if self.notes:
            return "; ".join(self.notes)
        return f"list of {count} visitors"


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

    @property
    def problems(self) -> list[SegmentChange]:
        """Rows a person must resolve in Pendo (duplicates, hand-built drift, …)."""
        return [s for s in self.segments if s.action in PROBLEM_ACTIONS]

    def counts(self) -> dict[str, int]:
        out = {
            a: sum(s.action == a for s in self.segments)
            for a in ("create", "update", "delete", "unchanged", "blocked", "drift")
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
            raise SyncError(
                f"{where}: not a pendo-segments plan of version {PLAN_VERSION} "
                "(plans made before visitor-list sync cannot be applied); run sync plan again"
            )
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
                "action": s.action,
                "segment_id": s.segment_id,
                "summary": s.summary,
                "visitors": len(s.visitors),
                "method": s.method,
                "added": len(s.add),
                "removed": len(s.remove),
                "added_sample": s.add[:SAMPLE],
                "removed_sample": s.remove[:SAMPLE],
            }
            if s.drift:
                item["drift"] = s.drift
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
            "problems": len(self.problems),
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
    from pendo_segments.base.jsonfile import read_json

    return Plan.from_dict(read_json(path, SyncError, "plan"), str(Path(path)))


# -- building a plan ------------------------------------------------------------------
@dataclass
class Desired:
    """One definition as it should be in Pendo: its members, and its builder recipe."""

    name: str
    subject: str
    summary: str
    visitors: list[str]
    recipe: dict[str, Any] | None = None


def make_plan(
    defs: Any,
    ds: Dataset,
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
    engine: Any = None,
) -> Plan:
    """Compare the definitions (and local data) with Pendo; nothing is written.

    ``engine``: the command's engine when it does not hold the data in memory
    (DuckDB, Spark): members, the usage rows' accounts, health and tiers come from
    it, and ``ds`` may be None (the small tables are read from the engine).
    """
    say = progress or (lambda _m: None)
    if engine is not None and engine.in_memory is None:
        ds = small_tables(engine)
    else:
        engine = None
    day = as_of or (engine.default_as_of() if engine is not None else ds.default_as_of())
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
            f"managed segment '{name}' is no longer defined; it is left in Pendo: "
            "delete it in Pendo if unused"
        )
    if selected:
        say("computing segments")
        wanted = desired_segments(
            defs, ds, selected, settings, as_of=day, remote=remote, engine=engine
        )
        targets = _guide_targets(remote, state, local_guides)
        plan.segments = [segment_change(d, state, remote, settings, targets) for d in wanted]
        plan.warnings.extend(remote.notes)
        _guide_warnings(plan, targets, wanted)
    if metadata and settings.metadata_fields:
        say("computing metadata")
        plan.metadata = metadata_section(
            defs, ds, remote, settings, as_of=day, defs_path=defs_path, engine=engine
        )
        unknown = plan.metadata["unknown"]
        if unknown:
            more = " …" if len(unknown) > SAMPLE else ""
            plan.warnings.append(
                f"{plural(len(unknown), 'account')} of the data {are(len(unknown))} not in Pendo and "
                f"get no metadata (Pendo does not create accounts): "
                f"{', '.join(unknown[:SAMPLE])}{more}"
            )
    plan.plan_id = plan.identity()
    return plan


def desired_segments(
    defs: Any,
    ds: Dataset,
    names: list[str],
    settings: SyncSettings,
    *,
    as_of: dt.date,
    remote: Remote,
    engine: Any = None,
) -> list[Desired]:
    """Members of every selected segment (only visitors Pendo knows) and its recipe."""
    from pendo_segments.compile import compile_segments

    defs.use_features(ds.features, check=names)  # recipes get ids (definitions may name them)
    compiled = {
        r.segment.name: r
        for r in compile_segments(
            defs, "pendo", names=names, app_ids=settings.app_ids, timezone=settings.timezone
        )
    }
    members = list_members(defs, ds, names, as_of=as_of, engine=engine)
    known = remote.visitor_ids()
    out = []
    for name in names:
        result = compiled[name]
        seg = result.segment
        ids = members[name]
        visitors = sorted(v for v in ids if v in known)
        if len(ids) > len(visitors):
            remote.notes.append(
                f"segment '{name}': {plural(len(ids) - len(visitors), 'member visitor')} "
                f"{are(len(ids) - len(visitors))} not in "
                "Pendo and are left out of the list"
            )
        recipe = result.output.get("definition") if result.native else None
        out.append(
            Desired(
                name,
                seg.subject,
                f"visitor list computed locally ({len(visitors)} visitors"
                f"{', from its accounts' if seg.subject == 'account' else ''})",
                visitors,
                recipe if isinstance(recipe, dict) else None,
            )
        )
    return out


def list_members(
    defs: Any, ds: Dataset, names: list[str], *, as_of: dt.date, engine: Any = None
) -> dict[str, list[str]]:
    """Visitor ids per segment; an account segment's visitors are its accounts' visitors
    (``engine``: members and usage rows' accounts from it, ``ds`` its small tables)."""
    if engine is None:
        from pendo_segments.evaluate import evaluate

        ev: Any = evaluate(defs, ds, as_of=as_of, names=names)
        links = account_links(ds, as_of)
    else:
        engine.check_day(defs, as_of)  # evaluate()'s as-of warning and error, on any engine
        ev = engine.memberships(defs, names=names, as_of=as_of)
        links = account_links(ds, as_of, usage=usage_links(engine, as_of))
    out = {}
    for name in names:
        ids = ev.members(name)
        if defs.segments[name].subject == "account":
            accounts = {str(a) for a in ids}
            ids = links["visitor_id"][links["account_id"].isin(accounts).to_numpy()]
        out[name] = sorted({str(v) for v in ids})
    return out


def account_links(ds: Any, as_of: dt.date, usage: pd.DataFrame | None = None) -> pd.DataFrame:
    """``visitor_id, account_id`` (text): every visitor linked to an account, the pairs an
    account segment's visitor list is made of (docs/semantics.md §1): its visitors
    (``visitors.account_id``), the ``visitor_accounts`` links, and the visitors whose
    usage rows before ``as_of`` name the account (``usage_daily`` / ``feature_usage``
    ``account_id``; ``usage``: those pairs, already found by an engine)."""
    import pandas as pd

    pairs = [ds.visitors[["visitor_id", "account_id"]]]
    if ds.visitor_accounts is not None:
        pairs.append(ds.visitor_accounts[["visitor_id", "account_id"]])
    if usage is not None:
        pairs.append(usage[["visitor_id", "account_id"]])
    for table in () if usage is not None else (ds.usage_daily, ds.feature_usage):
        if "account_id" in table.columns:
            rows = table.loc[_before(table["date"], as_of), ["visitor_id", "account_id"]]
            pairs.append(rows.drop_duplicates())
    text = [p.dropna().astype(str) for p in pairs]
    return pd.concat(text, ignore_index=True).drop_duplicates(ignore_index=True)


def usage_links(engine: Any, as_of: dt.date) -> pd.DataFrame:
    """``visitor_id, account_id``: the distinct pairs of the usage rows before ``as_of``
    that name their own account, queried on ``engine`` (its usage stays where it is)."""
    import pandas as pd

    shape = engine.shape()
    tables = [t for t in ("usage_daily", "feature_usage") if shape.has_column(t, "account_id")]
    if not tables:
        return pd.DataFrame({"visitor_id": [], "account_id": []}, dtype=object)
    day = as_of.isoformat()
    scans = [
        f"SELECT visitor_id, account_id FROM {t} "
        f"WHERE account_id IS NOT NULL AND CAST(date AS DATE) < DATE '{day}'"
        for t in tables
    ]
    return engine.query(f"SELECT DISTINCT * FROM ({' UNION ALL '.join(scans)}) AS x", at=as_of)


def small_tables(engine: Any) -> Any:
    """The small tables of ``engine``'s data (accounts, visitors, features and the
    ``visitor_accounts`` links, when there are any) in the shape of a data set."""
    from types import SimpleNamespace

    links = None
    if engine.shape().has("visitor_accounts"):
        links = engine.query("SELECT visitor_id, account_id FROM visitor_accounts")
    return SimpleNamespace(
        accounts=engine.subjects("account"),
        visitors=engine.subjects("visitor"),
        features=engine.features(),
        visitor_accounts=links,
    )


def _before(dates: pd.Series, as_of: dt.date) -> np.ndarray:
    """Usage rows before the as-of day: what is known at D (docs/semantics.md §2b)."""
    from pendo_segments.evaluate.metrics import day_number, usage_days

    return usage_days(dates) < day_number(as_of)


def segment_change(
    d: Desired,
    state: RemoteState,
    remote: Remote,
    settings: SyncSettings,
    targets: dict[str, list[str]],
) -> SegmentChange:
    """Compare one desired list with what Pendo holds under its managed name."""
    pendo_name = settings.pendo_name(d.name)
    change = SegmentChange(
        name=d.name,
        pendo_name=pendo_name,
        subject=d.subject,
        action="create",
        summary=d.summary,
        visitors=list(d.visitors),
        after=members_fingerprint(d.visitors) if d.visitors else None,
    )
    try:
        current = one_segment(state.managed.get(d.name, []), pendo_name)
    except SyncError as err:
        change.action, change.notes = "blocked", [str(err)]
        return change
    if current is not None:
        change.segment_id = str(current.get("id"))
    if current is not None and is_hand_built_rule(current):
        return _hand_built(change, current, d, state)
    if current is not None and not current.get("createdByApi"):
        change.action = "blocked"
        change.notes = [
            f"'{pendo_name}' in Pendo was not made through the API, so its members "
            "cannot be written; rename it in Pendo (or delete it), then plan again"
        ]
        return change
    have = remote.members(str(current["id"])) if current is not None else None
    change.before = members_fingerprint(have)
    if not d.visitors:
        return _emptied(change, have, targets.get(d.name, []))
    if have is None:
        return change  # create
    unbuilt = remote.build(str(change.segment_id)).problem(settings.upload_timeout)
    if unbuilt:  # its members may not be what Pendo targets: send the whole list again
        change.action, change.method = "update", "put"
        want = set(d.visitors)
        change.add, change.remove = sorted(want - set(have)), sorted(set(have) - want)
        change.notes = [f"{unbuilt}: the whole list is sent again"]
        return change
    if change.before == change.after:
        change.action = "unchanged"
        return change
    want = set(d.visitors)
    change.add = sorted(want - set(have))
    change.remove = sorted(set(have) - want)
    change.action = "update"
    # PATCH sends the changed ids, PUT the whole list: send whichever is smaller.
    change.method = "patch" if len(change.add) + len(change.remove) <= len(want) else "put"
    return change


def _emptied(change: SegmentChange, have: list[str] | None, guides: list[str]) -> SegmentChange:
    """No members: Pendo cannot hold an empty list (docs/pendo-api.md §1)."""
    change.after = None
    if have is None:
        change.action = "unchanged"
        change.notes = ["no members: not created (Pendo needs at least one visitor)"]
    elif guides:
        change.action = "blocked"
        change.notes = [
            "has no members now and Pendo cannot hold an empty list, but "
            + (
                f"guide {guides[0]} targets it: stop or retarget it"
                if len(guides) == 1
                else f"guides {', '.join(guides)} target it: stop or retarget them"
            )
            + ", then plan again"
        ]
    else:
        change.action = "delete"
        change.remove = sorted(have)
        change.notes = [
            f"has no members now: delete it (Pendo cannot hold an empty list; "
            f"it is uploaded again when members come back; {len(have)} leave)"
        ]
    return change


def _hand_built(
    change: SegmentChange, current: dict[str, Any], d: Desired, state: RemoteState
) -> SegmentChange:
    """A rule segment someone built from the recipe: compare, never write."""
    from pendo_segments.sync.drift import rule_drift

    change.visitors, change.hand_built = [], True
    if d.recipe is None:
        change.action = "drift"
        change.notes = [
            f"'{change.pendo_name}' is a hand-built rule segment, but this definition has no "
            "builder recipe (Pendo's builder cannot express it): rename the rule segment in "
            "Pendo so sync can upload the list"
        ]
        return change
    drift = rule_drift(current.get("definition"), d.recipe, state.names_by_id())
    if drift is None:
        change.action = "unchanged"
        change.notes = ["hand-built rule segment; its rules match the recipe"]
        return change
    change.action, change.drift = "drift", drift
    change.notes = [
        "hand-built rule segment differs from the recipe (sync never edits rules): "
        + "; ".join([*(f"- {t}" for t in drift["removed"]), *(f"+ {t}" for t in drift["added"])])
    ]
    return change


def metadata_section(
    defs: Any,
    ds: Dataset,
    remote: Remote,
    settings: SyncSettings,
    *,
    as_of: dt.date,
    defs_path: str | Path | None,
    engine: Any = None,
) -> dict[str, Any]:
    from pendo_segments.sync.metadata import desired_metadata, metadata_diff

    fields = list(settings.metadata_fields)
    files = list(getattr(defs, "files", []) or [])
    if defs_path is None and files:  # tiers.yaml / health.yaml sit beside the segments
        defs_path = Path(files[0]).parent
    desired = desired_metadata(
        ds,
        defs,
        fields,
        as_of=as_of,
        defs_path=defs_path,
        tier_overrides=settings.tier_overrides,
        engine=engine,
    )
    current = remote.account_values(fields)
    section = metadata_diff(desired, current, fields)
    return {"kind": "account", "group": settings.metadata_group, **section}


def _guide_targets(
    remote: Remote, state: RemoteState, local: dict[str, list[str]] | None
) -> dict[str, list[str]]:
    from pendo_segments.sync.guides import guide_targets

    return guide_targets(remote.guides(), state.names_by_id(), local)


def _guide_warnings(plan: Plan, targets: dict[str, list[str]], wanted: list[Desired]) -> None:
    """Targeting limits matter only for hand-built rule segments (lists are always fine)."""
    from pendo_segments.sync.guides import guide_warnings

    hand_built = {s.name for s in plan.segments if s.hand_built}
    rules = {d.name: d.recipe for d in wanted if d.name in hand_built}
    plan.warnings.extend(guide_warnings(targets, rules))
