"""The evaluator's narrow load: half the memory, the same members and errors.

``load_dataset(narrow=True)`` keeps usage dates as Arrow ``date32`` and
counts as int32 when they fit, and drops the usage tables' optional columns
after checking them. Members must equal the full load's (and the hand-worked
ones), in every file layout, around the window edges D−30 / D−31.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conformance.data import datasets, load_tricky_defs
from handmade import AS_OF, EXPECTED, frames
from hypothesis import HealthCheck, given, settings

from pendo_segments.data.columns import Where, narrow_int, to_days32
from pendo_segments.data.dataset import Dataset
from pendo_segments.data.loaders import dataset_from_frames, load_dataset, write_dataset
from pendo_segments.data.schema import DAY
from pendo_segments.definitions import load_definitions
from pendo_segments.errors import DataError
from pendo_segments.evaluate import evaluate
from pendo_segments.evaluate.metrics import Metrics, usage_days


def members(defs, ds: Dataset, as_of: dt.date | None = AS_OF) -> dict[str, list[str]]:
    ev = evaluate(defs, ds, as_of=as_of)
    return {name: sorted(map(str, ev.members(name))) for name in ev.masks}


@pytest.fixture(scope="module")
def shipped():
    return load_definitions("segment_defs")


@pytest.fixture(scope="module")
def handmade_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hand") / "data"
    write_dataset(Dataset(**frames()), folder, fmt="parquet")
    return folder


def test_narrow_types_and_columns(handmade_folder: Path) -> None:
    wide = load_dataset(handmade_folder, warn=lambda _m: None)
    ds = load_dataset(handmade_folder, warn=lambda _m: None, narrow=True)
    u, f = ds.usage_daily, ds.feature_usage
    assert str(u["date"].dtype) == "date32[day][pyarrow]"
    assert u["events"].dtype == np.int32 and f["clicks"].dtype == np.int32
    assert u["minutes"].dtype == np.float64  # float32 would change sums near thresholds
    assert "account_id" not in u.columns and "account_id" not in f.columns
    assert "account_id" in wide.usage_daily.columns
    # the same days as the full load, as day numbers since 1970-01-01
    expected = (wide.usage_daily["date"].to_numpy().astype("datetime64[D]")).astype(np.int64)
    assert usage_days(u["date"]).tolist() == expected.tolist()
    assert ds.default_as_of() == wide.default_as_of()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_narrow_members_equal_hand_results(tmp_path: Path, shipped, fmt: str) -> None:
    folder = tmp_path / "data"
    write_dataset(Dataset(**frames()), folder, fmt=fmt)  # type: ignore[arg-type]
    ds = load_dataset(folder, warn=lambda _m: None, narrow=True)
    assert members(shipped, ds) == {k: sorted(v) for k, v in EXPECTED.items()}


def test_window_edges_in_day_numbers() -> None:
    """Usage on D−30 is in a 30-day window, D−31 and the as-of day are not."""
    day = dt.date(2026, 11, 1)
    dates = [day - dt.timedelta(days=31), day - dt.timedelta(days=30), day]
    raw = pa.chunked_array([pa.array(dates, pa.date32())])
    series = to_days32(raw, DAY, Where("u.csv", "date"))
    days = usage_days(series)
    assert days.dtype == np.int32
    assert days.tolist() == [(d - dt.date(1970, 1, 1)).days for d in dates]
    start = (day - dt.date(1970, 1, 1)).days - 30
    assert ((days >= start) & (days < start + 30)).tolist() == [False, True, False]


@pytest.mark.parametrize(
    "raw",
    [
        pa.array(["2026-10-01", "2026-10-02"]),
        pa.array([dt.datetime(2026, 10, 1, 23, 59), dt.datetime(2026, 10, 2)], pa.timestamp("us")),
        pa.array([dt.date(2026, 10, 1), dt.date(2026, 10, 2)], pa.date64()),
    ],
)
def test_days32_from_any_layout(raw: pa.Array) -> None:
    series = to_days32(pa.chunked_array([raw]), DAY, Where("u.csv", "date"))
    assert series.tolist() == [dt.date(2026, 10, 1), dt.date(2026, 10, 2)]


def test_narrow_keeps_the_one_line_errors(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    write_dataset(Dataset(**frames()), folder, fmt="csv")
    path = folder / "usage_daily.csv"
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[2].split(",")
    cells[header.index("date")] = "2026-02-30"
    lines[2] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as wide:
        load_dataset(folder, warn=lambda _m: None)
    with pytest.raises(DataError) as narrow:
        load_dataset(folder, warn=lambda _m: None, narrow=True)
    assert str(narrow.value) == str(wide.value)
    assert "usage_daily.csv: row 2 (line 3), column 'date'" in str(narrow.value)


def test_counts_stay_int64_when_they_do_not_fit() -> None:
    big = np.array([1, 2**31], dtype=np.int64)
    assert narrow_int(big).dtype == np.int64
    assert narrow_int(np.array([0, 2**31 - 1], dtype=np.int64)).dtype == np.int32


def test_sums_accumulate_wide(tmp_path: Path) -> None:
    """Two int32 counts summing past 2**31 give the exact total."""
    folder = tmp_path / "data"
    fr = frames()
    usage = fr["usage_daily"].iloc[:2].copy()
    usage["events"] = [2**31 - 1, 2**31 - 1]
    usage["date"] = pd.Timestamp("2026-10-20")
    fr["usage_daily"] = usage
    write_dataset(Dataset(**fr), folder, fmt="parquet")
    ds = load_dataset(folder, warn=lambda _m: None, narrow=True)
    assert ds.usage_daily["events"].dtype == np.int32
    visitor = str(usage["visitor_id"].iloc[0])
    got = Metrics(ds, AS_OF).metric("visitor", "events", 30)
    index = list(ds.visitors["visitor_id"].astype(str)).index(visitor)
    same = usage["visitor_id"].astype(str).eq(visitor).sum()
    assert got[index] == same * (2**31 - 1)


@pytest.fixture(scope="module")
def defs(tmp_path_factory: pytest.TempPathFactory):
    return load_tricky_defs(tmp_path_factory.mktemp("defs"))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ds=datasets())
def test_narrow_members_equal_full_load_on_boundary_sets(
    defs, ds: Dataset, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("boundary") / "data"
    write_dataset(ds, folder, fmt="parquet")
    wide = load_dataset(folder, warn=lambda _m: None)
    narrow = load_dataset(folder, warn=lambda _m: None, narrow=True)
    assert members(defs, narrow, None) == members(defs, wide, None)
    assert members(defs, narrow) == members(defs, wide)


def test_parquet_from_another_writer(tmp_path: Path, shipped) -> None:
    """pyarrow-written files with timestamp dates and int64 counts, many row groups."""
    folder = tmp_path / "data"
    write_dataset(Dataset(**frames()), folder, fmt="parquet")
    table = pq.read_table(folder / "usage_daily.parquet")
    i = table.schema.get_field_index("date")
    table = table.set_column(i, "date", table.column("date").cast(pa.timestamp("ms")))
    pq.write_table(table, folder / "usage_daily.parquet", row_group_size=3)
    ds = load_dataset(folder, warn=lambda _m: None, narrow=True)
    assert members(shipped, ds) == {k: sorted(v) for k, v in EXPECTED.items()}


@pytest.mark.parametrize("values", [["b", "a", "c", "a"], ["x", None, "y", None]])
def test_sorted_repeat_check_finds_what_pandas_finds(values: list[str | None]) -> None:
    from pendo_segments.data.references import _has_repeat

    assert _has_repeat(pa.array(values, pa.string()))
    assert not _has_repeat(pa.array(["b", "a", "c", None], pa.string()))


def test_big_id_column_with_a_repeat_names_both_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    from pendo_segments.data import references

    monkeypatch.setattr(references, "SORT_CHECK_ROWS", 2)
    ids = pd.Series(["v3", "v1", "v2", "v1"], dtype="str")
    with pytest.raises(
        DataError, match=r"row 4, column 'visitor_id': duplicate id 'v1' \(first at row 2\)"
    ):
        references.check_unique(ids, Where("visitors.csv", "visitor_id"))
    references.check_unique(pd.Series(["v3", "v1", "v2"], dtype="str"), Where("v", "visitor_id"))


def test_metrics_in_small_pieces_equal_one_piece(
    handmade_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sums and distinct days done a few rows at a time give the one-piece values."""
    from pendo_segments.evaluate import metrics as metrics_module

    ds = load_dataset(handmade_folder, warn=lambda _m: None, narrow=True)
    wanted = [
        (subject, name, 30, feature)
        for subject in ("account", "visitor")
        for name, feature in [
            ("active_days", None),
            ("minutes", None),
            ("events", None),
            ("feature_clicks", str(ds.features["feature_id"].iloc[0])),
        ]
    ]
    whole = Metrics(ds, AS_OF)
    expected = [whole.metric(*key).tolist() for key in wanted]
    monkeypatch.setattr(metrics_module, "SUM_PIECE_ROWS", 2)
    monkeypatch.setattr(metrics_module, "_BITMAP_LIMIT", 0)  # the np.unique path too
    pieces = Metrics(ds, AS_OF)
    assert [pieces.metric(*key).tolist() for key in wanted] == expected
    assert any(sum(v) for v in expected)


def test_float_sums_in_pieces_keep_the_row_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """(1e16 + 1) + 1 is 1e16 but 1e16 + (1 + 1) is 1e16 + 2: pieces must not regroup."""
    from pendo_segments.evaluate import metrics as metrics_module

    minutes = [1e16, 1.0, 1.0, 1.0, 1.0, 2.5]
    usage = pd.DataFrame(
        {
            "date": [dt.date(2026, 10, 20)] * 6,
            "visitor_id": ["v1", "v1", "v1", "v1", "v1", "v2"],
            "minutes": minutes,
            "events": [1] * 6,
        }
    )
    ds = dataset_from_frames(
        {
            "accounts": pd.DataFrame({"account_id": ["a1"], "arr": [1.0], "plan": ["p"]}),
            "visitors": pd.DataFrame({"visitor_id": ["v1", "v2"], "account_id": ["a1", "a1"]}),
            "features": pd.DataFrame({"feature_id": ["f"], "name": ["F"]}),
            "usage_daily": usage,
            "feature_usage": pd.DataFrame(columns=["date", "visitor_id", "feature_id", "clicks"]),
        }
    )
    in_order = np.bincount([0, 0, 0, 0, 0, 1], weights=minutes)  # one pass, row order
    assert in_order[0] == 1e16  # each 1.0 is lost against 1e16, one at a time
    monkeypatch.setattr(metrics_module, "SUM_PIECE_ROWS", 2)
    m = Metrics(ds, AS_OF)
    assert m.metric("visitor", "minutes", 30).tolist() == in_order.tolist()
    account = np.bincount([0] * 6, weights=minutes)
    assert account[0] == 1e16 + 2  # 1e16, then + 2.5 rounds to the even neighbour
    assert m.metric("account", "minutes", 30).tolist() == account.tolist()
