"""Drift between a hand-built rule segment in Pendo and the compiled builder recipe.

Pendo's API cannot write rule segments, so a person builds them from the recipe
(``compile --target pendo``); ``sync plan`` reads the segment's ``definition``
(GET) and says which rule groups differ. It never writes.
"""

from __future__ import annotations

import json
from typing import Any

from pendo_segments.sync.remote import canonical_definition


def rule_drift(
    in_pendo: Any, recipe: dict[str, Any], names_by_id: dict[str, str]
) -> dict[str, list[str]] | None:
    """Rule groups (AND of ORs) only in Pendo (``removed``) and only in the recipe
    (``added``); None when both hold the same rules."""
    have = _groups(canonical_definition(in_pendo, names_by_id))
    want = _groups(canonical_definition(recipe, {}))
    if sorted(have) == sorted(want):
        return None
    return {
        "removed": [g for g in have if g not in want],
        "added": [g for g in want if g not in have],
    }


def _groups(definition: Any) -> list[str]:
    out = []
    for group in (definition or {}).get("filters") or [] if isinstance(definition, dict) else []:
        rows = sorted(_row_text(r) for r in (group if isinstance(group, list) else [group]))
        out.append(rows[0] if len(rows) == 1 else "(" + " OR ".join(rows) + ")")
    return out


def _row_text(row: Any) -> str:
    """The recipe's own wording of a row when it has one, else its JSON."""
    try:
        from pendo_segments.compile.pendo import row_text

        return str(row_text(row))
    except (ImportError, KeyError, TypeError, ValueError):
        return json.dumps(row, sort_keys=True, ensure_ascii=False)
