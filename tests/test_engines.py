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


@pytest.fixture(scope="module")
def text_folder(
    folders: dict[str, tuple[Path, str]], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The hand-made folder with an extra accounts column of text; A1's value looks like a number
    (Spark collects the small tables as text, and explain's one-account slice must keep it so)."""
    import shutil

    import pandas as pd

    folder = tmp_path_factory.mktemp("engines-text") / "handmade"
    shutil.copytree(folders["handmade"][0], folder)
    accounts = pd.read_csv(folder / "accounts.csv", dtype=str, keep_default_na=False)
    accounts["region"] = ["0042" if a == "A1" else "emea" for a in accounts["account_id"]]
    accounts.to_csv(folder / "accounts.csv", index=False)
    return folder


@pytest.mark.parametrize("engine", ["spark"])  # the id ends in -spark: a Spark unit (conftest)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_spark_gives_the_same_bytes(
    spark: object, text_folder: Path, command: str, engine: str
) -> None:
    """Spark (local, this process's session) through engines/: stdout and stderr as pandas'."""
    args = [a.format(account="A1") for a in COMMANDS[command]] + ["--data", str(text_folder)]
    expected = CliRunner().invoke(main, [*args, "--engine", "pandas"])
    assert expected.exit_code == 0 and expected.stdout
    got = CliRunner().invoke(main, [*args, "--engine", engine, "--spark-master", "local[1]"])
    assert (got.exit_code, got.stdout) == (0, expected.stdout)
    assert got.stderr.endswith(expected.stderr)  # after Spark's own driver-memory line


def test_spark_only_options_need_spark() -> None:
    result = CliRunner().invoke(
        main, ["health", "--data", "sample", "--engine", "duckdb", "--spark-master", "local[1]"]
    )
    assert result.exit_code == 2
    assert "--spark-master need --engine spark" in result.output
