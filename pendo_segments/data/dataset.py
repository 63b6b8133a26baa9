"""The canonical in-memory data set every later layer works on."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from pendo_segments.data.schema import AS_OF_RANGE
from pendo_segments.errors import DataError

TABLE_NAMES = (
    "accounts",
    "visitors",
    "usage_daily",
    "feature_usage",
    "features",
    "visitor_accounts",
    "nps",
    "tickets",
    "outcomes",
)


@dataclass
class Dataset:
    """Typed frames of docs/semantics.md §1, as built by the loaders in this package.

    Column types are canonical (see ``schema.py``): ids are strings, except
    the ids of ``usage_daily`` / ``feature_usage`` which are ``category``.
    Their categories are fixed so codes can index other tables directly:
    ``visitor_id`` categories are ``visitors.visitor_id`` in file order,
    ``feature_id`` categories ``features.feature_id``, and the first
    ``len(accounts)`` categories of ``account_id`` are ``accounts.account_id``
    (then account ids known only to visitors or usage rows).

    The evaluator loads with ``narrow=True`` (``load_dataset``): then the usage
    tables hold only their required columns, ``date`` as Arrow ``date32``
    (``date32[pyarrow]``) and counts as int32 when every value fits, about
    half the memory; the values, checks and members are the same.
    """

    accounts: pd.DataFrame
    visitors: pd.DataFrame
    usage_daily: pd.DataFrame
    feature_usage: pd.DataFrame
    features: pd.DataFrame
    #: links of visitors to accounts beyond ``visitors.account_id`` (``visitor_id``,
    #: ``account_id``; Pendo's ``metadata.auto.accountids``), each pair once
    visitor_accounts: pd.DataFrame | None = None
    nps: pd.DataFrame | None = None
    tickets: pd.DataFrame | None = None
    outcomes: pd.DataFrame | None = None
    source: str = ""  # folder path, "sample" or "pendo"
    #: attribute history (docs/semantics.md §2b), a ``history.History`` each; see ``fields_at``
    accounts_history: Any = None
    visitors_history: Any = None

    def default_as_of(self) -> dt.date:
        """The day after the latest usage date, so a fixed data set gives fixed answers."""
        dates = self.usage_daily.get("date")
        latest = dates.max() if dates is not None and len(dates) else pd.NaT
        if pd.isna(latest):
            raise DataError(
                f"{self.source or 'usage_daily'}: usage_daily has no rows, "
                "so there is no default as-of day; pass --as-of YYYY-MM-DD"
            )
        day = pd.Timestamp(latest).date()
        first, last = AS_OF_RANGE
        if not first <= day < last:
            raise DataError(
                f"{self.source or 'usage_daily'}: the latest usage date is {day.isoformat()}, "
                f"so the default as-of day would be outside {first} to {last}; "
                "pass --as-of YYYY-MM-DD"
            )
        return day + dt.timedelta(days=1)

    def fields_at(self, as_of: dt.date) -> Dataset:
        """This data set with account and visitor fields as they stood for ``as_of``.

        An evaluation at D sees the end of D−1 (docs/semantics.md §2b); without
        history files it is this data set itself.
        """
        from pendo_segments.data.history import dataset_at

        return dataset_at(self, as_of - dt.timedelta(days=1))

    def row_account_tables(self) -> tuple[str, ...]:
        """The usage tables with a row naming another account than its visitor's
        (``visitors.account_id``): the SQL engines' ``row_account`` for these frames.

        A full load fills a blank or absent ``account_id`` with the visitor's
        account of today, which says nothing of its own: read as the row's account
        it would pin the row there when ``visitors_history`` moves the visitor
        (docs/semantics.md §1, §2b). The evaluator's narrow load drops such a
        column for the same reason.
        """
        home = pd.Series(
            self.visitors["account_id"].to_numpy(dtype=object),
            index=self.visitors["visitor_id"].astype(str),
        )
        out = []
        for name in ("usage_daily", "feature_usage"):
            usage = getattr(self, name)
            if "account_id" not in usage.columns:
                continue
            visitors = usage["visitor_id"].astype("category")
            lookup = home.reindex(visitors.cat.categories.astype(str)).to_numpy(dtype=object)
            codes = visitors.cat.codes.to_numpy()
            theirs = np.full(len(codes), None, dtype=object)
            theirs[codes >= 0] = lookup[codes[codes >= 0]]
            own = usage["account_id"].astype(object).to_numpy()
            known = pd.notna(own)
            if bool((own[known] != theirs[known]).any()):
                out.append(name)
        return tuple(out)

    def key_features(self) -> list[str]:
        """Ids of the key (core) features, in file order."""
        if "key" not in self.features:
            return []
        key = self.features["key"].fillna(False).astype(bool)
        return [str(f) for f in self.features.loc[key, "feature_id"]]

    def tables(self) -> dict[str, pd.DataFrame]:
        """The frames present, by table name (file stem, docs/semantics.md §1)."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name in TABLE_NAMES and getattr(self, f.name) is not None
        }
