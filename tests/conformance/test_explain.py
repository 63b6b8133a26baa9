"""``explain`` on every engine: the pandas explanation, and by hand on the hand-made set."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from handmade import AS_OF, frames

from conformance.data import SHIPPED_DEFS, write_folder
from conformance.run import same_as_pandas
from pendo_segments.data.dataset import Dataset

pytestmark = [
    pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning"),
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_folder(Dataset(**frames(), source="handmade"), tmp_path_factory.mktemp("usage"))


def explain(engine: str, folder: Path, segment: str, subject: str, exit_code: int = 0):
    args = ["explain", segment, subject, "--defs", SHIPPED_DEFS, "--data", folder]
    return same_as_pandas(engine, *args, "--as-of", AS_OF, "--format", "csv", exit_code=exit_code)


#: (segment, subject) → the leaves' (value, result), worked out by hand from tests/handmade.py
BY_HAND = {
    ("at_risk", "A1"): [("1", "pass"), ("10", "pass")],  # 1 active day <= 2, 10 minutes <= 10
    ("at_risk", "A4"): [("1", "pass"), ("10.5", "fail")],  # 10-02 in, 10-01 / 11-01 out
    ("no_login_30d", "a2v2"): [("31", "pass")],  # last visit 10-01
    ("no_login_30d", "a4v1"): [("30", "fail")],  # last visit in the window: 10-02
    ("new_users", "a4v1"): [("17", "pass")],  # first visit 10-15
}


@pytest.mark.parametrize(("segment", "subject"), list(BY_HAND))
def test_explanation_is_the_hand_worked_one(
    engine: str, folder: Path, segment: str, subject: str
) -> None:
    out = explain(engine, folder, segment, subject)
    rows = pd.read_csv(io.StringIO(out.stdout), dtype=str, keep_default_na=False)
    leaves = rows[rows["depth"] != "0"]
    assert list(zip(leaves["value"], leaves["result"], strict=True)) == BY_HAND[segment, subject]


@pytest.mark.parametrize(
    ("segment", "subject"),
    [
        ("expansion_ready", "A5"),  # references healthy and smb
        ("at_risk_enterprise", "A3"),
        ("never_used_core_events", "x1"),  # a visitor whose account has no row
        ("anniversary", "x1"),
    ],
)
def test_references_and_orphans_give_the_pandas_explanation(
    engine: str, folder: Path, segment: str, subject: str
) -> None:
    explain(engine, folder, segment, subject)


@pytest.mark.parametrize(
    ("segment", "subject"),
    [("at_risk", "a1v1"), ("new_users", "A1"), ("at_risk", "A1x")],
    ids=["visitor for an account segment", "account for a visitor segment", "unknown id"],
)
def test_wrong_subjects_give_the_pandas_error(
    engine: str, folder: Path, segment: str, subject: str
) -> None:
    out = explain(engine, folder, segment, subject, exit_code=1)
    assert out.stderr.splitlines()[-1].startswith("Error: ")
