"""One list per managed name, even when two applies raced past each other.

The apply lock is per machine (``flock``); two runs on two machines, or with two
keys of one subscription, can both find a name free and both upload it. So after
every create, and before adopting a list found by name, ``sync apply`` reads the
name again: the list with the **lowest id** is kept and every other list of that
name made through the API is deleted, each deletion written to the audit log.
Both runs order the ids the same way, so they never delete each other's keeper;
the loser adopts the winner (same plan, same members).

Lists that share a ``rootVersionId`` are never deleted as duplicates: Pendo's
versioned objects carry one (docs/pendo-api.md §1) and no public source says
whether two list items with one are two segments or two versions of one, so a
person decides.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pendo_segments.errors import PendoAPIError, SyncError
from pendo_segments.pendo.api_shapes import ROOT_VERSION_FIELD

Log = Callable[..., None]  # (action, target, result, **detail) -> None


def id_order(segment_id: str) -> tuple[int, str]:
    """Lowest first: shorter ids, then by text (numeric ids compare as numbers)."""
    return (len(segment_id), segment_id)


def settle(
    found: list[dict[str, Any]], client: Any, remote: Any, pendo_name: str, log: Log
) -> str | None:
    """The id kept among the API-made lists of ``pendo_name`` in ``found`` (None: none);
    the others are deleted and logged."""
    ids = sorted(
        {str(s["id"]) for s in found if s.get("createdByApi") and s.get("id")}, key=id_order
    )
    if not ids:
        return None
    roots: dict[str, list[str]] = {}
    for s in found:
        root = s.get(ROOT_VERSION_FIELD)
        if s.get("createdByApi") and root and str(s.get("id")) in ids:
            roots.setdefault(str(root), []).append(str(s["id"]))
    shared = next((sorted(v, key=id_order) for v in roots.values() if len(v) > 1), None)
    if shared:
        raise SyncError(
            f"Pendo lists segments {', '.join(shared)} named '{pendo_name}' with one "
            f"{ROOT_VERSION_FIELD}: they may be versions of one segment, so none is deleted "
            "as a duplicate; keep one in Pendo, then run sync plan again"
        )
    keep = ids[0]
    for other in ids[1:]:
        gone = _delete(client, remote, other)
        log("delete_duplicate", pendo_name, "gone" if gone else "ok", segment_id=other, kept=keep)
    return keep


def _delete(client: Any, remote: Any, segment_id: str) -> bool:
    """Delete one duplicate; True when it was already gone (the other run deleted it)."""
    try:
        remote.build(segment_id)  # a list still building answers 409 to a delete
        client.delete_segment(segment_id)
    except PendoAPIError as err:
        if err.status != 404:
            raise
        return True
    return False
