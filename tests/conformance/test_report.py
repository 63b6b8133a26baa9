"""``report`` on every engine: the pandas report folder, file for file, on boundary data.

The twelve merged boundary draws of conformance/data.py with outcomes (accounts
churned before D, on D and after it, so the backtest's catch rates and the churned
account's absence are in the page) and one account created after D. Every file of
the folder (index.html with its embedded data, account pages, the CSVs) and stderr
must equal pandas' byte for byte: nothing in a report names the engine that made it,
so no field is left out of the comparison. Two weekly as-of days keep Spark's share
of the suite small.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result

from conformance.data import AS_OF, SHIPPED_DEFS, churned_boundary_dataset, write_folder
from conformance.run import run

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The boundary data with accounts churned before, on and after D, one created later."""
    return write_folder(churned_boundary_dataset(), tmp_path_factory.mktemp("report") / "data")


def files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def report(engine: str, data: Path, out: Path) -> Result:
    args = ["report", SHIPPED_DEFS, "--data", data, "--as-of", AS_OF, "--weeks", 2]
    return run(engine, *args, "--out", out)


@pytest.fixture(scope="module")
def pandas_report(data: Path) -> tuple[Result, dict[str, bytes]]:
    out = data.parent / "pandas"
    result = report("pandas", data, out)
    assert result.exit_code == 0, result.output
    return result, files(out)


def test_report_folder_is_the_pandas_folder(
    engine: str, data: Path, pandas_report: tuple[Result, dict[str, bytes]]
) -> None:
    want, want_files = pandas_report
    if engine == "pandas":  # what the others are held to: the page, its CSVs, the churn
        assert {"index.html", "accounts.csv", "alerts.csv"} <= set(want_files)
        accounts = want_files["accounts.csv"].decode("utf-8")
        assert "d1_A0" in accounts and "d0_A0" not in accounts and "d4_A0" not in accounts
        return
    out = data.parent / engine
    got = report(engine, data, out)
    assert got.exit_code == 0, (engine, got.output)
    assert got.stderr == want.stderr, engine
    got_files = files(out)
    assert sorted(got_files) == sorted(want_files)
    for name, content in want_files.items():
        assert got_files[name] == content, (engine, name)
