"""QBR packs (``report --account`` / ``--within``): numbers checked against independent
pandas computations on the bundled sample's CSV files, the accounts chosen, errors and
the output folder rules. The browser checks are in test_report_qbr_browser.py.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from pendo_segments.atomic import MARKER
from pendo_segments.cli import main
from pendo_segments.data import bundled_sample_path, load_sample
from pendo_segments.definitions import load_definitions
from pendo_segments.shipped import shipped_path

SAMPLE = bundled_sample_path()
AS_OF = pd.Timestamp("2026-11-01")  # the day after the sample's last usage date
DEFS = shipped_path("segment_defs")
#: an account with NPS responses in each of the 90 days' months and usage that stops,
#: and a P1 account with steady usage and no NPS response
NPS_ACCOUNT, STEADY_ACCOUNT = "acc-00234", "acc-00028"


@functools.cache
def _csv(name: str) -> pd.DataFrame:
    return pd.read_csv(SAMPLE / name, dtype={"account_id": str, "visitor_id": str})


def _of_account(table: str, account: str) -> pd.DataFrame:
    """``table``'s rows of ``account``'s visitors (visitors.csv says whose they are), with
    dates as timestamps."""
    visitors = _csv("visitors.csv")
    mine = set(visitors.loc[visitors["account_id"] == account, "visitor_id"])
    rows = _csv(table)
    rows = rows[rows["visitor_id"].isin(mine)].copy()
    rows["date"] = pd.to_datetime(rows["date"])
    return rows


def _run(*args: str) -> Any:
    return CliRunner().invoke(main, ["report", str(DEFS), *args])


@pytest.fixture(scope="module")
def page() -> dict[str, Any]:
    from pendo_segments.report.qbr import collect_packs

    ds = load_sample()
    ids = list(ds.accounts["account_id"].astype(str))
    rows = [ids.index(NPS_ACCOUNT), ids.index(STEADY_ACCOUNT)]
    return collect_packs(
        load_definitions(DEFS), ds, rows, as_of=AS_OF.date(), defs_path=DEFS, locale="en"
    )


def _pack(page: dict[str, Any], account: str) -> dict[str, Any]:
    return next(p for p in page["packs"] if p["id"] == account)


# -- numbers vs pandas on the raw files -------------------------------------------------------
@pytest.mark.parametrize("account", [NPS_ACCOUNT, STEADY_ACCOUNT])
def test_weekly_active_users_are_distinct_active_visitors_per_week(
    page: dict[str, Any], account: str
) -> None:
    usage = _of_account("usage_daily.csv", account)
    active = usage[(usage["events"] > 0) | (usage["minutes"] > 0)]
    weekly = _pack(page, account)["weekly"]
    starts = [AS_OF - pd.Timedelta(days=7 * (12 - k)) for k in range(12)]
    assert [pd.Timestamp(r["start"]) for r in weekly] == starts  # whole weeks up to Oct 31
    expected = [
        active.loc[
            (active["date"] >= s) & (active["date"] < s + pd.Timedelta(days=7)), "visitor_id"
        ].nunique()
        for s in starts
    ]
    minutes = [
        usage.loc[
            (usage["date"] >= s) & (usage["date"] < s + pd.Timedelta(days=7)), "minutes"
        ].sum()
        for s in starts
    ]
    assert [r["active"] for r in weekly] == expected
    assert [r["minutes"] for r in weekly] == pytest.approx(minutes)
    assert sum(expected) > 0


def test_the_declining_account_shows_its_users_leaving(page: dict[str, Any]) -> None:
    """acc-00234 (by hand from usage_daily.csv): 51 active visitors in the week of Aug 9,
    none from Oct 4 on."""
    weekly = _pack(page, NPS_ACCOUNT)["weekly"]
    assert weekly[0]["active"] == 51
    assert [r["active"] for r in weekly[-4:]] == [0, 0, 0, 0]


@pytest.mark.parametrize("account", [NPS_ACCOUNT, STEADY_ACCOUNT])
def test_key_feature_users_per_week(page: dict[str, Any], account: str) -> None:
    features = _csv("features.csv")
    keys = list(features.loc[features["key"], "feature_id"])
    clicks = _of_account("feature_usage.csv", account)
    clicks = clicks[clicks["clicks"] > 0]
    weekly = _pack(page, account)["weekly"]
    for r in weekly:
        start = pd.Timestamp(r["start"])
        week = clicks[(clicks["date"] >= start) & (clicks["date"] < start + pd.Timedelta(days=7))]
        users = [week.loc[week["feature_id"] == f, "visitor_id"].nunique() for f in keys]
        assert r["key_users"] == users, r["start"]
        assert r["key_used"] == sum(u > 0 for u in users)
    names = dict(zip(features["feature_id"], features["name"], strict=True))
    assert page["key_features"] == [names[f] for f in keys]


@pytest.mark.parametrize("account", [NPS_ACCOUNT, STEADY_ACCOUNT])
def test_top_features_by_clicks_over_the_90_days(page: dict[str, Any], account: str) -> None:
    clicks = _of_account("feature_usage.csv", account)
    window = clicks[(clicks["date"] >= AS_OF - pd.Timedelta(days=90)) & (clicks["date"] < AS_OF)]
    by = window.groupby("feature_id").agg(
        clicks=("clicks", "sum"),
        users=("visitor_id", lambda v: v[window.loc[v.index, "clicks"] > 0].nunique()),
    )
    by = by[by["clicks"] > 0].reset_index()
    by = by.sort_values(["clicks", "feature_id"], ascending=[False, True]).head(10)
    top = _pack(page, account)["top"]
    assert [(f["feature_id"], f["clicks"], f["users"]) for f in top] == list(
        by[["feature_id", "clicks", "users"]].itertuples(index=False, name=None)
    )
    assert len(top) == 10


def test_nps_mean_per_month(page: dict[str, Any]) -> None:
    nps = _of_account("nps.csv", NPS_ACCOUNT)
    nps = nps[(nps["date"] >= AS_OF - pd.Timedelta(days=90)) & (nps["date"] < AS_OF)]
    by = nps.groupby(nps["date"].dt.strftime("%Y-%m"))["score"]
    expected = [(m, s.mean(), len(s)) for m, s in by]
    got = _pack(page, NPS_ACCOUNT)["nps"]
    assert [(m, mean, n) for m, mean, _, n in got] == [
        (m, pytest.approx(mean), n) for m, mean, n in expected
    ]
    assert [m for m, _, _ in expected] == ["2026-08", "2026-09", "2026-10"]
    for (_, _, score, _), (_, scores) in zip(got, by, strict=True):
        promoters, detractors = (scores >= 9).mean(), (scores <= 6).mean()
        assert score == pytest.approx(100 * (promoters - detractors))
    assert _pack(page, STEADY_ACCOUNT)["nps"] == []


def test_health_history_is_the_health_command_at_each_weekly_day(page: dict[str, Any]) -> None:
    """The pack's backtest (on the chosen accounts only) against `health --as-of D` on the
    whole sample: the week days whose 30-day window lies inside the data (from Sep 6)."""
    days = [d for d, _ in _pack(page, NPS_ACCOUNT)["health"]]
    assert days == [dt.date(2026, 9, 6) + dt.timedelta(days=7 * k) for k in range(9)]
    for account in (NPS_ACCOUNT, STEADY_ACCOUNT):
        history = dict(_pack(page, account)["health"])
        for day in days[::4]:  # Sep 6, Oct 4, Nov 1
            result = CliRunner().invoke(
                main,
                ["health", "--data", str(SAMPLE), "--as-of", day.isoformat(),
                 "--format", "csv"],
            )  # fmt: skip
            assert result.exit_code == 0, result.output
            scores = pd.read_csv(io.StringIO(result.stdout), dtype={"account_id": str})
            expected = scores.set_index("account_id").loc[account, "health_score"]
            assert history[day] == pytest.approx(expected, abs=1e-9), (account, day)
        assert _pack(page, account)["score"] == pytest.approx(history[days[-1]], abs=0.05)


def test_tier_and_open_alerts_equal_the_tiers_and_alerts_commands(page: dict[str, Any]) -> None:
    runs = {
        cmd: CliRunner().invoke(main, [cmd, str(DEFS), "--data", str(SAMPLE), "--format", "csv"])
        for cmd in ("tiers", "alerts")
    }
    assert all(r.exit_code == 0 for r in runs.values()), [r.output for r in runs.values()]
    tiers = pd.read_csv(io.StringIO(runs["tiers"].stdout)).set_index("account_id")
    alerts = pd.read_csv(io.StringIO(runs["alerts"].stdout))
    for account in (NPS_ACCOUNT, STEADY_ACCOUNT):
        pack = _pack(page, account)
        assert pack["tier"] == tiers.loc[account, "tier"]
        assert pack["reason"] == tiers.loc[account, "reason"]
        mine = alerts[alerts["account_id"] == account]
        assert [(r["alert"], r["severity"], r["signals"], r["action"]) for r in pack["alerts"]] == [
            tuple(r)
            for r in mine[["alert", "severity", "signals", "action"]].itertuples(index=False)
        ]
    assert len(_pack(page, NPS_ACCOUNT)["alerts"]) == 3  # escalation, renewal risk, no login


def test_active_users_and_visitors_over_the_90_days(page: dict[str, Any]) -> None:
    for account in (NPS_ACCOUNT, STEADY_ACCOUNT):
        usage = _of_account("usage_daily.csv", account)
        active = usage[(usage["events"] > 0) | (usage["minutes"] > 0)]
        active = active[active["date"] >= AS_OF - pd.Timedelta(days=90)]
        visitors = _csv("visitors.csv")
        pack = _pack(page, account)
        assert pack["active_90"] == active["visitor_id"].nunique()
        assert pack["visitors"] == int((visitors["account_id"] == account).sum())


# -- which accounts -------------------------------------------------------------------------------
def _sample_copy(tmp_path: Path, **columns: dict[str, str]) -> Path:
    """The sample with accounts.csv columns set per account id (``qbr_date={...}``)."""
    folder = tmp_path / "data"
    shutil.copytree(SAMPLE, folder)
    accounts = pd.read_csv(folder / "accounts.csv", dtype=str, keep_default_na=False)
    for column, values in columns.items():
        accounts[column] = [values.get(a, "") for a in accounts["account_id"]]
    accounts.to_csv(folder / "accounts.csv", index=False)
    return folder


def test_within_takes_qbr_and_renewal_dates_0_to_n_days_ahead_soonest_first(
    tmp_path: Path,
) -> None:
    qbr = {"acc-00001": "2026-11-01", "acc-00002": "2026-11-11", "acc-00003": "2026-11-12",
           "acc-00004": "2026-10-31", "acc-00155": "2026-11-20"}  # fmt: skip
    data = _sample_copy(tmp_path, qbr_date=qbr)
    accounts = pd.read_csv(data / "accounts.csv", dtype={"account_id": str})
    due = pd.concat(
        [
            pd.DataFrame({"account_id": accounts["account_id"], "on": pd.to_datetime(accounts[c])})
            for c in ("qbr_date", "renewal_date")
        ]
    )
    due = due[(due["on"] >= AS_OF) & (due["on"] <= AS_OF + pd.Timedelta(days=10))]
    due = due.groupby("account_id")["on"].min().reset_index().sort_values(["on", "account_id"])
    assert {"acc-00001", "acc-00002"} <= set(due["account_id"])  # 0 and 10 days ahead
    assert not {"acc-00003", "acc-00004"} & set(due["account_id"])  # 11 days, yesterday

    out = tmp_path / "qbr"
    result = _run("--data", str(data), "--out", str(out), "--within", "10")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [str(out / f"{a}.html") for a in due["account_id"]]
    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.count('class="pack"') == len(due)
    assert "Nov 11, 2026" in (out / "acc-00002.html").read_text(encoding="utf-8")


def test_within_and_csm_take_that_csms_due_accounts(tmp_path: Path) -> None:
    accounts = _csv("accounts.csv")
    renewal = pd.to_datetime(accounts["renewal_date"])
    soon = (renewal >= AS_OF) & (renewal <= AS_OF + pd.Timedelta(days=30))
    emma = accounts[soon & (accounts["csm_owner"] == "Emma Schmidt")]
    assert len(emma) >= 2
    out = tmp_path / "emma"
    result = _run("--data", "sample", "--out", str(out), "--within", "30", "--csm", "Emma Schmidt")
    assert result.exit_code == 0, result.output
    assert sorted(Path(p).stem for p in result.stdout.splitlines()) == sorted(emma["account_id"])


def test_within_with_no_account_due_says_so_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "qbr"
    result = _run("--data", "sample", "--out", str(out), "--within", "0")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == (
        "Warning: no account has a qbr_date or renewal_date from 2026-11-01 to 2026-11-01 "
        "(--within 0); nothing written"
    )
    assert not out.exists()


def test_an_unknown_account_is_a_one_line_error_with_a_suggestion(tmp_path: Path) -> None:
    out = tmp_path / "qbr"
    result = _run("--data", "sample", "--out", str(out), "--account", "Acc-00028")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1:] == [
        "Error: --account Acc-00028: no such account_id in accounts; did you mean 'acc-00028'?"
    ]
    assert len([ln for ln in result.stderr.splitlines() if ln.startswith("Error")]) == 1
    assert not out.exists()


def test_a_qbr_date_that_is_not_a_date_names_file_row_and_column(tmp_path: Path) -> None:
    data = _sample_copy(tmp_path, qbr_date={"acc-00003": "next Tuesday"})
    result = _run("--data", str(data), "--out", str(tmp_path / "qbr"), "--within", "10")
    assert result.exit_code == 1
    (line,) = [ln for ln in result.stderr.splitlines() if ln.startswith("Error")]
    assert "accounts.csv" in line and "qbr_date" in line and "next Tuesday" in line
    assert "row 3" in line or "line 4" in line, line


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--within", "5"], "--account and --within: give one"),
        (["--weeks", "4"], "--weeks: not used by the QBR packs"),
        (["--previous", "README.md"], "--previous: not used by the QBR packs"),
        (["--csm", "Emma Schmidt"], "--csm / --segment choose the accounts of --within"),
    ],
)
def test_options_of_the_dashboard_are_refused(
    tmp_path: Path, extra: list[str], message: str
) -> None:
    args = ["--data", "sample", "--out", str(tmp_path / "q"), "--account", STEADY_ACCOUNT]
    result = _run(*args, *extra)
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "q").exists()


# -- pages and folder -------------------------------------------------------------------------
def test_names_are_escaped_and_every_section_is_on_the_page(tmp_path: Path) -> None:
    data = _sample_copy(tmp_path, name={STEADY_ACCOUNT: "<b>Redwood</b> & Co"})
    out = tmp_path / "qbr"
    result = _run("--data", str(data), "--out", str(out), "--account", STEADY_ACCOUNT)
    assert result.exit_code == 0, result.output
    text = (out / f"{STEADY_ACCOUNT}.html").read_text(encoding="utf-8")
    assert "<b>Redwood</b>" not in text
    assert html.escape("<b>Redwood</b> & Co", quote=False) in text
    for section in ("adoption", "top-features", "active-users", "nps", "health", "alerts"):
        assert f'<section id="{section}">' in text
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in text and "<script" not in text


def test_the_pack_folder_and_the_dashboards_refuse_each_other(tmp_path: Path) -> None:
    packs, dashboard = tmp_path / "qbr", tmp_path / "report"
    assert _run("--data", "sample", "--out", str(packs), "--account", STEADY_ACCOUNT).exit_code == 0
    marker = json.loads((packs / MARKER).read_text())
    assert marker["command"] == "report --account"
    assert marker["files"] == sorted(["index.html", f"{STEADY_ACCOUNT}.html"])

    refused = _run("--data", "sample", "--out", str(packs))
    assert refused.exit_code == 1
    assert "holds the output of `report --account`, not of `report`" in refused.stderr

    (tmp_path / "report").mkdir()
    (dashboard / MARKER).write_text(json.dumps({"command": "report", "files": ["index.html"]}))
    (dashboard / "index.html").write_text("the dashboard")
    result = _run("--data", "sample", "--out", str(dashboard), "--account", STEADY_ACCOUNT)
    assert result.exit_code == 1
    assert "holds the output of `report`, not of `report --account`" in result.stderr
    assert (dashboard / "index.html").read_text() == "the dashboard"


def test_a_second_run_replaces_its_own_packs_and_keeps_a_users_file(tmp_path: Path) -> None:
    out = tmp_path / "qbr"
    assert _run("--data", "sample", "--out", str(out), "--account", STEADY_ACCOUNT).exit_code == 0
    (out / "notes.txt").write_text("mine")
    result = _run("--data", "sample", "--out", str(out), "--account", NPS_ACCOUNT)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir() if p.name != MARKER) == [
        f"{NPS_ACCOUNT}.html", "index.html", "notes.txt",
    ]  # fmt: skip
    assert (out / "notes.txt").read_text() == "mine"
