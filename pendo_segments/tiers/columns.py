"""The accounts / visitors columns a tier policy reads, for the engines that need them up front.

The pandas path reads a column when a rule asks for it; the SQL engines name
every column in one query, so an optional column the data lacks is added
blank first (``evaluate/fields.py``), with the same single warning.
"""

from __future__ import annotations

from typing import Any

from pendo_segments.definitions.models import FieldCondition
from pendo_segments.evaluate.fields import field_columns
from pendo_segments.health.rules import check_segments, segment_names
from pendo_segments.tiers.policy import TierPolicy


def policy_field_columns(policy: TierPolicy, defs: Any) -> list[tuple[str, str]]:
    """(table, column) of the policy's attribute conditions and of the segments it names."""
    conds = [rule.when for rule in policy.rules if rule.when is not None]
    out = [
        ("accounts", node.column)
        for cond in conds
        for node in cond.walk()
        if isinstance(node, FieldCondition)
    ]
    names = segment_names(conds)
    if names and defs is not None:
        check_segments(defs, names, conds)  # an unknown one: FILE:LINE, as the pandas path
        out += field_columns(defs, names)
    return out
