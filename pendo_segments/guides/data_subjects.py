"""Preview subjects picked from real data instead of preview_subjects.yaml.

For every tier × language pair the gallery shows, one real visitor of an
account in that tier is chosen (the first by visitor id, so the pick is
stable), with the account's health score and days since last visit — so
marketing reviews the copy with the names and numbers customers will see.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset

VISITOR_FIELDS = ("visitor_id", "name", "email", "language", "first_visit")
LANGUAGES = ("en", "ja")
ACCOUNT_FIELDS = (
    "account_id",
    "name",
    "arr",
    "plan",
    "csm_owner",
    "contract_start",
    "renewal_date",
    "seats",
    "self_service",
)


def _plain(value: Any) -> Any:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _record(frame: pd.DataFrame, pos: int, fields: tuple[str, ...]) -> dict[str, Any]:
    return {f: _plain(frame[f].iloc[pos]) for f in fields if f in frame.columns}


def subjects_from_data(
    ds: Dataset, *, defs_path: Path, as_of: dt.date | None = None, view: Any = None
) -> list[dict[str, Any]]:
    """One context per (tier, language) found in ``ds``; empty pairs are skipped."""
    from pendo_segments.tiers.view import account_view

    view = view or account_view(ds, defs_path, as_of=as_of)
    if view.tiers is None:
        return []
    metrics = view.metrics
    v2a = metrics.v2a
    if "language" in ds.visitors.columns:
        lang = ds.visitors["language"].astype("string").str.slice(0, 2).fillna("en").to_numpy()
    else:
        lang = np.full(len(v2a), "en", dtype=object)
    since = metrics.metric("visitor", "days_since_last_visit")
    score = np.asarray(view.health.score, dtype=float)
    tier_of_account = np.asarray(view.tiers.tier)
    order = np.argsort(np.asarray(ds.visitors["visitor_id"].astype(str)), kind="stable")
    subjects = []
    for tier in view.policy.names:
        for language in LANGUAGES:
            ok = (v2a >= 0) & (lang == language)
            ok[ok] &= tier_of_account[v2a[ok]] == tier
            hits = order[ok[order]]
            if not len(hits):
                continue
            v = int(hits[0])
            a = int(v2a[v])
            subjects.append(
                {
                    "visitor": _record(ds.visitors, v, VISITOR_FIELDS),
                    "account": _record(ds.accounts, a, ACCOUNT_FIELDS),
                    "tier": tier,
                    "health": None if np.isnan(score[a]) else round(float(score[a]), 1),
                    "days_since_last_visit": None if np.isnan(since[v]) else int(since[v]),
                    "as_of": view.as_of,
                }
            )
    return subjects
