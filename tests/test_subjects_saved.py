"""``report --backtest SAVED`` counts the subjects of each day (docs/semantics.md §2b).

The bundled sample with accounts created and churned inside the report's 13
weekly as-of days (2026-09-06 … 2026-11-01, as the report picks them): the report built from a saved
backtest must be byte for byte the report built from the usage, which leaves
an account out of every count, score and table on the days it does not exist.
"""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from pendo_segments.cli import main
from pendo_segments.data import bundled_sample_path
from pendo_segments.shipped import shipped_path

DEFS = shipped_path("segment_defs")
#: created inside the range (not a subject before), churned inside it (not after)
CREATED = {"acc-00001": "2026-10-01", "acc-00003": "2026-09-20", "acc-00004": "2026-10-25"}
CHURNED = {"acc-00002": "2026-10-05", "acc-00005": "2026-09-15", "acc-00007": "2026-10-20"}


def _run(*args: object) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lifecycle") / "data"
    shutil.copytree(bundled_sample_path(), folder)
    accounts = pd.read_csv(folder / "accounts.csv", dtype=str, keep_default_na=False)
    accounts["created"] = accounts["account_id"].map(CREATED).fillna("")
    accounts.to_csv(folder / "accounts.csv", index=False)
    outcomes = pd.read_csv(folder / "outcomes.csv", dtype=str, keep_default_na=False)
    for account, day in CHURNED.items():
        row = outcomes["account_id"] == account
        outcomes.loc[row, "churned"] = "true"
        outcomes.loc[row, "churn_date"] = day
    outcomes.to_csv(folder / "outcomes.csv", index=False)
    return folder


def _tree(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


def test_report_from_a_saved_backtest_counts_each_days_subjects(data: Path, tmp_path: Path) -> None:
    saved = tmp_path / "saved"
    days = ["--from", "2026-09-06", "--to", "2026-11-01"]
    _run("backtest", DEFS, "--data", data, *days, "--save", saved)
    _run("report", DEFS, "--data", data, "--out", tmp_path / "usage")
    _run("report", DEFS, "--data", data, "--backtest", saved, "--out", tmp_path / "from_saved")
    a, b = tmp_path / "usage", tmp_path / "from_saved"
    assert _tree(a) == _tree(b)
    differ = [str(f) for f in _tree(a) if not filecmp.cmp(a / f, b / f, shallow=False)]
    assert differ == []
