"""Did the email work? A contacted visitor "returned" when active within the return window.

The window is ``return_window_days`` whole days starting on the contact day
(contact day D, 14 days: D … D+13). Each send run records returns from its
usage data, so ``status`` needs no data of its own.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from pendo_segments.engines import Engine

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset


def find_returns(
    ds: Dataset | Engine,
    contacts: list[tuple[int, str, dt.date]],
    as_of: dt.date,
    window_days: int,
) -> dict[int, dt.date]:
    """``{contact_id: first active day in its window}`` for the contacts that returned
    (``ds``: frames, or an engine that keeps the usage where it is)."""
    import pandas as pd

    if not contacts:
        return {}
    wanted = {v for _, v, _ in contacts}
    if isinstance(ds, Engine) and ds.in_memory is None:
        first = min(day for _, _, day in contacts)
        rows = _active_days(ds, sorted(wanted), first, as_of)
    else:
        frames = ds.in_memory if isinstance(ds, Engine) else ds
        usage = frames.usage_daily  # type: ignore[union-attr]
        active = (usage["events"] > 0) | (usage["minutes"] > 0)
        visitor = usage["visitor_id"].astype(str)
        rows = pd.DataFrame(
            {
                "visitor_id": visitor[active & visitor.isin(wanted)],
                "date": pd.to_datetime(usage["date"][active & visitor.isin(wanted)]),
            }
        )
    rows = rows[rows["date"] < pd.Timestamp(as_of)]
    if rows.empty:
        return {}
    frame = pd.DataFrame(contacts, columns=["contact_id", "visitor_id", "contact_day"])
    frame["start"] = pd.to_datetime(frame["contact_day"])
    frame["end"] = frame["start"] + pd.Timedelta(days=window_days - 1)
    joined = frame.merge(rows, on="visitor_id")
    joined = joined[(joined["date"] >= joined["start"]) & (joined["date"] <= joined["end"])]
    first = joined.groupby("contact_id")["date"].min()
    return {int(i): d.date() for i, d in first.items()}


def _active_days(engine: Engine, visitors: list[str], first: dt.date, as_of: dt.date) -> Any:
    """``visitor_id, date``: the active days of ``visitors`` from ``first`` to before
    ``as_of``, one query on ``engine`` (the semantic core's active-day rule)."""
    import pandas as pd

    from pendo_segments.semantics.lazy import exp
    from pendo_segments.semantics.rules import active_sql, both, col, date

    visitor = exp.cast(col("visitor_id", "u"), "VARCHAR")
    day = date(col("date", "u"))
    query = (
        exp.select(exp.alias_(visitor, "visitor_id"), exp.alias_(day.copy(), "date"))
        .distinct()
        .from_(exp.table_("usage_daily", alias="u"))
        .where(
            both(
                active_sql(),
                exp.GTE(this=day.copy(), expression=date(exp.Literal.string(first.isoformat()))),
                exp.LT(this=day.copy(), expression=date(exp.Literal.string(as_of.isoformat()))),
                exp.In(this=visitor.copy(), expressions=[exp.Literal.string(v) for v in visitors]),
            )
        )
    )
    frame = engine.query(query, at=as_of)
    return pd.DataFrame(
        {"visitor_id": frame["visitor_id"].astype(str), "date": pd.to_datetime(frame["date"])}
    )
