"""Settings of ``alerts notify``: ``[notify]`` (and ``[notify.csm_webhooks]``,
``[notify.csm_locales]``) in the config file, the webhook from the environment, and
``[report] base_url`` for links.

::

    [notify]
    # slack_webhook = "https://hooks.slack.com/services/…"   # better: PENDO_SEGMENTS_SLACK_WEBHOOK
    state_file = "notify-state.sqlite"   # relative paths: beside the config file
    locale = "en"                # en | ja: the language of messages without a CSM locale
    recovered = true             # post "recovered" when an account's last problem alert clears
    severities = ["high", "medium", "low", "info"]   # the alerts that are posted
    timeout = 10                 # seconds per request (at most 300)
    max_retry_after = 60         # longest Retry-After (429) honoured; longer: left for the next run
    max_throttled = 3            # 429 answers per message before it is left for the next run
    min_interval = 1             # seconds between two posts to one webhook (Slack: 1 a second)

    [notify.csm_webhooks]        # csm_owner (accounts.csv) -> that CSM's own webhook
    "Aiko Tanaka" = "env:SLACK_WEBHOOK_TANAKA"   # env:NAME reads the URL from a variable

    [notify.csm_locales]         # csm_owner -> en | ja
    "Aiko Tanaka" = "ja"

    [report]
    base_url = "https://cs.example.com/report"   # where the report folder is served

A webhook URL is a secret (whoever has it can post to the channel): it is held
in a :class:`~pendo_segments.base.secret.Secret`, never printed, stored or put
in an error; the state file knows a webhook only by its label (``default`` or
``csm:NAME``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar
from urllib.parse import urlsplit

from pydantic import BeforeValidator, ConfigDict

from pendo_segments.base.secret import Secret
from pendo_segments.base.settings import (
    NonEmptyText,
    Section,
    number,
    one_of,
    problem,
    read_section,
    whole,
)
from pendo_segments.errors import ConfigError

WEBHOOK_ENV = "PENDO_SEGMENTS_SLACK_WEBHOOK"
DEFAULT_STATE_FILE = "notify-state.sqlite"
LOCALES = ("en", "ja")
#: the alert severities (pendo_segments.tiers.alerts.SEVERITIES), most urgent first
SEVERITIES = ("high", "medium", "low", "info")
DEFAULT_LABEL = "default"


def webhook_problem(text: str) -> str | None:
    """Why ``text`` is not a usable webhook URL (None: it is); never shows the URL."""
    try:
        parts = urlsplit(text)
    except ValueError:
        return "is not a URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an http(s) URL (Slack's look like https://hooks.slack.com/services/…)"
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in text):
        return "contains a space or a control character (copy it again)"
    return None


def _webhook(value: Any) -> Secret | None:
    """A webhook URL from the file or the environment; the message never shows it."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("must be a string")
    text = value.strip()
    if not text:
        return None
    message = webhook_problem(text)
    if message:
        raise ValueError(message)
    return Secret(text)


def _severities(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"must be a list of severities, got {value!r}")
    names = [v.strip().lower() for v in value]
    unknown = [v for v in names if v not in SEVERITIES]
    if unknown or not names:
        raise ValueError(
            f"unknown severity '{unknown[0]}'" if unknown else "must name at least one severity"
        )
    return tuple(s for s in SEVERITIES if s in names)


def _text_table(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValueError("must be a table of CSM name = text")
    return {k.strip(): v.strip() for k, v in value.items()}


class NotifySection(Section):
    """``[notify]`` as written in the file, with ``PENDO_SEGMENTS_SLACK_WEBHOOK`` over it."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    ENV: ClassVar[Mapping[str, str]] = {"slack_webhook": WEBHOOK_ENV}

    slack_webhook: Annotated[Secret | None, BeforeValidator(_webhook)] = None
    state_file: NonEmptyText | None = None
    locale: Annotated[str, BeforeValidator(one_of(LOCALES))] = "en"
    recovered: bool = True
    severities: Annotated[tuple[str, ...], BeforeValidator(_severities)] = SEVERITIES
    timeout: Annotated[float, BeforeValidator(number(above=0, maximum=300))] = 10.0
    max_retry_after: Annotated[float, BeforeValidator(number(minimum=0, maximum=3600))] = 60.0
    max_throttled: Annotated[int, BeforeValidator(whole(0, 20))] = 3
    min_interval: Annotated[float, BeforeValidator(number(minimum=0, maximum=60))] = 1.0
    csm_webhooks: Annotated[dict[str, str], BeforeValidator(_text_table)] = {}
    csm_locales: Annotated[dict[str, str], BeforeValidator(_text_table)] = {}


@dataclass(frozen=True)
class Webhook:
    """Where a message goes: ``label`` is what output and the state file show."""

    label: str
    url: Secret


@dataclass(frozen=True)
class NotifySettings:
    """Everything ``alerts notify`` reads from configuration, already checked."""

    state_file: Path = Path(DEFAULT_STATE_FILE)
    default: Webhook | None = None
    csm_webhooks: Mapping[str, Webhook] = field(default_factory=dict)
    locale: str = "en"
    csm_locales: Mapping[str, str] = field(default_factory=dict)
    recovered: bool = True
    severities: tuple[str, ...] = SEVERITIES
    timeout: float = 10.0
    max_retry_after: float = 60.0
    max_throttled: int = 3
    min_interval: float = 1.0
    report_url: str | None = None

    def webhook_for(self, csm: str | None) -> Webhook | None:
        """The CSM's own webhook when there is one, else the default (None: neither)."""
        if csm and csm in self.csm_webhooks:
            return self.csm_webhooks[csm]
        return self.default

    def locale_for(self, csm: str | None) -> str:
        return self.csm_locales.get(csm or "", self.locale)

    def secrets(self) -> list[str]:
        """Every webhook URL (to scrub from any text that might hold one)."""
        hooks = [self.default, *self.csm_webhooks.values()]
        return [h.url.reveal() for h in hooks if h is not None]


def notify_settings(
    config: Any = None,
    *,
    state_file: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> NotifySettings:
    """Read ``[notify]`` (and ``[report] base_url``) from a :class:`~pendo_segments.config.Config`.

    ``state_file`` (the ``--state`` option) wins over the file; ``overrides``
    replace single settings (tests, library callers).
    """
    env = os.environ if env is None else env
    table = config.section("notify") if config is not None else {}
    where = str(config.path) if config is not None and config.path else "pendo-segments.toml"
    base = config.path.parent if config is not None and config.path else Path(".")
    section = read_section(NotifySection, table, where=where, section="notify", env=env)
    hooks = {}
    for csm, text in section.csm_webhooks.items():
        hooks[csm] = Webhook(f"csm:{csm}", _csm_webhook(text, csm, where, env))
    for csm, locale in section.csm_locales.items():
        if locale.lower() not in LOCALES:
            raise ConfigError(
                problem(
                    where,
                    "notify.csm_locales",
                    f'"{csm}"',
                    f"must be one of {', '.join(LOCALES)}, got {locale!r}",
                )
            )
    report = config.section("report") if config is not None else {}
    values: dict[str, Any] = {
        "state_file": Path(state_file)
        if state_file is not None
        else base / (section.state_file or DEFAULT_STATE_FILE),
        "default": Webhook(DEFAULT_LABEL, section.slack_webhook) if section.slack_webhook else None,
        "csm_webhooks": hooks,
        "locale": section.locale,
        "csm_locales": {k: v.lower() for k, v in section.csm_locales.items()},
        "recovered": section.recovered,
        "severities": section.severities,
        "timeout": section.timeout,
        "max_retry_after": section.max_retry_after,
        "max_throttled": section.max_throttled,
        "min_interval": section.min_interval,
        "report_url": _report_url(report.get("base_url"), where),
    }
    values.update(overrides)
    return NotifySettings(**values)


def _csm_webhook(text: str, csm: str, where: str, env: Mapping[str, str]) -> Secret:
    """A CSM's webhook: the URL, or ``env:NAME`` for the variable holding it."""
    key = f'"{csm}"'
    origin = None
    if text.startswith("env:"):
        origin = text[4:].strip()
        text = env.get(origin, "").strip()
        if not text:
            raise ConfigError(
                problem(where, "notify.csm_webhooks", key, f"the variable {origin} is not set")
            )
    message = webhook_problem(text)
    if message:
        if origin:
            raise ConfigError(f"{origin}: {message}")
        raise ConfigError(problem(where, "notify.csm_webhooks", key, message))
    return Secret(text)


def _report_url(value: Any, where: str) -> str | None:
    """``[report] base_url``: where the report folder is served (links end in its pages)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = value.strip().rstrip("/") if isinstance(value, str) else ""
    parts = urlsplit(text)
    # | < > end a Slack link <url|label>: a base URL holding one could not be linked
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(c in text for c in "|<> \t\n")
    ):
        raise ConfigError(
            problem(where, "report", "base_url", f"must be an http(s) URL, got {value!r}")
        )
    return text
