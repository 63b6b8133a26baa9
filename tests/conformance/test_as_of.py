"""The as-of day's warning and error lines, byte for byte on every engine (docs/semantics.md §2b).

The world of tests/test_subjects.py with NPS and tickets (tests/test_subjects_health.py):
usage from 2026-09-10 to 2026-09-15, every segment's window 30 days, a tier policy that
names the segment few_minutes (so ``tiers`` and ``alerts`` evaluate segments). Worked by hand:

* as-of 2026-10-30 is 45 days after 2026-09-15, beyond the 30-day window: the strong warning;
* as-of 2026-09-10 is on the first usage day: the "on or before" warning;
* with every account created on 2026-09-01, at 2026-09-01 no account exists and every
  visitor belongs to one: the warning, then the error, and exit 1 where segments are
  evaluated (evaluate, tiers, alerts; ``explain`` says why instead, ``report`` shows an
  empty book, ``health`` scores the subjects it finds).

``health`` and ``backtest`` give no as-of warning on pandas (health reads no segment;
backtest's days come with its own window note), so none on the others either.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import test_subjects_health as H
from click.testing import Result

from conformance.run import run

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")

AFTER = (
    "Warning: as-of 2026-10-30 is 45 days after the latest usage (2026-09-15); no usage "
    "falls in the longest window (30 days), so nothing is active"
)
BEFORE = (
    "Warning: as-of {day} is on or before the first usage day (2026-09-10); no usage is "
    "seen before it, so nothing is active"
)
NOBODY = (
    "Error: no account or visitor exists at as-of 2026-09-01 (every one was created or "
    "first seen on or after it, or had churned before it); pick a later --as-of"
)
#: command → does it evaluate segments at the as-of day (warns, and fails on nobody)
EVALUATES = {"evaluate": True, "tiers": True, "alerts": True, "explain": None, "report": None}
QUIET = ("health", "backtest")
#: the lines under test (backtest's "as-of days before …" note is another matter)
AS_OF_LINE = re.compile(r"(Warning: as-of \d{4}-\d\d-\d\d is|Error:) ")


@pytest.fixture(scope="module")
def pandas_runs() -> dict[tuple[str, str, str], Result]:
    """pandas' result per (command, world, day), run once for every engine's comparison."""
    return {}


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """name → (definitions with tiers.yaml and alerts.yaml, data folder)."""
    root = tmp_path_factory.mktemp("as_of")
    defs, data = H.write_world(root)
    late = root / "created_late"
    late.mkdir()
    H.write_folder(late)
    accounts = pd.read_csv(late / "accounts.csv", dtype=str)
    accounts["created"] = "2026-09-01"
    accounts.to_csv(late / "accounts.csv", index=False)
    return {"subjects": (defs, data), "created_late": (defs, late)}


def command(name: str, defs: Path, data: Path, day: str, out: Path) -> list[object]:
    at = ["--data", data, "--as-of", day]
    return {
        "evaluate": ["evaluate", defs, *at, "--format", "csv"],
        "health": ["health", *at, "--format", "csv"],
        "tiers": ["tiers", defs, *at, "--format", "csv"],
        "alerts": ["alerts", defs, *at, "--format", "csv"],
        "explain": ["explain", "all_accounts", "A1", "--defs", defs, *at, "--format", "csv"],
        "report": ["report", defs, *at, "--out", out, "--weeks", 1],
        "backtest": ["backtest", defs, "--data", data, "--from", day, "--to", day],
    }[name]


#: what Spark runs (a CLI run costs it seconds, a minute under load): the checks are the
#: engine base's, shared with DuckDB, so each scenario once and each Spark-specific path
SPARK = {("evaluate", "after"), ("evaluate", "before"), ("evaluate", "nobody")}
SPARK |= {("tiers", "nobody"), ("alerts", "after"), ("explain", "after"), ("report", "before")}

CASES = [  # (case, world, as-of day, the as-of lines a segment-evaluating command prints)
    ("after", "subjects", "2026-10-30", [AFTER]),
    ("before", "subjects", "2026-09-10", [BEFORE.format(day="2026-09-10")]),
    ("nobody", "created_late", "2026-09-01", [BEFORE.format(day="2026-09-01"), NOBODY]),
]


@pytest.mark.parametrize("name", [*EVALUATES, *QUIET])
@pytest.mark.parametrize(("case", "world", "day", "lines"), CASES, ids=[c[0] for c in CASES])
def test_as_of_lines_are_the_pandas_lines(
    engine: str,
    worlds: dict[str, tuple[Path, Path]],
    pandas_runs: dict[tuple[str, str, str], Result],
    tmp_path: Path,
    name: str,
    case: str,
    world: str,
    day: str,
    lines: list[str],
) -> None:
    if engine == "spark" and (name, case) not in SPARK:
        pytest.skip("the engine base's checks: DuckDB runs this case, Spark the SPARK ones")
    defs, data = worlds[world]
    key = (name, world, day)
    if key not in pandas_runs:
        pandas_runs[key] = run("pandas", *command(name, defs, data, day, tmp_path / "pandas"))
    want = pandas_runs[key]
    said = [ln for ln in want.stderr.splitlines() if AS_OF_LINE.match(ln)]
    if name in QUIET:
        assert said == [], name
    elif EVALUATES[name]:
        assert said == lines, name
        assert want.exit_code == (1 if lines[-1] == NOBODY else 0), want.output
    else:  # explain and report warn, and say "nobody" in their own way
        assert said == lines[:1], name
    got = (
        want
        if engine == "pandas"
        else run(engine, *command(name, defs, data, day, tmp_path / engine))
    )
    assert (got.exit_code, got.stderr) == (want.exit_code, want.stderr), engine
