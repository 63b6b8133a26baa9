"""Loading the fake Pendo from data: Pendo-shaped records, or a whole Dataset.

A mixin of :class:`~pendo_segments.pendo.fake.server.FakePendo` (kept apart so the
server module stays about endpoints). Mapping: accounts / visitors columns go to
``metadata.agent.<column>`` (dates as epoch ms of the subscription's local
midnight), ``metadata.auto`` holds firstvisit / lastvisit (the ``first_visit`` /
``last_visit`` columns, else the first / last active day), usage_daily becomes
``events`` rows and feature_usage ``featureEvents`` rows (clicks as numEvents).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Iterable
from typing import Any

from pendo_segments.pendo.fake.aggregation import DAY_MS, local_day_ms


class DatasetLoading:
    """``load_rows`` and ``load_dataset`` on top of the fake's ``add_*`` builders."""

    timezone: str
    add_account: Any
    add_visitor: Any
    add_feature: Any
    add_events: Any
    add_feature_events: Any

    def load_rows(
        self,
        *,
        accounts: Iterable[dict[str, Any]] = (),
        visitors: Iterable[dict[str, Any]] = (),
        events: Iterable[dict[str, Any]] = (),
        feature_events: Iterable[dict[str, Any]] = (),
        features: Iterable[dict[str, Any]] = (),
    ) -> None:
        """Load Pendo-shaped records: accounts ``{"accountId", "metadata": {group: {…}}}``,
        visitors ``{"visitorId", "accountId"?, "metadata"}``, features ``{"id", "name", …}``."""
        for a in accounts:
            self.add_account(a["accountId"], **a.get("metadata", {}))
        for v in visitors:
            self.add_visitor(v["visitorId"], v.get("accountId"), **v.get("metadata", {}))
        for f in features:
            self.add_feature(**{k if k != "id" else "feature_id": val for k, val in f.items()})
        self.add_events(events)
        self.add_feature_events(feature_events)

    def load_dataset(self, ds: Any, *, opaque_ids: bool = False) -> None:
        """Load a ``pendo_segments.data.dataset.Dataset`` (see the module docstring).

        ``opaque_ids``: serve each feature under an id shaped like Pendo's
        (:func:`opaque_id`, e.g. ``core_events`` → 27 url-safe characters) with its
        name, as a real subscription does, instead of the data's own ids.
        """
        usage = _frame_records(ds.usage_daily)
        clicks = _frame_records(ds.feature_usage)
        served = opaque_id if opaque_ids else str
        first: dict[str, int] = {}
        last: dict[str, int] = {}
        local = self._local_ms
        for row in usage:
            row["date"] = local(row["date"])
        for row in clicks:
            row["date"] = local(row["date"])
        for row in usage:
            if (row.get("events") or 0) > 0 or (row.get("minutes") or 0) > 0:
                vid, day = str(row["visitor_id"]), row["date"]
                first[vid] = min(first.get(vid, day), day)
                last[vid] = max(last.get(vid, day), day)
        visitors = _frame_records(ds.visitors)
        account_days: dict[str, list[int]] = {}
        others: dict[str, list[str]] = {}  # visitor_accounts: metadata.auto.accountids
        for link in _frame_records(getattr(ds, "visitor_accounts", None)):
            others.setdefault(str(link["visitor_id"]), []).append(str(link["account_id"]))
        for v in visitors:
            vid, aid = str(v.pop("visitor_id")), v.pop("account_id", None)
            auto: dict[str, Any] = {
                "firstvisit": local(v.get("first_visit")) or first.get(vid),
                "lastvisit": max(
                    (d for d in (local(v.get("last_visit")), last.get(vid)) if d is not None),
                    default=None,
                ),
            }
            if vid in others:
                own = [] if aid is None else [str(aid)]
                auto["accountids"] = [*own, *(a for a in others[vid] if a not in own)]
            self.add_visitor(
                vid,
                None if aid is None else str(aid),
                auto=auto,
                agent={k: val for k, val in v.items() if val is not None},
            )
            if aid is not None:
                account_days.setdefault(str(aid), []).extend(
                    d for d in (auto["firstvisit"], auto["lastvisit"]) if d is not None
                )
        for a in _frame_records(ds.accounts):
            aid = str(a.pop("account_id"))
            days = account_days.get(aid, [])
            self.add_account(
                aid,
                auto={"firstvisit": min(days, default=None), "lastvisit": max(days, default=None)},
                agent={k: val for k, val in a.items() if val is not None},
            )
        for f in _frame_records(ds.features):
            fid = served(str(f.pop("feature_id")))
            app = f.pop("app_id", None)
            self.add_feature(
                fid, f.pop("name", None), **({"appId": app} if app is not None else {}), **f
            )
        self.add_events(
            {
                "visitorId": str(r["visitor_id"]),
                "accountId": _str(r.get("account_id")),
                "day": r["date"],
                "numEvents": int(r.get("events") or 0),
                "numMinutes": float(r.get("minutes") or 0.0),
            }
            for r in usage
        )
        self.add_feature_events(
            {
                "visitorId": str(r["visitor_id"]),
                "accountId": _str(r.get("account_id")),
                "day": r["date"],
                "featureId": served(str(r["feature_id"])),
                "numEvents": int(r.get("clicks") or 0),
                "numMinutes": 0.0,
            }
            for r in clicks
        )

    def _local_ms(self, utc_midnight_ms: Any) -> Any:
        """A data day (UTC-midnight ms from a frame) as the subscription's local midnight."""
        if not isinstance(utc_midnight_ms, int):
            return utc_midnight_ms
        day = dt.date(1970, 1, 1) + dt.timedelta(days=utc_midnight_ms // DAY_MS)
        return local_day_ms(day, self.timezone)


def opaque_id(feature_id: str) -> str:
    """A stable id shaped like Pendo's feature ids (27 url-safe base64 characters, e.g.
    ``6r2iMJST3l_l8fyDsjyxhMnRGso``): nobody can write it in a definition by guessing."""
    digest = hashlib.sha256(feature_id.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")[:27]


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _frame_records(frame: Any) -> list[dict[str, Any]]:
    """DataFrame rows as plain Python dicts: dates → epoch ms, NA → None, numpy → Python.

    Column-wise (vectorised) so loading the bundled sample stays well under a second.
    """
    import pandas as pd

    if frame is None:
        return []
    columns: dict[str, list[Any]] = {}
    for name in frame.columns:
        series = frame[name]
        missing = series.isna()
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        if pd.api.types.is_datetime64_any_dtype(series):
            series = series.astype("datetime64[ms]").astype("int64")
        # object Series hold Python scalars (int, float, bool, str), NA replaced by None
        columns[str(name)] = series.astype(object).where(~missing, None).tolist()
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]
