"""The hand-made data set of ``handmade.py`` plus NPS, tickets, renewals and CRM ids.

Everything the health / tiers / alerts / export tests expect is worked out
by hand below from these rows (as-of 2026-11-01; 30-day window 10-02 … 10-31;
90-day window 08-03 … 10-31). Key features: core_events, data_explorer,
path_reports, guide_publishing; catalogue: those 4 + export.

account  active days  key features used      all features   NPS in 90 d        tickets in 30 d
  A1     1 (10-05)    path_reports (1 of 4)  1 of 5         6 (10-31), 9 (08-03)  2 (10-02, 10-31)
  A2     3            0                      0              none (08-02, 11-01 out)  0 (10-01 out)
  A3     0            0                      0              none               5
  A4     1 (10-02)    0                      0              none               6
  A5     16           core, DE, PR (3 of 4)  3 of 5         none               0

Components (login min(1, d/16); adoption min(1, share/0.8); breadth min(1, share/0.5);
NPS mean x 10; tickets max(0, 1 - t/5)), x 100:
  A1  6.25  31.25  40   75   60   → (125 + 937.5 + 800 + 1125 + 900) / 100 = 38.875 → 38.9
  A2 18.75   0      0   —   100   → (375 + 1500) / 85 = 22.06 → 22.1
  A3  0      0      0   —     0   → 0
  A4  6.25   0      0   —     0   → 125 / 85 = 1.47 → 1.5
  A5 100    93.75 100   —   100   → (2000 + 2812.5 + 2000 + 1500) / 85 = 97.79 → 97.8
Without nps.csv and tickets.csv (weights 20 + 30 + 20 = 70):
  A1 1862.5 / 70 = 26.61 → 26.6;  A2 375 / 70 = 5.36 → 5.4;  A3 0;  A4 125 / 70 = 1.79 → 1.8;
  A5 6812.5 / 70 = 97.32 → 97.3
"""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd
from handmade import AS_OF, frames

from pendo_segments.data.dataset import Dataset
from pendo_segments.data.loaders import write_dataset

__all__ = ["AS_OF", "EXPECTED_FULL", "EXPECTED_BASE", "dataset", "sample", "write_folder"]

COMPONENT_ORDER = ["login_frequency", "core_feature_adoption", "breadth", "nps", "support_tickets"]
#: account → (score, components in COMPONENT_ORDER; None = missing), with nps + tickets
EXPECTED_FULL = {
    "A1": (38.9, [6.3, 31.3, 40.0, 75.0, 60.0]),
    "A2": (22.1, [18.8, 0.0, 0.0, None, 100.0]),
    "A3": (0.0, [0.0, 0.0, 0.0, None, 0.0]),
    "A4": (1.5, [6.3, 0.0, 0.0, None, 0.0]),
    "A5": (97.8, [100.0, 93.8, 100.0, None, 100.0]),
}
#: the same without nps.csv and tickets.csv
EXPECTED_BASE = {
    "A1": (26.6, [6.3, 31.3, 40.0, None, None]),
    "A2": (5.4, [18.8, 0.0, 0.0, None, None]),
    "A3": (0.0, [0.0, 0.0, 0.0, None, None]),
    "A4": (1.8, [6.3, 0.0, 0.0, None, None]),
    "A5": (97.3, [100.0, 93.8, 100.0, None, None]),
}
VALID_CRM = [
    "0015e00000AAAAA",
    "0015e00000BBBBBQAZ",
    "0015e00000CCCCC",
    "0015e00000DDDDD",
    "0015e00000EEEEE",
]


def nps_frame() -> pd.DataFrame:
    rows = [
        ("2026-10-31", "a1v1", 6),
        ("2026-08-03", "a1v2", 9),
        ("2026-08-02", "a2v1", 10),
        ("2026-11-01", "a2v1", 3),
    ]
    frame = pd.DataFrame(rows, columns=["date", "visitor_id", "score"])
    frame["date"] = pd.to_datetime(frame["date"])
    frame["visitor_id"] = frame["visitor_id"].astype("string")
    frame["account_id"] = frame["visitor_id"].str.slice(0, 2).str.upper().astype("string")
    return frame[["date", "visitor_id", "account_id", "score"]]


def tickets_frame() -> pd.DataFrame:
    rows = (
        [("2026-10-02", "A1"), ("2026-10-31", "A1"), ("2026-10-01", "A2")]
        + [("2026-10-15", "A3")] * 5
        + [("2026-10-20", "A4")] * 6
    )
    frame = pd.DataFrame(rows, columns=["opened_on", "account_id"])
    frame["opened_on"] = pd.to_datetime(frame["opened_on"])
    frame["account_id"] = frame["account_id"].astype("string")
    return frame


def dataset(
    *,
    nps: bool = True,
    tickets: bool = True,
    crm: list[str | None] | None = None,
    renewals: bool = True,
    outcomes: pd.DataFrame | None = None,
) -> Dataset:
    """The hand-made frames with optional extras.

    renewal_date (days after as-of): A1 +60, A2 +90 (edge, included), A3 +91,
    A4 -1 (past), A5 +14.
    """
    f = frames()
    accounts = f["accounts"]
    if renewals:
        accounts["renewal_date"] = pd.to_datetime(
            ["2026-12-31", "2027-01-30", "2027-01-31", "2026-10-31", "2026-11-15"]
        )
    accounts["name"] = pd.array(["Alpha", "Beta", "Gamma", "Delta", "Epsilon"], dtype="string")
    accounts["crm_id"] = pd.array(crm if crm is not None else VALID_CRM, dtype="string")
    return Dataset(
        **f,
        nps=nps_frame() if nps else None,
        tickets=tickets_frame() if tickets else None,
        outcomes=outcomes,
        source="handmade",
    )


@functools.lru_cache(maxsize=1)
def sample() -> Dataset:
    """The deterministic sample (same arguments as the bundled copy), once per process."""
    from pendo_segments.data.sample import generate_sample

    return generate_sample()


def write_folder(ds: Dataset, folder: Path) -> Path:
    write_dataset(ds, folder)
    return folder
