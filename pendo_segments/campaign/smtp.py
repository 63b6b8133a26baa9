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
during DATA: the server may have accepted it).
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from pendo_segments.config import Secret, reject_unknown_keys
from pendo_segments.errors import ConfigError

ENV_PREFIX = "PENDO_SEGMENTS_SMTP_"
TLS_MODES = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
_FILE_KEYS = ("host", "port", "tls", "user", "from", "reply_to", "timeout", "unsubscribe")


class NotDelivered(Exception):
    """The server did not accept the message (or was never reached): retry later.

    ``connection`` is True when the failure is the server's or the network's
    (cannot connect, login or sender refused, connection lost before DATA), not
    this recipient's: such a failure does not count as an attempt.
    """

    def __init__(self, message: str, *, connection: bool = False) -> None:
        super().__init__(message)
        self.connection = connection


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


def smtp_settings(config: Any = None, env: Mapping[str, str] | None = None) -> SmtpSettings:
    """SMTP settings from env over ``[smtp]``; ConfigError naming the variable when unusable."""
    import os

    env = os.environ if env is None else env
    table = config.section("smtp") if config is not None else {}
    where = str(config.path) if config is not None and config.path else "pendo-segments.toml"
    if "password" in table:
        raise ConfigError(
            f"{where}: [smtp].password: keep the password out of files; "
            f"set {ENV_PREFIX}PASSWORD instead"
        )
    reject_unknown_keys(table, _FILE_KEYS, where, "smtp")

    def get(key: str) -> tuple[str | None, str]:
        name = f"{ENV_PREFIX}{key.upper()}"
        if env.get(name, "").strip():
            return env[name].strip(), name
        value = table.get(key)
        return (None if value is None else str(value).strip()), f"{where}: [smtp].{key}"

    host, _ = get("host")
    if not host:
        raise ConfigError(
            f"no SMTP server: set {ENV_PREFIX}HOST (and {ENV_PREFIX}FROM) "
            "to send the campaign's emails"
        )
    sender, origin = get("from")
    if not sender or "@" not in parseaddr(sender)[1]:
        raise ConfigError(
            f"{origin if sender else ENV_PREFIX + 'FROM'}: needs a sender address "
            "such as 'Acme <success@acme.example>'"
        )
    tls, origin = get("tls")
    tls = (tls or "starttls").lower()
    if tls not in TLS_MODES:
        raise ConfigError(f"{origin}: must be one of {', '.join(TLS_MODES)}, got {tls!r}")
    port_text, origin = get("port")
    port = _number(port_text, origin, int, DEFAULT_PORTS[tls])
    if not 0 < port < 65536:
        raise ConfigError(f"{origin}: not a TCP port: {port}")
    timeout_text, origin = get("timeout")
    timeout = _number(timeout_text, origin, float, 30.0)
    user, _ = get("user")
    password = env.get(f"{ENV_PREFIX}PASSWORD") or None
    if password and not user:
        raise ConfigError(f"{ENV_PREFIX}PASSWORD is set but {ENV_PREFIX}USER is not")
    unsubscribe_text, origin = get("unsubscribe")
    unsubscribe = _unsubscribe_targets(unsubscribe_text, origin) if unsubscribe_text else None
    return SmtpSettings(
        unsubscribe=unsubscribe,
        host=host,
        sender=sender,
        port=port,
        tls=tls,
        user=user or None,
        password=Secret(password) if password else None,
        reply_to=get("reply_to")[0] or None,
        timeout=timeout,
    )


def _unsubscribe_targets(text: str, origin: str) -> tuple[str, ...]:
    targets = tuple(t.strip() for t in text.split(",") if t.strip())
    for target in targets:
        if not target.startswith(("mailto:", "https://")) or any(c in target for c in "<> \r\n"):
            raise ConfigError(
                f"{origin}: {target!r} is not a mailto: or https:// address (List-Unsubscribe)"
            )
    return targets


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


def _number(text: str | None, origin: str, kind: type, default: Any) -> Any:
    if text is None or text == "":
        return default
    try:
        value = kind(text)
    except ValueError:
        raise ConfigError(f"{origin}: not a number: {text!r}") from None
    if value <= 0:
        raise ConfigError(f"{origin}: must be greater than 0, got {text}")
    return value


class SmtpSender:
    """One SMTP connection reused for a run's messages (reconnects after an error)."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None
        #: set when the last connection attempt failed: later sends would fail the same way
        self.unreachable = False

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
                        f"(set {ENV_PREFIX}TLS=none only for a trusted relay)",
                        connection=True,
                    )
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if s.user:
                smtp.login(s.user, s.password.reveal() if s.password else "")
        except smtplib.SMTPAuthenticationError as err:
            raise NotDelivered(
                f"SMTP {self.where}: login as {s.user!r} refused ({err.smtp_code})",
                connection=True,
            ) from None
        except (smtplib.SMTPException, OSError) as err:
            raise NotDelivered(
                f"SMTP {self.where}: cannot connect: {_describe(err)}", connection=True
            ) from None
        return smtp

    def send(self, message: EmailMessage, before_data: Callable[[], None]) -> None:
        """Deliver ``message`` to its ``To`` address; ``before_data`` runs right before DATA.

        Raises NotDelivered / MaybeDelivered as described in the module docstring;
        whatever ``before_data`` raises propagates with nothing sent.
        """
        if self._smtp is None:
            self.unreachable = True
            self._smtp = self._connect()
            self.unreachable = False
        smtp = self._smtp
        sender = parseaddr(self.settings.sender)[1]
        recipient = parseaddr(str(message["To"]))[1]
        options = ["SMTPUTF8"] if not (sender + recipient).isascii() else []
        try:
            if options and not smtp.has_extn("smtputf8"):
                raise NotDelivered(
                    f"{recipient}: non-ASCII address and SMTP {self.where} "
                    "does not support SMTPUTF8"
                )
            code, reply = smtp.mail(sender, options)
            if code != 250:
                raise NotDelivered(
                    f"SMTP {self.where} refused the sender: {code} {_text(reply)}",
                    connection=True,
                )
            code, reply = smtp.rcpt(recipient)
            if code not in (250, 251):
                raise NotDelivered(f"SMTP {self.where} refused {recipient}: {code} {_text(reply)}")
        except NotDelivered:
            self._reset()
            raise
        except (smtplib.SMTPException, OSError) as err:
            self._drop()
            raise NotDelivered(f"SMTP {self.where}: {_describe(err)}", connection=True) from None
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
            self._reset()
            raise NotDelivered(
                f"SMTP {self.where} refused DATA: {err.smtp_code} {_text(err.smtp_error)}"
            ) from None
        except (smtplib.SMTPException, OSError) as err:
            self._drop()
            raise MaybeDelivered(
                f"SMTP {self.where}: connection lost during DATA "
                f"({_describe(err)}); the server may have accepted it"
            ) from None
        if 400 <= code < 600:  # an explicit refusal of the message: not accepted
            self._reset()
            raise NotDelivered(f"SMTP {self.where} rejected the message: {code} {_text(reply)}")
        if not 200 <= code < 300:  # not an answer SMTP defines here: cannot tell
            self._drop()
            raise MaybeDelivered(
                f"SMTP {self.where}: unexpected reply {code} after DATA; "
                "the server may have accepted it"
            )

    def _reset(self) -> None:
        if self._smtp is None:
            return
        try:
            self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()


def _text(reply: Any) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _describe(err: BaseException) -> str:
    if isinstance(err, smtplib.SMTPResponseException):
        return f"{err.smtp_code} {_text(err.smtp_error)}"
    return str(err) or type(err).__name__
