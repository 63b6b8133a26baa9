"""Did the email work? A contacted visitor "returned" when active within the return window.

The window is ``return_window_days`` whole days starting on the contact day
(contact day D, 14 days: D … D+13). Each send run records returns from its
usage data, so ``status`` needs no data of its own.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset


def find_returns(
    ds: Dataset, contacts: list[tuple[int, str, dt.date]], as_of: dt.date, window_days: int
) -> dict[int, dt.date]:
    """``{contact_id: first active day in its window}`` for the contacts that returned."""
    import pandas as pd

    if not contacts:
        return {}
    usage = ds.usage_daily
    active = (usage["events"] > 0) | (usage["minutes"] > 0)
    visitor = usage["visitor_id"].astype(str)
    wanted = {v for _, v, _ in contacts}
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
