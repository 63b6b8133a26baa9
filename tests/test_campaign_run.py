"""The no-login campaign end to end: real SMTP on 127.0.0.1 (aiosmtpd), the fake Pendo,
a real SQLite state file. Expected visitors come from tests/campaign_world.py's table."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from campaign_world import ADDRESS, AS_OF, EXPECTED, World, smtp_env

from pendo_segments.campaign.enrol import FileEnroller, PendoEnroller
from pendo_segments.campaign.run import run_no_login
from pendo_segments.campaign.smtp import smtp_settings
from pendo_segments.campaign.state import open_state
from pendo_segments.campaign.status import campaign_status
from pendo_segments.errors import CampaignError, RenderError
from pendo_segments.pendo.client import PendoClient

TESTS = Path(__file__).parent


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World.create(tmp_path)


@pytest.fixture
def smtp(smtp_server):  # noqa: ANN001, ANN201
    recorder, port = smtp_server
    return recorder, smtp_settings(None, env=smtp_env(port))


def send(world: World, smtp_cfg, day: dt.date = AS_OF, enroller=None, **settings):  # noqa: ANN001, ANN201
    """One --send run of the campaign on the world's current data."""
    cfg = world.settings(**settings)
    return run_no_login(
        world.dataset(),
        cfg,
        as_of=day,
        send=True,
        smtp=smtp_cfg,
        enroller=enroller or FileEnroller(cfg.upload_file),
    )


def by_visitor(report) -> dict[str, dict]:  # noqa: ANN001
    return {r["visitor_id"]: r for r in report.rows}


def outbox_states(world: World) -> dict[str, str]:
    state = open_state(world.folder / "state.sqlite", "no_login", read_only=True)
    try:
        return {r.visitor_id: r.state for r in state.outbox_rows()}
    finally:
        state.close()


def test_dry_run_lists_who_and_why_and_sends_nothing(world: World, smtp) -> None:  # noqa: ANN001
    recorder, _ = smtp
    report = run_no_login(world.dataset(), world.settings(), as_of=AS_OF)
    rows = by_visitor(report)
    emailed = sorted(v for v, r in rows.items() if r["action"] == "email")
    assert emailed == EXPECTED
    assert {
        v: (rows[v]["days_since_last_visit"], rows[v]["tier"], rows[v]["locale"]) for v in EXPECTED
    } == {"v_edge31": (31, "P2", "en"), "v_en": (47, "P2", "en"), "v_ja": (42, "P2", "ja")}
    assert rows["v_en"]["detail"].startswith("no_login_30d: 47 days since last visit")
    assert {v: r["detail"] for v, r in rows.items() if r["action"] == "skip"} == {
        "v_optout": "opted out",
        "v_noemail": "no email address",
        "v_excl": "excluded account: A2",
    }
    assert "v_edge30" not in rows and "v_recent" not in rows and "v_never" not in rows
    assert recorder.messages == []
    assert not (world.folder / "state.sqlite").exists()  # a dry run writes nothing
    assert not (world.folder / "welcome_back.csv").exists()


def test_send_delivers_each_email_once_in_the_visitors_language(world: World, smtp) -> None:  # noqa: ANN001
    recorder, cfg = smtp
    report = send(world, cfg)
    assert report.problems == []
    assert sorted(recorder.to()) == sorted(ADDRESS.values())
    mails = {rcpts[0]: msg for rcpts, msg in recorder.messages}
    en, ja = mails["en@acme.example"], mails["ja@acme.example"]
    assert en["Subject"] == "Pick up where you left off in Acme Insights"
    assert "It has been 47 days since you last signed in" in en.get_body(("plain",)).get_content()
    assert ja["Subject"] == "Acme Insightsで前回の続きから始めましょう"
    assert "42日" in ja.get_body(("plain",)).get_content()
    assert ja["Content-Language"] == "ja"
    assert en["From"] == "Acme Insights <success@acme-insights.example>"
    # Message-ID = sha256("no_login␟visitor␟lapse day"), as documented in messages.py
    digest = hashlib.sha256(b"no_login\x1fv_en\x1f2026-09-15").hexdigest()[:32]
    assert en["Message-ID"] == f"<no_login.{digest}@acme-insights.example>"
    assert (world.folder / "welcome_back.csv").read_text() == "visitorId\nv_edge31\nv_en\nv_ja\n"
    assert outbox_states(world) == dict.fromkeys(EXPECTED, "sent")


def test_a_second_run_the_same_day_and_later_sends_nothing_twice(world: World, smtp) -> None:  # noqa: ANN001
    recorder, cfg = smtp
    send(world, cfg)
    again = send(world, cfg)
    assert len(recorder.messages) == 3
    assert again.counts["sent"] == 0
    assert by_visitor(again)["v_en"]["detail"] == "already contacted for this lapse (sent)"
    # a day later with the same data: same lapses, but v_edge30 is now 31 days away
    later = send(world, cfg, day=AS_OF + dt.timedelta(days=1))
    assert [r["visitor_id"] for r in later.rows if r["result"] == "sent"] == ["v_edge30"]
    assert sorted(recorder.to()) == sorted([*ADDRESS.values(), "edge30@acme.example"])


CRASH_SCRIPT = """
import os, sys
sys.path.insert(0, {tests!r})
from campaign_world import World, AS_OF, smtp_env
from pendo_segments.campaign.enrol import FileEnroller
from pendo_segments.campaign.run import run_no_login
from pendo_segments.campaign.smtp import smtp_settings
from pathlib import Path
world = World(Path({folder!r}))
cfg = world.settings()
# kill -9 style: no finally blocks, no commit, right after the server said 250
run_no_login(world.dataset(), cfg, as_of=AS_OF, send=True,
             smtp=smtp_settings(None, env=smtp_env({port})),
             enroller=FileEnroller(cfg.upload_file), after_send=lambda row: os._exit(3))
"""


def test_crash_between_send_and_confirm_never_sends_twice(world: World, smtp_server) -> None:  # noqa: ANN001
    recorder, port = smtp_server
    script = CRASH_SCRIPT.format(tests=str(TESTS), folder=str(world.folder), port=port)
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 3, proc.stderr
    assert recorder.to() == ["edge31@acme.example"]  # first in the outbox, then the crash
    assert outbox_states(world) == {"v_edge31": "sending", "v_en": "pending", "v_ja": "pending"}

    report = send(world, smtp_settings(None, env=smtp_env(port)))
    assert sorted(recorder.to()) == sorted(ADDRESS.values())  # v_edge31 not re-sent
    assert outbox_states(world) == {"v_edge31": "unconfirmed", "v_en": "sent", "v_ja": "sent"}
    recovered = [r for r in report.rows if r["action"] == "recover"]
    assert [r["visitor_id"] for r in recovered] == ["v_edge31"]
    assert report.problems == [
        "1 email unconfirmed (may have been delivered; not re-sent) "
        "— see `campaign no-login status`"
    ]
    status = campaign_status(world.settings())
    assert status.summary["contacted"] == 3 and status.summary["unconfirmed"] == 1
    assert [a["visitor_id"] for a in status.attention] == ["v_edge31"]
    assert [r["status"] for r in status.runs] == ["partial", "crashed"]
    # and it is still never re-sent, even days later
    send(world, smtp_settings(None, env=smtp_env(port)), day=AS_OF + dt.timedelta(days=3))
    assert recorder.to().count("edge31@acme.example") == 1


def test_two_overlapping_runs_send_once(world: World, smtp) -> None:  # noqa: ANN001
    recorder, cfg = smtp
    first_mail = threading.Event()
    recorder.on_mail = first_mail.set
    recorder.data_delay = 0.3
    errors: list[BaseException] = []

    def first() -> None:
        try:
            send(world, cfg)
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    thread = threading.Thread(target=first)
    thread.start()
    assert first_mail.wait(10)
    with pytest.raises(CampaignError, match="another campaign run is in progress"):
        send(world, cfg)
    thread.join(20)
    assert errors == []
    assert sorted(recorder.to()) == sorted(ADDRESS.values())


def test_two_processes_at_once_send_once(world: World, smtp_server, tmp_path: Path) -> None:  # noqa: ANN001
    recorder, port = smtp_server
    recorder.data_delay = 0.2
    config = tmp_path / "pendo-segments.toml"
    config.write_text(
        textwrap.dedent("""
        [campaign]
        state_file = "state.sqlite"
        [campaign.no_login]
        opt_out_file = "optout.txt"
        exclude_accounts = ["A2"]
        tiers_file = "tiers.csv"
        upload_file = "welcome_back.csv"
    """),
        encoding="utf-8",
    )
    env = {**os.environ, **smtp_env(port), "PENDO_INTEGRATION_KEY": ""}
    cmd = [
        sys.executable,
        "-c",
        "from pendo_segments.cli import main; main()",
        "campaign",
        "no-login",
        "run",
        "--send",
        "--data",
        str(world.data),
        "--as-of",
        "2026-11-01",
        "--config",
        str(config),
        "--wait",
        "0",
        "--format",
        "csv",
    ]
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [(p.wait(60), p.stderr.read()) for p in procs]  # type: ignore[union-attr]
    assert sorted(recorder.to()) == sorted(ADDRESS.values())
    codes = sorted(code for code, _ in results)
    assert codes in ([0, 0], [0, 1]), results
    if codes == [0, 1]:
        assert "another campaign run is in progress" in next(e for c, e in results if c == 1)


def test_cooldown_blocks_a_new_lapse_until_it_is_over(world: World, smtp) -> None:  # noqa: ANN001
    recorder, cfg = smtp
    send(world, cfg, window_days=7)  # 11-01: contacts v_edge30 too (30 > 7)
    world.login("v_en", "2026-11-03")  # came back, then lapsed again: a new lapse
    in_cooldown = send(world, cfg, day=dt.date(2026, 12, 1), window_days=7)
    assert (
        by_visitor(in_cooldown)["v_en"]["detail"]
        == "in cooldown: contacted on 2026-11-01 (30 days ago)"
    )
    assert recorder.to().count("en@acme.example") == 1
    over = send(world, cfg, day=dt.date(2026, 12, 2), window_days=7)
    assert by_visitor(over)["v_en"]["result"] == "sent"
    en = [m for rcpts, m in recorder.messages if rcpts == ["en@acme.example"]]
    assert len(en) == 2 and en[0]["Message-ID"] != en[1]["Message-ID"]
    assert "It has been 29 days" in en[1].get_body(("plain",)).get_content()


def test_a_visitor_who_came_back_is_not_emailed(world: World, smtp) -> None:  # noqa: ANN001
    recorder, cfg = smtp
    recorder.refuse["en@acme.example"] = "450 4.2.1 mailbox busy"
    first = send(world, cfg)
    assert by_visitor(first)["v_en"]["result"] == "deferred"  # busy for now: no attempt spent
    world.login("v_en", "2026-11-01")
    report = send(world, cfg, day=dt.date(2026, 11, 2))
    del recorder.refuse["en@acme.example"]
    assert by_visitor(report)["v_en"]["action"] == "cancel"
    assert by_visitor(report)["v_en"]["detail"] == "came back: logged in on 2026-11-01"
    assert "en@acme.example" not in recorder.to()
    assert outbox_states(world)["v_en"] == "cancelled"


def test_opted_out_visitors_are_never_emailed_even_with_a_queued_email(world: World, smtp) -> None:  # noqa: ANN001
    recorder, cfg = smtp
    recorder.refuse["ja@acme.example"] = "451 4.3.0 later"
    send(world, cfg)
    assert "optout@acme.example" not in [t.lower() for t in recorder.to()]
    (world.folder / "optout.csv").write_text("visitor_id,email\nv_ja,\n,optout@acme.example\n")
    del recorder.refuse["ja@acme.example"]
    report = send(world, cfg, opt_out_file=world.folder / "optout.csv")
    assert by_visitor(report)["v_ja"]["action"] == "cancel"
    assert by_visitor(report)["v_ja"]["detail"] == "opted out"
    assert "ja@acme.example" not in recorder.to()


def test_smtp_failures_are_retried_on_the_next_run(world: World, smtp) -> None:  # noqa: ANN001
    recorder, cfg = smtp
    recorder.fail_data = 1  # the first DATA (v_edge31) gets 451 4.3.0: the server's, for now
    first = send(world, cfg)
    assert [by_visitor(first)[v]["result"] for v in EXPECTED] == ["not_attempted"] * 3
    assert first.problems == [
        f"sending stopped, no attempt spent: SMTP 127.0.0.1:{cfg.port} rejected the message: "
        "451 4.3.0 try again later; 3 emails left for the next run"
    ]
    assert recorder.to() == []
    assert outbox_states(world) == dict.fromkeys(EXPECTED, "pending")  # claimed, then released
    second = send(world, cfg)
    assert [by_visitor(second)[v]["result"] for v in EXPECTED] == ["sent"] * 3
    assert recorder.to() == ["en@acme.example", "ja@acme.example", "edge31@acme.example"]
    assert (world.folder / "welcome_back.csv").read_text() == "visitorId\nv_edge31\nv_en\nv_ja\n"


def test_unreachable_server_leaves_everything_for_the_next_run(world: World, smtp) -> None:  # noqa: ANN001
    recorder, cfg = smtp
    down = smtp_settings(None, env={**smtp_env(1), "PENDO_SEGMENTS_SMTP_TIMEOUT": "2"})
    first = send(world, down)
    assert [by_visitor(first)[v]["result"] for v in EXPECTED] == [
        "not_attempted",
        "not_attempted",
        "not_attempted",
    ]  # a connection failure is not the recipient's: no attempt is spent (issue 12 #5)
    assert outbox_states(world) == {"v_edge31": "pending", "v_en": "pending", "v_ja": "pending"}
    send(world, cfg)
    assert sorted(recorder.to()) == sorted(ADDRESS.values())


def test_repeated_failures_give_up_and_are_reported(world: World, smtp) -> None:  # noqa: ANN001
    recorder, cfg = smtp
    recorder.refuse["en@acme.example"] = "550 5.1.1 no such user"
    send(world, cfg, max_attempts=2)
    second = send(world, cfg, max_attempts=2)
    assert by_visitor(second)["v_en"]["result"] == "gave_up"
    third = send(world, cfg, max_attempts=2)
    assert by_visitor(third)["v_en"]["detail"].startswith("gave up after 2 failed attempts")
    status = campaign_status(world.settings())
    assert [(a["visitor_id"], a["state"], a["attempts"]) for a in status.attention] == [
        ("v_en", "gave_up", 2)
    ]


def test_connection_lost_during_data_is_unconfirmed_not_resent(world: World, smtp) -> None:  # noqa: ANN001
    recorder, cfg = smtp
    recorder.drop_after_data = 1  # accepted, then the 250 never arrives
    report = send(world, cfg)
    assert by_visitor(report)["v_edge31"]["result"] == "unconfirmed"
    assert [by_visitor(report)[v]["result"] for v in ("v_en", "v_ja")] == ["sent", "sent"]
    send(world, cfg)
    assert sorted(recorder.to()) == sorted(ADDRESS.values())


def test_starttls_is_required_unless_disabled(world: World, smtp_server) -> None:  # noqa: ANN001
    recorder, port = smtp_server  # aiosmtpd here offers no STARTTLS
    env = {**smtp_env(port), "PENDO_SEGMENTS_SMTP_TLS": "starttls"}
    report = send(world, smtp_settings(None, env=env))
    assert by_visitor(report)["v_edge31"]["detail"] == (
        f"SMTP 127.0.0.1:{port} does not offer STARTTLS (set PENDO_SEGMENTS_SMTP_TLS=none only "
        "for a trusted relay)"
    )
    assert recorder.messages == []


def test_returns_within_14_days_make_the_success_rate(world: World, smtp) -> None:  # noqa: ANN001
    _, cfg = smtp
    send(world, cfg)  # contacts v_edge31, v_en, v_ja on 11-01
    world.login("v_ja", "2026-11-05")
    world.login("v_en", "2026-11-14")  # day 14 of the window (11-01 … 11-14): returned
    world.login("v_edge31", "2026-11-15")  # one day late: not a return
    send(world, cfg, day=dt.date(2026, 11, 21))
    status = campaign_status(world.settings())
    assert (
        status.summary["contacted"],
        status.summary["returned"],
        status.summary["undecided"],
        status.summary["return_rate"],
    ) == (4, 2, 1, 0.6667)
    # 4th: v_edge30, lapsed by 11-21 and contacted that day, still in its window
    assert status.runs[-1]["contacted"] == 3 and status.runs[-1]["returned"] == 2


def test_a_young_contact_is_undecided_not_a_failure(world: World, smtp) -> None:  # noqa: ANN001
    _, cfg = smtp
    send(world, cfg)
    status = campaign_status(world.settings())
    assert (status.summary["undecided"], status.summary["return_rate"]) == (3, None)


def test_enrolment_updates_the_pendo_segment_once_per_change(
    world: World, smtp, fake_pendo
) -> None:  # noqa: ANN001
    _, cfg = smtp
    client = PendoClient(
        fake_pendo.url,
        fake_pendo.key,
        sleep=lambda s: None,
        max_retries=0,
        rate_limit_per_second=None,
    )
    enroller = PendoEnroller(client, "[campaign] no-login welcome back")
    first = send(world, cfg, enroller=enroller)
    [segment_id] = [
        s
        for s, seg in fake_pendo.segments.items()
        if seg["name"] == "[campaign] no-login welcome back"
    ]
    assert fake_pendo.segment_visitors(segment_id) == EXPECTED
    assert first.counts["enrolled"] == 3
    assert len(fake_pendo.calls("POST", "/api/v1/segment/upload")) == 1
    fake_pendo.clear_log()
    send(world, cfg, enroller=enroller)  # nothing new: no call to Pendo at all
    assert fake_pendo.calls() == []
    world.login("v_en", "2026-11-03")
    fake_pendo.fail_next(1, status=503)
    failed = send(world, cfg, day=dt.date(2026, 12, 5), enroller=enroller)
    assert failed.problems[-1].startswith("welcome-back enrolment failed (retried next run): ")
    retried = send(world, cfg, day=dt.date(2026, 12, 5), enroller=enroller)
    assert retried.problems == []
    # window 11-06 … 12-05: the 11-01 contacts dropped out; in: v_en's new lapse and
    # v_edge30 / v_recent, lapsed by 12-05 in the unchanged data
    assert fake_pendo.segment_visitors(segment_id) == ["v_edge30", "v_en", "v_recent"]
    assert fake_pendo.calls("POST", "/api/v1/segment/upload") == []  # created only once


def test_a_broken_template_stops_the_run_before_any_email(world: World, smtp) -> None:  # noqa: ANN001
    recorder, cfg = smtp
    with pytest.raises(
        RenderError, match="unknown guide 'no_login_mail'; did you mean 'no_login_email'"
    ):
        send(world, cfg, email_guide="no_login_mail")
    assert recorder.messages == []
