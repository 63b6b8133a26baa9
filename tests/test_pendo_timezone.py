"""The subscription's days (issue 26 #2): no silent UTC for live work, pull reads Pendo's
``day`` stamps as local dates, ``pendo check`` infers the zone from them.

Pendo's days start at the subscription's local midnight; the fake Pendo stamps its
events the same way in its configured zone. Expected stamps and dates below are worked
out by hand from the zones' offsets (Tokyo +9 all year; Los Angeles -8 in winter, -7 in
summer; 2026-03-08 is 23 hours long there, 2026-11-01 25 hours).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fake_pendo import FakePendo

from pendo_segments.cli import main
from pendo_segments.config import load_config
from pendo_segments.errors import ConfigError

HOUR = 3_600_000
DAY = 24 * HOUR


def ms(day: str, hours: int = 0) -> int:
    """Epoch ms of ``day`` at ``hours`` UTC (hand arithmetic on UTC days)."""
    return (dt.date.fromisoformat(day) - dt.date(1970, 1, 1)).days * DAY + hours * HOUR


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``live(zone, configured)``: a started fake Pendo in ``zone`` and the environment
    pointing the CLI at it, ``[pendo] timezone`` set to ``configured`` (None: not set)."""
    fakes: list[FakePendo] = []

    def start(zone: str, configured: str | None) -> FakePendo:
        fake = FakePendo(timezone=zone, upload_polls=0)
        fake.start()
        fakes.append(fake)
        config = tmp_path / "pendo-segments.toml"
        line = f'timezone = "{configured}"\n' if configured else ""
        config.write_text(
            "[pendo]\nrate_limit_per_second = 0\npull_requests_per_second = 0\n"
            f"max_retries = 0\n{line}"
            f'[sync]\npoll_interval = 0.0\naudit_log = "{(tmp_path / "a.jsonl").as_posix()}"\n',
            encoding="utf-8",
        )
        for name, value in (
            ("PENDO_INTEGRATION_KEY", fake.key),
            ("PENDO_BASE_URL", fake.url),
            ("PENDO_SEGMENTS_CONFIG", str(config)),
            ("NO_PROXY", "127.0.0.1"),
        ):
            monkeypatch.setenv(name, value)
        for name in ("PENDO_TIMEZONE", "PENDO_REGION"):
            monkeypatch.delenv(name, raising=False)
        return fake

    yield start
    for fake in fakes:
        fake.stop()


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def one_visitor(fake: FakePendo, days: list[str]) -> None:
    fake.add_account("acme", agent={"arr": 1000, "plan": "Growth"})
    fake.add_visitor("u1", "acme")
    fake.add_events(
        {"visitorId": "u1", "accountId": "acme", "day": d, "numEvents": 3, "numMinutes": 2.0}
        for d in days
    )


# -- the setting: "not set" is not UTC ------------------------------------------------------
def test_an_unset_timezone_is_told_apart_from_utc(tmp_path: Path) -> None:
    unset = load_config(env={}, cwd=tmp_path).pendo
    utc = load_config(env={"PENDO_TIMEZONE": "UTC"}, cwd=tmp_path).pendo
    assert (unset.timezone_set, utc.timezone_set) == (False, True)
    assert utc.require_timezone("pull") == "UTC"
    with pytest.raises(ConfigError) as err:
        unset.require_timezone("pull")
    message = str(err.value)
    assert message.startswith("pull needs [pendo] timezone:")
    assert "PENDO_TIMEZONE" in message and "pendo check" in message and "\n" not in message


@pytest.mark.parametrize(
    "args",
    [
        ("pull", "--out", "OUT", "--days", "2", "--as-of", "2026-10-02"),
        ("sync", "plan", "--data", "DATA", "--as-of", "2026-10-02"),
        ("evaluate", "--data", "pendo:days=2", "--as-of", "2026-10-02"),
    ],
    ids=["pull", "sync plan", "data pendo:"],
)
def test_live_work_without_a_timezone_stops_in_one_line_before_any_pull(
    live: Any, tmp_path: Path, args: tuple[str, ...]
) -> None:
    from handmade import frames

    from pendo_segments.data.loaders import dataset_from_frames, write_dataset

    data = tmp_path / "data"
    write_dataset(dataset_from_frames(frames()), data)
    fake = live("Asia/Tokyo", None)
    one_visitor(fake, ["2026-10-01"])
    argv = [str(tmp_path / "out") if a == "OUT" else str(data) if a == "DATA" else a for a in args]
    result = run(*argv)
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs [pendo] timezone" in lines[0], result.stderr
    assert "pendo check" in lines[0]
    assert fake.calls("POST", "/api/v1/aggregation") == []
    assert not (tmp_path / "out").exists()


def test_compile_aggregation_for_a_day_with_a_key_needs_the_timezone(live: Any) -> None:
    live("Asia/Tokyo", None)
    args = ["compile", "--target", "aggregation", "-s", "at_risk", "--format", "json"]
    refused = run(*args, "--as-of", "2026-10-02")
    assert refused.exit_code == 1
    assert "needs [pendo] timezone" in refused.stderr and "--timezone" in refused.stderr
    # --timezone on the command line, or no fixed day (a relative window), is enough
    assert run(*args, "--as-of", "2026-10-02", "--timezone", "Asia/Tokyo").exit_code == 0
    assert run(*args).exit_code == 0


# -- pull: every stamp is a local midnight, read as its local date -------------------------
@pytest.mark.parametrize(
    ("zone", "days", "stamps"),
    [
        # JST midnight of Oct 1 is Sep 30 15:00 UTC: a UTC reading says Sep 30
        ("Asia/Tokyo", ["2026-10-01", "2026-10-02"], [ms("2026-09-30", 15), ms("2026-10-01", 15)]),
        # around the spring change: PST midnight at 08:00 UTC, PDT midnight at 07:00 UTC
        (
            "America/Los_Angeles",
            ["2026-03-07", "2026-03-08", "2026-03-09"],
            [ms("2026-03-07", 8), ms("2026-03-08", 8), ms("2026-03-09", 7)],
        ),
        # around the autumn change (Nov 1 is 25 hours long)
        (
            "America/Los_Angeles",
            ["2026-10-31", "2026-11-01", "2026-11-02"],
            [ms("2026-10-31", 7), ms("2026-11-01", 7), ms("2026-11-02", 8)],
        ),
    ],
    ids=["tokyo", "la-23h-day", "la-25h-day"],
)
def test_pull_reads_each_local_midnight_as_its_local_date(
    live: Any, tmp_path: Path, zone: str, days: list[str], stamps: list[int]
) -> None:
    fake = live(zone, zone)
    one_visitor(fake, days)
    # the fake answers with the local-midnight stamps worked out above
    assert sorted(e["day"] for e in fake.events) == stamps
    as_of = (dt.date.fromisoformat(days[-1]) + dt.timedelta(days=1)).isoformat()
    out = tmp_path / "usage"
    result = run("pull", "--out", str(out), "--days", str(len(days)), "--as-of", as_of)
    assert result.exit_code == 0, result.output
    usage = (out / "usage_daily.csv").read_text(encoding="utf-8").splitlines()
    assert [line.split(",")[0] for line in usage[1:]] == days
    # the window asked for starts at the local midnight of the first day
    body = fake.calls("POST", "/api/v1/aggregation")[-1].body
    assert body["request"]["pipeline"][0]["source"]["timeSeries"]["first"] == stamps[0]


# -- pendo check infers the zone --------------------------------------------------------------
def time_zone(result: Any) -> dict[str, Any]:
    checks = json.loads(result.stdout)["checks"]
    return next(c for c in checks if c["name"] == "time zone")


def check(day: str) -> Any:
    return run("pendo", "check", "--day", day, "--format", "json")


def test_check_names_the_zone_to_set_when_none_is(live: Any) -> None:
    one_visitor(live("Asia/Tokyo", None), ["2026-10-01"])
    result = check("2026-10-01")
    assert result.exit_code == 1
    probe = time_zone(result)
    assert probe["ok"] is False
    assert probe["detail"].startswith(
        "[pendo] timezone is not set; Pendo's days start at UTC+09:00 midnights "
        '(e.g. 2026-09-30 15:00 UTC): set timezone = "Asia/Tokyo" under [pendo]'
    )
    assert "Asia/Seoul" in probe["detail"]  # the other zone at +9 that day is named too


def test_check_says_when_the_setting_disagrees(live: Any) -> None:
    one_visitor(live("America/Los_Angeles", "America/New_York"), ["2026-10-01"])
    result = check("2026-10-01")
    assert result.exit_code == 1
    detail = time_zone(result)["detail"]
    assert detail.startswith(
        "[pendo] timezone America/New_York disagrees with Pendo: Pendo's days start at "
        "UTC-07:00 midnights (e.g. 2026-10-01 07:00 UTC)"
    )
    assert 'set timezone = "America/Los_Angeles"' in detail


@pytest.mark.parametrize(
    ("zone", "day", "offset"),
    [
        ("Asia/Tokyo", "2026-10-01", "UTC+09:00"),
        ("America/Los_Angeles", "2026-03-08", "UTC-08:00"),  # 23-hour day: starts in PST
        ("America/Los_Angeles", "2026-11-01", "UTC-07:00"),  # 25-hour day: starts in PDT
    ],
)
def test_check_confirms_a_matching_zone_on_change_days_too(
    live: Any, zone: str, day: str, offset: str
) -> None:
    fake = live(zone, zone)
    one_visitor(fake, [day])
    fake.add_metadata_field("account", "custom", "tier", "string")
    fake.add_metadata_field("account", "custom", "health_score", "number")
    result = check(day)
    assert result.exit_code == 0, result.output
    probe = time_zone(result)
    assert probe == {
        "name": "time zone",
        "ok": True,
        "detail": f"{zone} ({offset}) as configured: Pendo's days start at its midnights",
    }


def test_check_unset_zone_west_of_utc_still_finds_the_day(live: Any) -> None:
    """Without a zone the probe asks from noon UTC, which is still the asked day in Los
    Angeles (a UTC-midnight start would be the day before there, with no events)."""
    one_visitor(live("America/Los_Angeles", None), ["2026-03-08"])
    probe = time_zone(check("2026-03-08"))
    assert probe["ok"] is False
    assert 'set timezone = "America/Los_Angeles"' in probe["detail"]
    assert "UTC-08:00 midnights (e.g. 2026-03-08 08:00 UTC)" in probe["detail"]
