"""Attribute history (docs/semantics.md §2b): hand-worked boundary cases.

An evaluation at D reads the history row covering D−1, the last whole day:
``valid_from <= D−1 < valid_to``. Every expected value below is worked out
from that rule by hand.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pendo_segments.data.loaders import load_dataset
from pendo_segments.definitions import load_definitions
from pendo_segments.errors import DataError
from pendo_segments.evaluate import evaluate

D = dt.date(2026, 9, 10)  # the as-of day: D−1 = 2026-09-09


def write_folder(folder: Path, history: str | None = None, name: str = "accounts_history") -> Path:
    """Two accounts; today A1 has $50k (grown), A2 $30k."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "accounts.csv").write_text(
        "account_id,arr,plan,csm_owner\nA1,50000,Growth,kim\nA2,30000,Growth,lee\n"
    )
    (folder / "visitors.csv").write_text("visitor_id,account_id\nv1,A1\nv2,A2\n")
    (folder / "features.csv").write_text("feature_id,name\nf1,Feature one\n")
    (folder / "usage_daily.csv").write_text(
        "date,visitor_id,minutes,events\n2026-09-01,v1,5,2\n2026-09-01,v2,5,2\n"
    )
    (folder / "feature_usage.csv").write_text("date,visitor_id,feature_id,clicks\n")
    if history is not None:
        (folder / f"{name}.csv").write_text(history)
    return folder


def arr_at(folder: Path, as_of: dt.date) -> dict[str, float]:
    accounts = load_dataset(folder).fields_at(as_of).accounts
    return dict(zip(accounts["account_id"], accounts["arr"], strict=True))


def smb_members(folder: Path, as_of: dt.date) -> list[str]:
    defs = load_definitions(Path(__file__).resolve().parent.parent / "segment_defs" / "smb.yaml")
    ev = evaluate(defs, load_dataset(folder), as_of=as_of, names=["smb"])
    return sorted(ev.members("smb"))


@pytest.mark.parametrize(
    ("valid_from", "valid_to", "covered"),
    [
        ("2026-09-09", "", True),  # starts on D−1: holds at the end of D−1
        ("2026-09-10", "", False),  # starts on D: not yet known at D
        ("2026-08-01", "2026-09-10", True),  # ends D: still valid all of D−1
        ("2026-08-01", "2026-09-09", False),  # ends D−1: stopped being valid on D−1
    ],
)
def test_row_covers_d_minus_1_only(
    tmp_path: Path, valid_from: str, valid_to: str, covered: bool
) -> None:
    folder = write_folder(
        tmp_path / "data",
        f"account_id,valid_from,valid_to,arr\nA1,{valid_from},{valid_to},12000\n",
    )
    assert arr_at(folder, D) == {"A1": 12000.0 if covered else 50000.0, "A2": 30000.0}


def test_account_that_grew_is_smb_before_and_not_after(tmp_path: Path) -> None:
    # $12k until 2026-09-09 inclusive, $50k from 2026-09-10 on (accounts.csv: today's $50k)
    folder = write_folder(
        tmp_path / "data",
        "account_id,valid_from,valid_to,arr\n"
        "A1,2026-01-01,2026-09-10,12000\n"
        "A1,2026-09-10,,50000\n",
    )
    assert smb_members(folder, dt.date(2026, 9, 10)) == ["A1"]  # D−1 = 09-09: $12k
    assert smb_members(folder, dt.date(2026, 9, 11)) == []  # D−1 = 09-10: $50k
    assert smb_members(folder, dt.date(2025, 12, 1)) == []  # no covering row: today's value


def test_columns_the_history_lacks_keep_todays_value(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "data", "account_id,valid_from,plan\nA1,2026-01-01,Starter\n")
    accounts = load_dataset(folder).fields_at(D).accounts
    assert list(accounts["plan"]) == ["Starter", "Growth"]
    assert list(accounts["arr"]) == [50000.0, 30000.0]
    assert list(accounts["csm_owner"]) == ["kim", "lee"]


def test_overlapping_rows_name_both(tmp_path: Path) -> None:
    folder = write_folder(
        tmp_path / "data",
        "account_id,valid_from,valid_to,arr\n"
        "A1,2026-01-01,2026-09-10,12000\n"
        "A2,2026-01-01,,30000\n"
        "A1,2026-09-09,,50000\n",
    )
    with pytest.raises(DataError) as err:
        load_dataset(folder)
    message = str(err.value)
    assert message.startswith("accounts_history.csv: row 1 (line 2) and row 3 (line 4)")
    assert "2026-09-09" in message and "'A1'" in message
    assert "\n" not in message


def test_rows_that_touch_do_not_overlap(tmp_path: Path) -> None:
    folder = write_folder(
        tmp_path / "data",
        "account_id,valid_from,valid_to,arr\nA1,2026-01-01,2026-09-09,1\nA1,2026-09-09,,2\n",
    )
    assert arr_at(folder, D)["A1"] == 2.0


@pytest.mark.parametrize(
    ("stamp", "covered"),
    [
        ("2026-09-09 23:59:59", True),  # a change late on D−1 holds at its end
        ("2026-09-10 00:00:00", False),  # midnight starts D: not yet known at D
        ("2026-09-09T23:30:00-05:00", False),  # 2026-09-10 04:30 UTC
        ("2026-09-10T01:00:00+02:00", True),  # 2026-09-09 23:00 UTC
    ],
)
def test_dbt_snapshot_timestamps_count_by_utc_day(
    tmp_path: Path, stamp: str, covered: bool
) -> None:
    folder = write_folder(
        tmp_path / "data",
        "account_id,arr,dbt_scd_id,dbt_updated_at,dbt_valid_from,dbt_valid_to\n"
        f"A1,12000,x1,{stamp},{stamp},\n",
    )
    assert arr_at(folder, D)["A1"] == (12000.0 if covered else 50000.0)


def test_dbt_snapshot_in_parquet_with_timestamps(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "data")
    utc = pa.timestamp("us", "UTC")
    table = pa.table(
        {
            "account_id": ["A1", "A1"],
            "arr": [12000.0, 50000.0],
            "dbt_valid_from": pa.array(
                [dt.datetime(2026, 1, 1, 8), dt.datetime(2026, 9, 10, 0, 0, 0)], utc
            ),
            "dbt_valid_to": pa.array([dt.datetime(2026, 9, 10, 0, 0, 0), None], utc),
        }
    )
    pq.write_table(table, folder / "accounts_history.parquet")
    assert arr_at(folder, D)["A1"] == 12000.0
    assert arr_at(folder, D + dt.timedelta(days=1))["A1"] == 50000.0


def test_history_as_a_folder_of_parts(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "data")
    parts = folder / "accounts_history"
    parts.mkdir()
    (parts / "part-0.csv").write_text("account_id,valid_from,valid_to,arr\nA1,2026-01-01,,1\n")
    (parts / "part-1.csv").write_text("account_id,valid_from,valid_to,arr\nA1,2026-09-01,,2\n")
    with pytest.raises(
        DataError,
        match=r"^accounts_history/: accounts_history/part-0.csv row 1 \(line 2\) and "
        r"accounts_history/part-1.csv row 1 \(line 2\) both cover 2026-09-01",
    ):
        load_dataset(folder)


def test_visitor_history(tmp_path: Path) -> None:
    folder = write_folder(
        tmp_path / "data",
        "visitor_id,valid_from,valid_to,language\nv1,2026-01-01,,ja\n",
        name="visitors_history",
    )
    language = load_dataset(folder).fields_at(D).visitors["language"]
    assert language.iloc[0] == "ja" and pd.isna(language.iloc[1])


@pytest.mark.parametrize(
    ("history", "message"),
    [
        ("account_id,arr\nA1,1\n", "accounts_history.csv: missing required column 'valid_from'"),
        (
            "account_id,valid_from,valid_to,arr\nA1,2026-09-01,2026-08-01,1\n",
            "accounts_history.csv: row 1 (line 2), column 'valid_to': ends before its valid_from",
        ),
        (
            "account_id,valid_from,arr\nA1,yesterday,1\n",
            "accounts_history.csv: row 1 (line 2), column 'valid_from': 'yesterday' is not a date",
        ),
        (
            "account_id,valid_from,arr\nA1,2026-09-01,lots\n",
            "accounts_history.csv: row 1 (line 2), column 'arr'",
        ),
    ],
)
def test_bad_history_is_one_line(tmp_path: Path, history: str, message: str) -> None:
    folder = write_folder(tmp_path / "data", history)
    with pytest.raises(DataError) as err:
        load_dataset(folder)
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


def test_backtest_reads_each_days_fields(tmp_path: Path) -> None:
    from pendo_segments.backtest import run_backtest

    folder = write_folder(
        tmp_path / "data",
        "account_id,valid_from,valid_to,arr\nA1,2026-01-01,2026-09-10,12000\nA1,2026-09-10,,50000\n",
    )
    defs = load_definitions(Path(__file__).resolve().parent.parent / "segment_defs" / "smb.yaml")
    days = [dt.date(2026, 9, 10), dt.date(2026, 9, 11)]
    bt = run_backtest(defs, load_dataset(folder), days, with_health=False)
    assert bt.counts == {"smb": [1, 0]}  # $12k at the end of 09-09, $50k at the end of 09-10


def test_tiers_and_health_read_the_days_fields(tmp_path: Path) -> None:
    from pendo_segments.tiers.view import account_view

    folder = write_folder(
        tmp_path / "data",
        "account_id,valid_from,valid_to,arr,plan\nA1,2026-01-01,2026-09-10,12000,Starter\n",
    )
    shipped = Path(__file__).resolve().parent.parent / "segment_defs"
    defs = tmp_path / "defs"
    defs.mkdir()
    (defs / "smb.yaml").write_text((shipped / "smb.yaml").read_text())
    (defs / "tiers.yaml").write_text(
        "tiers:\n"
        "  - {name: P2, accounts_per_csm: 40}\n"
        "  - {name: P3, accounts_per_csm: 150, pooled: true}\n"
        "rules:\n"
        "  - {tier: P3, reason: SMB, when: {segment: smb}}\n"
        "  - {tier: P2, reason: Mid-tier}\n"
    )
    ds = load_dataset(folder)
    before = account_view(ds, defs, as_of=dt.date(2026, 9, 10)).tier_of()
    after = account_view(ds, defs, as_of=dt.date(2026, 9, 11)).tier_of()
    assert (before["A1"], after["A1"]) == ("P3", "P2")  # $12k at the end of 09-09, $50k after


def _cli(*args: object) -> object:
    from click.testing import CliRunner

    from pendo_segments.cli import main

    return CliRunner().invoke(main, [str(a) for a in args])


SMB = Path(__file__).resolve().parent.parent / "segment_defs" / "smb.yaml"


def test_backtest_says_when_fields_are_todays(tmp_path: Path) -> None:
    bare = write_folder(tmp_path / "bare")
    days = ("--from", "2026-09-10", "--to", "2026-09-11", "--every", "1")
    result = _cli("backtest", SMB, "--data", bare, *days, "--format", "csv")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    said = [ln for ln in result.stderr.splitlines() if "today's values" in ln]  # type: ignore[attr-defined]
    assert (
        said
        == [
            "Warning: no accounts_history / visitors_history files: account fields are today's "
            "values for every past day"
        ]
        or len(said) == 1
    )
    kept = write_folder(tmp_path / "kept", "account_id,valid_from,arr\nA1,2026-01-01,12000\n")
    result = _cli("backtest", SMB, "--data", kept, *days, "--format", "csv")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert "today's values" not in result.stderr  # type: ignore[attr-defined]
    assert result.stdout.splitlines()[1:] == [  # type: ignore[attr-defined]
        "2026-09-10,smb,1",
        "2026-09-11,smb,1",  # history: $12k from 2026-01-01 on, still open
    ]
