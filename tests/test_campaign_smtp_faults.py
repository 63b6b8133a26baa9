"""Whose failure is it? SMTP replies that are the server's cost no attempt and stop the
run's sending; only a recipient's own permanent refusal counts (issue 24 #2).

A real aiosmtpd server on 127.0.0.1 answers the codes under test. The world is
tests/campaign_world.py: three eligible visitors, queued in the order v_edge31,
v_en, v_ja (outbox ids 1, 2, 3), default max_attempts 5.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from campaign_world import ADDRESS, AS_OF, EXPECTED, World, smtp_env
from click.testing import CliRunner
from conftest import SmtpRecorder

from pendo_segments.campaign.enrol import FileEnroller
from pendo_segments.campaign.run import RunReport, run_no_login
from pendo_segments.campaign.smtp import SmtpSettings, smtp_settings
from pendo_segments.campaign.state import open_state
from pendo_segments.cli import main

EN, JA, EDGE = ADDRESS["v_en"], ADDRESS["v_ja"], ADDRESS["v_edge31"]


class FaultySmtp(SmtpRecorder):
    """SmtpRecorder that answers chosen replies and records every command it saw.

    ``rcpt_reply(address, accepted_in_session)`` / ``mail_reply`` / ``data_reply``
    return the reply to send instead of accepting (None: accept);
    ``drop_at_rcpt`` closes the connection without a reply;
    ``rcpt_delay`` seconds of silence before answering RCPT.
    """

    def __init__(self) -> None:
        super().__init__()
        self.rcpt_reply: Callable[[str, int], str | None] = lambda address, n: None
        self.mail_reply: str | None = None
        self.data_reply: str | None = None
        self.drop_at_rcpt = False
        self.rcpt_delay = 0.0
        self.sessions = 0
        self.rcpts: list[str] = []
        self.mails = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: ANN001
        self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_MAIL(self, server, session, envelope, address, options):  # noqa: ANN001
        self.mails += 1
        if self.mail_reply:
            return self.mail_reply
        return await super().handle_MAIL(server, session, envelope, address, options)

    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: ANN001
        self.rcpts.append(address)
        if self.rcpt_delay:
            await asyncio.sleep(self.rcpt_delay)
        if self.drop_at_rcpt:
            server.transport.close()
            return "250 OK"  # never arrives
        accepted = getattr(session, "accepted", 0)
        reply = self.rcpt_reply(address, accepted)
        if reply:
            return reply
        session.accepted = accepted + 1
        return await super().handle_RCPT(server, session, envelope, address, options)

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001
        if self.data_reply:
            return self.data_reply
        return await super().handle_DATA(server, session, envelope)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def faulty() -> Iterator[tuple[FaultySmtp, SmtpSettings]]:
    from aiosmtpd.controller import Controller

    port = _free_port()
    recorder = FaultySmtp()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield (
            recorder,
            smtp_settings(None, env={**smtp_env(port), "PENDO_SEGMENTS_SMTP_TIMEOUT": "5"}),
        )
    finally:
        controller.stop()


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World.create(tmp_path)


def send(world: World, cfg: SmtpSettings, **settings: object) -> RunReport:
    s = world.settings(**settings)
    return run_no_login(
        world.dataset(),
        s,
        as_of=AS_OF,
        send=True,
        smtp=cfg,
        enroller=FileEnroller(s.upload_file),
    )


def rows(world: World) -> dict[str, tuple[str, int]]:
    """visitor → (outbox state, attempts spent)."""
    state = open_state(world.folder / "state.sqlite", "no_login", read_only=True)
    try:
        return {r.visitor_id: (r.state, r.attempts) for r in state.outbox_rows()}
    finally:
        state.close()


def results(report: RunReport) -> dict[str, str]:
    return {r["visitor_id"]: r["result"] for r in report.rows if r["action"] != "skip"}


PENDING = dict.fromkeys(EXPECTED, ("pending", 0))


def test_421_at_rcpt_never_gives_anyone_up_and_stops_each_run(world: World, faulty) -> None:  # noqa: ANN001
    """The issue's report: six runs against a server closing at RCPT, then it recovers."""
    server, cfg = faulty
    server.rcpt_reply = lambda address, n: "421 4.3.2 Service shutting down, closing channel"
    for run in range(1, 7):  # more runs than max_attempts (5)
        report = send(world, cfg)
        assert sorted(results(report).values()) == ["not_attempted"] * 3
        assert len(server.rcpts) == run  # one RCPT per run: the sending stopped at the first
        assert rows(world) == PENDING
        assert "gave up" not in report.summary()
    stopped = [r for r in report.rows if r["detail"].startswith("not attempted: sending stopped")]
    assert len(stopped) == 2
    server.rcpt_reply = lambda address, n: None
    back = send(world, cfg)
    assert results(back) == dict.fromkeys(EXPECTED, "sent")
    assert sorted(server.to()) == sorted(ADDRESS.values())


def test_452_too_many_recipients_costs_no_attempt_and_the_rest_wait(world: World, faulty) -> None:  # noqa: ANN001
    """A server that takes one recipient per connection: 452 4.5.3 for the second."""
    server, cfg = faulty
    server.rcpt_reply = lambda address, n: "452 4.5.3 Too many recipients" if n >= 1 else None
    first = send(world, cfg)
    assert results(first) == {"v_edge31": "sent", "v_en": "not_attempted", "v_ja": "not_attempted"}
    assert server.rcpts == [EDGE, EN]  # stopped at the 452: v_ja was not tried
    assert rows(world) == {"v_edge31": ("sent", 0), "v_en": ("pending", 0), "v_ja": ("pending", 0)}
    # next run: v_ja (never tried) goes before v_en (stopped the last run)
    second = send(world, cfg)
    assert results(second) == {"v_en": "not_attempted", "v_ja": "sent"}
    third = send(world, cfg)
    assert results(third) == {"v_en": "sent"}
    assert server.to() == [EDGE, JA, EN]
    assert {v: a for v, (_, a) in rows(world).items()} == dict.fromkeys(EXPECTED, 0)


def test_a_connection_dropped_at_rcpt_stops_the_sending(world: World, faulty) -> None:  # noqa: ANN001
    server, cfg = faulty
    server.drop_at_rcpt = True
    report = send(world, cfg)
    assert sorted(results(report).values()) == ["not_attempted"] * 3
    assert (server.sessions, server.rcpts) == (1, [EDGE])  # no reconnect for the others
    assert rows(world) == PENDING
    server.drop_at_rcpt = False
    send(world, cfg)
    assert sorted(server.to()) == sorted(ADDRESS.values())


def test_a_silent_server_at_rcpt_times_out_and_stops(world: World, faulty) -> None:  # noqa: ANN001
    server, cfg = faulty
    server.rcpt_delay = 3.0
    quick = smtp_settings(None, env={**smtp_env(cfg.port), "PENDO_SEGMENTS_SMTP_TIMEOUT": "1"})
    report = send(world, quick)
    assert sorted(results(report).values()) == ["not_attempted"] * 3
    assert server.rcpts == [EDGE]
    assert rows(world) == PENDING


def test_a_sender_refused_at_mail_is_tried_once_per_run(world: World, faulty) -> None:  # noqa: ANN001
    server, cfg = faulty
    server.mail_reply = "451 4.3.0 Temporary local problem"
    report = send(world, cfg)
    assert sorted(results(report).values()) == ["not_attempted"] * 3
    assert (server.mails, server.rcpts) == (1, [])
    assert rows(world) == PENDING


@pytest.mark.parametrize(
    "reply",
    [
        "451 4.3.0 Try again later",  # a temporary failure of the server
        "554 5.7.1 Message rejected as spam",  # a policy refusal of the content
    ],
)
def test_a_refusal_at_data_costs_no_attempt(world: World, faulty, reply: str) -> None:  # noqa: ANN001
    """DATA is refused after the claim: the row goes back to its queue state unspent."""
    server, cfg = faulty
    server.data_reply = reply
    report = send(world, cfg)
    assert sorted(results(report).values()) == ["not_attempted"] * 3
    assert server.rcpts == [EDGE]
    assert rows(world) == PENDING
    server.data_reply = None
    send(world, cfg)
    assert sorted(server.to()) == sorted(ADDRESS.values())


def test_a_policy_refusal_for_everyone_is_not_counted(world: World, faulty) -> None:  # noqa: ANN001
    """550 5.7.1 relaying denied (a relay set up wrongly) is not about any one mailbox."""
    server, cfg = faulty
    server.rcpt_reply = lambda address, n: "550 5.7.1 Relaying denied"
    for _ in range(6):
        report = send(world, cfg)
        assert "gave up" not in report.summary()
    assert rows(world) == PENDING
    assert len(server.rcpts) == 6


@pytest.mark.parametrize(
    "reply", ["450 4.2.1 Mailbox busy", "452 4.2.2 Mailbox full", "450 Mailbox unavailable"]
)
def test_a_mailbox_busy_for_now_is_deferred_and_the_others_are_sent(
    world: World,
    faulty,  # noqa: ANN001
    reply: str,
) -> None:
    server, cfg = faulty
    server.rcpt_reply = lambda address, n: reply if address == EN else None
    for _ in range(6):
        report = send(world, cfg)
        assert results(report)["v_en"] == "deferred"
    assert sorted(server.to()) == sorted([EDGE, JA])
    assert rows(world)["v_en"] == ("pending", 0)


def test_only_the_recipients_own_permanent_refusal_counts(world: World, faulty) -> None:  # noqa: ANN001
    server, cfg = faulty
    server.rcpt_reply = lambda address, n: "550 5.1.1 No such user" if address == EN else None
    report = send(world, cfg)
    assert results(report) == {"v_edge31": "sent", "v_en": "failed", "v_ja": "sent"}
    assert rows(world)["v_en"] == ("failed", 1)


def test_a_recipient_that_stops_every_run_does_not_hold_up_the_queue(
    world: World,
    faulty,  # noqa: ANN001
) -> None:
    """Greylisting answers 451 4.7.1 per recipient; it looks like the server's, so the
    run stops — but the next run tries the others first, so nobody waits forever."""
    server, cfg = faulty
    server.rcpt_reply = lambda address, n: "451 4.7.1 Greylisted" if address == EDGE else None
    first = send(world, cfg)
    assert results(first) == dict.fromkeys(EXPECTED, "not_attempted")
    second = send(world, cfg)
    assert results(second) == {"v_edge31": "not_attempted", "v_en": "sent", "v_ja": "sent"}
    assert server.rcpts == [EDGE, EN, JA, EDGE]
    assert rows(world)["v_edge31"] == ("pending", 0)


@pytest.mark.parametrize(
    ("stage", "reply", "scope"),
    [
        # RFC 5321 §4.2.2 basic codes, no enhanced code
        ("rcpt", "421 closing", "server"),
        ("rcpt", "450 mailbox unavailable", "deferred"),
        ("rcpt", "451 local error", "server"),
        ("rcpt", "452 insufficient system storage", "server"),
        ("rcpt", "550 mailbox unavailable", "recipient"),
        ("rcpt", "551 user not local", "recipient"),
        ("rcpt", "552 exceeded storage allocation", "server"),  # §4.5.3.1.10: like 452
        ("rcpt", "553 mailbox name not allowed", "recipient"),
        ("rcpt", "554 transaction failed", "server"),
        # RFC 3463 enhanced codes: X.1 addressing and X.2 mailbox are the recipient's
        ("rcpt", "550 5.1.1 user unknown", "recipient"),
        ("rcpt", "554 5.1.10 null MX", "recipient"),
        ("rcpt", "552 5.2.2 mailbox full", "recipient"),
        ("rcpt", "452 4.2.2 mailbox full", "deferred"),
        ("rcpt", "451 4.1.1 try later", "deferred"),
        ("rcpt", "550 5.1.8 bad sender's system address", "server"),  # the sender, not rcpt
        ("rcpt", "550 5.7.1 relaying denied", "server"),
        ("rcpt", "452 4.5.3 too many recipients", "server"),
        ("rcpt", "421 4.2.1 closing channel", "server"),  # 421 always closes the channel
        ("rcpt", "550 4.1.1 mismatched class", "recipient"),  # enhanced class ≠ code: ignored
        ("data", "550 5.1.1 user unknown", "recipient"),
        ("data", "550 no thanks", "server"),  # at DATA a bare 550 is about the message
        ("data", "452 4.2.2 mailbox full", "deferred"),
        ("data", "451 4.3.0 later", "server"),
        ("mail", "550 5.1.1 user unknown", "server"),  # MAIL FROM: always the sender's
    ],
)
def test_reply_scope_by_code(stage: str, reply: str, scope: str) -> None:
    from pendo_segments.campaign.smtp import reply_scope

    code, text = reply.split(" ", 1)
    assert reply_scope(stage, int(code), text) == scope


NON_ASCII_PASSWORD = "pässwörd-日本"
CRAM_CHALLENGE = b"<1896.697170952@postoffice.example>"


class LoginRecorder(SmtpRecorder):
    """SmtpRecorder that also speaks CRAM-MD5 (RFC 2195), which aiosmtpd lacks."""

    def __init__(self, seen: list) -> None:
        super().__init__()
        self.seen = seen

    async def auth_CRAM__MD5(self, server, args):  # noqa: ANN001, ANN201, N802 - aiosmtpd's naming
        import hmac

        from aiosmtpd.smtp import AuthResult

        response = await server.challenge_auth(CRAM_CHALLENGE)
        user, _, digest = response.rpartition(b" ")
        self.seen.append(("CRAM-MD5", user, digest))
        key = NON_ASCII_PASSWORD.encode("utf-8")
        ok = digest == hmac.new(key, CRAM_CHALLENGE, "md5").hexdigest().encode()
        return AuthResult(success=ok and user == b"ops@acme.example", handled=False)


@pytest.fixture(params=["PLAIN", "LOGIN", "CRAM-MD5"])
def auth_smtp(request: pytest.FixtureRequest) -> Iterator[tuple[SmtpRecorder, int, list]]:
    """aiosmtpd asking for a login with one mechanism (no TLS: a test-only relay)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    seen: list = []

    def authenticator(server, session, envelope, mechanism, data):  # noqa: ANN001, ANN202
        assert isinstance(data, LoginPassword)
        seen.append((mechanism, data.login, data.password))
        ok = data.login == b"ops@acme.example" and data.password == NON_ASCII_PASSWORD.encode()
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535

    port = _free_port()
    recorder = LoginRecorder(seen)
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,
        auth_exclude_mechanism=[m for m in ("PLAIN", "LOGIN", "CRAM-MD5") if m != request.param],
    )
    controller.start()
    try:
        yield recorder, port, seen
    finally:
        controller.stop()


def test_a_non_ascii_password_logs_in_as_utf8(world: World, auth_smtp) -> None:  # noqa: ANN001
    """smtplib encodes AUTH as ASCII (UnicodeEncodeError); RFC 4616 PLAIN is UTF-8,
    and LOGIN / CRAM-MD5 servers expect the same bytes."""
    recorder, port, seen = auth_smtp
    env = {
        **smtp_env(port),
        "PENDO_SEGMENTS_SMTP_USER": "ops@acme.example",
        "PENDO_SEGMENTS_SMTP_PASSWORD": NON_ASCII_PASSWORD,
    }
    report = send(world, smtp_settings(None, env=env))
    assert results(report) == dict.fromkeys(EXPECTED, "sent")
    mechanism, user, secret = seen[0]
    assert user == b"ops@acme.example"
    if mechanism == "CRAM-MD5":  # the digest is checked by the server above
        assert len(secret) == 32
    else:
        assert secret == NON_ASCII_PASSWORD.encode("utf-8")
    assert sorted(recorder.to()) == sorted(ADDRESS.values())


def test_a_wrong_non_ascii_password_is_a_refused_login(world: World, auth_smtp) -> None:  # noqa: ANN001
    _, port, _ = auth_smtp
    env = {
        **smtp_env(port),
        "PENDO_SEGMENTS_SMTP_USER": "ops@acme.example",
        "PENDO_SEGMENTS_SMTP_PASSWORD": "wrông",
    }
    report = send(world, smtp_settings(None, env=env))
    assert sorted(results(report).values()) == ["not_attempted"] * 3
    assert report.rows[0]["detail"] == (
        f"SMTP 127.0.0.1:{port}: login as 'ops@acme.example' refused (535)"
    )
    assert "wrông" not in str(report.rows) + report.summary() + "".join(report.problems)
    assert rows(world) == PENDING


def test_a_bad_state_path_is_one_line_from_the_cli(tmp_path: Path, faulty) -> None:  # noqa: ANN001
    """``--state afile/x.sqlite`` and a folder at ``state.lock``: exit 1, one line."""
    _, cfg = faulty
    world = World.create(tmp_path)
    (tmp_path / "afile").write_text("x\n", encoding="utf-8")
    Path(f"{tmp_path / 'st.sqlite'}.lock").mkdir()
    config = tmp_path / "pendo-segments.toml"
    config.write_text(
        '[campaign.no_login]\nopt_out_file = "optout.txt"\nexclude_accounts = ["A2"]\n'
        'tiers_file = "tiers.csv"\nupload_file = "welcome_back.csv"\n',
        encoding="utf-8",
    )
    # as a shell would run it (in-process: an uncaught error would leave stderr empty)
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("PENDO")}
    env.update(smtp_env(cfg.port))
    for state, expected in [
        (
            tmp_path / "afile" / "x.sqlite",
            f"Error: {tmp_path}/afile/x.sqlite.lock: cannot create the campaign lock: "
            f"{tmp_path}/afile is not a folder",
        ),
        (
            tmp_path / "st.sqlite",
            f"Error: {tmp_path}/st.sqlite.lock: cannot create the campaign lock: it is a folder",
        ),
    ]:
        with contextlib.chdir(tmp_path):
            proc = CliRunner().invoke(
                main,
                ["campaign", "no-login", "run", "--send"]
                + ["--data", str(world.data), "--as-of", "2026-11-01", "--state", str(state)]
                + ["--format", "csv", "--config", str(config)],
                env=env,
            )
        assert proc.exit_code == 1, proc.stderr
        assert proc.stderr.strip().splitlines() == [expected]
