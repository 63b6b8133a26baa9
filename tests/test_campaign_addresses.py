"""Issue 12 #3-#5, #16: bad addresses, shared mailboxes, SMTP outages, a private state file.

Real SMTP on 127.0.0.1 (aiosmtpd), a real SQLite state file; the expected
recipients are reasoned from tests/campaign_world.py's table plus the rows added here.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import campaign_world
import pytest
from campaign_world import ADDRESS, AS_OF, EXPECTED, World, smtp_env
from conftest import SmtpRecorder

from pendo_segments.campaign.address import check_address, mailbox_key
from pendo_segments.campaign.enrol import FileEnroller
from pendo_segments.campaign.run import run_no_login
from pendo_segments.campaign.smtp import smtp_settings
from pendo_segments.campaign.state import open_state
from pendo_segments.campaign.status import campaign_status


def _world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: list[tuple]) -> World:
    """The standard world plus ``extra`` (visitor, email as CSV text) lapsed on 09-10."""
    visitors = list(campaign_world.VISITORS)
    last = dict(campaign_world.LAST_ACTIVE)
    for visitor, email in extra:
        visitors.append((visitor, "A1", email, "en", "Extra Person"))
        last[visitor] = "2026-09-10"
    monkeypatch.setattr(campaign_world, "VISITORS", visitors)
    monkeypatch.setattr(campaign_world, "LAST_ACTIVE", last)
    return World.create(tmp_path)


def _send(world: World, smtp_cfg, day: dt.date = AS_OF, **settings):  # noqa: ANN001, ANN201
    cfg = world.settings(**settings)
    return run_no_login(
        world.dataset(),
        cfg,
        as_of=day,
        send=True,
        smtp=smtp_cfg,
        enroller=FileEnroller(cfg.upload_file),
    )


def _rows(report) -> dict[str, dict]:  # noqa: ANN001
    return {r["visitor_id"]: r for r in report.rows}


@pytest.mark.parametrize(
    "text",
    [
        "a@acme.example\r\nBcc: evil@x.example",
        "a@acme.example\nb@acme.example",
        "Emma <emma@acme.example>",
        "a@acme.example, b@acme.example",
        "a@acme.example;b@acme.example",
        "no-at-sign",
    ],
)
def test_not_one_mailbox_is_invalid_with_a_one_line_reason(text: str) -> None:
    normalised, why = check_address(text)
    assert normalised is None and why and "\n" not in why and "\r" not in why


def test_mailbox_key_ignores_case_and_normalises_the_domain() -> None:
    assert check_address("Emma@Acme.EXAMPLE") == ("Emma@acme.example", None)
    keys = {
        mailbox_key(a) for a in ("Emma@Acme.EXAMPLE", "emma@acme.example", " EMMA@acme.example")
    }
    assert len(keys) == 1


def test_bad_addresses_are_recorded_reported_and_never_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp_server: tuple[SmtpRecorder, int]
) -> None:
    recorder, port = smtp_server
    world = _world(
        tmp_path,
        monkeypatch,
        [
            ("v_crlf", '"crlf@acme.example\r\nBcc: evil@evil.example"'),
            ("v_display", "Emma <display@acme.example>"),
            ("v_list", '"one@acme.example, two@acme.example"'),
        ],
    )
    cfg = smtp_settings(None, env=smtp_env(port))
    first = _send(world, cfg)
    assert sorted(recorder.to()) == sorted(ADDRESS.values())  # the good ones all went out
    rows = _rows(first)
    for visitor in ("v_crlf", "v_display", "v_list"):
        assert (rows[visitor]["action"], rows[visitor]["result"]) == ("skip", "invalid_address")
        assert rows[visitor]["detail"].startswith("invalid_address: ")
    assert first.skipped_by_reason["invalid_address"] == 3
    assert "3 invalid_address" in first.summary()
    assert first.problems == []  # a data problem, reported, not a failed run
    assert any("3 invalid email address(es) skipped" in n for n in first.notes)
    status = campaign_status(world.settings())
    assert "invalid email address" in status.runs[0]["message"]
    second = _send(world, cfg)  # never retried, nothing else re-sent
    assert len(recorder.messages) == 3
    assert _rows(second)["v_crlf"]["result"] == "invalid_address"


def test_a_stored_bad_address_is_marked_not_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp_server: tuple[SmtpRecorder, int]
) -> None:
    """A row queued before addresses were validated must not stop the run (was a traceback)."""
    from pendo_segments.campaign.outbox import deliver
    from pendo_segments.campaign.smtp import SmtpSender

    recorder, port = smtp_server
    cfg = smtp_settings(None, env=smtp_env(port))
    state = open_state(tmp_path / "state.sqlite", "no_login")
    base = {
        "lapse_day": dt.date(2026, 9, 1),
        "account_id": "A1",
        "locale": "en",
        "tier": None,
        "days_since_last_visit": 61,
        "segment": "no_login_30d",
        "subject": "Hi",
        "body_text": "Hello",
        "body_html": "<p>Hello</p>",
        "guide_id": "g",
        "guide_locale": "en",
        "guide_title": "t",
    }
    state.enqueue(
        [
            {
                **base,
                "visitor_id": "bad",
                "email": "x@acme.example\r\nBcc: e@evil.example",
                "message_id": "<1@t>",
            },
            {**base, "visitor_id": "good", "email": "good@acme.example", "message_id": "<2@t>"},
        ],
        run_id=1,
    )
    with SmtpSender(cfg) as sender:
        outcomes = deliver(
            state, state.outbox_rows(), sender, cfg, run_id=1, contact_day=AS_OF, max_attempts=5
        )
    assert [(o.row.visitor_id, o.result) for o in outcomes] == [
        ("bad", "invalid_address"),
        ("good", "sent"),
    ]
    assert recorder.to() == ["good@acme.example"]
    assert {r.visitor_id: r.state for r in state.outbox_rows()}["bad"] == "invalid_address"
    state.close()


def test_one_mailbox_gets_one_email_per_lapse_and_respects_the_cooldown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp_server: tuple[SmtpRecorder, int]
) -> None:
    recorder, port = smtp_server
    world = _world(
        tmp_path,
        monkeypatch,
        [
            ("v_s1", "Shared@Acme.example"),
            ("v_s2", "shared@acme.EXAMPLE"),
            ("v_s3", "SHARED@acme.example"),
        ],
    )
    cfg = smtp_settings(None, env=smtp_env(port))
    first = _send(world, cfg)
    shared = [r for r in recorder.to() if r.casefold() == "shared@acme.example"]
    assert shared == ["Shared@acme.example"]  # v_s1 first by id; domain normalised
    rows = _rows(first)
    assert rows["v_s2"]["detail"] == "duplicate address: same mailbox as v_s1"
    assert rows["v_s3"]["detail"] == "duplicate address: same mailbox as v_s1"
    # Ten days later v_s2 and v_s3 are still lapsed (same lapse, never emailed):
    # the mailbox was contacted 10 days ago, so the cooldown holds for them too.
    later = _send(world, cfg, day=AS_OF + dt.timedelta(days=10))
    assert _rows(later)["v_s2"]["detail"] == "in cooldown: contacted on 2026-11-01 (10 days ago)"
    assert [r for r in recorder.to() if r.casefold() == "shared@acme.example"] == shared


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def switchable_smtp() -> Iterator[tuple[SmtpRecorder, int, dict]]:
    """An aiosmtpd server on a fixed port that the test stops and starts."""
    from aiosmtpd.controller import Controller

    port = _free_port()
    recorder = SmtpRecorder()
    box: dict = {"controller": None}

    def start() -> None:
        box["controller"] = Controller(recorder, hostname="127.0.0.1", port=port)
        box["controller"].start()

    def stop() -> None:
        if box["controller"] is not None:
            box["controller"].stop()
            box["controller"] = None

    box["start"], box["stop"] = start, stop
    try:
        yield recorder, port, box
    finally:
        stop()


def test_an_smtp_outage_spends_no_attempt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, switchable_smtp: tuple
) -> None:
    recorder, port, server = switchable_smtp
    world = World.create(tmp_path)
    cfg = smtp_settings(None, env={**smtp_env(port), "PENDO_SEGMENTS_SMTP_TIMEOUT": "2"})
    server["start"]()
    server["stop"]()  # the server is down (connection refused)
    for _ in range(4):  # more runs than max_attempts
        report = _send(world, cfg, max_attempts=2)
        assert {_rows(report)[v]["result"] for v in EXPECTED} == {"not_attempted"}
    state = open_state(world.folder / "state.sqlite", "no_login", read_only=True)
    assert {(r.visitor_id, r.state, r.attempts) for r in state.outbox_rows()} == {
        (v, "pending", 0) for v in EXPECTED
    }
    assert "cannot connect" in (state.outbox_rows()[0].last_error or "")
    state.close()
    server["start"]()
    back = _send(world, cfg, max_attempts=2)
    assert {_rows(back)[v]["result"] for v in EXPECTED} == {"sent"}
    assert sorted(recorder.to()) == sorted(ADDRESS.values())


def test_state_file_and_wal_are_private(
    tmp_path: Path, smtp_server: tuple[SmtpRecorder, int]
) -> None:
    _, port = smtp_server
    world = World.create(tmp_path)
    old = os.umask(0o022)
    try:
        state = open_state(world.folder / "state.sqlite", "no_login")
        state.set_meta("probe", "1")  # forces the -wal file into existence
        files = sorted(world.folder.glob("state.sqlite*"))
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in files if "lock" not in p.name}
        state.close()
    finally:
        os.umask(old)
    assert "state.sqlite-wal" in modes
    assert set(modes.values()) == {0o600}, modes
