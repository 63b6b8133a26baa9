"""``alerts notify`` as a library: exactly once per alert state, recoveries, and what each
webhook answer does — against a real webhook stand-in on 127.0.0.1 (tests/notify_world.py).

Accounts (flag → alert, by hand from alerts.yaml there): acc-1 red (high, P1: Enterprise),
acc-2 amber (medium, P3), acc-3 happy (info, P3), acc-4 none.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import stat
from pathlib import Path

import pytest
from notify_world import AS_OF, SECRET_PATH, Acct, Hook, write_data, write_defs

from pendo_segments.base.secret import Secret
from pendo_segments.errors import NotifyError
from pendo_segments.notify import notify
from pendo_segments.notify.settings import NotifySettings, Webhook
from pendo_segments.notify.state import open_notify_state
from pendo_segments.sources import open_dataset
from pendo_segments.tiers.alerts import alert_inputs

DAY = dt.date.fromisoformat(AS_OF)
BASE = [
    Acct("acc-1", "Acme", "red", "Enterprise", 120000, "Aiko Tanaka"),
    Acct("acc-2", "Beta", "amber"),
    Acct("acc-3", "Gamma", "happy"),
    Acct("acc-4", "Delta", ""),
]


@pytest.fixture
def hook():
    h = Hook().start()
    yield h
    h.stop()


class World:
    def __init__(self, tmp: Path, hook: Hook) -> None:
        self.defs = write_defs(tmp / "defs")
        self.data = tmp / "data"
        self.state = tmp / "state" / "notify.sqlite"
        self.hook = hook
        self.sleeps: list[float] = []

    def settings(self, **kw) -> NotifySettings:
        values = {
            "state_file": self.state,
            "default": Webhook("default", Secret(self.hook.url)),
            "min_interval": 0.0,
            "timeout": 2.0,
        }
        values.update(kw)
        return NotifySettings(**values)

    def run(self, accounts=BASE, *, send=True, day=DAY, **kw):
        write_data(self.data, accounts)
        settings = kw.pop("settings", None) or self.settings()
        ds = open_dataset(str(self.data), as_of=day)
        inputs = alert_inputs(self.defs)
        return notify(ds, inputs, settings, send=send, as_of=day, sleep=self.sleeps.append, **kw)


@pytest.fixture
def world(tmp_path: Path, hook: Hook) -> World:
    return World(tmp_path, hook)


def results(report) -> list[tuple[str, str, str, str]]:
    return [
        (o.message.account_id, o.message.alert, o.message.kind, o.result) for o in report.outcomes
    ]


def test_each_alert_is_posted_once_and_a_rerun_posts_nothing(world: World) -> None:
    first = world.run()
    # most severe first: red (high), amber (medium), happy (info)
    assert results(first) == [
        ("acc-1", "red", "alert", "posted"),
        ("acc-2", "amber", "alert", "posted"),
        ("acc-3", "happy", "alert", "posted"),
    ]
    assert first.ok
    assert world.hook.texts() == [
        "High alert: Red flag: Acme (acc-1)",
        "Medium alert: Amber flag: Beta (acc-2)",
        "Info alert: Happy: Gamma (acc-3)",
    ]
    assert all(r["path"] == SECRET_PATH for r in world.hook.received)
    assert all(r["content_type"] == "application/json; charset=utf-8" for r in world.hook.received)
    again = world.run(day=DAY + dt.timedelta(days=1))
    assert again.outcomes == [] and again.ok
    assert len(world.hook.received) == 3


def test_dry_run_shows_what_would_be_posted_and_writes_nothing(world: World) -> None:
    report = world.run(send=False)
    assert results(report) == [
        ("acc-1", "red", "alert", "would_post"),
        ("acc-2", "amber", "alert", "would_post"),
        ("acc-3", "happy", "alert", "would_post"),
    ]
    assert world.hook.received == [] and not world.state.exists()
    world.run()  # a real run, then a dry run on its state: nothing new
    assert world.run(send=False).outcomes == []


def test_an_alert_that_clears_and_fires_again_posts_again_with_a_recovery(world: World) -> None:
    world.run()
    cleared = [Acct("acc-1", "Acme", "", "Enterprise", 120000, "Aiko Tanaka"), *BASE[1:]]
    report = world.run(cleared, day=DAY + dt.timedelta(days=1))
    assert results(report) == [("acc-1", "red", "recovered", "posted")]
    assert world.hook.texts()[-1] == "Recovered: Red flag no longer fires: Acme (acc-1)"
    back = world.run(day=DAY + dt.timedelta(days=2))
    assert results(back) == [("acc-1", "red", "alert", "posted")]
    assert len(world.hook.received) == 5


def test_no_recovery_while_another_problem_alert_fires_nor_for_info(world: World) -> None:
    world.run()
    # acc-1 red → amber (red replaced amber; now amber fires): worse-to-better but still a
    # problem, so red closes silently and amber is new; acc-3's happy (info) clears silently
    later = [
        Acct("acc-1", "Acme", "amber", "Enterprise", 120000, "Aiko Tanaka"),
        BASE[1],
        Acct("acc-3", "Gamma", ""),
        BASE[3],
    ]
    report = world.run(later, day=DAY + dt.timedelta(days=1))
    assert results(report) == [("acc-1", "amber", "alert", "posted")]


def test_recovered_messages_can_be_turned_off(world: World) -> None:
    world.run()
    quiet = world.settings(recovered=False)
    report = world.run([BASE[3]], day=DAY + dt.timedelta(days=1), settings=quiet)
    assert report.outcomes == []


def test_an_account_gone_from_the_data_does_not_recover(world: World) -> None:
    world.run()
    report = world.run([BASE[1], BASE[2], BASE[3]], day=DAY + dt.timedelta(days=1))
    assert report.outcomes == []  # acc-1 left: its red episode closes without a message


def test_severities_filter(world: World) -> None:
    report = world.run(settings=world.settings(severities=("high",)))
    assert results(report) == [("acc-1", "red", "alert", "posted")]


def test_a_5xx_posts_nothing_more_to_that_webhook_and_the_next_run_retries(world: World) -> None:
    world.hook.script = [("ok",), ("status", 500, "internal_error")]
    report = world.run()
    assert results(report) == [
        ("acc-1", "red", "alert", "posted"),
        ("acc-2", "amber", "alert", "failed"),
        ("acc-3", "happy", "alert", "not_attempted"),
    ]
    assert report.outcomes[1].detail == "HTTP 500 internal_error"
    assert not report.ok
    assert len(world.hook.received) == 2
    retry = world.run(day=DAY + dt.timedelta(days=1))
    assert results(retry) == [
        ("acc-2", "amber", "alert", "posted"),
        ("acc-3", "happy", "alert", "posted"),
    ]
    assert retry.ok and len(world.hook.received) == 4


def test_a_timeout_is_not_posted_and_retried_next_run(world: World) -> None:
    world.hook.script = [("hang", 3)]
    report = world.run(settings=world.settings(timeout=0.5))
    assert results(report)[0] == ("acc-1", "red", "alert", "failed")
    assert report.outcomes[0].detail == "no answer within 0.5 s"
    assert [o.result for o in report.outcomes[1:]] == ["not_attempted", "not_attempted"]
    retry = world.run(day=DAY + dt.timedelta(days=1))
    assert [o.result for o in retry.outcomes] == ["posted", "posted", "posted"]


def test_a_429_waits_for_retry_after_then_posts(world: World) -> None:
    world.hook.script = [("throttle", "7"), ("throttle", "2")]
    report = world.run()
    assert report.ok and [o.result for o in report.outcomes] == ["posted"] * 3
    assert world.sleeps == [7.0, 2.0]  # exactly what Slack asked for, before the 3rd try
    assert world.hook.answers == [429, 429, 200, 200, 200]


def test_a_429_longer_than_the_bound_is_left_for_the_next_run(world: World) -> None:
    world.hook.script = [("throttle", "600")]
    report = world.run(settings=world.settings(max_retry_after=30))
    assert report.outcomes[0].result == "failed"
    assert report.outcomes[0].detail == (
        "HTTP 429, Retry-After 600 s is longer than max_retry_after (30 s); left for the next run"
    )
    assert world.sleeps == [] and len(world.hook.received) == 1


def test_too_many_429s_leave_the_message_for_the_next_run(world: World) -> None:
    world.hook.script = [("throttle", "1")] * 3
    report = world.run(settings=world.settings(max_throttled=2))
    assert report.outcomes[0].result == "failed"
    assert report.outcomes[0].detail == "HTTP 429 (throttled) 3 times; left for the next run"
    assert world.sleeps == [1.0, 1.0]


def test_min_interval_paces_posts_to_one_webhook(world: World) -> None:
    world.run(settings=world.settings(min_interval=1.0))
    # the fake clock is real time here: every wait is at most the interval, one per later post
    assert len(world.sleeps) == 2 and all(0 < s <= 1.0 for s in world.sleeps)


def test_a_400_is_this_messages_problem_the_rest_go_on(world: World) -> None:
    world.hook.script = [("status", 400, "invalid_payload")]
    report = world.run()
    assert [o.result for o in report.outcomes] == ["failed", "posted", "posted"]
    assert report.outcomes[0].detail == "HTTP 400 invalid_payload"


def test_per_csm_webhooks_and_japanese(world: World, tmp_path: Path) -> None:
    tanaka = Hook().start()
    try:
        settings = world.settings(
            csm_webhooks={"Aiko Tanaka": Webhook("csm:Aiko Tanaka", Secret(tanaka.url))},
            csm_locales={"Aiko Tanaka": "ja"},
        )
        report = world.run(settings=settings)
        assert [o.message.webhook for o in report.outcomes] == [
            "csm:Aiko Tanaka",
            "default",
            "default",
        ]
        assert tanaka.texts() == ["アラート（重要度 高）：赤信号：Acme (acc-1)"]
        blocks = tanaka.received[0]["json"]["blocks"]
        assert blocks[3]["text"]["text"] == "*対応*\n今日スポンサーに電話する"
        if importlib.util.find_spec("pendo_segments.report.signals_ja") is not None:
            # the report's translator of the health layer's words ("in segment X")
            assert blocks[2]["text"]["text"] == "*シグナル*\n• セグメント「flagged」に所属"
        assert len(world.hook.received) == 2
    finally:
        tanaka.stop()


def test_the_state_file_is_private_and_holds_no_webhook_url(world: World) -> None:
    world.run()
    assert stat.S_IMODE(os.stat(world.state).st_mode) == 0o600
    for name in os.listdir(world.state.parent):
        data = (world.state.parent / name).read_bytes()
        assert b"SECRET" not in data, name


def test_send_without_any_webhook_is_one_line(world: World) -> None:
    with pytest.raises(NotifyError, match=r"^no Slack webhook: set PENDO_SEGMENTS_SLACK_WEBHOOK"):
        world.run(settings=world.settings(default=None))
    assert not world.state.exists()


def test_alerts_that_could_not_run_keep_their_episodes(world: World, tmp_path: Path) -> None:
    """An alert that needs --previous and is not given it says nothing about clearing."""
    alerts = world.defs / "alerts.yaml"
    alerts.write_text(
        alerts.read_text(encoding="utf-8").replace(
            "    when: {segment: flagged}",
            "    when: {all: [{segment: flagged}, {previous: score, op: '<', value: 50}]}",
        ),
        encoding="utf-8",
    )
    previous = tmp_path / "health_before.csv"
    previous.write_text("account_id,health_score\nacc-1,10\n", encoding="utf-8")
    first = world.run(previous=previous)
    assert results(first)[0] == ("acc-1", "red", "alert", "posted")
    report = world.run(day=DAY + dt.timedelta(days=1))  # no --previous: red cannot run
    assert report.outcomes == []
    state = open_notify_state(world.state, read_only=True)
    assert [(e.account_id, e.alert) for e in state.open_episodes()] == [
        ("acc-1", "red"),
        ("acc-2", "amber"),
        ("acc-3", "happy"),
    ]
