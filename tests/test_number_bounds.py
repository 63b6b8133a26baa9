"""Numbers no real input holds are refused where they are read, in one line (issue #24).

An ARR of 1e28 in accounts.csv or a previous health score of 1e300 ended in
``decimal.InvalidOperation`` from the report's number formatting; two health
weights of 1e308 summed to infinity and blanked every score without a word.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from pendo_segments.cli import main
from pendo_segments.data import bundled_sample_path
from pendo_segments.errors import DefinitionError
from pendo_segments.health import compute_health, load_health_config
from pendo_segments.health.config import HealthConfig, Weights
from pendo_segments.shipped import shipped_path

DEFS = shipped_path("segment_defs")


def _fails(*args: object) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 1, result.output
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


@pytest.mark.parametrize(
    ("weights", "line"),
    [
        ("  login_frequency: 1e308\n  breadth: 1e308\n", 1),  # the sum overflows to inf
        ("  login_frequency: 1e307\n", 1),  # weight × a component of 100 would
    ],
    ids=["sum-overflows", "product-overflows"],
)
def test_weights_too_large_to_compute_with_are_refused(
    tmp_path: Path, weights: str, line: int
) -> None:
    path = tmp_path / "health.yaml"
    path.write_text("weights:\n" + weights, encoding="utf-8")
    with pytest.raises(DefinitionError) as err:
        load_health_config(path)
    assert str(err.value) == (
        f"{path}:{line}: weights: the weights add up to more than 1e+300; only their ratios "
        "matter, so scale them down (e.g. to add up to 100)"
    )


def test_weights_at_the_bound_still_score() -> None:
    """1e300 in all: by hand, each score is the same weighted mean as with weights 20/30/20/15/15
    scaled by 1e300 / 100 (only ratios matter)."""
    from pendo_segments.data import load_sample

    ds = load_sample()
    scaled = HealthConfig(
        weights=Weights(login_frequency=2e299, core_feature_adoption=3e299, breadth=2e299,
                        nps=1.5e299, support_tickets=1.5e299)
    )  # fmt: skip
    plain = compute_health(ds).score
    big = compute_health(ds, config=scaled).score
    assert np.isfinite(plain).sum() > 0
    assert np.allclose(big, plain, equal_nan=True)


def test_an_arr_beyond_any_contract_is_refused_at_load(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(bundled_sample_path(), data)
    accounts = pd.read_csv(data / "accounts.csv", dtype=str, keep_default_na=False)
    accounts.loc[1, "arr"] = "1e28"
    accounts.to_csv(data / "accounts.csv", index=False)
    line = _fails("report", DEFS, "--data", data, "--out", tmp_path / "r")
    assert line == "Error: accounts.csv: row 2 (line 3), column 'arr': '1e28' is above 1e+15"
    assert not (tmp_path / "r").exists()
    accounts.loc[1, "arr"] = "1e15"  # the bound itself is allowed
    accounts.to_csv(data / "accounts.csv", index=False)
    result = CliRunner().invoke(main, ["tiers", "--data", str(data), "--format", "csv"])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def previous(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report's accounts.csv."""
    out = tmp_path_factory.mktemp("prev") / "report"
    result = CliRunner().invoke(main, ["report", str(DEFS), "--data", "sample", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out / "accounts.csv"


@pytest.mark.parametrize(
    ("column", "value"),
    [("health_score", "1e300"), ("health_score", "-1"), ("breadth", "101"), ("nps", "inf")],
)
def test_previous_scores_outside_0_to_100_are_refused(
    previous: Path, tmp_path: Path, column: str, value: str
) -> None:
    frame = pd.read_csv(previous, dtype=str, keep_default_na=False)
    frame.loc[2, column] = value
    path = tmp_path / "previous.csv"
    frame.to_csv(path, index=False)
    line = _fails("report", DEFS, "--data", "sample", "--out", tmp_path / "r", "--previous", path)
    assert line == f"Error: {path}: row 3, column {column}: '{value}' is not from 0 to 100"
    assert not (tmp_path / "r").exists()
