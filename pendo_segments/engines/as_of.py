"""The as-of day's checks asked of any engine: the numpy evaluator's lines, from two queries.

pandas checks the day as it evaluates (evaluate/as_of.py over the frames); an
engine that keeps the usage where it is asks for the usage's first and last
day and for the number of subjects at the day, so both say the same words.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlglot import exp

    from pendo_segments.engines.base import DataShape, Engine
    from pendo_segments.semantics.rules import Existence
else:
    from pendo_segments.semantics.lazy import exp

SPAN_SQL = "SELECT min(date) AS first, max(date) AS last FROM usage_daily"


def usage_span(engine: Engine) -> tuple[dt.date, dt.date] | None:
    """The first and last usage day (every row, as the frames' min / max), None when empty."""
    import pandas as pd

    first, last = engine.query(SPAN_SQL).iloc[0]
    if pd.isna(first) or pd.isna(last):
        return None
    return pd.Timestamp(first).date(), pd.Timestamp(last).date()


def anybody_at(engine: Engine, day: dt.date) -> bool:
    """Some account or visitor exists at ``day`` (docs/semantics.md §2b), or the data has
    none at all (then there is nothing to say). Visitors are counted only when no account
    exists: their first-seen test may scan the usage."""
    from pendo_segments.semantics.rules import params

    existence = _existence(engine.shape())
    counts = exp.select(
        exp.alias_(exp.Subquery(this=_count("accounts")), "accounts"),
        exp.alias_(exp.Subquery(this=_count("visitors")), "visitors"),
        exp.alias_(exp.Subquery(this=_subjects(existence, "account")), "subjects"),
    ).with_("params", as_=params(day))
    accounts, visitors, subjects = (int(n) for n in engine.query(counts, at=day).iloc[0])
    if subjects or not accounts + visitors:
        return True
    seen = _subjects(existence, "visitor").with_("params", as_=params(day))
    return bool(int(engine.query(seen, at=day).iloc[0, 0]))


def _existence(shape: DataShape) -> Existence:
    from pendo_segments.semantics.rules import Existence

    return Existence(
        has_first_visit=shape.has_column("visitors", "first_visit"),
        has_created=shape.has_column("accounts", "created"),
        has_churn_date=shape.has_column("outcomes", "churn_date"),
    )


def _count(name: str) -> exp.Select:
    from pendo_segments.semantics.rules import table

    return exp.select(exp.Count(this=exp.Star())).from_(table(name, "s"))


def _subjects(existence: Existence, subject: str) -> exp.Select:
    """``count(*)`` of the ``subject`` rows that are subjects at ``p.as_of``."""
    from pendo_segments.semantics.rules import with_params

    name = "accounts" if subject == "account" else "visitors"
    return with_params(_count(name)).where(existence.subject_sql(subject, row="s"))
