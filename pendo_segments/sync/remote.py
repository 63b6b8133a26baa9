"""What Pendo holds now: segments (managed or not), list members, account metadata.

Read the same way by ``sync plan`` and by ``sync apply`` (which re-reads to
refuse a stale plan and to skip what an interrupted run already did), so both
see identical fingerprints.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from pendo_segments.data.pendo_source import PendoPuller
from pendo_segments.errors import SyncError
from pendo_segments.pendo.client import Build
from pendo_segments.sync.settings import SyncSettings

#: Keys of a builder row that say what it means (Pendo may add ids, validity flags…).
ROW_KEYS = (
    "name",
    "kind",
    "schema",
    "group",
    "field",
    "fact",
    "featureId",
    "operator",
    "value",
    "time",
    "count",
    "granularity",
    "segmentName",
)


def fingerprint(value: Any) -> str:
    """A short, stable hash of JSON-able data (sorted keys)."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def canonical_definition(definition: Any, names_by_id: dict[str, str]) -> Any:
    """A builder definition reduced to its meaning: segment rows name their segment.

    ``names_by_id`` maps Pendo segment ids to definition names, so a rule read
    back from Pendo (ids) compares equal to the one we planned (names).
    """
    if not isinstance(definition, dict) or not isinstance(definition.get("filters"), list):
        return definition
    groups = []
    for group in definition["filters"]:
        rows = []
        for row in group if isinstance(group, list) else [group]:
            if not isinstance(row, dict):
                rows.append(row)
                continue
            clean = {k: row[k] for k in ROW_KEYS if k in row and row[k] is not None}
            if row.get("kind") == "segment":
                sid = row.get("segmentId")
                clean["segmentName"] = (
                    names_by_id.get(str(sid), row.get("segmentName"))
                    if sid
                    else row.get("segmentName")
                )
            rows.append(clean)
        groups.append(rows)
    return {"filters": groups}


def is_rule_segment(segment: dict[str, Any]) -> bool:
    """A builder rule segment (``definition.filters``), not a visitor list."""
    definition = segment.get("definition")
    return isinstance(definition, dict) and isinstance(definition.get("filters"), list)


def is_hand_built_rule(segment: dict[str, Any]) -> bool:
    """Built by a person in the segment builder (the API cannot make rule segments)."""
    return is_rule_segment(segment) and not segment.get("createdByApi")


@dataclass
class RemoteState:
    """Pendo's segments, split into managed (by definition name) and the rest."""

    managed: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    orphans: list[dict[str, Any]] = field(default_factory=list)
    unmanaged: list[dict[str, Any]] = field(default_factory=list)

    def names_by_id(self) -> dict[str, str]:
        return {str(s["id"]): name for name, found in self.managed.items() for s in found}


class Remote:
    """Reads of Pendo state through one client (pages via the Aggregation API)."""

    def __init__(self, client: Any, settings: SyncSettings) -> None:
        self.client = client
        self.settings = settings
        self.puller = PendoPuller(client, page_size=settings.page_size)
        self.notes: list[str] = []  # things worth telling the user, found while reading

    def named(self, pendo_name: str) -> list[dict[str, Any]]:
        """Every segment Pendo lists under exactly this name (read afresh, not cached)."""
        return [s for s in self.client.list_segments() if s.get("name") == pendo_name]

    def segments(self, defined: set[str]) -> RemoteState:
        state = RemoteState()
        for seg in sorted(self.client.list_segments(), key=lambda s: str(s.get("id"))):
            if not self.settings.is_managed(seg):
                state.unmanaged.append(seg)
                continue
            name = self.settings.local_name(str(seg.get("name") or ""))
            if name in defined:
                state.managed.setdefault(name, []).append(seg)
            else:
                state.orphans.append(seg)
        return state

    def members(self, segment_id: str) -> list[str]:
        """Sorted visitor ids of a segment: the ``segment`` pipeline step after a visitors
        source, as guide audiences use it (docs/pendo-api.md §1)."""
        rows = self.puller.paged(
            [
                {"source": {"visitors": None}},
                {"identified": "visitorId"},
                {"segment": {"id": segment_id}},
                {"select": {"visitorId": "visitorId"}},
            ],
            ["visitorId"],
        )
        return sorted({str(r["visitorId"]) for r in rows if r.get("visitorId") is not None})

    def build(self, segment_id: str) -> Build:
        """Where Pendo's build of a list stands, waiting out a build in progress
        (``[sync] upload_timeout``): only a ``done`` list holds what its members say."""
        build: Build = self.client.build_state(
            segment_id,
            poll_interval=self.settings.poll_interval,
            timeout=self.settings.upload_timeout,
        )
        return build

    def visitor_ids(self) -> set[str]:
        rows = self.puller.paged(
            [
                {"source": {"visitors": None}},
                {"identified": "visitorId"},
                {"select": {"visitorId": "visitorId"}},
            ],
            ["visitorId"],
        )
        return {str(r["visitorId"]) for r in rows if r.get("visitorId") is not None}

    def account_values(self, fields: list[str]) -> dict[str, dict[str, Any]]:
        """accountId → {field: value or None} of ``metadata.<group>.<field>``."""
        group = self.settings.metadata_group
        select = {"accountId": "accountId"}
        aliases = {f"f{i}": name for i, name in enumerate(fields)}
        select.update({alias: f"metadata.{group}.{name}" for alias, name in aliases.items()})
        rows = self.puller.paged(
            [{"source": {"accounts": None}}, {"select": select}], ["accountId"]
        )
        return {
            str(r["accountId"]): {name: r.get(alias) for alias, name in aliases.items()}
            for r in rows
            if r.get("accountId") is not None
        }

    def guides(self) -> list[dict[str, Any]]:
        return self.client.list_guides()


def one_segment(found: list[dict[str, Any]], pendo_name: str) -> dict[str, Any] | None:
    """The managed segment of that name; several is a conflict a human must resolve."""
    if len(found) > 1:
        ids = ", ".join(str(s.get("id")) for s in found)
        raise SyncError(
            f"Pendo has {len(found)} managed segments named '{pendo_name}' "
            f"(ids {ids}); delete the extra ones in Pendo, then plan again"
        )
    return found[0] if found else None


def same_value(a: Any, b: Any) -> bool:
    """Metadata equality as Pendo round-trips it: 71.5 == 71.50 == "71.5"."""
    if a is None or b is None:
        return a is None and b is None
    fa, fb = _as_float(a), _as_float(b)
    if fa is not None and fb is not None and not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(fa, fb, rel_tol=1e-9, abs_tol=1e-9)
    return a == b or str(a) == str(b)


def _as_float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
