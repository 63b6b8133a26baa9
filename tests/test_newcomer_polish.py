"""What a newcomer hit (issue 15, items 9 and 10): suggestions and output details."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from handmade import AS_OF, frames

from pendo_segments.cli import main
from pendo_segments.data.dataset import Dataset
from pendo_segments.data.loaders import write_dataset
from pendo_segments.definitions import load_definitions
from pendo_segments.errors import EvaluationError
from pendo_segments.evaluate import explain


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_a_mistyped_command_suggests_the_closest_one() -> None:
    result = run("evalute", "segment_defs")
    assert result.exit_code == 2
    assert "No such command 'evalute'. Did you mean 'evaluate'?" in result.stderr


def test_a_mistyped_sub_command_suggests_the_closest_one() -> None:
    result = run("sync", "aply")
    assert result.exit_code == 2
    assert "Did you mean 'apply'?" in result.stderr


def test_an_unrelated_word_gets_no_suggestion() -> None:
    result = run("zzzz")
    assert result.exit_code == 2
    assert "No such command 'zzzz'." in result.stderr
    assert "Did you mean" not in result.stderr


def test_a_data_folder_near_sample_hints_the_keyword(tmp_path: Path) -> None:
    result = run("evaluate", "segment_defs", "--data", "samples")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: samples: data folder not found; did you mean 'sample'?"
    )
    result = run("evaluate", "segment_defs", "--data", "pendo")
    assert "did you mean 'pendo:'?" in result.stderr
    missing = str(tmp_path / "nowhere")
    result = run("evaluate", "segment_defs", "--data", missing)
    assert result.stderr.strip() == f"Error: {missing}: data folder not found"


def test_explain_says_when_the_id_is_of_the_other_subject() -> None:
    defs = load_definitions("segment_defs")
    ds = Dataset(**frames(), source="handmade")
    # at_risk lists accounts; a1v1 is a visitor of account A1 (tests/handmade.py).
    with pytest.raises(EvaluationError) as err:
        explain(defs, ds, "at_risk", "a1v1", as_of=AS_OF)
    assert str(err.value) == (
        "'a1v1' is a visitor id but segment at_risk lists accounts: "
        "give an account id; its account is 'A1'"
    )
    # no_login_30d lists visitors; A2 is an account whose first visitor is a2v1.
    with pytest.raises(EvaluationError) as err:
        explain(defs, ds, "no_login_30d", "A2", as_of=AS_OF)
    assert str(err.value) == (
        "'A2' is an account id but segment no_login_30d lists visitors: "
        "give a visitor id; one of its visitors is 'a2v1'"
    )


def test_as_of_past_every_window_warns_that_nothing_is_active(tmp_path: Path) -> None:
    data = tmp_path / "usage"
    write_dataset(Dataset(**frames()), data)
    # The latest usage is 2026-11-01 and the longest shipped window is 30 days:
    # as-of 2026-12-01 still sees it (window 2026-11-01 … 2026-11-30), 2026-12-02 does not.
    near = run("evaluate", "segment_defs", "--data", str(data), "--as-of", "2026-12-01")
    assert near.exit_code == 0, near.stderr
    assert "nothing is active" not in near.stderr
    far = run("evaluate", "segment_defs", "--data", str(data), "--as-of", "2026-12-02")
    assert far.exit_code == 0, far.stderr
    assert (
        "Warning: as-of 2026-12-02 is 31 days after the latest usage (2026-11-01); no usage "
        "falls in the longest window (30 days), so nothing is active"
    ) in far.stderr.splitlines()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_sync_progress_line_keeps_bracketed_names(monkeypatch: pytest.MonkeyPatch) -> None:
    from pendo_segments.cli.sync_cmds import _progress_bar

    screen = _Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    with _progress_bar() as advance:
        advance("create [ps] at_risk", 1, 2)
    assert "create [ps] at_risk" in screen.getvalue()


def test_rich_tables_keep_bracketed_names(tmp_path: Path) -> None:
    from pendo_segments.cli.output import emit_rows

    out = tmp_path / "table.txt"
    emit_rows(["segment"], [["[ps] at_risk"]], "table", out, title="[ps] members")
    text = out.read_text(encoding="utf-8")
    assert "[ps] at_risk" in text
    assert "[ps] members" in text


def test_sync_plan_table_counts_in_words_and_shows_old_and_new_metadata(
    handmade_pendo: Any, pendo_env: dict[str, str], tmp_path: Path
) -> None:
    data = tmp_path / "usage"
    write_dataset(Dataset(**frames()), data)
    handmade_pendo.add_segment("Made by hand", visitors=["a1v1"])  # not ours: left alone
    common = ("sync", "plan", "segment_defs", "--data", str(data), "--as-of", "2026-11-01")
    one = run(*common, "-s", "smb", "--no-metadata", "--format", "table")
    assert one.exit_code == 3, one.output
    flat = " ".join(one.stdout.split())
    assert "1 unmanaged segment left alone" in flat
    assert "0 metadata updates;" in flat
    assert one.stdout.endswith("1 change pending.\n")
    meta = run(*common, "-s", "smb", "--format", "table")
    flat = " ".join(meta.stdout.split())
    # The CSV says "plan: (none) -> Starter" for A1 (tests/test_sync_cli.py); so does the table.
    assert "A1: plan: (none) -> Starter" in flat


def test_capacity_csv_writes_true_false_and_whole_arr_without_point_zero() -> None:
    import numpy as np

    from pendo_segments.tiers import load_policy
    from pendo_segments.tiers.capacity import capacity_csv, capacity_table

    policy = load_policy("segment_defs/tiers.yaml")
    tier = np.array(["P1", "P1", "Neighborhood"])
    arr = np.array([18_000_000.0, 726_000.0, 1234.5])
    assert capacity_csv(capacity_table(tier, arr, policy)) == (
        "tier,accounts,arr,accounts_per_csm,pooled,csms\n"
        "P1,2,18726000,15,false,1\n"
        "P2,0,0,40,false,0\n"
        "P3,0,0,150,true,0\n"
        "Neighborhood,1,1234.5,200,true,1\n"
        "Total,3,18727234.5,,,2\n"
    )


USER_FILES = [
    "pendo-segments.toml",
    "campaign.env",
    "plan.json",
    "pendo-sync-audit.jsonl",
    "pendo-sync-audit.jsonl.lock",
    "campaign-state.sqlite",
    "campaign-state.sqlite.lock",
    "data/accounts.csv",
    "preview/index.html",
    "report/index.html",
    "demo-report/index.html",
    "build/guides/index.html",
    "recipes.md",
    "sf.csv",
    "tiers.csv",
]


def test_files_the_readme_has_users_create_are_git_ignored() -> None:
    import shutil
    import subprocess

    root = Path(__file__).resolve().parent.parent
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("not a git checkout")
    found = subprocess.run(
        ["git", "-C", str(root), "check-ignore", "--no-index", "--stdin"],
        input="\n".join(USER_FILES) + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.stdout.split() == USER_FILES
    kept = ["examples/pendo-segments.toml", "examples/campaign.env.example", "README.md"]
    for path in kept:
        assert (
            subprocess.run(
                ["git", "-C", str(root), "check-ignore", "-q", "--no-index", path], check=False
            ).returncode
            == 1
        )


def test_guides_lint_reports_template_problems_with_an_invalid_manifest(tmp_path: Path) -> None:
    import shutil

    root = Path(__file__).resolve().parent.parent / "guide_templates"
    folder = tmp_path / "templates"
    shutil.copytree(root, folder)
    manifest = folder / "guides.yaml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace("pendo_type: lightbox", "pendo_type: lightbx", 1), "utf-8")
    template = folder / "welcome" / "lightbox.en.j2"
    lines = template.read_text(encoding="utf-8").splitlines(keepends=True)
    assert "{{ product.name }}" in lines[1]
    lines[1] = lines[1].replace("{{ product.name }}", "{{ prodct.name }}")
    template.write_text("".join(lines), encoding="utf-8")
    result = run("guides", "lint", "--templates", str(folder))
    assert result.exit_code == 1
    errors = result.stderr.splitlines()
    assert any("guides.yaml:" in e and "pendo_type" in e for e in errors)
    assert any(
        e.endswith(
            "lightbox.en.j2:2: undefined: unknown variable 'prodct'; did you mean 'product'?"
        )
        for e in errors
    )
