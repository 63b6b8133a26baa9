"""CLI: health, health calibrate, tiers and alerts on a hand-made data folder."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from health_handmade import dataset, write_folder

from pendo_segments.cli import main

DEFS = Path(__file__).resolve().parent.parent / "segment_defs"
AS_OF = ["--as-of", "2026-11-01"]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> str:
    outcomes = pd.DataFrame(
        {
            "account_id": ["A1", "A2", "A3", "A4", "A5"],
            "churned": pd.array([False, True, True, True, False], dtype="boolean"),
        }
    )
    return str(write_folder(dataset(outcomes=outcomes), tmp_path_factory.mktemp("hm") / "data"))


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_health_csv_is_the_contract(data: str) -> None:
    result = run(
        "health", "--data", data, *AS_OF, "--config", str(DEFS / "health.yaml"), "--format", "csv"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "account_id,health_score,login_frequency,core_feature_adoption,breadth,nps,"
        "support_tickets\n"
        "A1,38.9,6.3,31.3,40.0,75.0,60.0\n"
        "A2,22.1,18.8,0.0,0.0,,100.0\n"
        "A3,0.0,0.0,0.0,0.0,,0.0\n"
        "A4,1.5,6.3,0.0,0.0,,0.0\n"
        "A5,97.8,100.0,93.8,100.0,,100.0\n"
    )
    assert "".join(result.stderr.splitlines(True)[1:]) == (  # after the ghost-account warning
        "Note: NPS missing for 4 of 5 accounts (no NPS responses in the "
        "last 90 days); their weights are renormalised over the other "
        "components\n"
    )


def test_health_json_lists_missing(data: str) -> None:
    result = run("health", "--data", data, *AS_OF, "--format", "json")
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert records[1] == {
        "account_id": "A2",
        "health_score": 22.1,
        "login_frequency": 18.8,
        "core_feature_adoption": 0.0,
        "breadth": 0.0,
        "nps": None,
        "support_tickets": 100.0,
        "missing": ["nps"],
    }


def test_health_needs_data() -> None:
    result = run("health")
    assert result.exit_code == 2
    assert "Missing option '--data'." in result.stderr


def test_health_bad_config_is_one_line(tmp_path: Path, data: str) -> None:
    bad = tmp_path / "health.yaml"
    bad.write_text("weights:\n  login_frequncy: 5\n", encoding="utf-8")
    result = run("health", "--data", data, "--config", str(bad))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {bad}:2: weights.login_frequncy: unknown key "
        "'login_frequncy'; did you mean 'login_frequency'?\n"
    )


def test_calibrate_report_and_json(data: str, tmp_path: Path) -> None:
    # renewed A1 (38.875) and A5 (97.79) both outscore churned A2 (22.06), A3 (0), A4 (1.47):
    # AUC 1; means (22.06 + 0 + 1.47) / 3 = 7.84 → 7.8 and (38.875 + 97.79) / 2 = 68.33 → 68.3
    result = run("health", "calibrate", "--data", data, *AS_OF)
    assert result.exit_code == 0, result.output
    assert "2 renewed" in result.stdout and "3 churned" in result.stdout
    assert (
        "│ health_score          │        │        5 │          7.8 │         68.3 │   1.000 │"
        in result.stdout
    )
    assert "\nweights:\n  login_frequency: 20\n" in result.stdout
    out = tmp_path / "cal.json"
    result = run("health", "--data", data, *AS_OF, "calibrate", "--format", "json", "-o", str(out))
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text(encoding="utf-8"))
    assert (payload["current_auc"], payload["changed"]) == (1.0, False)
    assert payload["separation"][0]["mean_churned"] == 7.8


def test_tiers_csv_previous_overrides_and_capacity(data: str, tmp_path: Path) -> None:
    previous = tmp_path / "previous.csv"
    previous.write_text(
        "account_id,tier,reason\nA1,P3,x\nA2,P2,x\nA3,P1,x\nA4,P1,x\nA5,P2,x\n", encoding="utf-8"
    )
    overrides = tmp_path / "overrides.csv"
    overrides.write_text("account_id,tier,note\nA5,P1,Strategic logo\n", encoding="utf-8")
    capacity = tmp_path / "capacity.csv"
    result = run(
        "tiers",
        str(DEFS),
        "--data",
        data,
        *AS_OF,
        "--previous",
        str(previous),
        "--overrides",
        str(overrides),
        "--capacity",
        str(capacity),
        "--format",
        "csv",
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "account_id,tier,reason,previous_tier,move"
    assert [line.split(",")[0:2] + line.split(",")[-2:] for line in lines[1:]] == [
        ["A1", "Neighborhood", "P3", "down"],
        ["A2", "P2", "P2", "unchanged"],
        ["A3", "P1", "P1", "unchanged"],
        ["A4", "P2", "P1", "down"],
        ["A5", "P1", "P2", "up"],
    ]
    assert 'A5,P1,"Override: Strategic logo (policy said P2: Mid-tier (ARR $80,000)' in lines[5]
    assert capacity.read_text(encoding="utf-8") == (
        "tier,accounts,arr,accounts_per_csm,pooled,csms\n"
        "P1,2,280000,15,false,1\n"
        "P2,2,65000.01,40,false,1\n"
        "P3,0,0,150,true,0\n"
        "Neighborhood,1,15000,200,true,1\n"
        "Total,5,360000.01,,,3\n"
    )
    assert (
        "Note: moves since" in result.stderr and "1 up, 2 down, 2 unchanged, 0 new" in result.stderr
    )
    assert "Note: 2 accounts flagged as renewal risk" in result.stderr


def test_tiers_plain_csv_has_exactly_three_columns(data: str) -> None:
    result = run("tiers", str(DEFS), "--data", data, *AS_OF, "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "account_id,tier,reason"
    assert "CSM capacity" in result.stderr


def test_tiers_bad_override_is_one_line(data: str, tmp_path: Path) -> None:
    overrides = tmp_path / "o.csv"
    overrides.write_text("account_id,tier,note\nA1,Neighbourhood,x\n", encoding="utf-8")
    result = run("tiers", str(DEFS), "--data", data, "--overrides", str(overrides))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {overrides}: row 1, column tier: unknown tier "
        "'Neighbourhood'; did you mean 'Neighborhood'? (tiers: P1, P2, P3, "
        "Neighborhood)\n"
    )


def test_tiers_bad_ratio(data: str) -> None:
    result = run("tiers", str(DEFS), "--data", data, "--ratio", "P1:20")
    assert result.exit_code == 1
    assert result.stderr == "Error: --ratio 'P1:20': expected TIER=ACCOUNTS_PER_CSM, e.g. P1=20\n"


def test_alerts_csv(data: str) -> None:
    result = run("alerts", str(DEFS), "--data", data, *AS_OF, "--format", "csv")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "account_id,alert,severity,tier,health_score,action,signals"
    assert [line.split(",")[:2] for line in lines[1:]] == [
        ["A2", "escalation"],
        ["A3", "escalation"],
        ["A4", "escalation"],
        ["A1", "renewal_risk"],
        ["A2", "renewal_risk"],
        ["A1", "at_risk"],
        ["A3", "no_login_p1"],
    ]
    assert "".join(result.stderr.splitlines(True)[1:]) == (  # after the ghost-account warning
        "Note: alert recovery: needs a previous health run (--previous FILE)\n"
        "Note: 3 escalation, 2 renewal_risk, 1 at_risk, 1 no_login_p1\n"
    )


def test_alerts_with_previous_health_run(data: str, tmp_path: Path) -> None:
    previous = tmp_path / "before.csv"
    assert (
        run(
            "health",
            "--data",
            data,
            "--as-of",
            "2026-10-01",
            "--format",
            "csv",
            "-o",
            str(previous),
        ).exit_code
        == 0
    )
    result = run(
        "alerts", str(DEFS), "--data", data, *AS_OF, "--previous", str(previous), "--format", "json"
    )
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    # as of 10-01 A5 had no usage yet (score 17.6 < 40); now 97.8 > 70 → recovery
    recovery = [r for r in records if r["alert"] == "recovery"]
    assert [r["account_id"] for r in recovery] == ["A5"]
    assert recovery[0]["signals"].startswith(
        "previous health score 17.6 < 40; health score "
        "97.8 > 70; login frequency score rose from 0 to "
        "100 (16 active days in the last 30)"
    )
    assert "needs a previous" not in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["health"],
        ["health", "calibrate"],
        ["tiers"],
        ["alerts"],
        ["export"],
        ["export", "salesforce"],
    ],
)
def test_help_has_examples(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert "Examples:\n    pendo-segments " in result.stdout


def test_the_capacity_table_shows_arr_as_money() -> None:
    """It showed 18726000.0; the P1 sum is checked against the tiers and the sample's ARR."""
    import io

    from pendo_segments.sources import open_dataset

    result = run("tiers", "--data", "sample", "--format", "csv")
    assert result.exit_code == 0, result.output
    tiers = pd.read_csv(io.StringIO(result.stdout))
    arr = open_dataset("sample").accounts.set_index("account_id")["arr"]
    p1 = int(arr[tiers.loc[tiers["tier"] == "P1", "account_id"]].sum())
    total = int(arr.sum())
    line = next(ln for ln in result.stderr.splitlines() if " P1 " in ln)
    assert f"${p1:,}" in line
    assert f"${total:,}" in result.stderr
    assert ".0 " not in result.stderr and f"{p1}.0" not in result.stderr
