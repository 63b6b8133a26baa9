"""A book of business: the accounts a report is restricted to (``--segment`` / ``--csm``).

The data set is cut down to those accounts, their visitors and their rows,
so every number of the report (health, tiers, capacity, PES, backtest) is
the book's. An account's own numbers do not depend on other accounts, so
they are the same as in the whole-data report.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pendo_segments.definitions.yaml_lines import suggest
from pendo_segments.errors import ConfigError

if TYPE_CHECKING:
    from pendo_segments.backtest.run import Backtest
    from pendo_segments.data.dataset import Dataset


def book_accounts(
    ds: Dataset,
    defs: Any,
    as_of: dt.date,
    *,
    segment: str | None,
    csm: str | None,
    saved: Backtest | None = None,
) -> np.ndarray | None:
    """Boolean mask over ``ds.accounts`` rows, or None for the whole book.

    ``saved``: a saved backtest ending at ``as_of`` whose last day gives the
    segment's members (``ds`` then holds no usage).
    """
    if segment is None and csm is None:
        return None
    accounts = ds.accounts
    keep = np.ones(len(accounts), dtype=bool)
    if csm is not None:
        if "csm_owner" not in accounts.columns:
            raise ConfigError("--csm: accounts.csv has no csm_owner column")
        owners = accounts["csm_owner"].astype("string").fillna("")
        keep &= (owners == csm).to_numpy()
        if not keep.any():
            known = sorted(set(owners) - {""})
            raise ConfigError(f"--csm: no account has csm_owner '{csm}'{suggest(csm, known)}")
    if segment is not None and saved is not None:
        defs.select([segment])  # an unknown name: the usual error and suggestion
        if segment in saved.flags:
            keep &= saved.flags[segment][-1]
        else:  # a visitor segment's book: the accounts those visitors belong to
            keep &= saved.member_counts[segment][-1, : len(accounts)] > 0
    elif segment is not None:
        from pendo_segments.evaluate import evaluate

        ev = evaluate(defs, ds, as_of=as_of, names=[segment])
        members = ev.masks[segment]
        if ev.segments[segment].subject == "visitor":
            # a visitor segment's book: the accounts those visitors belong to
            v2a = ev.metrics.v2a
            in_book = np.zeros(len(accounts), dtype=bool)
            in_book[v2a[members & (v2a >= 0)]] = True
            members = in_book
        keep &= members
    return keep


def restrict(ds: Dataset, keep: np.ndarray) -> Any:
    """The data set of the kept accounts only (validated again like any loaded data)."""
    from pendo_segments.data import dataset_from_frames

    accounts = ds.accounts[keep].reset_index(drop=True)
    ids = set(accounts["account_id"].astype(str))
    visitors = ds.visitors[ds.visitors["account_id"].astype(str).isin(ids)].reset_index(drop=True)
    vids = set(visitors["visitor_id"].astype(str))

    def by_visitor(frame: pd.DataFrame | None) -> pd.DataFrame | None:
        if frame is None:
            return None
        out = frame[frame["visitor_id"].astype(str).isin(vids)].reset_index(drop=True)
        return _plain(out)

    def by_account(frame: pd.DataFrame | None) -> pd.DataFrame | None:
        if frame is None:
            return None
        return _plain(frame[frame["account_id"].astype(str).isin(ids)].reset_index(drop=True))

    frames = {
        "accounts": _plain(accounts),
        "visitors": _plain(visitors),
        "usage_daily": by_visitor(ds.usage_daily),
        "feature_usage": by_visitor(ds.feature_usage),
        "features": _plain(ds.features),
        "nps": by_visitor(ds.nps),
        "tickets": by_account(ds.tickets),
        "outcomes": by_account(ds.outcomes),
    }
    out = dataset_from_frames(frames, source=ds.source)
    # attribute history is looked up by id: other accounts' rows are never read
    out.accounts_history, out.visitors_history = ds.accounts_history, ds.visitors_history
    return out


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical ids back to strings, dates back to ISO text, so the loader re-types them."""
    out = frame.copy()
    for column in out.columns:
        col = out[column]
        if isinstance(col.dtype, pd.CategoricalDtype):
            out[column] = col.astype(str)
        elif pd.api.types.is_datetime64_any_dtype(col):
            out[column] = col.dt.strftime("%Y-%m-%d").where(col.notna(), None)
    return out
