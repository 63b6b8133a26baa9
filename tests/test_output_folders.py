"""Output folders say which command wrote them, and never swallow an input (issue #24).

``report --backtest B --out B`` replaced the saved backtest with a report, and
``backtest --save R`` over a report deleted its pages: both folders carried the
same marker, so each command took the other's folder for its own. The marker
now names the command; a folder another command wrote is refused even with
``--force``, and so is an output folder that is, holds or sits inside an input.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pendo_segments.atomic import MARKER
from pendo_segments.cli import main
from pendo_segments.data import bundled_sample_path
from pendo_segments.shipped import shipped_path

DEFS = shipped_path("segment_defs")
DAYS = ["--from", "2026-10-04", "--to", "2026-11-01"]
REFUSED_OTHER = "choose another folder (--force does not mix the outputs of two commands)"
APART = "write to a folder apart from the command's inputs"


def _run(*args: object) -> None:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output


def _fails(*args: object) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 1, result.output
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("out") / "bt"
    _run("backtest", DEFS, "--data", "sample", *DAYS, "--save", folder)
    return folder


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("out") / "report"
    _run("report", DEFS, "--data", "sample", "--out", folder)
    return folder


def test_the_marker_names_the_command(saved: Path, report: Path) -> None:
    assert json.loads((saved / MARKER).read_text("utf-8"))["command"] == "backtest --save"
    assert json.loads((report / MARKER).read_text("utf-8"))["command"] == "report"


@pytest.mark.parametrize("force", [[], ["--force"]], ids=["plain", "force"])
def test_a_report_never_replaces_the_saved_backtest_it_reads(saved: Path, force: list[str]) -> None:
    before = _tree(saved)
    line = _fails("report", DEFS, "--data", "sample", "--backtest", saved, "--out", saved, *force)
    assert line == f"Error: --out {saved}: is --backtest {saved} itself; {APART}"
    inside = saved / "report"
    line = _fails("report", DEFS, "--data", "sample", "--backtest", saved, "--out", inside, *force)
    assert line == f"Error: --out {inside}: is inside --backtest {saved}; {APART}"
    assert _tree(saved) == before


@pytest.mark.parametrize("force", [[], ["--force"]], ids=["plain", "force"])
def test_a_report_never_replaces_another_saved_backtest(
    saved: Path, tmp_path: Path, force: list[str]
) -> None:
    other = tmp_path / "bt"
    shutil.copytree(saved, other)
    before = _tree(other)
    line = _fails("report", DEFS, "--data", "sample", "--out", other, *force)
    assert line == (
        f"Error: --out {other}: holds the output of `backtest --save`, not of `report`; "
        f"{REFUSED_OTHER}"
    )
    assert _tree(other) == before


@pytest.mark.parametrize("force", [[], ["--force"]], ids=["plain", "force"])
def test_backtest_save_never_deletes_a_reports_pages(
    report: Path, tmp_path: Path, force: list[str]
) -> None:
    folder = tmp_path / "report"
    shutil.copytree(report, folder)
    before = _tree(folder)
    assert any(name.startswith("accounts/") for name in before)  # pages to lose
    line = _fails("backtest", DEFS, "--data", "sample", *DAYS, "--save", folder, *force)
    assert line == (
        f"Error: --save {folder}: holds the output of `report`, not of `backtest --save`; "
        f"{REFUSED_OTHER}"
    )
    assert _tree(folder) == before


def test_an_output_inside_or_holding_the_data_is_refused(tmp_path: Path) -> None:
    work = tmp_path / "work"
    data = work / "data"
    shutil.copytree(bundled_sample_path(), data)
    before = _tree(work)
    line = _fails("report", DEFS, "--data", data, "--out", data / "report")
    assert line == f"Error: --out {data / 'report'}: is inside --data {data}; {APART}"
    line = _fails("report", DEFS, "--data", data, "--out", work, "--force")
    assert line == f"Error: --out {work}: holds --data {data}; {APART}"
    line = _fails("backtest", DEFS, "--data", data, *DAYS, "--save", data, "--force")
    assert line == f"Error: --save {data}: is --data {data} itself; {APART}"
    assert _tree(work) == before


def test_a_marker_from_before_commands_were_named_is_read_by_its_files(
    saved: Path, tmp_path: Path
) -> None:
    """Folders written before the marker named the command are told apart by their files."""
    folder = tmp_path / "old"
    shutil.copytree(saved, folder)
    marker = json.loads((folder / MARKER).read_text("utf-8"))
    del marker["command"]
    (folder / MARKER).write_text(json.dumps(marker), encoding="utf-8")
    line = _fails("report", DEFS, "--data", "sample", "--out", folder, "--force")
    assert line.startswith(f"Error: --out {folder}: holds the output of `backtest --save`")
    _run("backtest", DEFS, "--data", "sample", *DAYS, "--save", folder)  # its own kind: fine
    assert json.loads((folder / MARKER).read_text("utf-8"))["command"] == "backtest --save"


def test_the_previous_run_may_sit_in_the_folder_it_is_replaced_in(
    report: Path, tmp_path: Path
) -> None:
    """``--previous`` is a file read whole before anything is written: the monthly
    ``report --out r --previous r/accounts.csv`` keeps working."""
    folder = tmp_path / "report"
    shutil.copytree(report, folder)
    _run("report", DEFS, "--data", "sample", "--out", folder, "--previous", folder / "accounts.csv")
    assert (folder / "accounts.csv").read_bytes() == (report / "accounts.csv").read_bytes()
