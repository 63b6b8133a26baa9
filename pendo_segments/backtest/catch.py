"""Would a rule have warned us? Catch rates of flags against churn outcomes.

For one rule (an account segment or an alert) over the as-of days of a
backtest:

* the accounts *in scope* are those still customers at the first as-of day
  (no churn on or before it);
* a *churner* is an in-scope account whose churn day falls within
  ``horizon`` days after one of the as-of days (``0 < churn − D ≤ horizon``);
* an account is *flagged* when the rule holds for it at some as-of day before
  it churned; a churner is *caught* when it was flagged at an as-of day
  within the horizon before its churn;
* precision = caught ÷ flagged, recall = caught ÷ churners, base rate =
  churners ÷ accounts in scope, lift = precision ÷ base rate;
* lead time of a caught churner = churn day − the first as-of day it was
  flagged within the horizon; the table gives the median.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pendo_segments.backtest.run import Backtest
from pendo_segments.definitions.models import RISK_TAG
from pendo_segments.errors import DataError
from pendo_segments.evaluate.metrics import NAT_DAY, day_number, day_numbers, positions

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset

CATCH_COLUMNS = [
    "rule",
    "kind",
    "accounts",
    "churners",
    "flagged",
    "caught",
    "precision",
    "recall",
    "base_rate",
    "lift",
    "median_lead_days",
]
HORIZON_DAYS = 90
#: alert severities that say "this account is in trouble" (the report's ARR at risk too)
PROBLEMS = ("high", "medium")


@dataclass
class CatchRate:
    rule: str
    kind: str  # segment | alert
    accounts: int
    churners: int
    flagged: int
    caught: int
    precision: float
    recall: float
    base_rate: float
    lift: float
    median_lead_days: float

    def row(self) -> dict[str, Any]:
        out = asdict(self)
        for k in ("precision", "recall", "base_rate", "lift"):
            out[k] = None if math.isnan(out[k]) else round(out[k], 3)
        lead = out["median_lead_days"]
        out["median_lead_days"] = None if math.isnan(lead) else lead
        return out


def churn_days(ds: Dataset, account_ids: pd.Index) -> np.ndarray:
    """Day number of each account's churn (NAT_DAY: did not churn or no outcome)."""
    outcomes = getattr(ds, "outcomes", None)
    if outcomes is None:
        raise DataError(
            f"{ds.source or 'data'}: no outcomes.csv; catch rates need account_id,churned,churn_date"
        )
    churned = outcomes["churned"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    when = np.full(len(outcomes), NAT_DAY, dtype=np.int64)
    for column in ("as_of", "churn_date"):  # churn_date wins; as_of is "churned by then"
        if column in outcomes.columns:
            days = day_numbers(outcomes[column])
            when = np.where(days != NAT_DAY, days, when)
    missing = churned & (when == NAT_DAY)
    if missing.any():
        row = int(np.flatnonzero(missing)[0]) + 1
        raise DataError(
            f"outcomes.csv, row {row}, column churn_date: a churned account needs "
            "churn_date (or as_of) for a backtest"
        )
    pos = positions(outcomes["account_id"], account_ids)
    out = np.full(len(account_ids), NAT_DAY, dtype=np.int64)
    keep = churned & (pos >= 0)
    out[pos[keep]] = when[keep]
    return out


def risk_rules(defs: Any, tag: str = RISK_TAG, alerts: Any = None) -> list[str]:
    """The flags of a backtest that are churn-risk rules: the account segments tagged
    ``tag`` (``tags: [risk]`` in their definition) and the problem alerts (severity high
    or medium) of ``alerts`` (an :class:`~pendo_segments.tiers.alerts.AlertRules`), as
    ``Backtest.flags`` names them (``alert:NAME``).

    ``healthy``, ``smb`` or an anniversary are segments too, but asking whether they
    "caught the churners" makes no sense.
    """
    names = [s.name for s in defs if s.subject == "account" and tag in s.tags]
    if alerts is not None:
        names += [f"alert:{a.spec.name}" for a in alerts.alerts if a.spec.severity in PROBLEMS]
    return names


def catch_rates(
    bt: Backtest,
    churn: np.ndarray,
    horizon: int = HORIZON_DAYS,
    rules: Collection[str] | None = None,
) -> list[CatchRate]:
    """One :class:`CatchRate` per account segment and alert of ``bt`` (only those named in
    ``rules`` when given, e.g. :func:`risk_rules`)."""
    days = np.array([day_number(d) for d in bt.days], dtype=np.int64)
    has_churn = churn != NAT_DAY
    in_scope = ~has_churn | (churn > days[0])
    # as-of days × accounts: days until churn (only meaningful where has_churn)
    until = churn[None, :] - days[:, None]
    before = ~has_churn[None, :] | (until > 0)
    near = has_churn[None, :] & (until > 0) & (until <= horizon)
    churner = in_scope & near.any(axis=0)
    accounts, churners = int(in_scope.sum()), int(churner.sum())
    base = churners / accounts if accounts else math.nan
    out = []
    for name, matrix in bt.flags.items():
        if rules is not None and name not in rules:
            continue
        flagged_any = (matrix & before).any(axis=0) & in_scope
        hits = matrix & near
        caught = hits.any(axis=0) & churner
        first = np.argmax(hits, axis=0)
        leads = (churn - days[first])[caught]
        n_flagged, n_caught = int(flagged_any.sum()), int(caught.sum())
        precision = n_caught / n_flagged if n_flagged else math.nan
        out.append(
            CatchRate(
                rule=name.removeprefix("alert:"),
                kind="alert" if name.startswith("alert:") else "segment",
                accounts=accounts,
                churners=churners,
                flagged=n_flagged,
                caught=n_caught,
                precision=precision,
                recall=n_caught / churners if churners else math.nan,
                base_rate=base,
                lift=precision / base if base and not math.isnan(precision) else math.nan,
                median_lead_days=float(np.median(leads)) if n_caught else math.nan,
            )
        )
    return out


def catch_frame(rates: list[CatchRate]) -> pd.DataFrame:
    return pd.DataFrame([r.row() for r in rates], columns=CATCH_COLUMNS)


def horizon_note(days: list[dt.date], horizon: int = HORIZON_DAYS) -> str:
    return (
        f"churn within {horizon} days after an as-of day from {days[0].isoformat()} "
        f"to {days[-1].isoformat()}; flagged = in the rule at an as-of day before churning"
    )
