"""Loading a usage data folder (docs/semantics.md §1): types, errors, Parquet, writing.

Expected values are written out by hand from the tiny CSV texts below.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from pendo_segments.data import Dataset, dataset_from_frames, load_dataset, write_dataset
from pendo_segments.errors import DataError

GOOD = {
    "accounts": (
        "account_id,arr,plan,name,contract_start,seats,self_service,crm_id,region,tier_rank,ratio,"
        "signed,vip,zip\n"
        '00123,15000,Starter,"Acme, Inc.",2021-11-03,5,yes,0015e00000AbCdE,NA,3,0.5,'
        "2020-01-01,TRUE,01234\n"
        "a2,250000.5,Enterprise,Beta,,,No,,EMEA,1,2,2021-02-03,false,99999\n"
        "a3,,Growth,Gamma,2024-02-29,40,1,,APAC,,,,,\n"
    ),
    "visitors": (
        "visitor_id,account_id,language,first_visit,email\n"
        "v1,00123,en,2024-01-01,v1@acme.example\n"
        "v2,a2,ja,,\n"
        "v3,trial-9,en,2026-10-01,\n"
        "v4,,de,,\n"
    ),
    "usage_daily": (
        "date,visitor_id,minutes,events\n"
        "2026-10-01,v1,12.5,3\n"
        "2026-10-02,v2,0,4\n"
        "2026-10-03,v3,1,0\n"
    ),
    "feature_usage": (
        "date,visitor_id,feature_id,clicks\n2026-10-01,v1,core_events,2\n2026-10-02,v2,exports,1\n"
    ),
    "features": (
        "feature_id,name,key,app_id\n"
        "exports,Exports,false,-323232\n"
        "core_events,Core events,true,-323232\n"
        "reports,Reports,TRUE,5668600916475904\n"
    ),
    "nps": 'date,visitor_id,score,comment\n2026-10-01,v2,9,"Great, really"\n',
    "tickets": "opened_on,account_id,priority\n2026-09-30,a2,high\n",
    "outcomes": "account_id,churned,as_of\n00123,false,2026-11-01\na2,true,2026-11-01\n",
}


def make_folder(root: Path, **changes: str | None) -> Path:
    """The GOOD folder with some files replaced (text) or left out (None)."""
    folder = root / "data"
    folder.mkdir(parents=True)
    for name, text in {**GOOD, **changes}.items():
        if text is not None:
            (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return folder


def load_error(tmp_path: Path, lenient: bool = False, **changes: str | None) -> str:
    with pytest.raises(DataError) as err:
        load_dataset(make_folder(tmp_path, **changes), lenient=lenient)
    return str(err.value)


def is_text(series: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(series.dtype) and series.dtype != object


# -- happy path ---------------------------------------------------------------


def test_types_are_canonical(tmp_path: Path) -> None:
    ds = load_dataset(make_folder(tmp_path))
    acc = ds.accounts
    assert is_text(acc["account_id"]) and is_text(acc["plan"]) and is_text(acc["crm_id"])
    assert acc["account_id"].tolist() == ["00123", "a2", "a3"]  # leading zeros kept
    assert acc["arr"].dtype == np.float64
    assert acc["arr"].iloc[:2].tolist() == [15000.0, 250000.5] and np.isnan(acc["arr"].iloc[2])
    assert acc["name"].iloc[0] == "Acme, Inc."
    assert acc["seats"].dtype == "Int64" and acc["seats"].isna().tolist() == [False, True, False]
    assert acc["self_service"].dtype == "boolean"
    assert acc["self_service"].tolist() == [True, False, True]
    assert acc["contract_start"].dtype.kind == "M"
    assert acc["contract_start"].iloc[0] == pd.Timestamp("2021-11-03")
    assert pd.isna(acc["contract_start"].iloc[1])
    assert acc["crm_id"].isna().tolist() == [False, True, True]

    usage = ds.usage_daily
    assert usage["date"].dtype.kind == "M"
    assert usage["minutes"].dtype == np.float64 and usage["events"].dtype == np.int64
    for column in ("visitor_id", "account_id"):
        assert isinstance(usage[column].dtype, pd.CategoricalDtype)
    assert ds.feature_usage["feature_id"].dtype == "category"
    assert ds.feature_usage["clicks"].dtype == np.int64
    assert ds.nps["score"].dtype == np.int64
    assert ds.features["key"].dtype == "boolean" and is_text(ds.features["app_id"])
    assert ds.features["app_id"].tolist() == ["-323232", "-323232", "5668600916475904"]
    assert ds.outcomes["churned"].tolist() == [False, True]
    assert ds.tickets["opened_on"].iloc[0] == pd.Timestamp("2026-09-30")
    assert ds.source == str(tmp_path / "data")


def test_extra_columns_are_kept_and_typed(tmp_path: Path) -> None:
    acc = load_dataset(make_folder(tmp_path)).accounts
    assert acc["region"].tolist() == ["NA", "EMEA", "APAC"]  # "NA" is text, not missing
    assert acc["tier_rank"].dtype == "Int64" and acc["tier_rank"].tolist()[:2] == [3, 1]
    assert acc["ratio"].dtype == np.float64 and acc["ratio"].tolist()[:2] == [0.5, 2.0]
    assert acc["signed"].dtype.kind == "M" and acc["signed"].iloc[1] == pd.Timestamp("2021-02-03")
    assert acc["vip"].dtype == "boolean" and acc["vip"].tolist()[:2] == [True, False]
    assert is_text(acc["zip"]) and acc["zip"].tolist()[:2] == ["01234", "99999"]


def test_all_integer_extra_column_without_blanks_is_int64(tmp_path: Path) -> None:
    features = "feature_id,name,weight\nf1,F1,3\nf2,F2,-4\n"
    usage = "date,visitor_id,minutes,events\n2026-10-01,v1,1,1\n"
    ds = load_dataset(
        make_folder(
            tmp_path,
            features=features,
            usage_daily=usage,
            feature_usage="date,visitor_id,feature_id,clicks\n",
        )
    )
    assert ds.features["weight"].dtype == np.int64
    assert ds.features["weight"].tolist() == [3, -4]
    assert len(ds.feature_usage) == 0 and ds.feature_usage["clicks"].dtype == np.int64


def test_account_id_is_filled_from_visitors(tmp_path: Path) -> None:
    ds = load_dataset(make_folder(tmp_path))
    assert ds.usage_daily["account_id"].astype(str).tolist() == ["00123", "a2", "trial-9"]
    assert ds.feature_usage["account_id"].astype(str).tolist() == ["00123", "a2"]
    assert ds.nps["account_id"].tolist() == ["a2"]


def test_usage_codes_index_the_reference_tables(tmp_path: Path) -> None:
    ds = load_dataset(make_folder(tmp_path))
    usage = ds.usage_daily
    assert list(usage["visitor_id"].cat.categories) == ["v1", "v2", "v3", "v4"]
    assert usage["visitor_id"].cat.codes.tolist() == [0, 1, 2]
    # accounts first (file order), then accounts only visitors know
    assert list(usage["account_id"].cat.categories) == ["00123", "a2", "a3", "trial-9"]
    features = ds.feature_usage["feature_id"].cat.categories
    assert list(features) == ["exports", "core_events", "reports"]


def test_usage_account_id_column_wins_and_blank_falls_back(tmp_path: Path) -> None:
    usage = (
        "date,visitor_id,minutes,events,account_id\n"
        "2026-10-01,v1,1,1,a3\n2026-10-02,v2,1,1,\n2026-10-02,v4,1,1,elsewhere\n"
    )
    ds = load_dataset(make_folder(tmp_path, usage_daily=usage))
    assert ds.usage_daily["account_id"].astype(str).tolist() == ["a3", "a2", "elsewhere"]


def test_visitor_without_account_has_missing_account(tmp_path: Path) -> None:
    usage = "date,visitor_id,minutes,events\n2026-10-01,v4,1,1\n"
    ds = load_dataset(make_folder(tmp_path, usage_daily=usage))
    assert ds.usage_daily["account_id"].isna().tolist() == [True]
    assert ds.visitors["account_id"].isna().tolist() == [False, False, False, True]


def test_default_as_of_and_key_features(tmp_path: Path) -> None:
    ds = load_dataset(make_folder(tmp_path))
    assert ds.default_as_of() == dt.date(2026, 10, 4)
    assert ds.key_features() == ["core_events", "reports"]


def test_default_as_of_without_usage_is_an_error(tmp_path: Path) -> None:
    ds = load_dataset(make_folder(tmp_path, usage_daily="date,visitor_id,minutes,events\n"))
    with pytest.raises(DataError, match="usage_daily has no rows, so there is no default as-of"):
        ds.default_as_of()


def test_optional_files_and_columns_may_be_absent(tmp_path: Path) -> None:
    ds = load_dataset(
        make_folder(
            tmp_path,
            nps=None,
            tickets=None,
            outcomes=None,
            features="feature_id,name\ncore_events,Core\nexports,Exports\n",
        )
    )
    assert ds.nps is None and ds.tickets is None and ds.outcomes is None
    assert ds.key_features() == []
    assert list(ds.features.columns) == ["feature_id", "name"]


def test_loading_writes_nothing(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    before = sorted((p.name, p.stat().st_mtime_ns) for p in tmp_path.rglob("*"))
    load_dataset(folder)
    assert sorted((p.name, p.stat().st_mtime_ns) for p in tmp_path.rglob("*")) == before


# -- errors: one per kind, exact text ----------------------------------------

USAGE_HEAD = "date,visitor_id,minutes,events\n"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"usage_daily": USAGE_HEAD + "2026-10-01,v1,1,1\n2026-13-01,v1,1,1\n"},
            "usage_daily.csv: row 2 (line 3), column 'date': '2026-13-01' is not a date (YYYY-MM-DD)",
        ),
        (
            {"usage_daily": USAGE_HEAD + "2026-02-30,v1,1,1\n"},
            "usage_daily.csv: row 1 (line 2), column 'date': '2026-02-30' is not a date (YYYY-MM-DD)",
        ),
        (
            {"usage_daily": USAGE_HEAD + "2026-10-01,v1,1,1\n10/02/2026,v1,1,1\n"},
            "usage_daily.csv: row 2 (line 3), column 'date': '10/02/2026' is not a date (YYYY-MM-DD)",
        ),
        (
            {"visitors": "visitor_id,account_id,first_visit\nv1,00123,2024-1-5\n"},
            "visitors.csv: row 1 (line 2), column 'first_visit': '2024-1-5' is not a date (YYYY-MM-DD)",
        ),
        (
            {"accounts": 'account_id,arr,plan\na1,"15,000",Starter\n'},
            "accounts.csv: row 1 (line 2), column 'arr': '15,000' is not a number",
        ),
        (
            {"usage_daily": USAGE_HEAD + "2026-10-01,v1,1,1\n2026-10-01,v2,ten,1\n"},
            "usage_daily.csv: row 2 (line 3), column 'minutes': 'ten' is not a number",
        ),
        (
            {"usage_daily": USAGE_HEAD + "2026-10-01,v1,nan,1\n"},
            "usage_daily.csv: row 1 (line 2), column 'minutes': 'nan' is not a number",
        ),
        (
            {
                "usage_daily": USAGE_HEAD
                + "2026-10-01,v1,1,1\n2026-10-02,v1,2,1\n2026-10-03,v1,-1.5,1\n"
            },
            "usage_daily.csv: row 3 (line 4), column 'minutes': '-1.5' is negative",
        ),
        (
            {"usage_daily": USAGE_HEAD + "2026-10-01,v1,1,2.5\n"},
            "usage_daily.csv: row 1 (line 2), column 'events': '2.5' is not a non-negative integer",
        ),
        (
            {"usage_daily": USAGE_HEAD + "2026-10-01,v1,1,3\n2026-10-02,v1,1,-2\n"},
            "usage_daily.csv: row 2 (line 3), column 'events': '-2' is not a non-negative integer",
        ),
        (
            {"feature_usage": "date,visitor_id,feature_id,clicks\n2026-10-01,v1,exports,many\n"},
            "feature_usage.csv: row 1 (line 2), column 'clicks': 'many' is not a non-negative integer",
        ),
        (
            {"nps": "date,visitor_id,score\n2026-10-01,v1,10\n2026-10-01,v2,11\n"},
            "nps.csv: row 2 (line 3), column 'score': '11' is not an integer from 0 to 10",
        ),
        (
            {"accounts": "account_id,arr,plan,self_service\na1,1,Starter,maybe\n"},
            "accounts.csv: row 1 (line 2), column 'self_service': 'maybe' is not true/false",
        ),
        (
            {"accounts": "account_id,arr,plan,seats\na1,1,Starter,-3\n"},
            "accounts.csv: row 1 (line 2), column 'seats': '-3' is not a non-negative integer",
        ),
        (
            {"usage_daily": "date,visitor_id,events\n2026-10-01,v1,1\n"},
            "usage_daily.csv: missing required column 'minutes'",
        ),
        (
            {"accounts": "account_id,plan\na1,Starter\n"},
            "accounts.csv: missing required column 'arr'",
        ),
        (
            {"accounts": "account_id,arr,plan\na1,1,Starter\na2,2,Growth\na1,3,Growth\n"},
            "accounts.csv: row 3 (line 4), column 'account_id': duplicate id 'a1' (first at row 1 (line 2))",
        ),
        (
            {"visitors": "visitor_id,account_id\nv1,00123\nv2,a2\nv3,a2\nv2,a2\n"},
            "visitors.csv: row 4 (line 5), column 'visitor_id': duplicate id 'v2' (first at row 2 (line 3))",
        ),
        (
            {"features": "feature_id,name\nf1,A\nf1,B\n"},
            "features.csv: row 2 (line 3), column 'feature_id': duplicate id 'f1' (first at row 1 (line 2))",
        ),
        (
            {"visitors": "visitor_id,account_id\nv1,00123\n,a2\n"},
            "visitors.csv: row 2 (line 3), column 'visitor_id': required value is blank",
        ),
        (
            {"usage_daily": USAGE_HEAD + "2026-10-01,v1,1,1\n2026-10-01,,1,1\n"},
            "usage_daily.csv: row 2 (line 3), column 'visitor_id': required value is blank",
        ),
        (
            {"usage_daily": USAGE_HEAD + "2026-10-01,v1,,1\n"},
            "usage_daily.csv: row 1 (line 2), column 'minutes': required value is blank",
        ),
        (
            {
                "usage_daily": USAGE_HEAD + "2026-10-01,v1,1,1\n2026-10-01,ghost,1,1\n"
                "2026-10-02,ghost,1,1\n"
            },
            "usage_daily.csv: row 2 (line 3), column 'visitor_id': unknown visitor 'ghost' "
            "(2 rows of 1 unknown visitor; --lenient drops them)",
        ),
        (
            {
                "feature_usage": "date,visitor_id,feature_id,clicks\n"
                "2026-10-01,v1,nope,1\n2026-10-01,v1,gone,1\n"
            },
            "feature_usage.csv: row 1 (line 2), column 'feature_id': unknown feature 'nope' "
            "(2 rows of 2 unknown features; --lenient drops them)",
        ),
        (
            {"nps": "date,visitor_id,score\n2026-10-01,v9,5\n"},
            "nps.csv: row 1 (line 2), column 'visitor_id': unknown visitor 'v9' "
            "(1 row of 1 unknown visitor; --lenient drops them)",
        ),
        (
            {"accounts": "account_id,arr,plan,arr\na1,1,Starter,2\n"},
            "accounts.csv: column 'arr' appears twice in the header",
        ),
        ({"features": ""}, "features.csv: file is empty (expected a header row)"),
    ],
)
def test_bad_input_names_file_row_and_column(
    tmp_path: Path, changes: dict[str, str], message: str
) -> None:
    assert load_error(tmp_path, **changes) == message


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        load_dataset(tmp_path / "nowhere")
    assert str(err.value) == f"{tmp_path / 'nowhere'}: data folder not found"


def test_missing_required_file(tmp_path: Path) -> None:
    assert (
        load_error(tmp_path, features=None)
        == f"{tmp_path / 'data'}: missing features.csv (or features.parquet, or a folder "
        "features/ of part files)"
    )


def test_csv_and_parquet_of_one_table_is_ambiguous(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    pq.write_table(pa.table({"feature_id": ["f"], "name": ["F"]}), folder / "features.parquet")
    with pytest.raises(DataError) as err:
        load_dataset(folder)
    assert str(err.value) == f"{folder}: both features.csv and features.parquet exist; keep one"


def test_ragged_csv_row_is_a_data_error(tmp_path: Path) -> None:
    usage = USAGE_HEAD + "2026-10-01,v1,1,1\n\n2026-10-01,v1,1,1,extra\n"
    message = load_error(tmp_path, usage_daily=usage)
    # the blank line is skipped: data row 2 is file line 4
    assert message == "usage_daily.csv: row 2 (line 4): expected 4 columns, got 5"


def test_lenient_drops_unknown_visitors_and_features_with_a_warning(tmp_path: Path) -> None:
    usage = (
        USAGE_HEAD + "2026-10-01,v1,1,1\n2026-10-01,ghost,1,1\n2026-10-02,ghost,2,2\n"
        "2026-10-02,spook,1,1\n2026-10-03,v2,5,5\n"
    )
    clicks = (
        "date,visitor_id,feature_id,clicks\n2026-10-01,v1,core_events,1\n"
        "2026-10-01,ghost,core_events,1\n2026-10-01,v2,nope,4\n"
    )
    warnings: list[str] = []
    ds = load_dataset(
        make_folder(tmp_path, usage_daily=usage, feature_usage=clicks),
        lenient=True,
        warn=warnings.append,
    )
    assert warnings == [
        "visitors.csv: 1 visitor of 1 account not in accounts.csv ('trial-9'); "
        "their account fields are blank",
        "usage_daily.csv: dropped 3 rows of 2 unknown visitors",
        "feature_usage.csv: dropped 1 row of 1 unknown visitor",
        "feature_usage.csv: dropped 1 row of 1 unknown feature",
    ]
    assert ds.usage_daily["visitor_id"].astype(str).tolist() == ["v1", "v2"]
    assert ds.usage_daily["minutes"].tolist() == [1.0, 5.0]
    assert ds.usage_daily.index.tolist() == [0, 1]
    assert ds.feature_usage["visitor_id"].astype(str).tolist() == ["v1"]


def test_lenient_does_not_excuse_malformed_values(tmp_path: Path) -> None:
    assert (
        load_error(tmp_path, lenient=True, usage_daily=USAGE_HEAD + "2026-10-01,v1,-1,1\n")
        == "usage_daily.csv: row 1 (line 2), column 'minutes': '-1' is negative"
    )


# -- Parquet --------------------------------------------------------------------


def _as_parquet(folder: Path, names: list[str] | None = None) -> None:
    """Convert CSV files to Parquet keeping every column as text."""
    for csv_path in sorted(folder.glob("*.csv")):
        if names is None or csv_path.stem in names:
            header = csv_path.read_text(encoding="utf-8").splitlines()[0].split(",")
            table = pacsv.read_csv(
                csv_path,
                convert_options=pacsv.ConvertOptions(
                    column_types={c: pa.string() for c in header},
                    null_values=[""],
                    strings_can_be_null=True,
                ),
            )
            pq.write_table(table, csv_path.with_suffix(".parquet"))
            csv_path.unlink()


def assert_same(a: Dataset, b: Dataset) -> None:
    assert a.tables().keys() == b.tables().keys()
    for name, frame in a.tables().items():
        pd.testing.assert_frame_equal(frame, b.tables()[name], check_exact=True, obj=name)


def test_parquet_with_text_columns_equals_csv(tmp_path: Path) -> None:
    from_csv = load_dataset(make_folder(tmp_path / "a"))
    folder = make_folder(tmp_path / "b")
    _as_parquet(folder)
    assert sorted(p.name for p in folder.iterdir())[0] == "accounts.parquet"
    assert_same(from_csv, load_dataset(folder))


def test_parquet_with_native_types_equals_csv(tmp_path: Path) -> None:
    ds = load_dataset(make_folder(tmp_path))
    write_dataset(ds, tmp_path / "pq", fmt="parquet")
    assert sorted(p.suffix for p in (tmp_path / "pq").iterdir()) == [".parquet"] * 8
    assert_same(ds, load_dataset(tmp_path / "pq"))


def test_parquet_errors_name_row_and_value(tmp_path: Path) -> None:
    folder = tmp_path / "pq"
    folder.mkdir()
    for name in ("accounts", "visitors", "features", "feature_usage"):
        (folder / f"{name}.csv").write_text(GOOD[name], encoding="utf-8")
    pq.write_table(
        pa.table(
            {
                "date": pa.array([dt.date(2026, 10, 1), dt.date(2026, 10, 2)]),
                "visitor_id": ["v1", "v2"],
                "minutes": [1.0, -2.0],
                "events": [1, 1],
            }
        ),
        folder / "usage_daily.parquet",
    )
    with pytest.raises(DataError) as err:
        load_dataset(folder)
    assert str(err.value) == "usage_daily.parquet: row 2, column 'minutes': -2.0 is negative"


def test_parquet_text_number_is_parsed_and_checked(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    (folder / "usage_daily.csv").write_text(USAGE_HEAD + "2026-10-01,v1,1.5,2\n2026-10-02,v1,2,x\n")
    _as_parquet(folder, ["usage_daily"])
    with pytest.raises(DataError) as err:
        load_dataset(folder)
    assert str(err.value) == (
        "usage_daily.parquet: row 2, column 'events': 'x' is not a non-negative integer"
    )


def test_parquet_timestamps_become_utc_days(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    (folder / "usage_daily.csv").unlink()
    stamps = pa.array(
        [pd.Timestamp("2026-10-01T23:30", tz="America/New_York")],
        type=pa.timestamp("ms", tz="America/New_York"),
    )
    pq.write_table(
        pa.table(
            {
                "date": stamps,
                "visitor_id": ["v1"],
                "minutes": [1.0],
                "events": pa.array([3], pa.int32()),
            }
        ),
        folder / "usage_daily.parquet",
    )
    usage = load_dataset(folder).usage_daily
    assert usage["date"].tolist() == [pd.Timestamp("2026-10-02")]  # 03:30 UTC next day
    assert usage["events"].dtype == np.int64


# -- in-memory frames (Pendo loader, generator) ---------------------------------


def test_dataset_from_frames_uses_the_same_checks(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    frames = {
        name: pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False).replace(
            "", None
        )
        for name in ("accounts", "visitors", "features", "usage_daily", "feature_usage")
    }
    ds = dataset_from_frames(frames, source="pendo")
    assert ds.source == "pendo" and ds.nps is None
    assert ds.usage_daily["account_id"].astype(str).tolist() == ["00123", "a2", "trial-9"]
    frames["usage_daily"].loc[1, "visitor_id"] = "ghost"
    with pytest.raises(DataError) as err:
        dataset_from_frames(frames)
    assert str(err.value) == (
        "usage_daily: row 2, column 'visitor_id': unknown visitor 'ghost' "
        "(1 row of 1 unknown visitor; --lenient drops them)"
    )


# -- writing ------------------------------------------------------------------


def test_write_dataset_round_trips_csv(tmp_path: Path) -> None:
    ds = load_dataset(make_folder(tmp_path))
    write_dataset(ds, tmp_path / "out")
    assert_same(ds, load_dataset(tmp_path / "out"))


def test_write_dataset_csv_format(tmp_path: Path) -> None:
    ds = load_dataset(make_folder(tmp_path))
    write_dataset(ds, tmp_path / "out")
    accounts = (tmp_path / "out" / "accounts.csv").read_text(encoding="utf-8").splitlines()
    assert accounts[0] == (
        "account_id,arr,plan,name,contract_start,seats,self_service,crm_id,"
        "region,tier_rank,ratio,signed,vip,zip"
    )
    assert accounts[1] == (
        '00123,15000,Starter,"Acme, Inc.",2021-11-03,5,true,0015e00000AbCdE,'
        "NA,3,0.5,2020-01-01,true,01234"
    )
    assert accounts[3] == "a3,,Growth,Gamma,2024-02-29,40,true,,APAC,,,,,"
    usage = (tmp_path / "out" / "usage_daily.csv").read_text(encoding="utf-8")
    assert usage == (
        "date,visitor_id,account_id,minutes,events\n"
        "2026-10-01,v1,00123,12.5,3\n2026-10-02,v2,a2,0,4\n2026-10-03,v3,trial-9,1,0\n"
    )
    nps = (tmp_path / "out" / "nps.csv").read_text(encoding="utf-8")
    assert nps == 'date,visitor_id,account_id,score,comment\n2026-10-01,v2,a2,9,"Great, really"\n'


def test_write_dataset_quotes_quotes_and_newlines(tmp_path: Path) -> None:
    ds = load_dataset(make_folder(tmp_path))
    ds.nps.loc[0, "comment"] = 'Said "wow"\nthen left'
    write_dataset(ds, tmp_path / "out")
    text = (tmp_path / "out" / "nps.csv").read_text(encoding="utf-8")
    assert text.endswith(',"Said ""wow""\nthen left"\n')
    assert load_dataset(tmp_path / "out").nps["comment"].tolist() == ['Said "wow"\nthen left']


def test_write_dataset_replaces_a_data_folder_but_not_other_folders(tmp_path: Path) -> None:
    ds = load_dataset(make_folder(tmp_path))
    out = tmp_path / "out"
    write_dataset(ds, out, fmt="parquet")
    write_dataset(ds, out)  # a data folder is replaced as a whole
    assert sorted(p.suffix for p in out.iterdir()) == [".csv"] * 8
    (out / "notes.txt").write_text("mine")
    with pytest.raises(DataError) as err:
        write_dataset(ds, out)
    assert str(err.value) == (
        f"{out}: folder holds other files (notes.txt); choose a new or empty folder"
    )
    assert (out / "notes.txt").read_text() == "mine"
