"""The no-login campaign with no config file, on the bundled sample: who is (not) emailed.

A newcomer's first dry run would have emailed all 527 lapsed visitors, 332 of
them at P1 accounts and some gone over three years. The expected sets here are
worked out with pandas straight from the sample CSV files (CONTRACT §2: active
= events > 0 or minutes > 0, days since last visit = as-of day minus the later
of the latest active day and ``last_visit``, lapsed = more than 30 days) and
the tier of each account from ``pendo-segments tiers`` — not from the campaign.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from pendo_segments.cli import main

SAMPLE = Path(__file__).resolve().parents[1] / "pendo_segments" / "sample_data"
NO_CONFIG = {
    "PENDO_INTEGRATION_KEY": None,
    "PENDO_BASE_URL": None,
    "PENDO_SEGMENTS_CONFIG": None,
}


@pytest.fixture(scope="module")
def expected() -> pd.DataFrame:
    """One row per lapsed visitor with an email address: days, account, tier."""
    usage = pd.read_csv(SAMPLE / "usage_daily.csv", parse_dates=["date"])
    as_of = usage["date"].max() + pd.Timedelta(days=1)  # CONTRACT §2: the default as-of day
    assert as_of == pd.Timestamp("2026-11-01")
    active = usage[((usage["events"] > 0) | (usage["minutes"] > 0)) & (usage["date"] < as_of)]
    last_active = active.groupby("visitor_id")["date"].max()
    visitors = pd.read_csv(
        SAMPLE / "visitors.csv", parse_dates=["first_visit", "last_visit"]
    ).set_index("visitor_id")
    last_visit = visitors["last_visit"].where(visitors["last_visit"] < as_of)
    last = pd.concat([last_active.rename("a"), last_visit.rename("b")], axis=1).max(axis=1)
    days = (as_of - last).dt.days
    # who exists at the as-of day (CONTRACT §2b): seen before it, account not churned before it
    outcomes = pd.read_csv(SAMPLE / "outcomes.csv", parse_dates=["churn_date"])
    gone = set(outcomes.loc[outcomes["churn_date"] < as_of, "account_id"])
    # (without first_visit a lapsed visitor was first seen on an active day before as_of)
    first_seen = visitors["first_visit"].fillna(as_of - pd.Timedelta(days=1))
    exists = (first_seen < as_of) & ~visitors["account_id"].isin(gone)
    frame = visitors.assign(days=days)[exists & (days > 30) & visitors["email"].notna()]
    tiers = CliRunner().invoke(
        main, ["tiers", "--data", "sample", "--format", "csv"], env=NO_CONFIG
    )
    assert tiers.exit_code == 0, tiers.stderr
    tier = pd.read_csv(io.StringIO(tiers.stdout)).set_index("account_id")["tier"]
    return frame.assign(tier=frame["account_id"].map(tier))[["account_id", "days", "tier"]]


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict], list[dict], str]:
    """``campaign no-login run --data sample --show-skipped`` with no config file at all."""
    folder = tmp_path_factory.mktemp("no-config")
    alerts = folder / "csm-alerts.json"
    args = ["campaign", "no-login", "run", "--data", "sample", "--show-skipped"]
    args += ["--state", str(folder / "state.sqlite"), "--format", "json"]
    args += ["--csm-alerts", str(alerts)]
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)  # no ./pendo-segments.toml here
        result = CliRunner().invoke(main, args, env=NO_CONFIG)
    assert result.exit_code == 0, result.stderr
    assert not (folder / "state.sqlite").exists()  # a dry run writes no state
    return json.loads(result.stdout), json.loads(alerts.read_text("utf-8")), result.stderr


def test_the_sample_has_the_lapsed_visitors_of_the_issue(expected: pd.DataFrame) -> None:
    """The pandas reading of the sample agrees with the numbers a newcomer saw."""
    assert len(expected) == 527
    assert (expected["tier"] == "P1").sum() == 332
    assert expected["days"].max() == 1139


def test_no_p1_visitor_and_nobody_gone_over_a_year_is_emailed(
    expected: pd.DataFrame, dry_run: tuple[list[dict], list[dict], str]
) -> None:
    rows, _, _ = dry_run
    emailed = {r["visitor_id"] for r in rows if r["action"] == "email"}
    wanted = expected[(expected["tier"] != "P1") & (expected["days"] <= 365)]
    assert emailed == set(wanted.index)
    assert all(
        r["tier"] != "P1" and r["days_since_last_visit"] <= 365
        for r in rows
        if r["action"] == "email"
    )


def test_every_skipped_visitor_is_listed_with_the_reason(
    expected: pd.DataFrame, dry_run: tuple[list[dict], list[dict], str]
) -> None:
    rows, _, stderr = dry_run
    assert {r["visitor_id"] for r in rows} == set(expected.index)  # every lapsed visitor
    skipped = {r["visitor_id"]: r["detail"] for r in rows if r["action"] == "skip"}
    p1 = set(expected.index[expected["tier"] == "P1"])
    too_long = set(expected.index[(expected["tier"] != "P1") & (expected["days"] > 365)])
    assert set(skipped) == p1 | too_long
    assert {skipped[v] for v in p1} == {"excluded tier P1: for the CSM (alert p1_lapsed_visitors)"}
    for v in too_long:
        assert (
            skipped[v] == f"lapsed over 365 days: last visit {int(expected.at[v, 'days'])} days ago"
        )
    summary = stderr.splitlines()[0]
    assert summary == (
        f"Dry run as of 2026-11-01: would email {len(expected) - len(p1) - len(too_long)} "
        f"visitors in no_login_30d; skipped {len(p1)} excluded tier P1, {len(too_long)} "
        "lapsed over 365 days."
    )


def test_p1_lapsed_visitors_go_to_their_csm(
    expected: pd.DataFrame, dry_run: tuple[list[dict], list[dict], str]
) -> None:
    _, alerts, stderr = dry_run
    p1 = expected[expected["tier"] == "P1"]
    per_account = p1.groupby("account_id").size()
    assert {a["account_id"]: a["visitors"] for a in alerts} == per_account.to_dict()
    assert {a["alert"] for a in alerts} == {"p1_lapsed_visitors"}
    accounts = pd.read_csv(SAMPLE / "accounts.csv").set_index("account_id")
    for alert in alerts:
        ids = alert["visitor_ids"].split()
        assert set(ids) == set(p1.index[p1["account_id"] == alert["account_id"]])
        assert alert["csm_owner"] == accounts.at[alert["account_id"], "csm_owner"]
        days = [int(p1.at[v, "days"]) for v in ids]
        assert days == sorted(days)  # most recent lapse first
    assert stderr.splitlines()[1] == (
        f"Not emailed by policy: tier P1 (p1_lapsed_visitors alerts for their CSMs: "
        f"{len(p1)} visitors at {len(per_account)} accounts) and visitors lapsed over 365 "
        "days; set exclude_tiers and max_days_lapsed in [campaign.no_login] to change it."
    )
