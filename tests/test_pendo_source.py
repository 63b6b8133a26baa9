"""The live loader (``--data pendo:``) and ``pull``, against the fake Pendo.

Expected frames are the hand-made data set itself (tests/handmade.py) as the
fake was loaded with it, cut to the pulled window by hand; window edges and
epoch milliseconds are worked out in the comments.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner
from fake_pendo import FakePendo
from handmade import AS_OF

from pendo_segments.cli import main
from pendo_segments.data.loaders import load_dataset
from pendo_segments.data.pendo_source import (
    PendoSpec,
    after,
    day_chunks,
    estimate_pull,
    load_from_pendo,
)
from pendo_segments.errors import ConfigError, DataError
from pendo_segments.pendo.client import PendoClient
from pendo_segments.sources import open_dataset

DAY = 86_400_000
#: 2026-11-01T00:00Z: 20758 days after 1970-01-01 (56 years, 14 leap days → 20454 days to
#: 2026-01-01, then Jan..Oct 2026 = 304 days).
NOV_1_MS = 20758 * DAY


def client(fake: FakePendo) -> PendoClient:
    return PendoClient(fake.url, fake.key, rate_limit_per_second=None, max_retries=0)


def event_windows(fake: FakePendo, source: str) -> list[dict[str, Any]]:
    out = []
    for call in fake.calls("POST", "/api/v1/aggregation"):
        first = call.body["request"]["pipeline"][0]["source"]
        if source in first:
            out.append(first["timeSeries"])
    return out


# -- spec and helpers -----------------------------------------------------------------------
def test_spec_defaults_and_options() -> None:
    assert PendoSpec.parse("pendo:") == PendoSpec(days=90, page_size=50_000)
    assert PendoSpec.parse("pendo:days=30, page_size=7") == PendoSpec(days=30, page_size=7)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("pendo:day=3", "'pendo:day=3': unknown option 'day=3' (known: days=N, page_size=N)"),
        ("pendo:days=0", "'pendo:days=0': days must be a whole number >= 1, got '0'"),
        ("pendo:days=x", "'pendo:days=x': days must be a whole number >= 1, got 'x'"),
    ],
)
def test_spec_errors_name_the_option(spec: str, message: str) -> None:
    with pytest.raises(DataError) as err:
        PendoSpec.parse(spec)
    assert str(err.value) == message


def test_day_chunks_cover_the_days_before_as_of_in_30_day_calls() -> None:
    assert (dt.date(2026, 11, 1) - dt.date(1970, 1, 1)).days * DAY == NOV_1_MS
    # 45 days before Nov 1: Sep 17 … Oct 31 = 30 days from Sep 17, then 15 from Oct 17.
    assert day_chunks(AS_OF, 45) == [(NOV_1_MS - 45 * DAY, 30), (NOV_1_MS - 15 * DAY, 15)]
    assert day_chunks(AS_OF, 30) == [(NOV_1_MS - 30 * DAY, 30)]


def test_keyset_filter_is_lexicographic() -> None:
    assert after(["accountId"], {"accountId": "A2"}) == 'accountId > "A2"'
    assert (
        after(["visitorId", "day"], {"visitorId": "v1", "day": 5})
        == 'visitorId > "v1" || (visitorId == "v1" && day > 5)'
    )


# -- the pull -------------------------------------------------------------------------------
def test_pull_round_trips_the_data_set_within_the_window(handmade_pendo: FakePendo) -> None:
    # 31 days before Nov 1 = Oct 1 … Oct 31; the as-of day (a4v1 on Nov 1) is never pulled.
    ds = load_from_pendo("pendo:days=31,page_size=3", as_of=AS_OF, client=client(handmade_pendo))
    accounts = ds.accounts.set_index("account_id")
    assert list(accounts.index) == ["A1", "A2", "A3", "A4", "A5"]
    assert list(accounts["arr"]) == [15000.0, 15000.01, 200000.0, 50000.0, 80000.0]
    assert list(accounts["plan"]) == ["Starter", "Growth", "Enterprise", "Growth", "Enterprise"]
    assert accounts.loc["A1", "contract_start"] == pd.Timestamp("2023-11-04")
    assert pd.isna(accounts.loc["A4", "contract_start"])
    assert pd.isna(accounts.loc["A3", "self_service"])
    visitors = ds.visitors.set_index("visitor_id")
    assert visitors.loc["x1", "account_id"] == "ghost"
    assert visitors.loc["a1v2", "language"] == "ja"
    # Pendo's first visit of a visitor without one is its first active day (a5v1: Oct 2).
    assert visitors.loc["a5v1", "first_visit"] == pd.Timestamp("2026-10-02")
    usage = {
        (str(r.visitor_id), r.date.date().isoformat()): (r.minutes, r.events)
        for r in ds.usage_daily.itertuples()
    }
    assert ("a4v1", "2026-11-01") not in usage
    assert usage[("a4v1", "2026-10-01")] == (60.0, 9)
    assert usage[("x1", "2026-10-20")] == (0.0, 1)
    assert len(usage) == 10 - 1 + 16  # the hand-made rows minus the as-of day one
    clicks = sorted(
        (str(r.visitor_id), str(r.feature_id), r.clicks) for r in ds.feature_usage.itertuples()
    )
    assert clicks == [
        ("a1v1", "data_explorer", 5),
        ("a1v1", "path_reports", 10),
        ("a5v1", "core_events", 12),
        ("a5v1", "data_explorer", 1),
        ("a5v1", "path_reports", 2),
    ]
    assert sorted(ds.key_features()) == [
        "core_events",
        "data_explorer",
        "guide_publishing",
        "path_reports",
    ]
    assert ds.default_as_of() == AS_OF


def test_event_pulls_are_at_most_30_days_each_and_paged(handmade_pendo: FakePendo) -> None:
    load_from_pendo("pendo:days=31,page_size=3", as_of=AS_OF, client=client(handmade_pendo))
    windows = {(w["first"], w["count"]) for w in event_windows(handmade_pendo, "events")}
    assert windows == {(NOV_1_MS - 31 * DAY, 30), (NOV_1_MS - DAY, 1)}
    # a5v1 alone has 16 usage days in the first window: 3 rows a page → several pages
    pages = [
        c
        for c in handmade_pendo.calls("POST", "/api/v1/aggregation")
        if "events" in c.body["request"]["pipeline"][0]["source"]
        and c.body["request"]["pipeline"][0]["source"]["timeSeries"]["count"] == 30
    ]
    assert len(pages) == 9  # all 25 pulled rows are in Oct 1-30: 8 full pages + 1 short
    assert any(
        'visitorId > "a5v1"' in str(p.body) or 'visitorId == "a5v1"' in str(p.body) for p in pages
    )


def test_usage_outside_the_days_is_not_pulled(handmade_pendo: FakePendo) -> None:
    ds = load_from_pendo("pendo:days=30", as_of=AS_OF, client=client(handmade_pendo))
    days = {r.date.date() for r in ds.usage_daily.itertuples()}
    assert min(days) == dt.date(2026, 10, 2) and max(days) == dt.date(2026, 10, 20)


def test_time_typed_custom_fields_become_dates(fake_pendo: FakePendo) -> None:
    fake_pendo.add_metadata_field("account", "custom", "renewal", "time")
    fake_pendo.add_account(
        "acme", agent={"arr": 10, "plan": "Growth"}, custom={"renewal": NOV_1_MS, "tier": "P2"}
    )
    fake_pendo.add_visitor("u1", None, auto={"accountids": ["acme"]})
    ds = load_from_pendo("pendo:days=1", as_of=AS_OF, client=client(fake_pendo))
    row = ds.accounts.iloc[0]
    assert row["renewal"] == pd.Timestamp("2026-11-01") and row["tier"] == "P2"
    # no auto.accountid: the first of auto.accountids
    assert ds.visitors.iloc[0]["account_id"] == "acme"


def test_as_of_defaults_to_today_utc(fake_pendo: FakePendo) -> None:
    fake_pendo.add_account("acme", agent={"arr": 1, "plan": "P"})
    ds = load_from_pendo("pendo:days=2", client=client(fake_pendo))
    assert ds.default_as_of() == dt.datetime.now(dt.UTC).date()


def test_open_dataset_uses_the_configured_subscription(
    handmade_pendo: FakePendo, pendo_env: dict[str, str]
) -> None:
    ds = open_dataset("pendo:days=31", as_of=AS_OF)
    assert ds.source == "pendo" and len(ds.visitors) == 8


def test_no_key_is_a_config_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PENDO_INTEGRATION_KEY", raising=False)
    monkeypatch.delenv("PENDO_SEGMENTS_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="no Pendo integration key: set PENDO_INTEGRATION_KEY"):
        open_dataset("pendo:")


# -- the pull command -----------------------------------------------------------------------
def test_pull_command_writes_a_contract_folder(
    handmade_pendo: FakePendo, pendo_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "usage"
    result = CliRunner().invoke(
        main, ["pull", "--out", str(out), "--days", "31", "--as-of", "2026-11-01"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"Wrote {out} (as of 2026-11-01): accounts 5, visitors 8, "
        "usage_daily 25, feature_usage 5, features 5 rows\n"
        "History as of 2026-11-01: accounts 5 new, 0 changed, 0 unchanged; "
        "visitors 8 new, 0 changed, 0 unchanged\n"
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "accounts.csv",
        "accounts_history.csv",  # the first pull starts the history (tests/test_pull_history.py)
        "feature_usage.csv",
        "features.csv",
        "usage_daily.csv",
        "visitors.csv",
        "visitors_history.csv",
    ]
    again = load_dataset(out)
    assert list(again.accounts["arr"]) == [15000.0, 15000.01, 200000.0, 50000.0, 80000.0]
    # a folder's own default as-of is the day after its last usage (x1 on Oct 20)
    assert again.default_as_of() == dt.date(2026, 10, 21)


def test_pull_command_without_key_fails_with_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PENDO_INTEGRATION_KEY", raising=False)
    monkeypatch.delenv("PENDO_SEGMENTS_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["pull", "--out", str(tmp_path / "x")])
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: no Pendo integration key: set PENDO_INTEGRATION_KEY (or "
        "integration_key under [pendo] in pendo-segments.toml)\n"
    )


# --- apps, time zones and visit dates (docs/pendo-api.md §0, §2) --------------------------
def event_sources(fake: FakePendo) -> list[dict[str, Any]]:
    out = []
    for call in fake.calls("POST", "/api/v1/aggregation"):
        source = call.body["request"]["pipeline"][0]["source"]
        if "events" in source or "featureEvents" in source:
            out.append(source)
    return out


def test_every_event_source_names_every_app_by_default(handmade_pendo: FakePendo) -> None:
    load_from_pendo("pendo:days=31", as_of=AS_OF, client=client(handmade_pendo), app_ids=("*",))
    sources = event_sources(handmade_pendo)
    assert sources and all(
        (s.get("events") or s.get("featureEvents"))["appId"] == 'expandAppIds("*")' for s in sources
    )


def test_events_of_other_apps_count_only_when_asked_for(fake_pendo: FakePendo) -> None:
    fake_pendo.add_account("acme", agent={"arr": 1, "plan": "P"})
    fake_pendo.add_visitor("u1", "acme")
    # one day in Pendo's default app, one in a mobile app (id 5001)
    fake_pendo.add_events(
        [
            {"visitorId": "u1", "accountId": "acme", "day": "2026-10-30", "numEvents": 2},
            {
                "visitorId": "u1",
                "accountId": "acme",
                "day": "2026-10-31",
                "numEvents": 3,
                "appId": 5001,
            },
        ]
    )

    def days(app_ids: tuple[str, ...]) -> list[str]:
        ds = load_from_pendo(
            "pendo:days=5", as_of=AS_OF, client=client(fake_pendo), app_ids=app_ids
        )
        return sorted(d.date().isoformat() for d in ds.usage_daily["date"])

    assert days(("*",)) == ["2026-10-30", "2026-10-31"]
    assert days(("5001",)) == ["2026-10-31"]
    assert event_sources(fake_pendo)[-1]["events"]["appId"] == ["5001"]


def test_days_are_the_subscription_time_zone_days() -> None:
    # New York, where DST ends on 2026-11-01: Oct 1 and Nov 1 start at 04:00 UTC.
    assert day_chunks(AS_OF, 31, "America/New_York") == [
        (NOV_1_MS - 31 * DAY + 4 * 3_600_000, 30),
        (NOV_1_MS - DAY + 4 * 3_600_000, 1),
    ]


def test_pull_in_a_us_subscription_keeps_every_day(monkeypatch: pytest.MonkeyPatch) -> None:
    from handmade import frames

    from pendo_segments.data.loaders import dataset_from_frames

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with FakePendo(timezone="America/Los_Angeles") as fake:
        fake.load_dataset(dataset_from_frames(frames()))
        ds = load_from_pendo(
            "pendo:days=31", as_of=AS_OF, client=client(fake), timezone="America/Los_Angeles"
        )
    usage = {(str(r.visitor_id), r.date.date().isoformat()) for r in ds.usage_daily.itertuples()}
    # the same days as the hand-made data (as in the UTC round trip above), none a day early
    assert ("a4v1", "2026-10-01") in usage and ("x1", "2026-10-20") in usage
    assert len(usage) == 10 - 1 + 16
    visitors = ds.visitors.set_index("visitor_id")
    assert visitors.loc["a5v1", "first_visit"] == pd.Timestamp("2026-10-02")


def test_first_and_last_visit_come_from_pendo_history(fake_pendo: FakePendo) -> None:
    fake_pendo.add_account("acme", agent={"arr": 1, "plan": "P"})
    # 2026-06-15T02:00Z is still June 14 in New York; 2024-01-01T12:00Z is Jan 1 there.
    june_15_2am = (dt.date(2026, 6, 15) - dt.date(1970, 1, 1)).days * DAY + 2 * 3_600_000
    jan_1_noon = (dt.date(2024, 1, 1) - dt.date(1970, 1, 1)).days * DAY + 12 * 3_600_000
    fake_pendo.add_visitor(
        "gone", "acme", auto={"firstvisit": jan_1_noon, "lastvisit": june_15_2am}
    )
    ds = load_from_pendo(
        "pendo:days=30", as_of=AS_OF, client=client(fake_pendo), timezone="America/New_York"
    )
    row = ds.visitors.set_index("visitor_id").loc["gone"]
    assert row["first_visit"] == pd.Timestamp("2024-01-01")
    assert pd.Timestamp(row["last_visit"]) == pd.Timestamp("2026-06-14")  # before the window


# --- pacing, Retry-After, the estimate and the progress bar (issue 26 #6) --------------------
class SimClock:
    """Simulated time for the client: ``sleep`` moves ``clock`` on and is recorded."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def paced_client(fake: FakePendo, sim: SimClock, rate: float) -> PendoClient:
    return PendoClient(
        fake.url,
        fake.key,
        rate_limit_per_second=rate,
        max_retries=2,
        sleep=sim.sleep,
        clock=sim.clock,
    )


def test_the_estimate_counts_schema_record_and_event_calls() -> None:
    # 90 days: 3 windows of 30; 2 schema reads + accounts, visitors, features = 5, then
    # per window 1 events call + 1 featureEvents call per feature.
    first = estimate_pull(90, rate=1.0)
    assert (first.windows, first.fixed, first.per_feature, first.requests) == (3, 8, 3, None)
    assert first.text() == (
        "about 8 requests + 3 per feature in Pendo; about 8 s + 3 s per feature at "
        "1 request per second"
    )
    known = estimate_pull(90, 300, rate=1.0)  # 8 + 3 × 300 = 908 s = 15 min 8 s
    assert (
        known.text() == "300 features: about 908 requests; about 15 min 8 s at 1 request per second"
    )
    assert estimate_pull(31, 5).text() == "5 features: about 17 requests; not paced"
    # 8 / 5 = 1.6 s, 3 / 5 = 0.6 s: under 10 s a tenth is kept
    assert estimate_pull(90, rate=5.0).text() == (
        "about 8 requests + 3 per feature in Pendo; about 1.6 s + 0.6 s per feature at "
        "5 requests per second"
    )
    # 5 + 4 windows (100 days) + 4 × 2,000 = 8,009 requests at 0.5/s = 16,018 s ≈ 4 h 27 min
    assert estimate_pull(100, 2000, rate=0.5).text() == (
        "2,000 features: about 8,009 requests; about 4 h 27 min at 0.5 requests per second"
    )


def test_a_pull_is_paced_and_sends_what_it_estimated(handmade_pendo: FakePendo) -> None:
    sim = SimClock()
    sent: list[int] = []
    estimates: list[Any] = []
    ds = load_from_pendo(
        "pendo:days=31",
        as_of=AS_OF,
        client=paced_client(handmade_pendo, sim, 1.0),
        sent=lambda: sent.append(1),
        estimate=estimates.append,
        rate=1.0,
    )
    # the hand-made data has 5 features; 31 days are 2 windows: 5 + 2 + 2 × 5 = 17
    assert len(ds.features) == 5
    assert [e.requests for e in estimates] == [17]
    assert len(handmade_pendo.calls()) == 17 == len(sent)
    # one request a second: the first at once, each of the other 16 after 1 s
    assert sim.sleeps == [1.0] * 16 and sim.now == 16.0


def test_a_429_waits_as_long_as_retry_after_says_then_the_pull_goes_on(
    handmade_pendo: FakePendo,
) -> None:
    sim = SimClock()
    handmade_pendo.fail_next(1, status=429, retry_after=7)
    ds = load_from_pendo(
        "pendo:days=31", as_of=AS_OF, client=paced_client(handmade_pendo, sim, 1.0), rate=1.0
    )
    assert len(ds.visitors) == 8
    # the first request is refused, 7 s later it goes again (the 7 s refilled the
    # bucket, so no pacing wait); the 16 others follow a second apart
    assert sim.sleeps == [7.0] + [1.0] * 16
    assert len(handmade_pendo.calls()) == 18 and sim.now == 23.0


def test_pull_dry_run_prints_the_estimate_and_sends_nothing(
    fake_pendo: FakePendo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "pendo-segments.toml"
    config.write_text("[pendo]\npull_requests_per_second = 1\n", encoding="utf-8")
    monkeypatch.setenv("PENDO_SEGMENTS_CONFIG", str(config))
    monkeypatch.setenv("PENDO_BASE_URL", fake_pendo.url)
    monkeypatch.delenv("PENDO_INTEGRATION_KEY", raising=False)  # not needed to estimate
    out = tmp_path / "usage"
    result = CliRunner().invoke(main, ["pull", "--out", str(out), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "pull --dry-run: nothing sent. 90 days of usage in 3 windows of at most 30 days: "
        "about 8 requests + 3 per feature in Pendo; about 8 s + 3 s per feature at 1 request "
        "per second, counting one page per call (an answer of 50,000 rows takes another).\n"
    )
    assert fake_pendo.calls() == [] and not out.exists()


def test_pull_says_its_estimate_once_it_knows_the_features(
    handmade_pendo: FakePendo, pendo_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "usage"
    result = CliRunner().invoke(
        main, ["pull", "--out", str(out), "--days", "31", "--as-of", "2026-11-01"]
    )
    assert result.exit_code == 0, result.output
    # pendo_env switches pacing off ([pendo] pull_requests_per_second = 0); not a
    # terminal, so only the full estimate, said before the usage pulls
    assert [line for line in result.stderr.splitlines() if line.startswith("pull:")] == [
        "pull: 5 features: about 17 requests; not paced",
    ]


def test_the_progress_bar_counts_requests_and_grows_with_extra_pages() -> None:
    from io import StringIO

    from rich.console import Console

    from pendo_segments.cli.sync_cmds import PullProgress

    screen = StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    with PullProgress(estimate_pull(31, rate=1.0), console=console) as bar:
        task = bar.bar.tasks[0]
        assert task.total == 7  # before the feature list: the 7 known requests
        for _ in range(3):
            bar.sent()
        bar.estimate(estimate_pull(31, 5, rate=1.0))
        assert (task.completed, task.total) == (3, 17)
        for _ in range(15):  # one page more than counted
            bar.sent()
        assert (task.completed, task.total) == (18, 18)
    text = screen.getvalue()
    assert "pull: about 7 requests + 2 per feature in Pendo; about 7 s + 2 s per feature" in text
    assert "pull: 5 features: about 17 requests; about 17 s at 1 request per second" in text


def test_pull_requests_per_second_is_read_bounded_and_the_slower_rate_wins(
    tmp_path: Path,
) -> None:
    from pendo_segments.config import load_config

    path = tmp_path / "pendo-segments.toml"
    path.write_text("[pendo]\n", encoding="utf-8")
    assert load_config(path, env={}).pendo.pull_rate == 1.0  # the defaults: 5 and 1
    path.write_text("[pendo]\npull_requests_per_second = 2\n", encoding="utf-8")
    assert load_config(path, env={}).pendo.pull_rate == 2.0
    path.write_text(
        "[pendo]\npull_requests_per_second = 2\nrate_limit_per_second = 0.5\n", encoding="utf-8"
    )
    assert load_config(path, env={}).pendo.pull_rate == 0.5
    path.write_text("[pendo]\npull_requests_per_second = 0\n", encoding="utf-8")
    assert load_config(path, env={}).pendo.pull_rate == 5.0  # only the client's limit
    path.write_text("[pendo]\npull_requests_per_second = inf\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert str(err.value) == (
        f"{path}: [pendo].pull_requests_per_second: must be 0 (no pacing) or a number from "
        "0.01 to 1000, got inf"
    )
