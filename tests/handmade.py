"""A tiny hand-written data set whose segment memberships are worked out by hand.

as-of 2026-11-01, so the 30-day window is 2026-10-02 … 2026-10-31.

accounts        arr        plan        visitors (usage in the window unless noted)
  A1            15000      Starter     a1v1 10-05 5 min / 3 ev; a1v2 10-05 5 min / 1 ev
                                        → 1 active day, 10 minutes: at_risk, smb
  A2            15000.01   Growth      a2v1 10-10,10-11,10-12 1 min each → 3 days
                                        a2v2 only 10-01 (outside) → days since last 31
  A3            200000     Enterprise  a3v1 no usage at all → 0 days, 0 min: at_risk
  A4            50000      Growth      a4v1 10-01 (out), 10-02 10.5 min (in), 11-01 (as-of, out)
  A5            80000      Enterprise  a5v1 10-02 … 10-17, 30 min each → 16 days: healthy
(no row)        —          —           x1 (account "ghost") 10-20 1 event, 0 minutes
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

AS_OF = dt.date(2026, 11, 1)


def _d(s: str) -> pd.Timestamp:
    return pd.Timestamp(s)


def frames() -> dict[str, pd.DataFrame]:
    accounts = pd.DataFrame(
        {
            "account_id": ["A1", "A2", "A3", "A4", "A5"],
            "arr": [15000.0, 15000.01, 200000.0, 50000.0, 80000.0],
            "plan": ["Starter", "Growth", "Enterprise", "Growth", "Enterprise"],
            "contract_start": pd.to_datetime(
                ["2023-11-04", "2025-06-01", "2024-02-29", None, "2026-11-07"]
            ),
            "self_service": pd.array([True, False, None, False, False], dtype="boolean"),
        }
    )
    accounts["account_id"] = accounts["account_id"].astype("string")
    accounts["plan"] = accounts["plan"].astype("string")
    visitors = pd.DataFrame(
        {
            "visitor_id": ["a1v1", "a1v2", "a2v1", "a2v2", "a3v1", "a4v1", "a5v1", "x1"],
            "account_id": ["A1", "A1", "A2", "A2", "A3", "A4", "A5", "ghost"],
            "language": ["en", "ja", "en", "en", "ja", "en", "en", None],
            "first_visit": pd.to_datetime(
                [
                    "2025-11-03",
                    "2025-01-01",
                    "2025-11-08",
                    "2024-05-05",
                    "2020-02-29",
                    "2026-10-15",
                    None,
                    "2024-11-01",
                ]
            ),
        }
    )
    for c in ("visitor_id", "account_id", "language"):
        visitors[c] = visitors[c].astype("string")
    usage_rows = [
        ("2026-10-05", "a1v1", 5.0, 3),
        ("2026-10-05", "a1v2", 5.0, 1),
        ("2026-10-10", "a2v1", 1.0, 1),
        ("2026-10-11", "a2v1", 1.0, 1),
        ("2026-10-12", "a2v1", 1.0, 1),
        ("2026-10-01", "a2v2", 2.0, 4),
        ("2026-10-01", "a4v1", 60.0, 9),
        ("2026-10-02", "a4v1", 10.5, 2),
        ("2026-11-01", "a4v1", 60.0, 9),
        ("2026-10-20", "x1", 0.0, 1),
    ] + [(f"2026-10-{d:02d}", "a5v1", 30.0, 10) for d in range(2, 18)]
    usage = pd.DataFrame(usage_rows, columns=["date", "visitor_id", "minutes", "events"])
    usage["date"] = pd.to_datetime(usage["date"])
    owner = dict(zip(visitors["visitor_id"], visitors["account_id"], strict=True))
    usage["account_id"] = usage["visitor_id"].map(owner)
    features = pd.DataFrame(
        {
            "feature_id": [
                "core_events",
                "data_explorer",
                "path_reports",
                "guide_publishing",
                "export",
            ],
            # the names the shipped definitions write (segment_defs/never_used_feature.yaml)
            "name": ["Core events", "Data Explorer", "Path reports", "Guide publishing", "Export"],
            "key": pd.array([True, True, True, True, False], dtype="boolean"),
        }
    )
    features["feature_id"] = features["feature_id"].astype("string")
    fu = pd.DataFrame(
        [
            ("2026-10-05", "a5v1", "core_events", 12),
            ("2026-10-06", "a5v1", "data_explorer", 1),
            ("2026-10-07", "a5v1", "path_reports", 2),
            ("2026-10-01", "a1v1", "data_explorer", 5),
            ("2026-10-05", "a1v1", "path_reports", 10),
        ],
        columns=["date", "visitor_id", "feature_id", "clicks"],
    )
    fu["date"] = pd.to_datetime(fu["date"])
    fu["account_id"] = fu["visitor_id"].map(owner)
    for f in (usage, fu):
        for c in ("visitor_id", "account_id", "feature_id"):
            if c in f:
                f[c] = f[c].astype("category")
    return {
        "accounts": accounts,
        "visitors": visitors,
        "usage_daily": usage,
        "feature_usage": fu,
        "features": features,
    }


#: Worked out by hand from the table above (not by running the engine).
EXPECTED = {
    "at_risk": ["A1", "A3"],  # A2 has 3 days; A4 10.5 min; A5 16 days
    "healthy": ["A5"],
    "enterprise": ["A3", "A5"],
    "smb": ["A1"],  # 15000 included, 15000.01 not
    "at_risk_enterprise": ["A3"],
    "expansion_ready": [],  # A5 healthy, not smb, but ≤ 1 DE / 2 PR clicks
    "contract_anniversary": ["A1"],  # A1 11-04 (3 y); A5 starts 2026-11-07: 0 y → no
    "new_users": ["a4v1", "a5v1"],  # a4v1 first 10-15 (17 d); a5v1 first active 10-02 (30 d)
    "no_login_30d": ["a2v2"],  # last 10-01 → 31 days; a4v1 last 10-02 → 30 (not > 30)
    "anniversary": ["a1v1", "x1"],  # 2025-11-03 → 11-03; 2024-11-01 → as-of day itself
    "active_core_events": ["a5v1"],
    "active_data_explorer": [],
    "active_path_reports": ["a1v1"],  # 10 clicks on 10-05
    "active_guide_publishing": [],
    "never_used_core_events": ["a1v1", "a1v2", "a2v1", "a2v2", "a3v1", "a4v1", "x1"],
    "never_used_data_explorer": ["a1v1", "a1v2", "a2v1", "a2v2", "a3v1", "a4v1", "a5v1", "x1"],
    "never_used_path_reports": ["a1v2", "a2v1", "a2v2", "a3v1", "a4v1", "x1"],
    "never_used_guide_publishing": ["a1v1", "a1v2", "a2v1", "a2v2", "a3v1", "a4v1", "a5v1", "x1"],
}
