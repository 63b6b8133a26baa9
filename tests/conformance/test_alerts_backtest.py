"""``alerts`` and ``backtest`` on every engine: pandas' bytes, by hand on the hand-made sets.

Small data on purpose (a few dozen rows reach every path; a Spark job costs seconds):
the hand-made set of tests/handmade.py and the world of tests/test_subjects.py, whose
outcomes.csv gives the backtest catch rates. The sample's backtest on DuckDB and
Spark is tests/test_engines_backtest.py's.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pandas as pd
import pytest
import test_subjects as T
from handmade import AS_OF, frames

from conformance.data import SHIPPED_DEFS, write_folder
from conformance.run import run, same_as_pandas
from pendo_segments.data.dataset import Dataset

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")


def test_handmade_alerts_are_the_hand_worked_ones(engine: str, tmp_path: Path) -> None:
    """Scores of tests/health_handmade.py EXPECTED_BASE (no NPS, no tickets): A2 5.4, A3 0 and
    A4 1.8 are below 25 (escalation), A1 26.6 below 40 (at risk), A5 97.3 raises none.
    A --previous run where A5 scored 20 makes A5 a recovery (above 70 after being at risk,
    below 40), and says so."""
    folder = write_folder(Dataset(**frames(), source="handmade"), tmp_path / "usage")
    previous = tmp_path / "previous.csv"
    previous.write_text("account_id,health_score\nA5,20.0\n", encoding="utf-8")
    args = ["alerts", SHIPPED_DEFS, "--data", folder, "--as-of", AS_OF, "--format", "csv"]
    frame = pd.read_csv(
        io.StringIO(same_as_pandas(engine, *args, "--previous", previous).stdout), dtype=str
    )
    pairs = set(zip(frame["account_id"], frame["alert"], strict=True))
    assert {("A2", "escalation"), ("A3", "escalation"), ("A4", "escalation")} <= pairs
    assert {("A1", "at_risk"), ("A5", "recovery")} <= pairs
    scores = dict(zip(frame["account_id"], frame["health_score"], strict=True))
    assert scores == {"A1": "26.6", "A2": "5.4", "A3": "0.0", "A4": "1.8", "A5": "97.3"}
    a5 = frame[frame["account_id"] == "A5"]["signals"].item()
    assert a5.startswith("previous health score 20 < 40; health score 97.3 > 70")


def test_backtest_sizes_rates_and_scores(engine: str, tmp_path: Path) -> None:
    """tests/test_subjects.py's world, D−14 … D+7 every 7 days: sizes, catch rates (A4
    churns D−1, A5 on D) and scores files, byte for byte; at D the hand-worked counts."""
    data = tmp_path / "data"
    data.mkdir()
    T.write_folder(data)
    defs = tmp_path / "defs"
    defs.mkdir()
    (defs / "subjects.yaml").write_text(T.DEFS)
    start, end = T.D - dt.timedelta(days=14), T.D + dt.timedelta(days=7)
    outputs = {}
    for name in ("pandas", engine):
        out_dir = tmp_path / name
        out_dir.mkdir(exist_ok=True)
        args = [
            "backtest", defs, "--data", data, "--from", start, "--to", end, "--every", "7",
            "--format", "csv", "--rates", out_dir / "rates.csv", "--scores", out_dir / "scores.csv",
        ]  # fmt: skip
        out = run(name, *args)
        assert out.exit_code == 0, (name, out.output)
        outputs[name] = [out.stdout, out.stderr] + [
            (out_dir / f).read_text("utf-8") for f in ("rates.csv", "scores.csv")
        ]
    assert outputs[engine] == outputs["pandas"]
    sizes = pd.read_csv(io.StringIO(outputs["pandas"][0]))
    at_d = sizes[sizes["as_of"] == T.D.isoformat()]
    got = dict(zip(at_d["segment"], at_d["members"], strict=True))
    assert got == {n: len(ids) for n, ids in T.EXPECTED.items()}
    assert sorted(set(sizes["as_of"])) == ["2026-08-31", "2026-09-07", "2026-09-14", "2026-09-21"]
