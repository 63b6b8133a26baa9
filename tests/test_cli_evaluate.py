"""CLI: evaluate / explain on a data folder written from the hand-made data set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from handmade import EXPECTED, frames

from pendo_segments.cli import main
from pendo_segments.data.dataset import Dataset
from pendo_segments.data.loaders import write_dataset


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("data") / "usage"
    write_dataset(Dataset(**frames()), out)
    return out


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_evaluate_csv_is_exactly_the_contract(data_dir: Path) -> None:
    result = run(
        "evaluate",
        "segment_defs",
        "--data",
        str(data_dir),
        "--as-of",
        "2026-11-01",
        "--format",
        "csv",
    )
    assert result.exit_code == 0, result.stderr
    expected = ["segment,subject,subject_id"]
    subject = {
        n: ("account" if ids and ids[0].startswith("A") else "visitor")
        for n, ids in EXPECTED.items()
    }
    for name in sorted(EXPECTED):
        expected += [f"{name},{subject[name]},{i}" for i in sorted(EXPECTED[name])]
    assert result.stdout.splitlines() == expected


def test_duckdb_engine_gives_the_same_csv(data_dir: Path) -> None:
    args = ["evaluate", "--data", str(data_dir), "--as-of", "2026-11-01", "--format", "csv"]
    pandas_out = run(*args)
    duck_out = run(*args, "--engine", "duckdb")
    assert duck_out.exit_code == 0, duck_out.stderr
    assert duck_out.stdout == pandas_out.stdout


def test_evaluate_selected_segments_json_and_output_file(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    result = run(
        "evaluate",
        "--data",
        str(data_dir),
        "--as-of",
        "2026-11-01",
        "-s",
        "smb",
        "--format",
        "json",
        "--output",
        str(out),
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(out.read_text()) == [
        {"segment": "smb", "subject": "account", "subject_id": "A1"}
    ]
    assert not list(tmp_path.glob(".m.json.*"))  # no temp file left behind


def test_evaluate_counts(data_dir: Path) -> None:
    result = run(
        "evaluate",
        "--data",
        str(data_dir),
        "--as-of",
        "2026-11-01",
        "--counts",
        "-s",
        "at_risk",
        "-s",
        "new_users",
        "--format",
        "csv",
    )
    assert result.stdout.splitlines() == [
        "segment,subject,members",
        "at_risk,account,2",
        "new_users,visitor,2",
    ]


def test_evaluate_bad_data_folder_is_one_line(tmp_path: Path) -> None:
    result = run("evaluate", "--data", str(tmp_path / "missing"))
    assert result.exit_code == 1
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("Error: ")


def test_explain_json(data_dir: Path) -> None:
    result = run(
        "explain",
        "at_risk",
        "A4",
        "--data",
        str(data_dir),
        "--as-of",
        "2026-11-01",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["member"] is False
    minutes = payload["conditions"][2]
    assert (minutes["value"], minutes["op"], minutes["threshold"], minutes["result"]) == (
        10.5,
        "<=",
        10,
        "fail",
    )


def test_explain_stamped_segment_says_its_parameter(data_dir: Path) -> None:
    result = run(
        "explain",
        "never_used_data_explorer",
        "a5v1",
        "--data",
        str(data_dir),
        "--as-of",
        "2026-11-01",
        "--format",
        "table",
    )
    assert result.exit_code == 0, result.stderr
    assert "IS in never_used_data_explorer (stamped with feature=data_explorer)" in " ".join(
        result.stdout.split()
    )
