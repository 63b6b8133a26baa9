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
    assert "[ps] smb" in first.stdout and "arr <= 15000" in first.stdout
    assert first.stdout.endswith("23 change(s) pending.\n")  # 18 segments + 5 accounts
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
    again = run("sync", "apply", "--plan", str(plan_file))
    assert again.exit_code == 0
    assert again.stdout.endswith("Nothing to do: Pendo already matches the plan.\n")


def test_plan_json_is_the_summary(env: dict[str, str], data: str) -> None:
    result = plan(data, "--format", "json", "--no-metadata")
    assert result.exit_code == 3
    body = json.loads(result.stdout)
    assert body["changes"] == 18 and body["metadata"] is None
    assert body["counts"]["create"] == 18


def test_plan_csv_has_one_row_per_change(env: dict[str, str], data: str) -> None:
    result = plan(data, "--format", "csv", "-s", "smb")
    assert result.exit_code == 3
    lines = result.stdout.splitlines()
    assert lines[0] == "type,target,action,detail"
    assert lines[1] == "segment,[ps] smb,create,arr <= 15000"
    assert "metadata,account/custom A1,update,plan: (none) -> Starter" in lines


def test_stale_plan_exits_1_with_one_line(
    env: dict[str, str], data: str, tmp_path: Path, handmade_pendo: FakePendo
) -> None:
    plan_file = tmp_path / "plan.json"
    assert plan(data, "--out", str(plan_file), "-s", "smb", "--no-metadata").exit_code == 3
    handmade_pendo.add_segment("[ps] smb", visitors=[], created_by_api=True)
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
    handmade_pendo.upload_outcome = "failed"  # Pendo fails the first list upload
    result = run("sync", "apply", "--plan", str(plan_file))
    assert result.exit_code == 1
    assert "Failed:\n  create segment '[ps] anniversary': " in result.stdout
    assert "Not attempted:\n  create segment '[ps] contract_anniversary'" in result.stdout
    assert result.stderr == (
        "Error: apply stopped: 4 step(s) applied, 1 failed, 14 not "
        "attempted; run the same command again to finish (nothing is "
        "applied twice)\n"
    )
    handmade_pendo.upload_outcome = "complete"
    rerun = run("sync", "apply", "--plan", str(plan_file), "--format", "json")
    assert rerun.exit_code == 0, rerun.output
    report = json.loads(rerun.stdout)
    assert report["ok"] and len(report["already_applied"]) == 4
    assert len(report["applied"]) == 15


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
    assert "0 no changes, 3 changes pending, 1 error" in " ".join(text.split())


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
        "Warning: 1 account(s) are not in Pendo, so their metadata was not "
        "set (Pendo reported them missing; all are in the audit log): A2\n"
    )
