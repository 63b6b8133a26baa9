"""Email over SMTP (stdlib ``smtplib``), split so the outbox can commit before DATA.

Settings come from the environment (a scheduled job injects them), falling
back to the ``[smtp]`` table of the config file for everything but the
password::

    PENDO_SEGMENTS_SMTP_HOST      smtp.example.com            (required to send)
    PENDO_SEGMENTS_SMTP_PORT      587 (starttls) | 465 (ssl) | 25 (none) by default
    PENDO_SEGMENTS_SMTP_TLS       starttls (default) | ssl | none
    PENDO_SEGMENTS_SMTP_USER      login name (no login when unset)
    PENDO_SEGMENTS_SMTP_PASSWORD  environment only; never read from a file, never printed
    PENDO_SEGMENTS_SMTP_FROM      "Acme Insights <success@acme.example>"  (required)
    PENDO_SEGMENTS_SMTP_REPLY_TO  optional Reply-To
    PENDO_SEGMENTS_SMTP_TIMEOUT   seconds per SMTP command (default 30)
    PENDO_SEGMENTS_SMTP_UNSUBSCRIBE  List-Unsubscribe target(s), comma-separated:
                                  mailto:… and/or https://… (``{email}`` and
                                  ``{visitor_id}`` are filled in, URL-encoded).
                                  Default: mailto:<Reply-To or From>?subject=unsubscribe

Every email carries ``List-Unsubscribe`` (RFC 2369); with an https target
also ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058).

``starttls`` refuses to continue in clear text when the server does not offer
STARTTLS: credentials are never sent unencrypted unless ``tls = none`` says so.

:meth:`SmtpSender.send` does MAIL FROM and RCPT TO, then calls
``before_data()`` (the outbox commits ``sending`` there), then DATA. Errors
are sorted by what they mean for the message: :class:`NotDelivered` (nothing
was accepted: safe to retry) or :class:`MaybeDelivered` (the connection broke
during DATA: the server may have accepted it). A NotDelivered also says whose
failure it was (:func:`reply_scope`), which decides what it costs.

A login name or password outside ASCII goes out as UTF-8 (smtplib's AUTH
would raise ``UnicodeEncodeError``): RFC 4616 defines PLAIN as UTF-8, and
servers that take LOGIN or CRAM-MD5 with such passwords expect the same bytes.
"""

from __future__ import annotations

import base64
import hmac
import re
import smtplib
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator, Field

from pendo_segments.base.secret import Secret
from pendo_segments.base.settings import Section, number, one_of, problem, read_section, whole
from pendo_segments.errors import ConfigError

ENV_PREFIX = "PENDO_SEGMENTS_SMTP_"
TLS_MODES = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
_FILE_KEYS = ("host", "port", "tls", "user", "from", "reply_to", "timeout", "unsubscribe")


#: Whose failure a refusal is (:func:`reply_scope`), which decides what it costs:
RECIPIENT = "recipient"  # this mailbox, for good: one failed attempt (gave_up after max)
DEFERRED = "deferred"  # this mailbox, for now: no attempt; the run goes on to the next
SERVER = "server"  # the server or the network: no attempt; the run stops sending

#: RFC 3463 enhanced status at the start of a reply: class.subject.detail
_ENHANCED = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})(?!\S)")
#: RFC 5321 replies to RCPT that are about the mailbox itself (without an enhanced status)
_MAILBOX_CODES = (450, 550, 551, 553)
#: RFC 3463 X.1.7 / X.1.8: the *sender's* address is bad (subject 1, but not the recipient)
_SENDER_DETAILS = (7, 8)


def reply_scope(stage: str, code: int, text: str) -> str:
    """Whose failure a refusal at ``stage`` (``mail`` | ``rcpt`` | ``data``) is.

    Only a reply about this one mailbox is the recipient's: an enhanced status of
    subject 1 (addressing, except the sender's X.1.7 / X.1.8) or 2 (mailbox), or,
    at RCPT without one, RFC 5321's mailbox replies 450 / 550 / 551 / 553. Then
    5xx → :data:`RECIPIENT`, 4xx → :data:`DEFERRED` (e.g. ``452 4.2.2`` mailbox
    full). Everything else is :data:`SERVER`: 421 (closing), MAIL FROM, 451 / 452
    (local error, storage, ``4.5.3`` too many recipients), policy (``5.7.1``
    relaying denied) — the next recipient would get the same answer, so spending
    attempts on them would give up on everyone during one outage.
    """
    if code == 421 or stage == "mail":
        return SERVER
    enhanced = _ENHANCED.match(text.strip())
    if enhanced and enhanced[1] == str(code)[0]:  # a mismatched class is not RFC 3463
        subject, detail = int(enhanced[2]), int(enhanced[3])
        mailbox = subject == 2 or (subject == 1 and detail not in _SENDER_DETAILS)
    else:
        mailbox = stage == "rcpt" and code in _MAILBOX_CODES
    if not mailbox:
        return SERVER
    return RECIPIENT if code >= 500 else DEFERRED


class NotDelivered(Exception):
    """The server did not accept the message (or was never reached): retry later.

    ``scope`` says whose failure it was (:data:`RECIPIENT`, :data:`DEFERRED` or
    :data:`SERVER`); only the recipient's counts as an attempt.
    """

    def __init__(self, message: str, *, scope: str = SERVER) -> None:
        super().__init__(message)
        self.scope = scope


class MaybeDelivered(Exception):
    """The exchange broke after DATA started: the message may have been accepted."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    sender: str
    port: int = 587
    tls: str = "starttls"
    user: str | None = None
    password: Secret | None = None
    reply_to: str | None = None
    timeout: float = 30.0
    #: List-Unsubscribe targets (mailto: / https:), None: mail the Reply-To / From address
    unsubscribe: tuple[str, ...] | None = None

    @property
    def sender_domain(self) -> str:
        return parseaddr(self.sender)[1].rpartition("@")[2] or "localhost"

    def __repr__(self) -> str:  # the password is a Secret, but say so explicitly
        return (
            f"SmtpSettings(host={self.host!r}, port={self.port}, tls={self.tls!r}, "
            f"user={self.user!r}, sender={self.sender!r})"
        )


def _optional_text(value: Any) -> str | None:
    """Blank is "not set" (an empty env variable or ``user = ""`` in the file)."""
    text = str(value).strip() if isinstance(value, str | int) else None
    if text is None:
        raise ValueError(f"must be a string, got {value!r}")
    return text or None


def _sender(value: Any) -> str | None:
    text = _optional_text(value)
    if text and "@" not in parseaddr(text)[1]:
        raise ValueError("needs a sender address such as 'Acme <success@acme.example>'")
    return text


def _unsubscribe(value: Any) -> tuple[str, ...] | None:
    text = _optional_text(value)
    targets = tuple(t.strip() for t in (text or "").split(",") if t.strip())
    for target in targets:
        if not target.startswith(("mailto:", "https://")) or any(c in target for c in "<> \r\n"):
            raise ValueError(f"{target!r} is not a mailto: or https:// address (List-Unsubscribe)")
    return targets or None


OptionalText = Annotated[str | None, BeforeValidator(_optional_text)]


class SmtpSection(Section):
    """``[smtp]`` as written in the file, each key overridden by ``PENDO_SEGMENTS_SMTP_<KEY>``."""

    ENV: ClassVar[dict[str, str]] = {k: f"{ENV_PREFIX}{k.upper()}" for k in _FILE_KEYS}

    host: OptionalText = None
    sender: Annotated[str | None, BeforeValidator(_sender)] = Field(None, alias="from")
    port: Annotated[int | None, BeforeValidator(whole(1, 65535))] = None
    tls: Annotated[str, BeforeValidator(one_of(TLS_MODES))] = "starttls"
    user: OptionalText = None
    reply_to: OptionalText = None
    timeout: Annotated[float, BeforeValidator(number(above=0, maximum=3600))] = 30.0
    unsubscribe: Annotated[tuple[str, ...] | None, BeforeValidator(_unsubscribe)] = None


def smtp_settings(config: Any = None, env: Mapping[str, str] | None = None) -> SmtpSettings:
    """SMTP settings from env over ``[smtp]``; ConfigError naming the variable when unusable."""
    import os

    env = os.environ if env is None else env
    table = config.section("smtp") if config is not None else {}
    where = str(config.path) if config is not None and config.path else "pendo-segments.toml"
    if "password" in table:
        raise ConfigError(
            problem(
                where,
                "smtp",
                "password",
                f"keep the password out of files; set {ENV_PREFIX}PASSWORD instead",
            )
        )
    section = read_section(SmtpSection, table, where=where, section="smtp", env=env)
    if not section.host:
        raise ConfigError(
            f"no SMTP server: set {ENV_PREFIX}HOST (and {ENV_PREFIX}FROM) "
            "to send the campaign's emails"
        )
    if not section.sender:
        raise ConfigError(
            f"{ENV_PREFIX}FROM: needs a sender address such as 'Acme <success@acme.example>'"
        )
    password = env.get(f"{ENV_PREFIX}PASSWORD") or None
    if password and not section.user:
        raise ConfigError(f"{ENV_PREFIX}PASSWORD is set but {ENV_PREFIX}USER is not")
    return SmtpSettings(
        unsubscribe=section.unsubscribe,
        host=section.host,
        sender=section.sender,
        port=section.port or DEFAULT_PORTS[section.tls],
        tls=section.tls,
        user=section.user,
        password=Secret(password) if password else None,
        reply_to=section.reply_to,
        timeout=section.timeout,
    )


def list_unsubscribe(settings: SmtpSettings, email: str, visitor_id: str) -> tuple[str, str | None]:
    """The ``List-Unsubscribe`` value and, with an https target, ``List-Unsubscribe-Post``."""
    from urllib.parse import quote

    targets = settings.unsubscribe or (
        f"mailto:{parseaddr(settings.reply_to or settings.sender)[1]}?subject=unsubscribe",
    )
    filled = [
        t.replace("{email}", quote(email, safe="")).replace(
            "{visitor_id}", quote(visitor_id, safe="")
        )
        for t in targets
    ]
    one_click = any(t.startswith("https://") for t in filled)
    header = ", ".join(f"<{t}>" for t in filled)
    return header, ("List-Unsubscribe=One-Click" if one_click else None)


class SmtpSender:
    """One SMTP connection reused for a run's messages (reconnects after an error)."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def _drop(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            finally:
                self._smtp = None

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            if s.tls == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            smtp.ehlo_or_helo_if_needed()
            if s.tls == "starttls":
                if not smtp.has_extn("starttls"):
                    smtp.close()
                    raise NotDelivered(
                        f"SMTP {self.where} does not offer STARTTLS "
                        f"(set {ENV_PREFIX}TLS=none only for a trusted relay)"
                    )
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if s.user:
                login(smtp, s.user, s.password.reveal() if s.password else "")
        except smtplib.SMTPAuthenticationError as err:
            raise NotDelivered(
                f"SMTP {self.where}: login as {s.user!r} refused ({err.smtp_code})"
            ) from None
        except (smtplib.SMTPException, OSError) as err:
            raise NotDelivered(f"SMTP {self.where}: cannot connect: {_describe(err)}") from None
        return smtp

    def send(self, message: EmailMessage, before_data: Callable[[], None]) -> None:
        """Deliver ``message`` to its ``To`` address; ``before_data`` runs right before DATA.

        Raises NotDelivered / MaybeDelivered as described in the module docstring;
        whatever ``before_data`` raises propagates with nothing sent.
        """
        sender = parseaddr(self.settings.sender)[1]
        recipient = parseaddr(str(message["To"]))[1]
        if self._smtp is None:
            self._smtp = self._connect()
        smtp = self._smtp
        options = ["SMTPUTF8"] if not (sender + recipient).isascii() else []
        if options and not smtp.has_extn("smtputf8"):
            raise NotDelivered(
                f"{recipient}: non-ASCII address and SMTP {self.where} does not support SMTPUTF8",
                scope=DEFERRED,
            )
        try:
            code, reply = smtp.mail(sender, options)
            if not 200 <= code < 300:
                raise self._refused("mail", code, reply, "refused the sender")
            code, reply = smtp.rcpt(recipient)
            if code not in (250, 251):
                raise self._refused("rcpt", code, reply, f"refused {recipient}")
        except NotDelivered:
            self._reset()
            raise
        except (smtplib.SMTPException, OSError) as err:  # dropped, timed out, garbled
            self._drop()
            raise NotDelivered(f"SMTP {self.where}: {_describe(err)}") from None
        try:
            before_data()
        except BaseException:
            self._reset()
            raise
        payload = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
        try:
            code, reply = smtp.data(payload)  # raises for DATA itself, *returns* the final code
        except smtplib.SMTPDataError as err:
            # The server answered the DATA command with an error: nothing was transmitted.
            refused = self._refused("data", err.smtp_code, err.smtp_error, "refused DATA")
            self._reset()
            raise refused from None
        except (smtplib.SMTPException, OSError) as err:
            self._drop()
            raise MaybeDelivered(
                f"SMTP {self.where}: connection lost during DATA "
                f"({_describe(err)}); the server may have accepted it"
            ) from None
        if 400 <= code < 600:  # an explicit refusal of the message: not accepted
            refused = self._refused("data", code, reply, "rejected the message")
            self._reset()
            raise refused
        if not 200 <= code < 300:  # not an answer SMTP defines here: cannot tell
            self._drop()
            raise MaybeDelivered(
                f"SMTP {self.where}: unexpected reply {code} after DATA; "
                "the server may have accepted it"
            )

    def _refused(self, stage: str, code: int, reply: Any, what: str) -> NotDelivered:
        """The NotDelivered for a refusal, scoped by :func:`reply_scope`; a 421 means the
        server is closing the connection, so it is dropped (the next send reconnects)."""
        text = _text(reply)
        if code == 421:
            self._drop()
        return NotDelivered(
            f"SMTP {self.where} {what}: {code} {text}", scope=reply_scope(stage, code, text)
        )

    def _reset(self) -> None:
        if self._smtp is None:
            return
        try:
            self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()


#: smtplib's order of preference
_MECHANISMS = ("CRAM-MD5", "PLAIN", "LOGIN")


def login(smtp: smtplib.SMTP, user: str, password: str) -> None:
    """``smtp.login``, but a name or password outside ASCII is sent as UTF-8.

    smtplib encodes every AUTH response as ASCII; here the same mechanisms, in
    the same order, carry UTF-8 bytes. Raises SMTPAuthenticationError when the
    server refuses them all, SMTPException when it offers none of them.
    """
    if (user + password).isascii():
        smtp.login(user, password)
        return
    smtp.ehlo_or_helo_if_needed()
    offered = smtp.esmtp_features.get("auth", "").upper().split()
    mechanisms = [m for m in _MECHANISMS if m in offered]
    if not mechanisms:
        raise smtplib.SMTPException("the server offers no login mechanism this tool speaks")
    refusal: tuple[int, bytes] = (535, b"")
    for mechanism in mechanisms:
        code, reply = _auth_utf8(smtp, mechanism, user.encode(), password.encode())
        if code in (235, 503):  # authenticated (or already)
            return
        refusal = (code, reply)
    raise smtplib.SMTPAuthenticationError(*refusal)


def _auth_utf8(smtp: smtplib.SMTP, mechanism: str, user: bytes, password: bytes) -> Any:
    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    if mechanism == "PLAIN":  # RFC 4616, with the RFC 4954 initial response
        return smtp.docmd("AUTH", "PLAIN " + b64(b"\0" + user + b"\0" + password))
    if mechanism == "LOGIN":
        code, reply = smtp.docmd("AUTH", "LOGIN " + b64(user))
        if code == 334:
            code, reply = smtp.docmd(b64(password))
        return code, reply
    code, reply = smtp.docmd("AUTH", "CRAM-MD5")  # RFC 2195
    if code == 334:
        digest = hmac.new(password, base64.b64decode(reply), "md5").hexdigest()
        code, reply = smtp.docmd(b64(user + b" " + digest.encode("ascii")))
    return code, reply


def _text(reply: Any) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _describe(err: BaseException) -> str:
    if isinstance(err, smtplib.SMTPResponseException):
        return f"{err.smtp_code} {_text(err.smtp_error)}"
    return str(err) or type(err).__name__
