"""The usage data directory format (docs/semantics.md §1) as data, not code.

Every loader (CSV / Parquet folder, Pendo API, sample generator) goes
through these specs, so the canonical column types are decided in one place.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["str", "cat", "float", "int", "bool", "date", "infer"]


@dataclass(frozen=True)
class Col:
    """One column: its canonical kind and what values it accepts.

    ``cat`` columns are ids of the big tables, stored dictionary-encoded
    (pandas ``category``) because usage tables get tens of millions of rows.
    """

    kind: Kind
    required: bool = False  # a blank value is an error
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class TableSpec:
    name: str
    required: dict[str, Col]
    optional: dict[str, Col] = field(default_factory=dict)
    key: str | None = None  # unique id column
    mandatory: bool = True  # the file itself must exist

    def column(self, name: str) -> Col:
        """The spec of ``name``; unknown extra columns get their type inferred."""
        return self.required.get(name) or self.optional.get(name) or INFER


ID = Col("str", required=True)
TEXT = Col("str")
CAT_ID = Col("cat", required=True)
CAT_OPTIONAL = Col("cat")  # blank account_id in usage: filled from visitors
NUMBER = Col("float")
DATE = Col("date")
DAY = Col("date", required=True)
BOOL = Col("bool")
COUNT = Col("int", required=True, min=0)
#: annual recurring revenue: 10^15 (a quadrillion, in any currency) is beyond any real
#: contract and far below where sums and money formatting break (an ARR of 1e28 did)
ARR = Col("float", max=1e15)
INFER = Col("infer")

TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in [
        TableSpec(
            "accounts",
            required={"account_id": ID, "arr": ARR, "plan": TEXT},
            optional={
                "name": TEXT,
                "contract_start": DATE,
                "renewal_date": DATE,
                "qbr_date": DATE,  # the next quarterly business review (report --within)
                "csm_owner": TEXT,
                "seats": Col("int", min=0),
                "self_service": BOOL,
                "crm_id": TEXT,
                "domain": TEXT,
                "created": DATE,  # docs/semantics.md §2b: no subject before this day
            },
            key="account_id",
        ),
        TableSpec(
            "visitors",
            # a blank account_id is a visitor without an account (allowed)
            required={"visitor_id": ID, "account_id": TEXT},
            optional={
                "email": TEXT,
                "language": TEXT,
                "first_visit": DATE,
                "last_visit": DATE,  # Pendo's metadata.auto.lastvisit (all history)
                "name": TEXT,
            },
            key="visitor_id",
        ),
        TableSpec(
            "features",
            required={"feature_id": ID, "name": TEXT},
            optional={"key": BOOL, "app_id": TEXT},
            key="feature_id",
        ),
        TableSpec(
            "usage_daily",
            required={
                "date": DAY,
                "visitor_id": CAT_ID,
                "minutes": Col("float", required=True, min=0),
                "events": COUNT,
            },
            optional={"account_id": CAT_OPTIONAL},
        ),
        TableSpec(
            "feature_usage",
            required={"date": DAY, "visitor_id": CAT_ID, "feature_id": CAT_ID, "clicks": COUNT},
            optional={"account_id": CAT_OPTIONAL},
        ),
        TableSpec(
            # a visitor's links to accounts (Pendo's metadata.auto.accountids): an account
            # segment's visitor list holds them too (docs/semantics.md §1)
            "visitor_accounts",
            required={"visitor_id": ID, "account_id": ID},
            mandatory=False,
        ),
        TableSpec(
            "nps",
            required={
                "date": DAY,
                "visitor_id": ID,
                "score": Col("int", required=True, min=0, max=10),
            },
            optional={"account_id": TEXT, "comment": TEXT},
            mandatory=False,
        ),
        TableSpec(
            "tickets",
            required={"opened_on": DAY, "account_id": ID},
            optional={"ticket_id": TEXT, "priority": TEXT},
            mandatory=False,
        ),
        TableSpec(
            "outcomes",
            required={"account_id": ID, "churned": BOOL},
            optional={"as_of": DATE, "churn_date": DATE},
            mandatory=False,
        ),
    ]
}


def optional_column(table: str, column: str) -> Col | None:
    """The spec of a column the contract lists as optional for ``table``, else None."""
    spec = TABLES.get(table)
    return None if spec is None else spec.optional.get(column)


def optional_columns(table: str) -> list[str]:
    """The optional columns of ``table`` (for did-you-mean hints on a misspelt column)."""
    spec = TABLES.get(table)
    return [] if spec is None else list(spec.optional)


def absent_column_warning(table: str, column: str) -> str:
    """What every engine says once when a rule reads an optional column the data lacks."""
    return (
        f"{table} has no column '{column}' (optional): conditions on it are unknown "
        "(false), as for blank values"
    )


# Tables whose visitor_id must name a known visitor (error, or dropped when lenient).
VISITOR_TABLES = ("usage_daily", "feature_usage", "nps")

# The as-of days the engines can count windows and anniversaries around
# without leaving the calendar (a 9999-12-31 placeholder date is data, not a day).
AS_OF_RANGE = (dt.date(1900, 1, 1), dt.date(9000, 12, 31))
