"""``sync plan`` / ``sync apply`` on the command line: exit codes 0 / 3 / 1 / 2, formats,
the exact error lines, and the plan → apply → plan round."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fake_pendo import FakePendo
from handmade import frames

from pendo_segments.cli import main
from pendo_segments.data.loaders import dataset_from_frames, write_dataset


@pytest.fixture
def data(tmp_path: Path) -> str:
    out = tmp_path / "usage"
    write_dataset(dataset_from_frames(frames()), out)
    return str(out)


@pytest.fixture
def env(handmade_pendo: FakePendo, pendo_env: dict[str, str]) -> dict[str, str]:
    return pendo_env


def run(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(main, list(args), input=input)


def plan(data: str, *extra: str) -> Any:
    return run("sync", "plan", "segment_defs", "--data", data, "--as-of", "2026-11-01", *extra)


def test_plan_exits_3_with_changes_then_apply_then_0(
    env: dict[str, str], data: str, tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    first = plan(data, "--out", str(plan_file), "--format", "table")
    assert first.exit_code == 3, first.output
    assert "[ps] smb" in first.stdout and "upload a list of 2 visitors" in first.stdout
    # 15 segments with members (3 are empty: nothing to create) + 5 accounts
    assert first.stdout.endswith("20 changes pending.\n")
    assert "".join(first.stderr.splitlines(True)[1:]) == (  # after the ghost-account warning
        f"Saved the plan to {plan_file}; apply it with: "
        f"pendo-segments sync apply --plan {plan_file}\n"
    )
    plan_id = json.loads(plan_file.read_text())["plan_id"]
    applied = run("sync", "apply", "--plan", str(plan_file))
    assert applied.exit_code == 0, applied.output
    assert applied.stdout.endswith(f"Done: plan {plan_id} applied.\n")
    second = plan(data, "--format", "table")
    assert second.exit_code == 0, second.output
    assert second.stdout.endswith("No changes.\n")
    flat = " ".join(second.stdout.split())
    assert (
        "all 5 accounts unchanged" in flat and "()" not in flat
    )  # was "0 accounts (), 5 unchanged"
    assert "5 accounts to update (" in " ".join(first.stdout.split())
    again = run("sync", "apply", "--plan", str(plan_file))
    assert again.exit_code == 0
    assert again.stdout.endswith("Nothing to do: Pendo already matches the plan.\n")


def test_plan_json_is_the_summary(env: dict[str, str], data: str) -> None:
    result = plan(data, "--format", "json", "--no-metadata")
    assert result.exit_code == 3
    body = json.loads(result.stdout)
    assert body["changes"] == 15 and body["metadata"] is None
    assert body["counts"]["create"] == 15 and body["counts"]["unchanged"] == 3


def test_plan_csv_has_one_row_per_change(env: dict[str, str], data: str) -> None:
    result = plan(data, "--format", "csv", "-s", "smb")
    assert result.exit_code == 3
    lines = result.stdout.splitlines()
    assert lines[0] == "type,target,action,detail"
    assert lines[1] == "segment,[ps] smb,create,upload a list of 2 visitors"
    assert "metadata,account/custom A1,update,plan: (none) -> Starter" in lines


def test_stale_plan_exits_1_with_one_line(
    env: dict[str, str], data: str, tmp_path: Path, handmade_pendo: FakePendo
) -> None:
    plan_file = tmp_path / "plan.json"
    assert plan(data, "--out", str(plan_file), "-s", "smb", "--no-metadata").exit_code == 3
    handmade_pendo.add_segment("[ps] smb", visitors=["a2v1"], created_by_api=True)
    result = run("sync", "apply", "--plan", str(plan_file))
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: the plan is stale, Pendo changed since it was made: "
        "segment '[ps] smb' was created in Pendo since the plan; run sync "
        "plan again and review the new plan\n"
    )


def test_partial_failure_exits_1_and_the_rerun_finishes(
    env: dict[str, str], data: str, tmp_path: Path, handmade_pendo: FakePendo
) -> None:
    plan_file = tmp_path / "plan.json"
    plan(data, "--out", str(plan_file))
    handmade_pendo.build_outcome = "failed"  # Pendo fails to build the first list
    result = run("sync", "apply", "--plan", str(plan_file))
    assert result.exit_code == 1
    assert "Failed:\n  create segment '[ps] active_core_events': " in result.stdout
    assert "Not attempted:\n  create segment '[ps] active_path_reports'" in result.stdout
    assert result.stderr == (
        "Error: apply stopped: 0 steps applied, 1 failed, 15 not "
        "attempted; run the same command again to finish (nothing is "
        "applied twice)\n"
    )
    handmade_pendo.build_outcome = "complete"
    rerun = run("sync", "apply", "--plan", str(plan_file), "--format", "json")
    assert rerun.exit_code == 0, rerun.output
    report = json.loads(rerun.stdout)
    # the failed build left the list in Pendo, but not built: sent whole again (a PUT),
    # never "already applied", never uploaded twice
    assert report["ok"] and report["already_applied"] == []
    assert report["applied"][0] == "create segment '[ps] active_core_events'"
    assert len(report["applied"]) == 16
    sid = report["created"]["[ps] active_core_events"]
    assert len(handmade_pendo.calls("PUT", f"/api/v1/segment/{sid}")) == 1
    uploads = [c.body["name"] for c in handmade_pendo.calls("POST", "/api/v1/segment/upload")]
    assert uploads.count("[ps] active_core_events") == 1


def test_apply_without_a_plan_asks_first(env: dict[str, str], data: str) -> None:
    declined = run("sync", "apply", "--data", data, "--as-of", "2026-11-01", input="n\n")
    assert declined.exit_code == 1 and "Aborted!" in declined.stderr
    done = run("sync", "apply", "--data", data, "--as-of", "2026-11-01", "--yes")
    assert done.exit_code == 0, done.output
    assert plan(data).exit_code == 0


def test_apply_needs_a_plan_or_data(env: dict[str, str]) -> None:
    result = run("sync", "apply")
    assert result.exit_code == 2
    assert result.stderr.endswith(
        "Error: pass --plan FILE, or --data to plan and apply in one go\n"
    )


def test_missing_plan_file_is_a_user_error(env: dict[str, str], tmp_path: Path) -> None:
    result = run("sync", "apply", "--plan", str(tmp_path / "nope.json"))
    assert result.exit_code == 1
    assert result.stderr == f"Error: {tmp_path / 'nope.json'}: plan file not found\n"


def test_sync_without_a_key_exits_1(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, data: str
) -> None:
    monkeypatch.delenv("PENDO_INTEGRATION_KEY", raising=False)
    monkeypatch.delenv("PENDO_SEGMENTS_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    result = run("sync", "plan", str(Path(__file__).parent.parent / "segment_defs"), "--data", data)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: no Pendo integration key")


@pytest.mark.parametrize("command", [["sync"], ["sync", "plan"], ["sync", "apply"], ["pull"]])
def test_help_has_examples(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.exit_code == 0 and "Examples:" in result.stdout


def test_sync_help_documents_the_exit_codes() -> None:
    text = run("sync", "--help").stdout
    assert "0 no changes, 3 changes pending, 1 error or a segment a person must fix" in " ".join(
        text.split()
    )


def test_accounts_reported_missing_are_listed_not_dropped(
    env: dict[str, str], data: str, tmp_path: Path, handmade_pendo: FakePendo
) -> None:
    plan_file = tmp_path / "plan.json"
    assert plan(data, "--out", str(plan_file), "--no-segments").exit_code == 3
    del handmade_pendo.accounts["A2"]  # deleted in Pendo between plan and apply
    result = run("sync", "apply", "--plan", str(plan_file))
    assert result.exit_code == 0, result.output
    assert "Accounts Pendo reported missing (1): A2\n" in result.stdout
    assert result.stderr == (
        "Warning: 1 account is not in Pendo, so their metadata was not "
        "set (Pendo reported them missing; all are in the audit log): A2\n"
    )


def test_plan_exits_1_when_a_managed_name_is_duplicated(
    env: dict[str, str], data: str, handmade_pendo: FakePendo
) -> None:
    for _ in range(2):
        handmade_pendo.add_segment("[ps] smb", visitors=["a1v1"], created_by_api=True)
    result = plan(data, "-s", "smb", "--no-metadata", "--format", "csv")
    assert result.exit_code == 1
    assert result.stderr.endswith(
        "Error: 1 segment needs a person in Pendo before sync can manage them: "
        "'[ps] smb' (blocked); see the plan above\n"
    )
    # one error line (the hand-made data's ghost-account warning comes before it)
    assert [ln for ln in result.stderr.splitlines() if not ln.startswith("Warning:")] == [
        result.stderr.splitlines()[-1]
    ]


@pytest.mark.parametrize("key", ["abc\ndef", "abc\x07", "ключ"])
def test_a_malformed_key_is_one_line_that_does_not_show_it(
    env: dict[str, str], data: str, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    monkeypatch.setenv("PENDO_INTEGRATION_KEY", key)
    result = plan(data, "-s", "smb")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(
        "Error: PENDO_INTEGRATION_KEY: the integration key contains"
    )
    assert key.strip() not in result.stderr and "Traceback" not in result.stderr
