"""The sample generator: determinism, planted properties, bundled copy, CLI.

Planted properties are checked on the bundled CSV files with the standard
library only (csv + datetime), independently of the loader and of pandas.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter, defaultdict
from functools import cache
from pathlib import Path

import pytest
from click.testing import CliRunner

from pendo_segments.cli import main
from pendo_segments.data import bundled_sample_path, load_dataset, load_sample
from pendo_segments.data.sample import generate_sample, write_sample
from pendo_segments.errors import DataError

SMALL = {"accounts": 40, "visitors": 300, "days": 45}
DAY = dt.timedelta(days=1)


def read_rows(name: str) -> list[dict[str, str]]:
    with (bundled_sample_path() / f"{name}.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@cache
def bundled() -> dict[str, list[dict[str, str]]]:
    names = (
        "accounts",
        "visitors",
        "usage_daily",
        "feature_usage",
        "features",
        "nps",
        "tickets",
        "outcomes",
    )
    return {name: read_rows(name) for name in names}


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def is_active(row: dict[str, str]) -> bool:
    return float(row["minutes"]) > 0 or int(row["events"]) > 0


def as_of() -> dt.date:
    return max(day(r["date"]) for r in bundled()["usage_daily"]) + DAY


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# -- determinism and the bundled copy ---------------------------------------------


def test_same_arguments_give_byte_identical_files(tmp_path: Path) -> None:
    write_sample(tmp_path / "a", **SMALL)
    write_sample(tmp_path / "b", **SMALL)
    write_sample(tmp_path / "c", seed=8, **SMALL)
    assert folder_bytes(tmp_path / "a") == folder_bytes(tmp_path / "b")
    usage = "usage_daily.csv"
    assert folder_bytes(tmp_path / "a")[usage] != folder_bytes(tmp_path / "c")[usage]


def test_bundled_sample_is_what_the_defaults_generate(tmp_path: Path) -> None:
    write_sample(tmp_path / "fresh")
    fresh, shipped = folder_bytes(tmp_path / "fresh"), folder_bytes(bundled_sample_path())
    assert fresh.keys() == shipped.keys()
    for name in fresh:
        assert fresh[name] == shipped[name], (
            f"{name} is stale: run python -m pendo_segments.data.sample --regenerate-bundled"
        )


def test_bundled_sample_fits_the_size_budget() -> None:
    assert sum(p.stat().st_size for p in bundled_sample_path().iterdir()) <= 8 * 1024 * 1024


def test_generated_frames_equal_their_files(tmp_path: Path) -> None:
    import pandas as pd

    ds = write_sample(tmp_path / "s", fmt="parquet", **SMALL)
    back = load_dataset(tmp_path / "s")
    for name, frame in ds.tables().items():
        pd.testing.assert_frame_equal(frame, back.tables()[name], check_exact=True, obj=name)


def test_load_sample_names_its_source() -> None:
    ds = load_sample()
    assert ds.source == "sample"
    assert ds.default_as_of() == dt.date(2026, 11, 1)
    assert ds.key_features() == ["core_events", "data_explorer", "path_reports", "guide_publishing"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"accounts": 1, "visitors": 1, "days": 1},
        {"accounts": 3, "visitors": 2, "days": 40},
        {"accounts": 50, "visitors": 5, "days": 35, "end": dt.date(2024, 2, 29)},
    ],
)
def test_tiny_and_odd_arguments_still_make_a_valid_folder(tmp_path: Path, kwargs: dict) -> None:
    ds = write_sample(tmp_path / "s", **kwargs)
    back = load_dataset(tmp_path / "s")
    assert len(back.accounts) == kwargs["accounts"] and len(back.visitors) == kwargs["visitors"]
    assert back.default_as_of() == kwargs.get("end", dt.date(2026, 10, 31)) + DAY
    assert len(ds.usage_daily) == len(back.usage_daily)


def test_bad_arguments_are_data_errors() -> None:
    with pytest.raises(DataError, match=r"^sample: visitors must be at least 1 \(got 0\)$"):
        generate_sample(visitors=0)


def test_row_rate_targets_30_million_rows_at_benchmark_scale() -> None:
    # 1,000,000 visitors x 60 days should give ~30M rows: 0.5 rows per visitor-day
    ds = generate_sample(accounts=2000, visitors=20000, days=60, seed=3)
    assert 0.45 <= len(ds.usage_daily) / (20000 * 60) <= 0.55


# -- planted properties (bundled files, standard library only) --------------------


def test_usage_is_weekday_heavy_one_row_per_visitor_day() -> None:
    usage = bundled()["usage_daily"]
    weekend = sum(day(r["date"]).weekday() >= 5 for r in usage)
    assert weekend / len(usage) < 0.15  # weekends are 2/7 = 29% of days
    assert len({(r["date"], r["visitor_id"]) for r in usage}) == len(usage)
    assert any(float(r["minutes"]) > 0 and r["events"] == "0" for r in usage)
    assert any(float(r["minutes"]) == 0 and int(r["events"]) > 0 for r in usage)
    assert any(not float(r["minutes"]).is_integer() for r in usage)


def test_dormant_visitors_and_accounts_without_usage_exist() -> None:
    data, cutoff = bundled(), as_of() - 30 * DAY
    last_active: dict[str, dt.date] = {}
    for r in data["usage_daily"]:
        if is_active(r):
            seen = last_active.get(r["visitor_id"], dt.date.min)
            last_active[r["visitor_id"]] = max(seen, day(r["date"]))
    dormant = [v for v, last in last_active.items() if last < cutoff]
    assert len(dormant) >= 20
    used = {r["account_id"] for r in data["usage_daily"] if is_active(r)}
    unused = [a["account_id"] for a in data["accounts"] if a["account_id"] not in used]
    assert 0.02 <= len(unused) / len(data["accounts"]) <= 0.10


def test_account_attributes_have_the_planted_spread() -> None:
    accounts, end = bundled()["accounts"], as_of() - DAY
    arr = [float(a["arr"]) for a in accounts]
    assert 15000.0 in arr
    assert 0.35 <= sum(x <= 15000 for x in arr) / len(arr) <= 0.55
    assert any(x >= 100000 for x in arr) and any(15000 < x < 100000 for x in arr)
    assert {a["plan"] for a in accounts} == {"Starter", "Growth", "Enterprise"}
    assert 0.08 <= sum(a["self_service"] == "true" for a in accounts) / len(accounts) <= 0.25
    assert 0 < sum(a["crm_id"] == "" for a in accounts) <= 0.12 * len(accounts)

    def anniversary_soon(start: dt.date) -> bool:
        return any(
            (start.month, start.day) == ((end + k * DAY).month, (end + k * DAY).day)
            for k in range(1, 8)
        )

    assert any(anniversary_soon(day(a["contract_start"])) for a in accounts)
    assert any(0 < (day(a["renewal_date"]) - end).days <= 90 for a in accounts)


def test_visitors_have_languages_new_users_and_anniversaries() -> None:
    visitors, today = bundled()["visitors"], as_of()
    languages = Counter(v["language"] for v in visitors)
    assert 0.65 <= languages["en"] / len(visitors) <= 0.85
    assert 0.12 <= languages["ja"] / len(visitors) <= 0.30
    assert languages["de"] > 0 and languages["fr"] > 0
    first = [day(v["first_visit"]) for v in visitors if v["first_visit"]]
    assert sum(today - 30 * DAY <= f <= today - DAY for f in first) >= 20  # new users
    assert any(
        f.year < today.year and (f.replace(year=today.year) - today).days in range(0, 7)
        for f in first
        if (f.month, f.day) != (2, 29)
    )
    assert all(v["email"].endswith(".example") for v in visitors)  # never a real mailbox


def test_feature_usage_follows_adoption_curves_on_active_days() -> None:
    data = bundled()
    active = {(r["date"], r["visitor_id"]) for r in data["usage_daily"] if is_active(r)}
    clicks = data["feature_usage"]
    assert all((r["date"], r["visitor_id"]) in active for r in clicks)
    assert all(int(r["clicks"]) >= 1 for r in clicks)
    users = defaultdict(set)
    for r in clicks:
        users[r["feature_id"]].add(r["visitor_id"])
    assert len(users["core_events"]) > 3 * len(users["guide_publishing"]) > 0
    keys = [f["feature_id"] for f in data["features"] if f["key"] == "true"]
    assert keys == ["core_events", "data_explorer", "path_reports", "guide_publishing"]
    assert len(data["features"]) >= 16
    window = str(as_of() - 30 * DAY)
    recent = Counter()
    for r in clicks:
        if r["date"] >= window:
            recent[(r["visitor_id"], r["feature_id"])] += int(r["clicks"])
    assert any(total == 1 for total in recent.values())


def test_nps_and_tickets_cover_some_accounts() -> None:
    data = bundled()
    with_nps = {r["account_id"] for r in data["nps"]}
    assert 0 < len(with_nps) < len(data["accounts"])
    assert all(0 <= int(r["score"]) <= 10 for r in data["nps"])
    assert {r["priority"] for r in data["tickets"]} == {"low", "normal", "high", "urgent"}


def test_churn_falls_as_recent_activity_rises() -> None:
    """AUC of "fewer active days in the last 30" as a churn predictor, counted by hand."""
    data, today = bundled(), as_of()
    days_active: dict[str, set[str]] = defaultdict(set)
    for r in data["usage_daily"]:
        if is_active(r) and day(r["date"]) >= today - 30 * DAY:
            days_active[r["account_id"]].add(r["date"])
    outcomes = data["outcomes"]
    churned = [len(days_active[o["account_id"]]) for o in outcomes if o["churned"] == "true"]
    kept = [len(days_active[o["account_id"]]) for o in outcomes if o["churned"] == "false"]
    assert churned and kept
    wins = sum((c < k) + 0.5 * (c == k) for c in churned for k in kept)
    assert wins / (len(churned) * len(kept)) > 0.68


# -- CLI --------------------------------------------------------------------------


def test_cli_writes_a_folder_and_prints_row_counts(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = CliRunner().invoke(
        main, ["sample", "--accounts", "40", "--visitors", "300", "--days", "45", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    write_sample(tmp_path / "lib", **SMALL)
    assert folder_bytes(out) == folder_bytes(tmp_path / "lib")
    ds = load_dataset(out)
    assert result.output == (
        f"Wrote {out} (csv): accounts 40, visitors 300, usage_daily {len(ds.usage_daily):,}, "
        f"feature_usage {len(ds.feature_usage):,}, features 16, nps {len(ds.nps)}, "
        f"tickets {len(ds.tickets):,}, outcomes 40 rows\n"
    )


def test_cli_parquet_and_end_day(tmp_path: Path) -> None:
    out = tmp_path / "pq"
    result = CliRunner().invoke(
        main,
        [
            "sample",
            "--accounts",
            "5",
            "--visitors",
            "20",
            "--days",
            "3",
            "--end",
            "2025-01-15",
            "--format",
            "parquet",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert {p.suffix for p in out.iterdir()} == {".parquet"}
    assert load_dataset(out).default_as_of() == dt.date(2025, 1, 16)


def test_cli_refuses_a_folder_with_other_files(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    result = CliRunner().invoke(main, ["sample", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {tmp_path}: folder holds other files (keep.txt); choose a new or empty folder\n"
    )
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_cli_usage_errors_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["sample", "--accounts", "0", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "Invalid value for '--accounts': 0 is not in the range x>=1." in result.output


def test_cli_help_has_an_example() -> None:
    result = CliRunner().invoke(main, ["sample", "--help"])
    assert result.exit_code == 0
    assert "pendo-segments sample --out demo_data" in result.output
