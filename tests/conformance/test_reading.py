"""Every engine reads the same folders the same way, and refuses a broken one in one line.

Layouts (tests/test_data_folders.py: DuckDB's and pyarrow's Hive folders, Spark's
part files made by hand, gzipped CSV parts) are written from the hand-made set, so
the members are also the hand-worked ones of tests/handmade.py.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from handmade import AS_OF, EXPECTED, frames
from test_data_folders import LAYOUTS, sample_table
from test_optional_columns import N_ACCOUNTS, SEGMENTS, WARNING, sample_with, warnings

from conformance.data import SHIPPED_DEFS, write_folder
from conformance.run import run, same_as_pandas, warnings_apart
from pendo_segments.data.dataset import Dataset
from pendo_segments.data.loaders import bundled_sample_path

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def flat(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_folder(Dataset(**frames(), source="handmade"), tmp_path_factory.mktemp("flat"))


EVALUATE = ["evaluate", SHIPPED_DEFS, "--as-of", AS_OF, "--format", "csv"]


@pytest.fixture(scope="module")
def flat_members(flat: Path) -> str:
    """pandas' evaluate of the flat folder, once for every layout and engine."""
    want = run("pandas", *EVALUATE, "--data", flat)
    assert want.exit_code == 0, want.output
    return want.stdout


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_layout_gives_the_flat_folders_members(
    engine: str, flat: Path, flat_members: str, tmp_path: Path, layout: str
) -> None:
    LAYOUTS[layout](tmp_path, flat)
    got = run(engine, *EVALUATE, "--data", tmp_path)
    assert (got.exit_code, got.stdout) == (0, flat_members), got.output
    frame = pd.read_csv(io.StringIO(got.stdout), dtype=str)
    members = {s: sorted(g["subject_id"]) for s, g in frame.groupby("segment")}
    assert {n: members.get(n, []) for n in EXPECTED} == EXPECTED


def broken(folder: Path, what: str) -> Path:
    """The hand-made folder with one defect in one file (returns that file)."""
    path = folder / ("visitors.csv" if what == "missing column" else "usage_daily.csv")
    lines = path.read_text(encoding="utf-8").splitlines()
    if what == "negative minutes":
        cells = lines[3].split(",")
        cells[2] = "-1"
        lines[3] = ",".join(cells)
    elif what == "missing column":
        lines = [",".join(line.split(",")[1:]) for line in lines]  # drops visitor_id
    else:
        path = folder / "feature_usage.csv"
        lines = [
            *path.read_text(encoding="utf-8").splitlines(),
            "2026-10-05,nobody,core_events,3,A1",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("what", ["negative minutes", "missing column", "unknown visitor"])
@pytest.mark.parametrize("command", ["evaluate", "health", "explain"])
def test_a_broken_folder_gives_the_same_one_line_error(
    engine: str, flat: Path, tmp_path: Path, command: str, what: str
) -> None:
    folder = tmp_path / "usage"
    shutil.copytree(flat, folder)
    path = broken(folder, what)
    args = {"evaluate": ["evaluate"], "health": ["health"], "explain": ["explain", "at_risk", "A1"]}
    out = same_as_pandas(engine, *args[command], "--data", folder, exit_code=1)
    errors = warnings_apart(out.stderr)[1]
    assert len(errors) == 1 and path.name in errors[0], out.stderr


def test_parts_that_differ_or_hold_no_data(engine: str, tmp_path: Path) -> None:
    """An empty table folder, parts with other columns, true/false minutes (Spark would read
    them as 1.0 / 0.0): the pandas loader's messages on every engine."""
    folder = tmp_path / "data"
    shutil.copytree(bundled_sample_path(), folder)
    (folder / "usage_daily.csv").unlink()
    parts = folder / "usage_daily"
    parts.mkdir()
    (parts / "_SUCCESS").write_bytes(b"")
    evaluate = ["evaluate", SHIPPED_DEFS, "-s", "at_risk", "--data", folder]
    out = same_as_pandas(engine, *evaluate, exit_code=1)
    assert out.stderr.endswith(
        "usage_daily/: no data files (.parquet, .csv or .csv.gz part files)\n"
    )

    table = sample_table("usage_daily")
    pq.write_table(table.slice(0, 5), parts / "part-00000.parquet")
    pq.write_table(table.slice(5).drop_columns(["account_id"]), parts / "part-00001.parquet")
    out = same_as_pandas(engine, *evaluate, exit_code=1)
    assert "usage_daily/: parts differ: column 'account_id' is in part-00000.parquet" in out.stderr

    (parts / "part-00001.parquet").unlink()
    minutes = table.schema.get_field_index("minutes")
    flags = table.set_column(minutes, "minutes", pc.greater(table.column("minutes"), 5))
    pq.write_table(flags, parts / "part-00000.parquet")
    assert pa.types.is_boolean(pq.read_schema(parts / "part-00000.parquet").field("minutes").type)
    out = same_as_pandas(engine, *evaluate, exit_code=1)
    assert "row 1, column 'minutes': 'true' is not a number" in out.stderr


def test_a_missing_optional_column_is_blank(engine: str, tmp_path: Path) -> None:
    """tests/test_optional_columns.py: a rule on a column the data lacks reads it blank,
    with one warning, on every engine."""
    absent, blank = sample_with(tmp_path, "absent"), sample_with(tmp_path, "blank")
    tiers = ["tiers", SHIPPED_DEFS, "--format", "csv"]
    expected = run("pandas", *tiers, "--data", blank)
    got = run(engine, *tiers, "--data", absent)
    assert (got.exit_code, got.stdout) == (0, expected.stdout), got.output
    assert warnings(got) == [WARNING]

    defs = tmp_path / "defs.yaml"
    defs.write_text(SEGMENTS, encoding="utf-8")
    counts = run(engine, "evaluate", defs, "--counts", "--format", "csv", "--data", absent)
    assert counts.exit_code == 0, counts.output
    assert sorted(counts.stdout.splitlines()[1:]) == [
        f"assisted,account,{N_ACCOUNTS}",
        "self_serve,account,0",
        "self_serve_visitors,visitor,0",
    ]
    assert warnings(counts) == [WARNING]


def test_lenient_drops_unknown_visitors_with_the_same_warnings(
    engine: str, flat: Path, tmp_path: Path
) -> None:
    """An orphan visitor (account 'ghost') and a usage row of an unknown one, --lenient."""
    folder = tmp_path / "usage"
    shutil.copytree(flat, folder)
    usage = folder / "feature_usage.csv"
    usage.write_text(usage.read_text() + "2026-10-05,nobody,core_events,3,A1\n")
    args = ["evaluate", SHIPPED_DEFS, "--data", folder, "--as-of", AS_OF, "--lenient"]
    out = same_as_pandas(engine, *args, "--format", "csv")
    orphan = "Warning: visitors.csv: 1 visitor of 1 account not in accounts.csv ('ghost'); "
    assert out.stderr.splitlines() == [
        orphan + "their account fields are blank",
        "Warning: feature_usage.csv: dropped 1 row of 1 unknown visitor",
    ]
