"""``alerts`` and ``backtest`` on every engine: pandas' bytes, by hand on the hand-made set."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from handmade import AS_OF, frames

from conformance.data import SHIPPED_DEFS, write_folder
from conformance.run import run, same_as_pandas
from pendo_segments.data.dataset import Dataset

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")


def test_handmade_alerts_are_the_hand_worked_ones(engine: str, tmp_path: Path) -> None:
    """Scores of tests/health_handmade.py EXPECTED_BASE (no NPS, no tickets): A2 5.4, A3 0 and
    A4 1.8 are below 25 (escalation), A1 26.6 below 40 (at risk), A5 97.3 raises none."""
    folder = write_folder(Dataset(**frames(), source="handmade"), tmp_path / "usage")
    args = ["alerts", SHIPPED_DEFS, "--data", folder, "--as-of", AS_OF, "--format", "csv"]
    frame = pd.read_csv(io.StringIO(same_as_pandas(engine, *args).stdout), dtype=str)
    pairs = set(zip(frame["account_id"], frame["alert"], strict=True))
    assert {("A2", "escalation"), ("A3", "escalation"), ("A4", "escalation")} <= pairs
    assert ("A1", "at_risk") in pairs and "A5" not in set(frame["account_id"])
    scores = dict(zip(frame["account_id"], frame["health_score"], strict=True))
    assert scores == {"A1": "26.6", "A2": "5.4", "A3": "0.0", "A4": "1.8"}


def test_sample_alerts_with_a_previous_run(engine: str, tmp_path: Path) -> None:
    previous = tmp_path / "previous.csv"
    health = run("pandas", "health", "--data", "sample", "--as-of", "2026-10-04", "-f", "csv")
    assert health.exit_code == 0, health.output
    previous.write_text(health.stdout, encoding="utf-8")
    args = ["alerts", SHIPPED_DEFS, "--data", "sample", "--previous", previous, "-f", "csv"]
    out = same_as_pandas(engine, *args)
    assert {"escalation", "at_risk"} <= set(pd.read_csv(io.StringIO(out.stdout))["alert"])
    assert "fell from" in out.stdout  # the previous run's scores are compared


def test_sample_backtest_sizes_rates_and_scores(engine: str, tmp_path: Path) -> None:
    outputs = {}
    for name in ("pandas", engine):
        folder = tmp_path / name
        folder.mkdir(exist_ok=True)
        args = [
            "backtest", SHIPPED_DEFS, "--data", "sample", "--from", "2026-09-06",
            "--to", "2026-11-01", "--every", "14", "--format", "csv",
            "--rates", folder / "rates.csv", "--scores", folder / "scores.csv",
        ]  # fmt: skip
        out = run(name, *args)
        assert out.exit_code == 0, (name, out.output)
        outputs[name] = [out.stdout, out.stderr] + [
            (folder / f).read_text("utf-8") for f in ("rates.csv", "scores.csv")
        ]
    assert outputs[engine] == outputs["pandas"]
    sizes = pd.read_csv(io.StringIO(outputs["pandas"][0]))
    assert sorted(set(sizes["as_of"])) == [
        "2026-09-06",
        "2026-09-20",
        "2026-10-04",
        "2026-10-18",
        "2026-11-01",
    ]
