"""Where a definition field lives in Pendo: metadata group, field name, type.

Both Pendo-facing targets (the segment builder rules and the Aggregation API
pipelines) read subject attributes from Pendo metadata, so the mapping is
kept once, here. Pendo stores a record's attributes per group
(``metadata.<group>.<field>``): ``auto`` is computed by Pendo (first visit,
account id), ``agent`` is what the install snippet sends, ``custom`` is what
the metadata API / CSV upload writes (``sync`` writes ``tier`` and
``health_score`` there). Our standard columns (docs/semantics.md §1) are assumed to
come from the snippet; any other column is a custom field. When a
subscription stores a column elsewhere, change its row in ``STANDARD``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from pendo_segments.definitions.models import FieldCondition

#: Record id of each subject, a top-level field of Pendo rows (not metadata).
ID_FIELDS: dict[str, tuple[str, str]] = {
    "visitor": ("visitor_id", "visitorId"),
    "account": ("account_id", "accountId"),
}

#: Metadata group of columns that are not standard (written by the metadata API).
CUSTOM_GROUP = "custom"

#: subject -> column -> (metadata group, Pendo field name, Pendo schema).
STANDARD: dict[str, dict[str, tuple[str, str, str]]] = {
    "account": {
        "arr": ("agent", "arr", "number"),
        "plan": ("agent", "plan", "string"),
        "name": ("agent", "name", "string"),
        "contract_start": ("agent", "contract_start", "time"),
        "renewal_date": ("agent", "renewal_date", "time"),
        "csm_owner": ("agent", "csm_owner", "string"),
        "seats": ("agent", "seats", "number"),
        "self_service": ("agent", "self_service", "boolean"),
        "crm_id": ("agent", "crm_id", "string"),
        "domain": ("agent", "domain", "string"),
    },
    "visitor": {
        # A visitor's (primary) account is computed by Pendo.
        "account_id": ("auto", "accountid", "string"),
        "email": ("agent", "email", "string"),
        "language": ("agent", "language", "string"),
        "first_visit": ("auto", "firstvisit", "time"),
        "last_visit": ("auto", "lastvisit", "time"),
        # The Pendo snippet's conventional visitor name field.
        "name": ("agent", "full_name", "string"),
    },
}

#: Pendo's own first / last visit of a visitor or account (epoch ms), group ``auto``.
FIRST_VISIT = ("auto", "firstvisit")
LAST_VISIT = ("auto", "lastvisit")


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


DAY_MS = 86_400_000


def epoch_ms(day: dt.date) -> int:
    """Epoch milliseconds of UTC midnight starting ``day`` (Pendo's time unit)."""
    return (day - dt.date(1970, 1, 1)).days * DAY_MS
