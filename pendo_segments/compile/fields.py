"""Where a definition field lives in Pendo: metadata group, field name, type.

Both Pendo-facing targets (the segment builder rules and the Aggregation API
pipelines) read subject attributes from Pendo metadata. The column map
(``STANDARD``, ``ID_FIELDS``) is kept once, in
:mod:`pendo_segments.base.pendo_fields`, because the live data loader reads it
too; this module turns a field condition into the Pendo attribute it reads.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from pendo_segments.base.pendo_fields import (
    CUSTOM_GROUP,
    DAY_MS,
    FIRST_VISIT,
    ID_FIELDS,
    LAST_VISIT,
    STANDARD,
    epoch_ms,
)
from pendo_segments.definitions.models import FieldCondition

# The map itself lives in the base layer so the data loader reads it too; re-exported here.
__all__ = [
    "CUSTOM_GROUP",
    "DAY_MS",
    "FIRST_VISIT",
    "ID_FIELDS",
    "LAST_VISIT",
    "STANDARD",
    "PendoField",
    "epoch_ms",
    "iso_date",
    "pendo_field",
    "schema_of",
]


@dataclass(frozen=True)
class PendoField:
    """One attribute as Pendo stores it."""

    kind: str  # whose record: "visitor" | "account"
    group: str | None  # metadata group; None for the record id
    field: str
    schema: str  # string | number | boolean | time

    @property
    def path(self) -> str:
        """Path in an Aggregation row of ``kind``: ``metadata.agent.plan`` or ``accountId``."""
        return self.field if self.group is None else f"metadata.{self.group}.{self.field}"


def pendo_field(subject: str, cond: FieldCondition) -> PendoField:
    """The Pendo attribute a field condition of a ``subject`` segment reads."""
    kind = "account" if cond.on_account else subject
    column = cond.column
    id_column, id_field = ID_FIELDS[kind]
    if column == id_column:
        return PendoField(kind, None, id_field, "string")
    if column in STANDARD[kind]:
        group, name, schema = STANDARD[kind][column]
        return PendoField(kind, group, name, schema)
    return PendoField(kind, CUSTOM_GROUP, column, schema_of(cond.value))


def schema_of(value: Any) -> str:
    """Pendo type of a custom column, guessed from the value it is compared with."""
    sample = value[0] if isinstance(value, list) and value else value
    if isinstance(sample, bool):
        return "boolean"
    if isinstance(sample, int | float):
        return "number"
    if isinstance(sample, str) and iso_date(sample) is not None:
        return "time"
    return "string"


def iso_date(value: Any) -> dt.date | None:
    """``value`` as a date when it is an ISO ``YYYY-MM-DD`` text (or a date)."""
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and len(value) == 10:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None
