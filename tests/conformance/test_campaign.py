"""``campaign no-login run --dry-run`` on every engine: pandas' bytes on the boundary data.

The twelve merged boundary draws of conformance/data.py (visitors first seen on the
as-of day or after it, last visits on / after D, accounts without usage, visitors
without an account row, inactive rows) plus what a campaign reads beside them: an
email per visitor, outcomes with accounts churned before D, on D and after it,
accounts created on / after D, and the hand-made visitors of :data:`EXTRA`. stdout
(every candidate, with the skip reasons), stderr and the CSM alerts file must equal
pandas', byte for byte.

Worked by hand at D = 2026-11-01 (no_login_30d: more than 30 days since the last active
day; P2 excluded, so its lapsed visitors become CSM alerts; 365 days at most):

visitor  account (tier)                    last active   days  expected
x1       xP (arr 50000: P2)                2026-10-01    31    skip: excluded tier, CSM alert
x2       xP                                2026-10-02    30    not in the segment
x3       xC (churned 2026-10-31)           2026-09-01    61    no subject: not listed
x4       xN (created 2026-11-01 = D)       2026-09-01    61    no subject: not listed
x5       d1_A0 (churned on D: a subject;   2026-09-15    47    email
         self-service: Neighborhood)
x6       xP, first_visit 2026-11-02        2026-09-01    —     first seen after D: not listed
x7       none (no account row)             2025-10-28    369   skip: lapsed over 365 days
x8       d1_A0, opted out                  2026-09-01    61    skip: opted out
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from click.testing import Result

from conformance.data import AS_OF, churned_boundary_dataset, write_folder
from conformance.data import CHURN as BOUNDARY_CHURN
from conformance.run import run

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")

CONFIG = """
[campaign]
state_file = "{root}/state.sqlite"

[campaign.no_login]
opt_out_file = "{root}/optout.txt"
exclude_tiers = ["P2"]
"""
#: account → churn_date: before D (not a subject), on D (a subject), after D
CHURN = {**BOUNDARY_CHURN, "xC": "2026-10-31"}
#: account_id, arr, self_service, created
EXTRA_ACCOUNTS = [
    ("xP", 50000, "false", ""),
    ("xC", 50000, "false", ""),
    ("xN", 50000, "false", "2026-11-01"),
]
#: visitor_id, account_id, first_visit, last active day
EXTRA = [
    ("x1", "xP", "", "2026-10-01"),
    ("x2", "xP", "", "2026-10-02"),
    ("x3", "xC", "", "2026-09-01"),
    ("x4", "xN", "", "2026-09-01"),
    ("x5", "d1_A0", "", "2026-09-15"),
    ("x6", "xP", "2026-11-02", "2026-09-01"),
    ("x7", "xghost", "", "2025-10-28"),
    ("x8", "d1_A0", "", "2026-09-01"),
]
EXPECTED = {"x1": "skip", "x5": "email", "x7": "skip", "x8": "skip"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The boundary data folder with emails, outcomes and a late account; config beside it."""
    root = tmp_path_factory.mktemp("campaign")
    ds = churned_boundary_dataset(CHURN)
    ids = ds.visitors["visitor_id"].astype(str)
    ds.visitors["email"] = [f"{v}@example.com" for v in ids]
    data = write_folder(ds, root / "data")
    add_rows(
        data,
        "accounts",
        [
            dict(zip(("account_id", "arr", "self_service", "created"), a, strict=True))
            for a in EXTRA_ACCOUNTS
        ],
    )
    add_rows(
        data,
        "visitors",
        [
            {
                "visitor_id": v,
                "account_id": a,
                "first_visit": f,
                "email": f"{v}@example.com",
                "language": "en",
            }
            for v, a, f, _ in EXTRA
        ],
    )
    add_rows(
        data,
        "usage_daily",
        [
            {"date": d, "visitor_id": v, "account_id": a, "minutes": 5.0, "events": 3}
            for v, a, _, d in EXTRA
        ],
    )
    (root / "optout.txt").write_text("x8@example.com\n", encoding="utf-8")
    (root / "pendo-segments.toml").write_text(CONFIG.format(root=root), encoding="utf-8")
    return root


def add_rows(folder: Path, table: str, rows: list[dict[str, object]]) -> None:
    """Rows appended to ``folder/table.csv`` (other columns blank)."""
    path = folder / f"{table}.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    pd.concat([frame, pd.DataFrame(rows).astype(str)], ignore_index=True).fillna("").to_csv(
        path, index=False
    )


def dry_run(engine: str, root: Path, out: Path) -> Result:
    args = ["campaign", "no-login", "run", "--dry-run", "--data", root / "data"]
    args += ["--as-of", AS_OF, "--config", root / "pendo-segments.toml", "--show-skipped"]
    return run(engine, *args, "--format", "csv", "--csm-alerts", out)


@pytest.fixture(scope="module")
def pandas_run(world: Path) -> tuple[Result, str]:
    out = world / "pandas-alerts.csv"
    result = dry_run("pandas", world, out)
    assert result.exit_code == 0, result.output
    return result, out.read_text(encoding="utf-8")


def test_dry_run_is_the_pandas_dry_run(
    engine: str, world: Path, pandas_run: tuple[Result, str]
) -> None:
    want, want_alerts = pandas_run
    out = world / f"{engine}-alerts.csv"
    got = want if engine == "pandas" else dry_run(engine, world, out)
    assert got.exit_code == 0, (engine, got.output)
    assert got.stdout == want.stdout, engine
    assert got.stderr.replace(str(out), "ALERTS") == want.stderr.replace(
        str(world / "pandas-alerts.csv"), "ALERTS"
    ), engine
    if engine != "pandas":
        assert out.read_text(encoding="utf-8") == want_alerts, engine


def test_the_hand_worked_candidates(pandas_run: tuple[Result, str]) -> None:
    """:data:`EXTRA`'s candidates and actions; the churned / later subjects not listed."""
    frame = pd.read_csv(io.StringIO(pandas_run[0].stdout), dtype=str, keep_default_na=False)
    rows = frame.set_index("visitor_id")
    got = {v: rows.loc[v, "action"] for v in rows.index if v.startswith("x")}
    assert got == EXPECTED
    assert "lapsed" in rows.loc["x7", "detail"] and "opt" in rows.loc["x8", "detail"]
    assert rows.loc["x1", "tier"] == "P2" and rows.loc["x5", "tier"] == "Neighborhood"
    assert rows.loc["x5", "days_since_last_visit"] == "47"
    alerts = pd.read_csv(io.StringIO(pandas_run[1]), dtype=str, keep_default_na=False)
    assert "xP" in set(alerts["account_id"])
    assert not set(frame["visitor_id"]) & {"d0_v0", "d2_v2", "d4_v2", "d4_v6"}
