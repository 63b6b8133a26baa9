"""``sync plan`` on every engine: the same plan against the fake Pendo holding the hand-made set."""

from __future__ import annotations

from pathlib import Path

import pytest
from handmade import AS_OF, frames

from conformance.data import SHIPPED_DEFS, write_folder
from conformance.run import same_as_pandas
from pendo_segments.data.dataset import Dataset

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")


def test_plan_is_the_pandas_plan(engine: str, handmade_pendo, pendo_env, tmp_path: Path) -> None:  # noqa: ANN001
    folder = write_folder(Dataset(**frames(), source="handmade"), tmp_path / "usage")
    args = ["sync", "plan", SHIPPED_DEFS, "--data", folder, "--as-of", AS_OF, "--format", "json"]
    out = same_as_pandas(engine, *args, "--out", tmp_path / f"{engine}.json", exit_code=3)
    assert '"at_risk"' in out.stdout  # exit 3: changes to apply, every segment is new
