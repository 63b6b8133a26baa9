"""The CS manager's report: numbers checked against independent computations on the
bundled sample (plain csv / pandas on the raw files), escaping, the book filters,
movers and the output folder rules. The browser checks are in test_report_browser.py.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import functools
import html
import json
import os
import re
import signal
from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from pendo_segments.atomic import MARKER
from pendo_segments.cli import main
from pendo_segments.data import bundled_sample_path, dataset_from_frames, load_sample, write_dataset
from pendo_segments.definitions import load_definitions
from pendo_segments.report import ReportOptions, build_report, collect
from pendo_segments.shipped import shipped_path

SAMPLE = bundled_sample_path()
AS_OF = dt.date(2026, 11, 1)  # the day after the sample's last usage date
DEFS = shipped_path("segment_defs")


@functools.cache
def _rows(name: str) -> list[dict[str, str]]:
    with open(SAMPLE / name, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


@pytest.fixture(scope="module")
def sample_page() -> dict[str, Any]:
    return collect(
        load_definitions(DEFS),
        load_sample(),
        defs_path=DEFS,
        options=ReportOptions(),
        progress=lambda _m: None,
    )


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report"
    build_report(load_definitions(DEFS), load_sample(), out, defs_path=DEFS)
    return out


# -- numbers vs independent computations ---------------------------------------------------
def test_kpis_match_the_raw_files(sample_page: dict[str, Any]) -> None:
    accounts = _rows("accounts.csv")
    k = sample_page["kpi_values"]
    assert k["accounts"] == len(accounts) == 250
    assert k["visitors"] == len(_rows("visitors.csv"))
    assert k["arr"] == pytest.approx(sum(float(a["arr"]) for a in accounts))
    health = pd.read_csv(_health_csv())
    assert k["avg_health"] == pytest.approx(health["health_score"].mean(), abs=0.05)


def _health_csv() -> Any:
    import io

    result = CliRunner().invoke(main, ["health", "--data", str(SAMPLE), "--format", "csv"])
    assert result.exit_code == 0, result.output
    return io.StringIO(result.stdout)


def test_arr_at_risk_is_the_arr_of_accounts_with_a_high_or_medium_alert(
    sample_page: dict[str, Any],
) -> None:
    result = CliRunner().invoke(
        main, ["alerts", str(DEFS), "--data", str(SAMPLE), "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    flagged = {
        r["account_id"]
        for r in csv.DictReader(result.stdout.splitlines())
        if r["severity"] in ("high", "medium")
    }
    arr = {a["account_id"]: float(a["arr"]) for a in _rows("accounts.csv")}
    assert flagged
    assert sample_page["kpi_values"]["arr_at_risk"] == pytest.approx(sum(arr[a] for a in flagged))


def test_tiers_and_alerts_equal_the_tiers_and_alerts_commands(
    sample_page: dict[str, Any],
) -> None:
    """The report takes segment masks from its backtest's last day; the commands evaluate."""
    runs = {
        cmd: CliRunner().invoke(main, [cmd, str(DEFS), "--data", str(SAMPLE), "--format", "csv"])
        for cmd in ("tiers", "alerts")
    }
    assert all(r.exit_code == 0 for r in runs.values()), [r.output for r in runs.values()]
    tiers = {r["account_id"]: r["tier"] for r in csv.DictReader(runs["tiers"].stdout.splitlines())}
    snapshot = sample_page["snapshot"]
    assert dict(zip(snapshot["account_id"], snapshot["tier"], strict=True)) == tiers
    alerts = sorted(
        (r["account_id"], r["alert"], r["severity"])
        for r in csv.DictReader(runs["alerts"].stdout.splitlines())
    )
    assert alerts
    got = sorted((str(r["account_id"]), r["alert"], r["severity"]) for r in sample_page["alerts"])
    assert got == alerts


def test_weekly_minutes_match_a_plain_sum(sample_page: dict[str, Any]) -> None:
    per_day: dict[dt.date, float] = defaultdict(float)
    for r in _rows("usage_daily.csv"):
        per_day[_day(r["date"])] += float(r["minutes"])
    weekly = sample_page["weekly"]
    assert len(weekly) == 12
    assert weekly[-1][0] == AS_OF - dt.timedelta(days=7)
    for start, minutes in weekly:
        expected = sum(per_day[start + dt.timedelta(days=i)] for i in range(7))
        assert minutes == pytest.approx(expected)


def test_key_feature_usage_and_pes_match_a_plain_loop(sample_page: dict[str, Any]) -> None:
    keys = [f["feature_id"] for f in _rows("features.csv") if f["key"] == "true"]
    start = AS_OF - dt.timedelta(days=30)
    active: dict[str, set[dt.date]] = defaultdict(set)
    for r in _rows("usage_daily.csv"):
        d = _day(r["date"])
        if start <= d < AS_OF and (float(r["minutes"]) > 0 or int(r["events"]) > 0):
            active[r["visitor_id"]].add(d)
    used: dict[str, set[str]] = defaultdict(set)
    for r in _rows("feature_usage.csv"):
        if start <= _day(r["date"]) < AS_OF and int(r["clicks"]) > 0:
            used[r["feature_id"]].add(r["visitor_id"])
    shown = {f.feature_id: f for f in sample_page["features"]}
    assert list(shown) == keys
    for f in keys:
        assert shown[f].visitors == len(used[f])
        assert shown[f].share == pytest.approx(100 * len(used[f]) / len(active))
    pes = sample_page["pes"]
    adoption = sum(sum(v in used[f] for f in keys) / len(keys) for v in active) / len(active)
    assert pes.adoption == pytest.approx(100 * adoption)
    daily = sum(len(days) for days in active.values()) / 30
    assert pes.stickiness == pytest.approx(100 * daily / len(active))
    assert pes.score == pytest.approx((pes.adoption + pes.stickiness + pes.growth) / 3)


def test_nps_matches_promoters_minus_detractors(sample_page: dict[str, Any]) -> None:
    since = AS_OF - dt.timedelta(days=90)
    scores = [int(r["score"]) for r in _rows("nps.csv") if since <= _day(r["date"]) < AS_OF]
    nps = sample_page["nps"]
    assert nps.responses == len(scores)
    assert nps.counts == [scores.count(s) for s in range(11)]
    promoters = sum(s >= 9 for s in scores) / len(scores)
    detractors = sum(s <= 6 for s in scores) / len(scores)
    assert nps.score == pytest.approx(100 * (promoters - detractors))


def test_time_to_first_use_for_new_users(sample_page: dict[str, Any]) -> None:
    """New users are the new_users segment's members (first visit on one of the 30 days
    before as-of), not every visitor first seen in the last 90 days (231 of them)."""
    first_active: dict[str, dt.date] = {}
    for r in _rows("usage_daily.csv"):
        d = _day(r["date"])
        if d < AS_OF and (float(r["minutes"]) > 0 or int(r["events"]) > 0):
            first_active[r["visitor_id"]] = min(d, first_active.get(r["visitor_id"], d))
    first = {
        v["visitor_id"]: _day(v["first_visit"])
        if v["first_visit"]
        else first_active.get(v["visitor_id"])
        for v in _rows("visitors.csv")
    }
    first = {v: d for v, d in first.items() if d is not None}
    since = AS_OF - dt.timedelta(days=30)  # segment_defs/new_users.yaml: <= 30 days
    new = {v for v, d in first.items() if since <= d < AS_OF}
    result = CliRunner().invoke(
        main, ["evaluate", str(DEFS), "--data", str(SAMPLE), "-s", "new_users", "--counts",
               "--format", "csv"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"new_users,visitor,{len(new)}" in result.stdout  # the segment's visitors
    assert sample_page["new_users"].segment == "new_users"
    assert sample_page["new_users"].days == 30
    assert sample_page["new_users"].members == len(new)
    first_click: dict[tuple[str, str], dt.date] = {}
    for r in _rows("feature_usage.csv"):
        d = _day(r["date"])
        if r["visitor_id"] in new and int(r["clicks"]) > 0 and d < AS_OF:
            key = (r["visitor_id"], r["feature_id"])
            first_click[key] = min(d, first_click.get(key, d))
    for f in sample_page["first_use"]:
        delays = sorted(
            (d - first[v]).days
            for (v, fid), d in first_click.items()
            if fid == f.feature_id and d >= first[v]
        )
        assert f.new_users == len(new)
        assert f.used == len(delays)
        if delays:
            assert f.median_days == pytest.approx(pd.Series(delays).median())


def test_tier_mix_and_health_histogram_add_up(sample_page: dict[str, Any]) -> None:
    result = CliRunner().invoke(
        main, ["tiers", str(DEFS), "--data", str(SAMPLE), "--format", "csv"]
    )
    tiers = {r["account_id"]: r["tier"] for r in csv.DictReader(result.stdout.splitlines())}
    arr = {a["account_id"]: float(a["arr"]) for a in _rows("accounts.csv")}
    for m in sample_page["mix"]:
        mine = [a for a, t in tiers.items() if t == m["tier"]]
        assert m["accounts"] == len(mine)
        assert m["arr"] == pytest.approx(sum(arr[a] for a in mine))
    scores = pd.read_csv(_health_csv()).set_index("account_id")["health_score"]
    for row in sample_page["hist"]["rows"]:
        lo = int(row["band"].split("–")[0])
        hi = lo + 10
        inside = scores[(scores >= lo) & ((scores < hi) | ((hi == 100) & (scores <= 100)))]
        assert row["total"] == len(inside), row["band"]
    p1 = sorted(a for a, t in tiers.items() if t == "P1")
    assert sorted(a["id"] for a in sample_page["p1"]) == p1


def test_segment_sizes_over_time_equal_evaluate_on_the_last_day(
    sample_page: dict[str, Any],
) -> None:
    result = CliRunner().invoke(
        main, ["evaluate", str(DEFS), "--data", str(SAMPLE), "--counts", "--format", "csv"]
    )
    counts = {r["segment"]: int(r["members"]) for r in csv.DictReader(result.stdout.splitlines())}
    assert sample_page["segment_days"][-1] == AS_OF
    assert {r["segment"]: r["counts"][-1] for r in sample_page["segment_rows"]} == counts


# -- pages -----------------------------------------------------------------------------------
def test_pages_are_self_contained_and_accessible(sample_report: Path) -> None:
    index = (sample_report / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"(src|href)=\"(https?:)?//", index)
    assert "<script" not in index
    svgs = re.findall(r"<svg\b[^>]*>.*?</svg>", index, flags=re.S)
    assert len(svgs) >= 9
    for s in svgs:
        assert 'role="img"' in s and "<title" in s and "<desc" in s
        assert "aria-labelledby" in s
    # a chart is drawn twice (wide, and narrow for a phone); each has a data table
    charts = [s for s in svgs if 'class="chart narrow"' not in s]
    assert index.count("<table") >= len(charts) >= 9
    assert "https://support.pendo.io/hc/en-us/articles/360054782691" not in index  # code cites it
    links = set(re.findall(r'href="(accounts/[^"]+)"', index))
    assert links and all((sample_report / link).is_file() for link in links)
    pages = sorted(p.name for p in (sample_report / "accounts").iterdir())
    assert {f"accounts/{p}" for p in pages} == links
    snapshot = pd.read_csv(sample_report / "accounts.csv")
    assert list(snapshot.columns[:4]) == ["account_id", "name", "tier", "health_score"]
    marker = json.loads((sample_report / MARKER).read_text())
    assert "index.html" in marker["files"]


def test_every_p1_account_has_its_page_and_its_score_history(
    sample_report: Path, tmp_path: Path
) -> None:
    """One drill-down page per P1 account, linked from the index, whose score table is
    what ``backtest --scores`` writes for the same as-of days (an independent run)."""
    snapshot = pd.read_csv(sample_report / "accounts.csv", dtype={"account_id": str})
    p1 = sorted(snapshot.loc[snapshot["tier"] == "P1", "account_id"])
    index = (sample_report / "index.html").read_text(encoding="utf-8")
    drill = re.findall(r'<a class="drill" href="accounts/([^"]+)">', index)
    assert sorted(name.removesuffix(".html") for name in drill) == p1  # ids are file-safe here
    scores = tmp_path / "scores.csv"
    result = CliRunner().invoke(
        main,
        [
            "backtest",
            str(DEFS),
            "--data",
            str(SAMPLE),
            "--from",
            "2026-09-06",
            "--to",
            "2026-11-01",
            "--format",
            "csv",
            "-o",
            str(tmp_path / "sizes.csv"),
            "--scores",
            str(scores),
        ],
    )
    assert result.exit_code == 0, result.output
    history = pd.read_csv(scores, dtype={"account_id": str})
    for account in p1:
        page = (sample_report / "accounts" / f"{account}.html").read_text(encoding="utf-8")
        assert f"({account})" in page and 'href="../index.html"' in page
        trend = page.split("<caption>Data: Health score over time</caption>")[1]
        trend = trend.split("</tbody>")[0]
        shown = re.findall(r'<th scope="row">([^<]+)</th><td class="n">([^<]+)</td>', trend)
        mine = history[history["account_id"] == account]
        assert [float(v) for _, v in shown] == mine["health_score"].tolist(), account
        assert len(shown) == 9  # the weekly as-of days from Sep 6 to Nov 1


def test_big_tables_are_capped_on_the_page_and_whole_in_csv(
    sample_report: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A book with tens of thousands of alerts: the page shows the first rows and says
    where the rest are; alerts.csv holds what the alerts command prints."""
    from pendo_segments.report import build as build_module

    result = CliRunner().invoke(
        main, ["alerts", str(DEFS), "--data", str(SAMPLE), "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    expected = list(csv.DictReader(result.stdout.splitlines()))
    whole = list(csv.DictReader((sample_report / "alerts.csv").open(encoding="utf-8")))
    assert whole == expected and len(expected) > 3
    index = (sample_report / "index.html").read_text(encoding="utf-8")
    assert "alerts.csv" not in index  # nothing left out: no note

    monkeypatch.setattr(build_module, "INDEX_ROWS", 3)
    out = tmp_path / "report"
    build_report(load_definitions(DEFS), load_sample(), out, defs_path=DEFS)
    index = (out / "index.html").read_text(encoding="utf-8")
    alerts = index.split('<section id="alerts">')[1].split("</section>")[0]
    assert alerts.count('<tr><th scope="row">') == 3
    assert (
        f"The first 3 of {len(expected)} alerts, most severe first; all are in alerts.csv."
        in alerts
    )
    snapshot = pd.read_csv(out / "accounts.csv", dtype={"account_id": str})
    arr = {a["account_id"]: float(a["arr"]) for a in _rows("accounts.csv")}
    p1 = sorted(snapshot.loc[snapshot["tier"] == "P1", "account_id"], key=lambda a: -arr[a])
    table = index.split('<section id="p1">')[1]
    shown = re.findall(r'<a class="drill" href="accounts/([^"]+)\.html">', table)
    assert len(p1) > 3 and shown == p1[:3]
    assert f"The 3 of {len(p1)} P1 accounts with the highest ARR" in table
    assert len(list((out / "accounts").iterdir())) == len(p1)  # every page is still written


def test_pages_drawn_in_forked_processes_equal_the_serial_ones(
    sample_report: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big book's pages are split between processes; the folder must not change."""
    from pendo_segments.report import pages as pages_module

    monkeypatch.setattr(pages_module, "PARALLEL_PAGES", 1)
    monkeypatch.setattr(pages_module, "_workers", lambda: 3)
    out = tmp_path / "report"
    build_report(load_definitions(DEFS), load_sample(), out, defs_path=DEFS)
    serial = sorted(p.relative_to(sample_report) for p in sample_report.rglob("*.html"))
    assert len(serial) > 3 and serial == sorted(p.relative_to(out) for p in out.rglob("*.html"))
    for name in serial:
        assert (out / name).read_bytes() == (sample_report / name).read_bytes(), name


def test_a_failing_page_worker_fails_the_report_and_leaves_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pendo_segments.errors import PendoSegmentsError
    from pendo_segments.report import pages as pages_module

    def broken(page: dict[str, Any], folder: Path, start: int, stop: int, env: Any) -> None:
        raise PendoSegmentsError(f"{folder}: no space left on device")

    monkeypatch.setattr(pages_module, "PARALLEL_PAGES", 1)
    monkeypatch.setattr(pages_module, "_workers", lambda: 2)
    monkeypatch.setattr(pages_module, "_account_pages", broken)  # inherited by the fork
    out = tmp_path / "report"
    with pytest.raises(PendoSegmentsError, match="no space left on device"):
        build_report(load_definitions(DEFS), load_sample(), out, defs_path=DEFS)
    assert not out.exists() and list(tmp_path.iterdir()) == []

    def killed(page: dict[str, Any], folder: Path, start: int, stop: int, env: Any) -> None:
        os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's out-of-memory killer would

    monkeypatch.setattr(pages_module, "_account_pages", killed)
    with pytest.raises(PendoSegmentsError, match="process drawing the account pages died"):
        build_report(load_definitions(DEFS), load_sample(), out, defs_path=DEFS)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_a_failing_index_stops_the_page_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pendo_segments.errors import PendoSegmentsError
    from pendo_segments.report import pages as pages_module

    write = pages_module._write

    def full_disk(path: str | Path, text: str | bytes) -> None:
        if os.path.basename(path) == "index.html":
            raise PendoSegmentsError(f"{path}: no space left on device")
        write(path, text)

    monkeypatch.setattr(pages_module, "PARALLEL_PAGES", 1)
    monkeypatch.setattr(pages_module, "_workers", lambda: 2)
    monkeypatch.setattr(pages_module, "_write", full_disk)
    # children the worker already had (a Spark JVM of an earlier test) are not the report's
    tasks = Path(f"/proc/self/task/{os.getpid()}/children")
    before = set(tasks.read_text().split())
    with pytest.raises(PendoSegmentsError, match="index.html: no space left on device"):
        build_report(load_definitions(DEFS), load_sample(), tmp_path / "r", defs_path=DEFS)
    assert list(tmp_path.iterdir()) == []
    left = set(tasks.read_text().split()) - before
    assert left == set()  # killed and reaped, not left drawing pages


_SLOW_PAGES = """
import sys, time
from pendo_segments.data import load_sample
from pendo_segments.definitions import load_definitions
from pendo_segments.report import pages as b, build_report
from pendo_segments.shipped import shipped_path

b.PARALLEL_PAGES, b._workers = 1, lambda: 2
b._account_pages = lambda *a: time.sleep(60)
defs = shipped_path("segment_defs")
build_report(load_definitions(defs), load_sample(), sys.argv[1], defs_path=defs)
"""


def test_killing_the_report_leaves_no_page_process_behind(tmp_path: Path) -> None:
    """A scheduler's timeout (SIGKILL) must not leave orphans holding the data's memory."""
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-c", _SLOW_PAGES, str(tmp_path / "r")])  # noqa: S603
    children: list[int] = []
    deadline = time.monotonic() + 60
    while len(children) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
        listed = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
        children = [int(c) for c in listed.read_text().split()] if listed.exists() else []
    assert len(children) == 2, "the report never forked its page processes"
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{c}").exists() for c in children) and time.monotonic() < deadline:
        time.sleep(0.1)
        for c in children:  # reap them if they were re-parented to this process
            with contextlib.suppress(ChildProcessError):
                os.waitpid(c, os.WNOHANG)
    alive = [c for c in children if Path(f"/proc/{c}").exists() and _state(c) != "Z"]
    for c in alive:  # do not leave them sleeping when the test fails
        with contextlib.suppress(OSError):
            os.kill(c, signal.SIGKILL)
    assert not alive
    assert not (tmp_path / "r").exists()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
    except (OSError, IndexError):
        return "gone"


def test_table_html_is_escaped_and_marks_numeric_columns() -> None:
    from markupsafe import Markup

    from pendo_segments.report.tables import table

    got = table("A & B", ["k", "<v>"], [["x<", 1.5], [Markup("<i>s</i>"), None]], numeric=[1])
    assert str(got) == (
        '<div class="table-box"><table>\n<caption>A &amp; B</caption>\n'
        '<thead><tr><th scope="col">k</th><th scope="col" class="n">&lt;v&gt;</th></tr></thead>\n'
        "<tbody>\n"
        '<tr><th scope="row">x&lt;</th><td class="n">1.5</td></tr>\n'
        '<tr><th scope="row"><i>s</i></th><td class="n">None</td></tr>\n'
        "</tbody>\n</table></div>\n"
    )


@pytest.mark.parametrize("locale", ["en", "ja"])
def test_fixed_digit_numbers_read_as_babel_writes_them(locale: str) -> None:
    from babel.numbers import format_decimal

    from pendo_segments.report.i18n import fixed_digits

    values = [0.0, -0.0, 0.05, 0.15, 0.25, 2.675, -2.675, 1234567.45, -0.04, 99.95, 1e12, 7.0]
    values += [k / 40 - 25 for k in range(2001)]
    for digits in (0, 1, 2):
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        for v in values:
            assert fixed_digits(v, digits) == format_decimal(v, format=pattern, locale=locale), (
                v,
                digits,
            )


def _hand_ds() -> Any:
    from handmade import frames

    data = frames()
    data["accounts"]["name"] = ["<script>alert(1)</script>", "B & Co", "A3 <b>", "A4", "A5"]
    return dataset_from_frames(data)


@pytest.fixture
def hand_report(tmp_path: Path) -> Path:
    out = tmp_path / "hand"
    build_report(load_definitions(DEFS), _hand_ds(), out, defs_path=DEFS)
    return out


def test_data_is_escaped(hand_report: Path) -> None:
    text = "".join(p.read_text(encoding="utf-8") for p in hand_report.rglob("*.html"))
    assert "<script>" not in text and "<b>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "A3 &lt;b&gt;" in text  # the P1 account's drill-down page
    assert (hand_report / "accounts" / "A3.html").is_file()


# -- book filters and movers -------------------------------------------------------------------
def test_csm_filter_restricts_the_whole_report(tmp_path: Path) -> None:
    mine = [a for a in _rows("accounts.csv") if a["csm_owner"] == "Emma Schmidt"]
    page = collect(
        load_definitions(DEFS),
        load_sample(),
        defs_path=DEFS,
        options=ReportOptions(csm="Emma Schmidt"),
        progress=lambda _m: None,
    )
    ids = {a["account_id"] for a in mine}
    visitors = [v for v in _rows("visitors.csv") if v["account_id"] in ids]
    assert page["kpi_values"]["accounts"] == len(mine)
    assert page["kpi_values"]["visitors"] == len(visitors)
    assert page["kpi_values"]["arr"] == pytest.approx(sum(float(a["arr"]) for a in mine))
    assert {a["account_id"] for a in page["alerts"]} <= ids
    assert page["book"] == "CSM: Emma Schmidt"


def test_segment_filter_uses_the_segment_members() -> None:
    result = CliRunner().invoke(
        main, ["evaluate", str(DEFS), "--data", str(SAMPLE), "-s", "enterprise", "--format", "csv"]
    )
    members = {r["subject_id"] for r in csv.DictReader(result.stdout.splitlines())}
    page = collect(
        load_definitions(DEFS),
        load_sample(),
        defs_path=DEFS,
        options=ReportOptions(segment="enterprise", locale="ja"),
        progress=lambda _m: None,
    )
    assert page["kpi_values"]["accounts"] == len(members)
    assert page["book"] == "セグメント: enterprise"


def test_movers_since_previous(tmp_path: Path, hand_report: Path) -> None:
    prev = pd.read_csv(hand_report / "accounts.csv").set_index("account_id")
    assert prev.loc["A3", "tier"] == "P1"
    prev.loc["A3", "tier"] = "P3"  # was P3, now P1: up
    prev.loc["A5", "health_score"] -= 15  # 15 points better now (16.9 was 1.9)
    prev.loc["A4", "health_score"] += 4.9  # below the 5-point noise floor
    before = tmp_path / "before.csv"
    prev.reset_index().to_csv(before, index=False)
    data = tmp_path / "data"
    write_dataset(_hand_ds(), data)
    result = CliRunner().invoke(
        main,
        ["report", str(DEFS), "--data", str(data), "--out", str(tmp_path / "r"),
         "--previous", str(before)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    index = html.unescape((tmp_path / "r" / "index.html").read_text(encoding="utf-8"))
    rows = index.split('id="movers"')[1].split("</section>")[0].split("<tr>")[2:]
    assert len(rows) == 2  # the largest score change first: A3's tier move changed none
    assert "A5" in rows[0] and "+15.0" in rows[0] and ">unchanged<" in rows[0]
    assert "A3" in rows[1] and "P3 → P1" in rows[1] and ">up<" in rows[1]


# -- output folder ---------------------------------------------------------------------------
def test_refuses_a_foreign_folder_and_replaces_its_own(tmp_path: Path) -> None:
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    result = CliRunner().invoke(
        main, ["report", str(DEFS), "--data", str(SAMPLE), "--out", str(foreign)]
    )
    assert result.exit_code == 1
    assert "not written by pendo-segments" in result.stderr
    assert (foreign / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in foreign.iterdir()) == ["keep.txt"]


def test_an_earlier_report_is_replaced_and_a_users_file_kept(hand_report: Path) -> None:
    (hand_report / "accounts" / "A3.html").write_text("stale")
    (hand_report / "my-notes.txt").write_text("keep me")
    build_report(load_definitions(DEFS), _hand_ds(), hand_report, defs_path=DEFS)
    assert (hand_report / "accounts" / "A3.html").read_text() != "stale"
    assert not [p for p in hand_report.parent.iterdir() if p.name.startswith(".hand")]
    assert (hand_report / "my-notes.txt").read_text() == "keep me"
    assert "my-notes.txt" not in json.loads((hand_report / MARKER).read_text())["files"]


def test_unknown_csm_is_a_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["report", str(DEFS), "--data", str(SAMPLE), "--out", str(tmp_path / "r"),
         "--csm", "Emma Schmit"],
    )  # fmt: skip
    assert result.exit_code == 1
    errors = [ln for ln in result.stderr.splitlines() if not ln.startswith("Warning:")]
    assert errors == [  # the sample's trial-account warning may come first
        "Error: --csm: no account has csm_owner 'Emma Schmit'; did you mean 'Emma Schmidt'?"
    ]
    assert not (tmp_path / "r").exists()


def test_pes_by_hand() -> None:
    """As of 2026-03-01 (window 01-30 … 02-28, previous 12-31 … 01-29):
    n1 new (first visit 02-10), r1 recovered (active 2025-12-01 and 02-15), d1 and
    d2 dropped (active 01-10 only), s1 retained. Growth (1 + 1) / (1 + 1 + 2) = 50.
    Stickiness: 3 visitor-days / 30 days / 3 active visitors = 3.33. Adoption: n1
    used 1 of the 2 key features, r1 and s1 none: 0.5 / 3 = 16.67."""
    from pendo_segments.backtest import UsageHistory
    from pendo_segments.backtest.usage import usage_rollups

    vids = ["n1", "r1", "d1", "d2", "s1"]
    visits = [
        ("2026-02-10", "n1"), ("2025-12-01", "r1"), ("2026-02-15", "r1"), ("2026-01-10", "d1"),
        ("2026-01-10", "d2"), ("2026-01-10", "s1"), ("2026-02-20", "s1"),
    ]  # fmt: skip
    usage = pd.DataFrame(visits, columns=["date", "visitor_id"])
    usage["date"] = pd.to_datetime(usage["date"])
    usage["minutes"], usage["events"] = 5.0, 1
    clicks = pd.DataFrame(
        {
            "date": pd.to_datetime(["2026-02-10"]),
            "visitor_id": ["n1"],
            "feature_id": ["k1"],
            "clicks": [3],
        }
    )
    ds = dataset_from_frames(
        {
            "accounts": pd.DataFrame({"account_id": ["A"], "arr": [1.0], "plan": ["x"]}),
            "visitors": pd.DataFrame(
                {
                    "visitor_id": vids,
                    "account_id": ["A"] * 5,
                    "first_visit": pd.to_datetime(
                        ["2026-02-10", "2025-06-01", "2025-01-01", "2025-01-01", "2025-01-01"]
                    ),
                }
            ),
            "usage_daily": usage,
            "feature_usage": clicks,
            "features": pd.DataFrame(
                {
                    "feature_id": ["k1", "k2", "f3"],
                    "name": ["K1", "K2", "F3"],
                    "key": [True, True, False],
                }
            ),
        }
    )
    as_of = dt.date(2026, 3, 1)
    got = usage_rollups(ds, UsageHistory(ds), as_of, weeks=1).pes()
    assert (got.new, got.recovered, got.dropped, got.active_visitors) == (1, 1, 2, 3)
    assert got.growth == pytest.approx(50.0)
    assert got.stickiness == pytest.approx(100 * 3 / 30 / 3)
    assert got.adoption == pytest.approx(100 * 0.5 / 3)
    assert got.score == pytest.approx((50.0 + 100 / 30 + 100 / 6) / 3)


# -- sort orders (hand-made data) ------------------------------------------------------------
def test_p1_accounts_are_listed_highest_arr_first_ties_by_account_id(tmp_path: Path) -> None:
    """The list said "highest ARR first" but was in account id order."""
    from handmade import frames

    data = frames()
    data["accounts"]["arr"] = [150000.0, 300000.0, 150000.0, 300000.0, 80000.0]
    data["accounts"]["self_service"] = pd.array([False] * 5, dtype="boolean")
    out = tmp_path / "r"
    build_report(load_definitions(DEFS), dataset_from_frames(data), out, defs_path=DEFS)
    index = (out / "index.html").read_text(encoding="utf-8")
    shown = re.findall(r'<a class="drill" href="accounts/([^"]+)\.html">', index)
    # by hand: A2 and A4 have 300,000 (A2 < A4), then A1 and A3 with 150,000; A5 is not P1
    assert shown == ["A2", "A4", "A1", "A3"]
    assert "Highest ARR first (ties by account id)." in index


def test_movers_are_sorted_by_the_size_of_the_score_change() -> None:
    """A 44.4-point drop came after two tier moves that changed the score by 0.0."""
    from pendo_segments.report.movers import movers

    now = pd.DataFrame(
        {
            "account_id": ["X1", "X2", "X3", "X4", "X5", "X6"],
            "name": ["a", "b", "c", "d", "e", "f"],
            "tier": ["P1", "P1", "P2", "P2", "P2", "P3"],
            "health_score": [50.0, 80.0, 70.0, 60.0, 40.0, 55.0],
        }
    )
    before = pd.DataFrame(
        {
            "account_id": ["X1", "X2", "X3", "X4", "X5", "X6"],
            "tier": ["P1", "P2", "P2", "P2", "P3", "P3"],
            "health_score": [94.4, 80.0, 80.0, 50.0, float("nan"), 54.0],
        }
    )
    got = [m.account_id for m in movers(now, before, ["P1", "P2", "P3"])]
    # X1 −44.4; X3 −10 and X4 +10 tie (X3 first by id); X2 a tier move with 0.0 change;
    # X5 a tier move with no previous score (unknown change) last; X6 +1 is noise
    assert got == ["X1", "X3", "X4", "X2", "X5"]


# -- the backtest table: risk rules only ------------------------------------------------------
def test_the_catch_table_lists_only_the_risk_rules(sample_page: dict[str, Any]) -> None:
    """healthy, smb and contract_anniversary were rows of "would the at-risk rules have
    caught the churners?"; only segments tagged risk and problem alerts belong there."""
    import yaml

    tagged = {s.name for s in load_definitions(DEFS) if "risk" in s.tags}
    alerts = yaml.safe_load((DEFS / "alerts.yaml").read_text(encoding="utf-8"))["alerts"]
    problems = {a["name"] for a in alerts if a["severity"] in ("high", "medium")}
    rows = {(r["kind"], r["rule"]) for r in sample_page["catch"]}
    assert tagged == {"at_risk", "at_risk_enterprise"}
    # no_login_p1 needs tiers, which the backtest does not assign per day
    assert rows == {("segment", n) for n in tagged} | {
        ("alert", n) for n in problems - {"no_login_p1"}
    }


def test_the_risk_tag_is_an_option(tmp_path: Path) -> None:
    defs = tmp_path / "defs"
    defs.mkdir()
    for f in DEFS.iterdir():
        text = f.read_text(encoding="utf-8")
        if f.name == "healthy.yaml":  # a folder whose own tag marks its risk rules
            text = text.replace("tags: [health]", "tags: [health, churn_watch]")
        (defs / f.name).write_text(text, encoding="utf-8")
    out = tmp_path / "r"
    result = CliRunner().invoke(
        main,
        ["report", str(defs), "--data", str(SAMPLE), "--out", str(out),
         "--risk-tag", "churn_watch"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    table = (out / "index.html").read_text(encoding="utf-8").split('id="backtest"')[1]
    assert '<th scope="row">healthy</th><td>segment</td>' in table
    assert '<th scope="row">at_risk</th><td>segment</td>' not in table
    assert "tagged “churn_watch”" in table
