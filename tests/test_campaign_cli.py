"""``pendo-segments campaign no-login run | status`` through click's CliRunner."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from campaign_world import ADDRESS, World, smtp_env
from click.testing import CliRunner

from pendo_segments.campaign.state import StateLock
from pendo_segments.cli import main

SUBJECT_EN = "Pick up where you left off in Acme Insights"
SUBJECT_JA = "Acme Insightsで前回の続きから始めましょう"
NO_PENDO = {"PENDO_INTEGRATION_KEY": None, "PENDO_BASE_URL": None, "PENDO_SEGMENTS_CONFIG": None}
#: the world's tiers.csv has A1 P2, A2 P3: the default P1 exclusion finds nobody
POLICY_NO_P1 = (
    "Not emailed by policy: tier P1 (no lapsed visitors there today) and visitors lapsed "
    "over 365 days; set exclude_tiers and max_days_lapsed in [campaign.no_login] to change it."
)


@pytest.fixture
def world(tmp_path: Path) -> World:
    world = World.create(tmp_path)
    (tmp_path / "pendo-segments.toml").write_text(
        """
[campaign]
state_file = "state.sqlite"

[campaign.no_login]
opt_out_file = "optout.txt"
exclude_accounts = ["A2"]
tiers_file = "tiers.csv"
upload_file = "welcome_back.csv"
""",
        encoding="utf-8",
    )
    return world


#: The world's usage ends on 2026-10-25 on purpose (v_recent's last visit, 7 days before the
#: as-of day), so every run warns once that later days have no usage data.
DATA_LAG = (
    "Warning: as-of 2026-11-01 is 7 days after the latest usage (2026-10-25); the days after it "
    "have no usage data and count as no activity\n"
)


def cli(world: World, *args: str, env: dict | None = None):  # noqa: ANN201
    base = ["campaign", "no-login", *args]
    if args[0] == "run":
        base += ["--data", str(world.data), "--as-of", "2026-11-01"]
    base += ["--config", str(world.folder / "pendo-segments.toml")]
    result = CliRunner().invoke(main, base, env={**NO_PENDO, **(env or {})})
    if args[0] != "run" or result.exit_code == 2:
        return result
    if result.exit_code == 0:  # (a run that stops before it reads the data has no warning)
        assert result.stderr.startswith(DATA_LAG), result.stderr
    assert result.stderr.count("Warning: as-of") == result.stderr.startswith(DATA_LAG)
    return SimpleNamespace(
        exit_code=result.exit_code,
        stdout=result.stdout,
        stderr=result.stderr.removeprefix(DATA_LAG),
        output=result.output,
        exception=result.exception,
    )


def test_dry_run_prints_who_and_why_as_csv(world: World) -> None:
    result = cli(world, "run", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "visitor_id,email,account_id,tier,segment,days_since_last_visit,locale,action,result,"
        "detail",
        "v_edge31,edge31@acme.example,A1,P2,no_login_30d,31,en,email,,no_login_30d: 31 days "
        f"since last visit; subject: {SUBJECT_EN}",
        "v_en,en@acme.example,A1,P2,no_login_30d,47,en,email,,no_login_30d: 47 days since last "
        f"visit; subject: {SUBJECT_EN}",
        "v_ja,ja@acme.example,A1,P2,no_login_30d,42,ja,email,,no_login_30d: 42 days since last "
        f"visit; subject: {SUBJECT_JA}",
    ]
    assert result.stderr.splitlines() == [
        "Dry run as of 2026-11-01: would email 3 visitors in no_login_30d; skipped "
        "1 excluded account, 1 no email address, 1 opted out.",
        POLICY_NO_P1,
        "Nothing was sent (dry run); add --send to send.",
    ]
    assert not (world.folder / "state.sqlite").exists()


def test_show_skipped_lists_the_reasons(world: World) -> None:
    result = cli(world, "run", "--show-skipped", "--format", "json")
    rows = {r["visitor_id"]: (r["action"], r["detail"]) for r in json.loads(result.stdout)}
    assert rows["v_optout"] == ("skip", "opted out")
    assert rows["v_excl"] == ("skip", "excluded account: A2")
    assert len(rows) == 6


def test_send_then_again_then_status(world: World, smtp_server, fake_pendo) -> None:  # noqa: ANN001
    recorder, port = smtp_server
    segment = fake_pendo.add_segment(
        "[campaign] no-login welcome back", visitors=[], created_by_api=True
    )
    env = {
        **smtp_env(port),
        "PENDO_INTEGRATION_KEY": fake_pendo.key,
        "PENDO_BASE_URL": fake_pendo.url,
    }
    first = cli(world, "run", "--send", "--format", "csv", env=env)
    assert first.exit_code == 0, first.stderr
    assert [line.split(",")[8] for line in first.stdout.splitlines()[1:]] == ["sent"] * 3
    assert first.stderr.splitlines() == [
        "Run 1 as of 2026-11-01: sent 3, failed 0, unconfirmed 0, cancelled 0; skipped "
        "1 excluded account, 1 no email address, 1 opted out.",
        POLICY_NO_P1,
        f"Pendo segment '[campaign] no-login welcome back' ({segment}) now has 3 visitors",
    ]
    assert sorted(recorder.to()) == sorted(ADDRESS.values())
    assert fake_pendo.segment_visitors(segment) == ["v_edge31", "v_en", "v_ja"]

    again = cli(world, "run", "--send", "--format", "csv", env=env)
    assert again.exit_code == 0, again.stderr
    assert again.stdout.splitlines()[1:] == []  # nothing to do: everyone already contacted
    assert again.stderr.startswith("Run 2 as of 2026-11-01: sent 0, failed 0,")
    assert len(recorder.messages) == 3

    status = cli(world, "status", "--format", "json")
    assert status.exit_code == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["summary"]["contacted"] == 3
    assert report["summary"]["outbox"]["sent"] == 3
    assert [(r["run_id"], r["status"], r["sent"]) for r in report["runs"]] == [
        (2, "ok", 0),
        (1, "ok", 3),
    ]
    csv_out = cli(world, "status", "--format", "csv")
    assert csv_out.stdout.splitlines()[0] == (
        "run_id,as_of,started_at,finished_at,status,eligible,sent,failed,unconfirmed,cancelled,"
        "enrolled,contacted,returned,message"
    )
    table = cli(world, "status", "--format", "table", env={"COLUMNS": "80"})
    assert "return rate" in table.stdout and "Recent runs" in table.stdout
    # On an 80-column terminal every run's day and start minute are whole (was "2026-11-…").
    for run in report["runs"]:
        started = run["started_at"][:10] + " " + run["started_at"][11:16]
        assert started in table.stdout and "…" not in table.stdout, table.stdout
        assert all(len(line) <= 80 for line in table.stdout.splitlines())


def test_without_a_pendo_key_the_upload_file_is_written(world: World, smtp_server) -> None:  # noqa: ANN001
    _, port = smtp_server
    result = cli(world, "run", "--send", "--format", "csv", env=smtp_env(port))
    assert result.exit_code == 0, result.stderr
    upload = world.folder / "welcome_back.csv"
    assert result.stderr.splitlines()[-1] == (
        f"wrote 3 visitors to {upload}; upload it as the welcome-back segment in Pendo "
        "(no PENDO_INTEGRATION_KEY set)"
    )
    assert upload.read_text() == "visitorId\nv_edge31\nv_en\nv_ja\n"


def test_failed_deliveries_exit_1_after_reporting(world: World, smtp_server) -> None:  # noqa: ANN001
    recorder, port = smtp_server
    recorder.refuse["en@acme.example"] = "550 5.1.1 unknown user"
    result = cli(world, "run", "--send", "--format", "csv", env=smtp_env(port))
    assert result.exit_code == 1
    assert (
        "v_en,en@acme.example,A1,P2,no_login_30d,47,en,email,failed,SMTP 127.0.0.1:"
        in result.stdout
    )
    assert result.stderr.splitlines()[-1] == (
        f"Error: 1 email not delivered (first: v_en: SMTP 127.0.0.1:{port} refused "
        "en@acme.example: 550 5.1.1 unknown user); they are retried on the next run"
    )


def test_send_without_smtp_settings_is_a_one_line_error(world: World) -> None:
    result = cli(world, "run", "--send")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: no SMTP server: set PENDO_SEGMENTS_SMTP_HOST (and "
        "PENDO_SEGMENTS_SMTP_FROM) to send the campaign's emails\n"
    )


def test_a_run_in_progress_makes_the_second_stop(world: World, smtp_server) -> None:  # noqa: ANN001
    _, port = smtp_server
    with StateLock(world.folder / "state.sqlite"):
        result = cli(world, "run", "--send", env=smtp_env(port))
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"Error: {world.folder / 'state.sqlite'}.lock: another campaign run is in progress (pid "
    )


def test_status_before_any_run(world: World) -> None:
    result = cli(world, "status")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {world.folder / 'state.sqlite'}: no campaign state yet "
        "(it is created by the first `campaign no-login run --send`; "
        "see --state)\n"
    )


@pytest.mark.parametrize(
    "args",
    [
        ["campaign"],
        ["campaign", "no-login"],
        ["campaign", "no-login", "run"],
        ["campaign", "no-login", "status"],
    ],
)
def test_every_command_has_help_with_an_example(args: list[str]) -> None:
    result = CliRunner().invoke(main, [*args, "--help"])
    assert result.exit_code == 0
    assert "pendo-segments campaign no-login" in result.stdout
    assert "Example" in result.stdout


def test_p1_visitors_become_csm_alerts_and_every_skip_is_listed(world: World) -> None:
    (world.folder / "tiers.csv").write_text("account_id,tier,reason\nA1,P1,x\nA2,P3,y\n")
    alerts = world.folder / "csm.json"
    result = cli(world, "run", "--show-skipped", "--format", "csv", "--csm-alerts", str(alerts))
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    p1 = "excluded tier P1: for the CSM (alert p1_lapsed_visitors)"
    assert {(r["visitor_id"], r["action"], r["detail"]) for r in rows} == {
        ("v_edge31", "skip", p1),
        ("v_en", "skip", p1),
        ("v_ja", "skip", p1),
        ("v_noemail", "skip", p1),
        ("v_optout", "skip", p1),
        ("v_excl", "skip", "excluded account: A2"),
    }
    assert result.stderr.splitlines() == [
        "Dry run as of 2026-11-01: would email 0 visitors in no_login_30d; skipped "
        "5 excluded tier P1, 1 excluded account.",
        "Not emailed by policy: tier P1 (p1_lapsed_visitors alerts for their CSMs: 5 visitors "
        "at 1 account) and visitors lapsed over 365 days; set exclude_tiers and "
        "max_days_lapsed in [campaign.no_login] to change it.",
        f"wrote 1 CSM alert to {alerts}",
        "Nothing was sent (dry run); add --send to send.",
    ]
    (alert,) = json.loads(alerts.read_text("utf-8"))
    assert (alert["account_id"], alert["alert"], alert["csm_owner"], alert["visitors"]) == (
        "A1",
        "p1_lapsed_visitors",
        "Casey CSM",
        5,
    )
    table = cli(world, "run", "--format", "table")
    assert "For CSMs: lapsed visitors not emailed because of their tier" in table.stdout
    assert "Casey CSM" in table.stdout


def test_max_days_lapsed_from_the_config_file(world: World) -> None:
    config = world.folder / "pendo-segments.toml"
    config.write_text(config.read_text() + "max_days_lapsed = 45\n")
    result = cli(world, "run", "--show-skipped", "--format", "json")
    assert result.exit_code == 0, result.stderr
    rows = {r["visitor_id"]: (r["action"], r["detail"]) for r in json.loads(result.stdout)}
    assert rows["v_en"] == ("skip", "lapsed over 45 days: last visit 47 days ago")
    assert rows["v_ja"][0] == "email"  # 42 days
    assert "visitors lapsed over 45 days" in result.stderr.splitlines()[1]


def test_csm_alerts_to_a_missing_folder_fails_before_reading_data(world: World) -> None:
    result = cli(world, "run", "--csm-alerts", str(world.folder / "nope" / "a.csv"))
    assert result.exit_code == 2
    assert "--csm-alerts" in result.stderr and "nope" in result.stderr
