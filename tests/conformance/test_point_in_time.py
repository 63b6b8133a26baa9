"""Who exists at the as-of day (docs/semantics.md §2b) on every engine, worked out by hand.

The data and expectations are tests/test_subjects.py's and tests/test_subjects_health.py's
(as-of D = 2026-09-14: created / churned / first seen on D−1, D and after D).
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pandas as pd
import pytest
import test_subjects as T
import test_subjects_health as H

from conformance.run import same_as_pandas

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(definitions with tiers.yaml and alerts.yaml, data folder with NPS and tickets)."""
    return H.write_world(tmp_path_factory.mktemp("subjects"))


def csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


def test_members_of_subjects_only(engine: str, world: tuple[Path, Path]) -> None:
    defs, data = world
    out = same_as_pandas(
        engine, "evaluate", defs, "--data", data, "--as-of", T.D, "--format", "csv"
    )
    frame = csv(out.stdout)
    got = {s: sorted(g["subject_id"]) for s, g in frame.groupby("segment")}
    assert {n: got.get(n, []) for n in T.EXPECTED} == T.EXPECTED


def test_health_tiers_and_alerts_of_subject_accounts(engine: str, world: tuple[Path, Path]) -> None:
    defs, data = world
    day = ["--data", data, "--as-of", T.D, "--format", "csv"]
    health = csv(same_as_pandas(engine, "health", *day).stdout)
    assert (
        dict(zip(health["account_id"], health["health_score"].astype(float), strict=True))
        == H.HEALTH
    )
    tiers = csv(same_as_pandas(engine, "tiers", defs, *day).stdout)
    assert dict(zip(tiers["account_id"], tiers["tier"], strict=True)) == H.TIERS


def test_alerts_of_subject_accounts(engine: str, world: tuple[Path, Path]) -> None:
    """A1's ticket raises the alert; A4's (churned D−1, not a subject) does not."""
    defs, data = world
    out = same_as_pandas(engine, "alerts", defs, "--data", data, "--as-of", T.D, "--format", "csv")
    assert list(csv(out.stdout)["account_id"]) == ["A1"]


@pytest.mark.parametrize(
    ("subject", "segment", "why"),
    [
        ("a3", "all_visitors", "not a subject at 2026-09-14: first seen 2026-09-20"),
        ("A3", "all_accounts", "not a subject at 2026-09-14: created 2026-09-14"),
        ("A4", "all_accounts", "not a subject at 2026-09-14: churned 2026-09-13"),
    ],
)
def test_explain_says_why_not_a_subject(
    engine: str, world: tuple[Path, Path], subject: str, segment: str, why: str
) -> None:
    defs, data = world
    args = ["explain", segment, subject, "--defs", defs, "--data", data, "--as-of", T.D]
    out = same_as_pandas(engine, *args, "--format", "table")
    assert why in " ".join(out.stdout.split())  # the table wraps long lines


@pytest.fixture(scope="module")
def evaluate_counts(world: tuple[Path, Path]) -> dict[str, dict[tuple[str, str], int]]:
    """pandas ``evaluate --counts`` on every day D−3 … D+3, once for every engine's case."""
    defs, data = world
    out = {}
    for offset in range(-3, 4):
        as_of = T.D + dt.timedelta(days=offset)
        counts = csv(
            same_as_pandas(
                "pandas", "evaluate", defs, "--data", data, "--as-of", as_of, "--counts"
            ).stdout
        )
        day = as_of.isoformat()
        out[day] = {(day, r.segment): int(r.members) for r in counts.itertuples()}
    return out


def test_backtest_day_counts_across_the_edges(
    engine: str, world: tuple[Path, Path], evaluate_counts: dict[str, dict]
) -> None:
    """Every day D−3 … D+3: ``evaluate``'s counts (and on D the hand-worked ones)."""
    defs, data = world
    start, end = T.D - dt.timedelta(days=3), T.D + dt.timedelta(days=3)
    args = ["backtest", defs, "--data", data, "--from", start, "--to", end, "--every", "1"]
    sizes = csv(same_as_pandas(engine, *args, "--format", "csv").stdout)
    got = {(r.as_of, r.segment): int(r.members) for r in sizes.itertuples()}
    assert len(evaluate_counts) == 7
    for as_of, want in evaluate_counts.items():
        assert {k: got[k] for k in want} == want, as_of
    assert {n: got[T.D.isoformat(), n] for n in T.EXPECTED} == {
        n: len(ids) for n, ids in T.EXPECTED.items()
    }
