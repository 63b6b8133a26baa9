"""Where our standard columns live in Pendo records: metadata group, field name, type.

Pendo stores a record's attributes per group (``metadata.<group>.<field>``):
``auto`` is computed by Pendo (first visit, account id), ``agent`` is what the
install snippet sends, ``custom`` is what the metadata API / CSV upload writes
(``sync`` writes ``tier`` and ``health_score`` there). Our standard columns
(docs/semantics.md §1) are assumed to come from the snippet; any other column
is a custom field. When a subscription stores a column elsewhere, change its
row in ``STANDARD``. The compiler (rules and Aggregation pipelines) and the
live data loader (``--data pendo:``) both read this one map.
"""

from __future__ import annotations

import datetime as dt

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

DAY_MS = 86_400_000


def epoch_ms(day: dt.date) -> int:
    """Epoch milliseconds of UTC midnight starting ``day`` (Pendo's time unit)."""
    return (day - dt.date(1970, 1, 1)).days * DAY_MS
