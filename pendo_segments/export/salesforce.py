"""Account scores as an upsert-ready Salesforce CSV, keyed by ``crm_id``.

One row per account whose ``crm_id`` is a usable Salesforce record id; every
other account goes to an exception report with the reason, so nothing is
silently dropped. Record ids are compared on their first 15 characters (the
18-character form only adds a case checksum), so two accounts pointing at
one Salesforce record are caught before an upsert overwrites one with the
other.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pendo_segments.base.rendered import Rendered
from pendo_segments.errors import DataError
from pendo_segments.health.score import HealthResult, compute_health, round1

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset

KEY = "crm_id"
FIELDS = [
    "Pendo_Health_Score__c",
    "Pendo_Last_Login__c",
    "Pendo_Feature_Adoption_Rate__c",
    "Pendo_Session_Count_30d__c",
    "Pendo_NPS_Score__c",
    "Pendo_At_Risk_Flag__c",
]
EXCEPTION_COLUMNS = ["account_id", "name", "crm_id", "problem"]
AT_RISK_BELOW = 40.0  # the playbook's at-risk threshold when no alert rule is given
_SF_ID = re.compile(r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$")


@dataclass
class SalesforceExport:
    """The upsert rows and the exception report; each renders itself (cli/output.emit)."""

    rows: pd.DataFrame  # crm_id + FIELDS, sorted by crm_id
    exceptions: pd.DataFrame  # EXCEPTION_COLUMNS, sorted by account_id
    as_of: dt.date

    def render(self, fmt: str) -> Rendered:
        """The upsert rows (the CSV Data Loader reads); json: :meth:`to_dict`."""
        if fmt == "json":
            return Rendered(payload=self.to_dict())
        return Rendered(frame=self.rows, title=f"Salesforce upsert as of {self.as_of}")

    def exceptions_view(self) -> Rendered:
        """The accounts that cannot be upserted, with the reason."""
        return Rendered(frame=self.exceptions, title="Accounts without a CRM match")

    def to_dict(self) -> dict[str, Any]:
        """``as_of``, ``rows`` and ``exceptions`` as records (blank cells: null)."""
        import json

        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return list(json.loads(frame.to_json(orient="records", double_precision=15)))

        return {
            "as_of": self.as_of.isoformat(),
            "rows": records(self.rows),
            "exceptions": records(self.exceptions),
        }

    def summary(self, out: Path, exceptions: Path) -> str:
        return (
            f"wrote {len(self.rows)} accounts to {out}; {len(self.exceptions)} without a CRM "
            f"match listed in {exceptions}"
        )


def salesforce_export(
    ds: Dataset,
    *,
    health: HealthResult | None = None,
    as_of: dt.date | None = None,
    at_risk: np.ndarray | None = None,
    known_ids: Iterable[str] | None = None,
    key_header: str = KEY,
) -> SalesforceExport:
    """Build the upsert rows and the exception report.

    ``at_risk``: the at-risk flag per account (default: score < 40);
    ``known_ids``: record ids that exist in Salesforce (e.g. an Account report),
    to catch ids that would not match.
    """
    health = health or compute_health(ds, as_of=as_of)
    accounts = ds.accounts
    n = len(health.account_ids)
    sig = health.signals
    score = round1(health.score)
    flag = at_risk if at_risk is not None else (score < AT_RISK_BELOW)
    last = sig["days_since_last_login"]
    last_login = [
        None if np.isnan(d) else (health.as_of - dt.timedelta(days=int(d))).isoformat()
        for d in last
    ]
    rows = pd.DataFrame(
        {
            key_header: _crm_ids(accounts, n),
            "Pendo_Health_Score__c": score,
            "Pendo_Last_Login__c": last_login,
            "Pendo_Feature_Adoption_Rate__c": round1(sig["feature_adoption"]),
            "Pendo_Session_Count_30d__c": sig["sessions"].astype(np.int64),
            "Pendo_NPS_Score__c": round1(sig["nps"]),
            "Pendo_At_Risk_Flag__c": np.asarray(flag, dtype=bool),
        }
    )
    problem = problems(rows[key_header], health.account_ids, known_ids)
    bad = problem.notna().to_numpy()
    names = accounts["name"] if "name" in accounts.columns else pd.Series([None] * n)
    exceptions = (
        pd.DataFrame(
            {
                "account_id": np.asarray(health.account_ids, dtype=object)[bad],
                "name": names.to_numpy(dtype=object)[bad],
                "crm_id": rows[key_header].to_numpy(dtype=object)[bad],
                "problem": problem.to_numpy(dtype=object)[bad],
            }
        )
        .sort_values("account_id", kind="stable")
        .reset_index(drop=True)
    )
    good = rows.loc[~bad].sort_values(key_header, kind="stable").reset_index(drop=True)
    return SalesforceExport(rows=good, exceptions=exceptions, as_of=health.as_of)


def _crm_ids(accounts: pd.DataFrame, n: int) -> np.ndarray:
    if KEY not in accounts.columns:
        return np.full(n, None, dtype=object)
    col = accounts[KEY].astype("string").str.strip()
    return col.where(col.notna() & (col != ""), None).to_numpy(dtype=object)


def problems(
    crm_ids: pd.Series, account_ids: pd.Index, known_ids: Iterable[str] | None
) -> pd.Series:
    """Why each account cannot be upserted (None when it can)."""
    out = pd.Series([None] * len(crm_ids), dtype=object)
    ids = crm_ids.reset_index(drop=True)
    blank = ids.isna()
    out[blank] = "no crm_id"
    valid = ~blank & ids.astype(str).str.match(_SF_ID)
    malformed = ~blank & ~valid
    out[malformed] = [
        f"crm_id '{v}' is not a Salesforce record id (15 or 18 letters and digits)"
        for v in ids[malformed]
    ]
    short = ids.where(valid).str.slice(0, 15)
    if known_ids is not None:
        known = {str(k).strip()[:15] for k in known_ids if str(k).strip()}
        missing = valid & ~short.isin(known)
        out[missing] = [f"crm_id '{v}' not found in the Salesforce id list" for v in ids[missing]]
    shared = valid & short.duplicated(keep=False)
    if shared.any():
        accounts = pd.Series(np.asarray(account_ids, dtype=object))
        groups = accounts[shared].groupby(short[shared]).agg(list)
        for i in np.flatnonzero(shared.to_numpy()):
            others = [a for a in groups[short[i]] if a != accounts[i]]
            out[i] = (
                f"crm_id '{ids[i]}' is also used by {', '.join(others)}; an upsert "
                "would overwrite one with the other"
            )
    return out


def export_for_salesforce(
    ds: Dataset,
    defs: str | Path,
    *,
    as_of: dt.date | None = None,
    known_ids: Iterable[str] | None = None,
    key_header: str = KEY,
    definitions: Any = None,
) -> SalesforceExport:
    """Score with ``DEFS/health.yaml``, flag at-risk with ``DEFS/alerts.yaml``, build the CSVs."""
    from pendo_segments.health.config import health_config_for
    from pendo_segments.tiers.alerts import at_risk_flag

    health = compute_health(ds, as_of=as_of, config=health_config_for(defs))
    flag = at_risk_flag(ds, defs, health, definitions=definitions)
    return salesforce_export(
        ds, health=health, at_risk=flag, known_ids=known_ids, key_header=key_header
    )


def read_crm_ids(path: str | Path) -> list[str]:
    """Record ids that exist in Salesforce: column Id / ID / id / crm_id, else the first."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: not a CSV file with a header row ({err})") from None
    column = next(
        (c for c in ("Id", "ID", "id", "crm_id") if c in frame.columns),
        frame.columns[0] if len(frame.columns) else None,
    )
    if column is None:
        raise DataError(f"{path}: no columns")
    return [v for v in frame[column].astype(str).str.strip() if v]
