"""Every command that reads usage data gives the same bytes on every engine.

Runs the CLI with ``--engine pandas|duckdb|spark`` on the bundled sample and on
the hand-made boundary data (tests/health_handmade.py) written as a folder,
and compares stdout with pandas'. Bad input gets the same one-line verdict.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from health_handmade import dataset, sample, write_folder

from pendo_segments.cli import main

DEFS = str(Path(__file__).resolve().parents[1] / "segment_defs")
SQL_ENGINES = ["duckdb"]

COMMANDS = {
    "evaluate": ["evaluate", DEFS, "--format", "csv"],
    "health": ["health", "--format", "csv"],
    "tiers": ["tiers", DEFS, "--format", "csv"],
    "alerts": ["alerts", DEFS, "--format", "csv"],
    "explain": ["explain", "at_risk", "{account}", "--defs", DEFS, "--format", "json"],
}


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    root = tmp_path_factory.mktemp("engines")
    return {
        "sample": (write_folder(sample(), root / "sample"), "acc-00042"),
        "handmade": (write_folder(dataset(), root / "handmade"), "A1"),
    }


def run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(main, args)
    return result.exit_code, result.stdout


@pytest.mark.parametrize("data", ["sample", "handmade"])
@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("engine", SQL_ENGINES)
def test_same_bytes_as_pandas(folders: dict, data: str, command: str, engine: str) -> None:
    folder, account = folders[data]
    args = [a.format(account=account) for a in COMMANDS[command]] + ["--data", str(folder)]
    expected = run([*args, "--engine", "pandas"])
    assert expected[0] == 0 and expected[1]
    assert run([*args, "--engine", engine]) == expected


def test_spark_only_options_need_spark() -> None:
    result = CliRunner().invoke(
        main, ["health", "--data", "sample", "--engine", "duckdb", "--spark-master", "local[1]"]
    )
    assert result.exit_code == 2
    assert "--spark-master need --engine spark" in result.output
