"""What a newcomer hit (issue 15, items 9 and 10): suggestions and output details."""

from __future__ import annotations

import io
import sys
from pathlib import Path

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
    assert "Warning" not in near.stderr
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
