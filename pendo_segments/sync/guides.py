"""Warnings for segments that guides target but Pendo does not offer for guide targeting.

Pendo documents that "some rules aren't eligible for guide targeting due to
processing limitations" (support article 32271753394203, "Segment rules") without
a list in any public source we have; the one rule a public page spells out
(Feature clicks: only "at least" / "at most", or not clicked) is marked by
:func:`pendo_segments.compile.pendo.guide_targeting_note`, the same words the
builder recipe shows. Guides are those in Pendo whose ``audience`` (or
``audienceUiHint``) names a managed segment, plus the local guide manifest
(``guides.yaml``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pendo_segments.compile.pendo import guide_targeting_note


def targeting_limits(
    definition: Any, definitions: Mapping[str, Any], seen: frozenset[str] = frozenset()
) -> list[str]:
    """Why a rule (and the segments it nests) is not offered for guide targeting."""
    reasons: list[str] = []
    if not isinstance(definition, dict):
        return reasons
    for group in definition.get("filters") or []:
        for row in group if isinstance(group, list) else [group]:
            if not isinstance(row, dict):
                continue
            if row.get("kind") == "segment":
                name = str(row.get("segmentName"))
                if name not in seen:
                    inner = targeting_limits(definitions.get(name), definitions, seen | {name})
                    reasons += [f"via segment '{name}': {r}" for r in inner]
                continue
            why = guide_targeting_note(row)
            if why:
                reasons.append(f"{row.get('name')}: {why}")
    return list(dict.fromkeys(reasons))


def guide_targets(
    pendo_guides: Iterable[dict[str, Any]],
    names_by_id: Mapping[str, str],
    local: Mapping[str, list[str]] | None = None,
) -> dict[str, list[str]]:
    """definition name → guides (Pendo names, then local manifest ids) that target it."""
    out: dict[str, list[str]] = {}
    for guide in pendo_guides:
        for sid in sorted(_segment_ids(guide)):
            if sid in names_by_id:
                label = str(guide.get("name") or guide.get("id"))
                out.setdefault(names_by_id[sid], []).append(label)
    for guide_id, segments in (local or {}).items():
        for name in segments:
            out.setdefault(name, []).append(f"{guide_id} (guides.yaml)")
    return {k: list(dict.fromkeys(v)) for k, v in out.items()}


def _segment_ids(guide: dict[str, Any]) -> set[str]:
    """Segment ids a guide targets. UNCONFIRMED shapes (docs/pendo-api.md §5): a
    ``{"segment": {"id"}}`` step in ``audience`` and ``{"kind": "segment", "segmentId"}``
    in ``audienceUiHint.filters``; tap-pendo's guides.json shows neither, and the
    pendo-io-browser types leave both untyped."""
    ids = set()
    for step in guide.get("audience") or []:
        if isinstance(step, dict) and isinstance(step.get("segment"), dict):
            ids.add(str(step["segment"].get("id")))
    hint = guide.get("audienceUiHint")
    filters = hint.get("filters") if isinstance(hint, dict) else None
    for f in filters if isinstance(filters, list) else []:
        if isinstance(f, dict) and f.get("kind") == "segment" and f.get("segmentId"):
            ids.add(str(f["segmentId"]))
    return ids


def local_guide_segments(root: Any = None) -> dict[str, list[str]]:
    """guide id → segments from the local manifest; empty when there is none."""
    from pendo_segments.errors import RenderError
    from pendo_segments.guides.manifest import load_manifest

    try:
        manifest = load_manifest(root)
    except RenderError:
        return {}
    return {g.id: list(g.segments) for g in manifest.guides}


def guide_warnings(targets: Mapping[str, list[str]], definitions: Mapping[str, Any]) -> list[str]:
    """One warning per (segment, guides) whose rule Pendo does not offer for targeting."""
    warnings = []
    for name in sorted(targets):
        if name not in definitions:
            continue
        reasons = targeting_limits(definitions[name], definitions)
        if reasons:
            guides = ", ".join(targets[name])
            warnings.append(
                f"segment '{name}' is used by {'guide' if len(targets[name]) == 1 else 'guides'} "
                f"{guides}; {'; '.join(reasons)}"
            )
    return warnings
