"""CSV usage tables are streamed into the evaluator's narrow columns (issue 28 #2).

The narrow load parses ``usage_daily`` / ``feature_usage`` CSV in pieces with
Arrow's streaming reader and keeps only typed columns and id codes, so the
whole table of text is never held (2.4 GiB at 1M visitors). The pieces here
are three rows, so every table spans several; expected values are written out
by hand from the text below. A problem anywhere gives the usual message:
the stream gives up and the table is read whole.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from pendo_segments.data import files, load_dataset
from pendo_segments.errors import DataError

ACCOUNTS = "account_id,name,plan,arr\nA1,Acme,Enterprise,50000\nA2,Bolt,Starter,1000\n"
VISITORS = "visitor_id,account_id\nv1,A1\nv2,A1\nv3,A2\n"
FEATURES = "feature_id,name\nf1,Export\nf2,Search\n"
USAGE = (
    "date,visitor_id,minutes,events,note\n"
    "2026-09-01,v1,1.5,3,a\n"
    "2026-09-02,v2,0,0,b\n"
    "2026-09-03,v3,2.25,7,\n"
    "2026-09-04,v1,10,1,c\n"
    "2026-09-05,v2,0.5,2,d\n"
    "2026-09-06,v3,4,40,e\n"
    "2026-09-07,v1,3,5,f\n"
)
CLICKS = (
    "date,visitor_id,feature_id,clicks\n"
    "2026-09-01,v1,f1,2\n"
    "2026-09-01,v2,f2,1\n"
    "2026-09-02,v3,f1,4\n"
    "2026-09-03,v1,f2,9\n"
)
# 2026-09-01 is day 20,697 since 1970-01-01 (56 years, 14 leap days, 243 days into 2026)
DAY_0 = 20_697


def write(folder: Path, usage: str = USAGE, gz: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (("accounts", ACCOUNTS), ("visitors", VISITORS), ("features", FEATURES)):
        (folder / f"{name}.csv").write_text(text)
    for name, text in (("usage_daily", usage), ("feature_usage", CLICKS)):
        if gz:
            (folder / f"{name}.csv.gz").write_bytes(gzip.compress(text.encode()))
        else:
            (folder / f"{name}.csv").write_text(text)
    return folder


@pytest.fixture(autouse=True)
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three rows a piece and tiny parse blocks, so every table is streamed in several."""
    monkeypatch.setattr(files, "PIECE_ROWS", 3)
    monkeypatch.setattr(files, "STREAM_BLOCK_BYTES", 40, raising=False)


@pytest.fixture
def no_whole_usage_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail if a usage table's CSV is read whole as text (the reference tables may be)."""
    whole = files.read_csv

    def read_csv(path: Path, label: str):  # type: ignore[no-untyped-def]
        assert not path.name.startswith(("usage_daily", "feature_usage")), path
        return whole(path, label)

    monkeypatch.setattr(files, "read_csv", read_csv)


def visitor_ids(ds, table) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(v) for v in table["visitor_id"]]


@pytest.mark.parametrize("gz", [False, True], ids=["csv", "csv.gz"])
def test_usage_csv_streamed_in_pieces(tmp_path: Path, no_whole_usage_text: None, gz: bool) -> None:
    ds = load_dataset(write(tmp_path / "d", gz=gz), narrow=True)
    u = ds.usage_daily
    assert list(u.columns) == ["date", "visitor_id", "minutes", "events"]  # 'note' not kept
    days = u["date"].array._pa_array.combine_chunks().cast("int32").to_numpy()
    assert days.tolist() == [DAY_0 + i for i in range(7)]
    assert u["date"].array._pa_array.num_chunks == 1  # one chunk, as the evaluator reads it
    assert visitor_ids(ds, u) == ["v1", "v2", "v3", "v1", "v2", "v3", "v1"]
    assert u["minutes"].tolist() == [1.5, 0.0, 2.25, 10.0, 0.5, 4.0, 3.0]
    assert u["events"].dtype == np.int32 and u["events"].tolist() == [3, 0, 7, 1, 2, 40, 5]
    f = ds.feature_usage
    assert visitor_ids(ds, f) == ["v1", "v2", "v3", "v1"]
    assert [str(v) for v in f["feature_id"]] == ["f1", "f2", "f1", "f2"]
    assert f["clicks"].tolist() == [2, 1, 4, 9]


def test_hive_csv_folder_streamed(tmp_path: Path, no_whole_usage_text: None) -> None:
    """Partition folders (date=…) of CSV parts: the date comes from the folder names."""
    folder = write(tmp_path / "d")
    (folder / "usage_daily.csv").unlink()
    rows = USAGE.splitlines()[1:]
    for day in ("2026-09-02", "2026-09-01"):  # parts are read in folder-name order
        part = folder / "usage_daily" / f"date={day}" / "part-0.csv"
        part.parent.mkdir(parents=True)
        mine = [r.split(",", 1)[1] for r in rows if r.startswith(day)]
        part.write_text("visitor_id,minutes,events,note\n" + "".join(m + "\n" for m in mine))
    (folder / "usage_daily" / "_SUCCESS").write_text("")
    ds = load_dataset(folder, narrow=True)
    u = ds.usage_daily
    days = u["date"].array._pa_array.combine_chunks().cast("int32").to_numpy()
    assert days.tolist() == [DAY_0, DAY_0 + 1]
    assert visitor_ids(ds, u) == ["v1", "v2"]
    assert u["minutes"].tolist() == [1.5, 0.0]


@pytest.fixture
def streams(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The labels of the CSV tables whose streaming was started."""
    started: list[str] = []
    stream = files.CsvTable.pieces

    def pieces(self, columns, rows=None):  # type: ignore[no-untyped-def]
        started.append(self.label)
        return stream(self, columns, rows)

    monkeypatch.setattr(files.CsvTable, "pieces", pieces)
    return started


def test_bad_value_in_a_later_piece_gives_the_usual_message(
    tmp_path: Path, streams: list[str]
) -> None:
    bad = USAGE.replace("2026-09-06,v3,4,40", "2026-09-06,v3,four,40")
    with pytest.raises(DataError) as err:
        load_dataset(write(tmp_path / "d", usage=bad), narrow=True)
    assert str(err.value) == (
        "usage_daily.csv: row 6 (line 7), column 'minutes': 'four' is not a number"
    )
    assert streams == ["usage_daily.csv"]  # the stream ran and gave up


def test_unknown_visitor_lenient_drops_like_the_whole_read(
    tmp_path: Path, streams: list[str]
) -> None:
    text = USAGE.replace("2026-09-05,v2,", "2026-09-05,ghost,")
    warnings: list[str] = []
    ds = load_dataset(
        write(tmp_path / "d", usage=text), narrow=True, lenient=True, warn=warnings.append
    )
    assert visitor_ids(ds, ds.usage_daily) == ["v1", "v2", "v3", "v1", "v3", "v1"]
    assert warnings == ["usage_daily.csv: dropped 1 row of 1 unknown visitor"]
    assert streams == ["usage_daily.csv", "feature_usage.csv"]  # the first gave up


def test_ragged_row_in_a_later_piece_gives_the_usual_message(
    tmp_path: Path, streams: list[str]
) -> None:
    bad = USAGE.replace("2026-09-05,v2,0.5,2,d", "2026-09-05,v2,0.5,2,d,extra")
    with pytest.raises(DataError) as err:
        load_dataset(write(tmp_path / "d", usage=bad), narrow=True)
    assert str(err.value) == "usage_daily.csv: row 5 (line 6): expected 5 columns, got 6"
    assert streams == ["usage_daily.csv"]
