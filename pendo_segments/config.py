"""Settings from environment variables and an optional TOML file.

The file is ``$PENDO_SEGMENTS_CONFIG`` when set, else ``./pendo-segments.toml``
when present; it is optional. Environment variables win over the file so a
scheduled job can inject the secret without editing a checked-in file::

    [pendo]
    region = "eu"                 # us | us1 | eu | jpn | au
    # integration_key = "..."     # better: PENDO_INTEGRATION_KEY
    timeout = 30                  # seconds per request (at most 3600)
    max_retries = 5               # 0 to 100
    rate_limit_per_second = 5     # 0.01 to 1000, or 0 for no limit
    pull_requests_per_second = 1  # how fast pull (and --data pendo:) asks; 0: as fast as above
    managed_prefix = "[ps] "
    metadata_group = "custom"

Other layers read their own tables with :meth:`Config.section` (``[campaign]``,
``[smtp]``, ``[sync]`` …), each through a :class:`~pendo_segments.base.settings.Section`
model, so every section reports a problem as ``FILE: [section].key: message``. The integration key is held in :class:`Secret`, whose
``str``/``repr``/format are ``***``, so it cannot leak into output, logs or errors.
"""

from __future__ import annotations

import copy
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator, ConfigDict

from pendo_segments.base.regions import REGIONS, base_url_for, region_from_key, region_problem
from pendo_segments.base.secret import Secret, key_problem
from pendo_segments.base.settings import (
    Section,
    Text,
    number,
    read_section,
    whole,
)
from pendo_segments.errors import ConfigError

CONFIG_ENV = "PENDO_SEGMENTS_CONFIG"
DEFAULT_CONFIG_NAME = "pendo-segments.toml"
KEY_ENV = "PENDO_INTEGRATION_KEY"
REGION_ENV = "PENDO_REGION"
BASE_URL_ENV = "PENDO_BASE_URL"
TIMEZONE_ENV = "PENDO_TIMEZONE"


@dataclass(frozen=True)
class PendoSettings:
    """How to reach Pendo. ``base_url`` is already resolved (override, else region host)."""

    integration_key: Secret | None = None
    region: str = "us"
    base_url: str = REGIONS["us"]
    base_url_override: str | None = None
    timeout: float = 30.0
    max_retries: int = 5
    rate_limit_per_second: float | None = 5.0
    # pull's own pace: its hundreds of aggregations go out about one a second (tap-pendo
    # sends one every 2 s); None: only rate_limit_per_second applies.
    pull_requests_per_second: float | None = 1.0
    managed_prefix: str = "[ps] "
    metadata_group: str = "custom"
    # Event sources count only Pendo's default app unless told otherwise; "*" is every app.
    app_ids: tuple[str, ...] = ("*",)
    # Pendo's days are the subscription's time-zone days, not UTC days. "UTC" stands in
    # while it is not set (offline work); live work asks require_timezone() first.
    timezone: str = "UTC"
    timezone_set: bool = False

    @property
    def pull_rate(self) -> float | None:
        """Requests per second of a pull: the slower of the two settings (None: no limit)."""
        rates = [r for r in (self.rate_limit_per_second, self.pull_requests_per_second) if r]
        return min(rates) if rates else None

    def require_key(self) -> Secret:
        """The key, or a ConfigError that says how to provide one."""
        if not self.integration_key:
            raise ConfigError(
                f"no Pendo integration key: set {KEY_ENV} (or integration_key under [pendo] "
                f"in {DEFAULT_CONFIG_NAME})"
            )
        return self.integration_key

    def require_timezone(self, what: str) -> str:
        """The subscription's time zone, or a ConfigError: live work never assumes UTC days
        (a Tokyo or Los Angeles subscription's every window would shift a day)."""
        if not self.timezone_set:
            raise ConfigError(
                f"{what} needs [pendo] timezone: Pendo counts days in the subscription's time "
                f'zone; set timezone = "Area/City" under [pendo] in {DEFAULT_CONFIG_NAME} '
                f"(or {TIMEZONE_ENV}); `pendo-segments pendo check` infers it"
            )
        return self.timezone


@dataclass(frozen=True)
class Config:
    """Everything read at start-up: the raw file tables plus typed Pendo settings."""

    pendo: PendoSettings = field(default_factory=PendoSettings)
    path: Path | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    def section(self, name: str) -> dict[str, Any]:
        """A copy of table ``[name]`` (empty when absent), for layers that own their settings."""
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{self._where()}: '{name}' must be a table ([{name}])")
        return copy.deepcopy(value)

    def _where(self) -> str:
        return str(self.path) if self.path else DEFAULT_CONFIG_NAME


def load_config(
    path: Path | str | None = None, *, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Config:
    """Read the config file (if any) and the environment; env wins over the file."""
    env = os.environ if env is None else env
    file_path = _find_config_file(path, env, cwd or Path.cwd())
    data = _read_toml(file_path) if file_path else {}
    where = str(file_path) if file_path else DEFAULT_CONFIG_NAME
    table = data.get("pendo", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: 'pendo' must be a table ([pendo])")
    section = read_section(PendoSection, table, where=where, section="pendo", env=env)
    return Config(pendo=section.settings(), path=file_path, data=data)


def _find_config_file(path: Path | str | None, env: Mapping[str, str], cwd: Path) -> Path | None:
    if path is not None:
        explicit, origin = Path(path), "config file"
    elif env.get(CONFIG_ENV):
        explicit, origin = Path(env[CONFIG_ENV]), f"{CONFIG_ENV}"
    else:
        default = cwd / DEFAULT_CONFIG_NAME
        return default if default.is_file() else None
    if not explicit.is_file():
        raise ConfigError(f"{origin}: {explicit} does not exist or is not a file")
    return explicit


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: invalid TOML: {err}") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror}") from None


def _key(value: Any) -> Secret | None:
    # Never echo the value: it is (or was meant to be) the integration key.
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("must be a string")
    text = value.strip()
    message = key_problem(text)
    if message:
        raise ValueError(message)
    return Secret(text) if text else None


def _region(value: Any) -> str | None:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {value!r}")
    message = region_problem(value)
    if message:
        raise ValueError(message)
    return value.strip().lower()


def _base_url(value: Any) -> str | None:
    from urllib.parse import urlsplit

    text = str(value).strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{text!r} is not an http(s) URL (e.g. https://app.pendo.io)")
    return text


def _app_ids(value: Any) -> tuple[str, ...]:
    if isinstance(value, str | int):
        value = [value]
    if (
        not isinstance(value, list | tuple)
        or not value
        or not all(isinstance(v, str | int) and str(v).strip() for v in value)
    ):
        raise ValueError('must be a non-empty list of app ids, or ["*"] for every app')
    return tuple(str(v).strip() for v in value)


def _timezone(value: Any) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be an IANA time zone name")
    try:
        ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r} (use an IANA name such as 'America/New_York')"
        ) from None
    return value.strip()


class PendoSection(Section):
    """``[pendo]`` as written in the file, with the ``PENDO_*`` environment variables over it."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    ENV: ClassVar[Mapping[str, str]] = {
        "integration_key": KEY_ENV,
        "region": REGION_ENV,
        "base_url": BASE_URL_ENV,
        "timezone": TIMEZONE_ENV,
    }

    integration_key: Annotated[Secret | None, BeforeValidator(_key)] = None
    region: Annotated[str | None, BeforeValidator(_region)] = None
    base_url: Annotated[str | None, BeforeValidator(_base_url)] = None
    # Bounded so a socket timeout or the rate limiter's sleep cannot overflow (inf, 1e-300).
    timeout: Annotated[float, BeforeValidator(number(above=0, maximum=3600))] = 30.0
    max_retries: Annotated[int, BeforeValidator(whole(0, 100))] = 5
    rate_limit_per_second: Annotated[
        float,
        BeforeValidator(number(minimum=0.01, maximum=1000, zero=True, note=" (no limit)")),
    ] = 5.0
    pull_requests_per_second: Annotated[
        float,
        BeforeValidator(number(minimum=0.01, maximum=1000, zero=True, note=" (no pacing)")),
    ] = 1.0
    managed_prefix: Text = "[ps] "
    metadata_group: Text = "custom"
    app_ids: Annotated[tuple[str, ...], BeforeValidator(_app_ids)] = ("*",)
    timezone: Annotated[str | None, BeforeValidator(_timezone)] = None

    def settings(self) -> PendoSettings:
        """The resolved settings: the region from the key's suffix unless set, its host."""
        key = self.integration_key
        region = self.region or (region_from_key(key.reveal()) if key else None) or "us"
        return PendoSettings(
            integration_key=key,
            region=region,
            base_url=self.base_url or base_url_for(region),
            base_url_override=self.base_url,
            timeout=self.timeout,
            max_retries=self.max_retries,
            rate_limit_per_second=self.rate_limit_per_second or None,
            pull_requests_per_second=self.pull_requests_per_second or None,
            managed_prefix=self.managed_prefix,
            metadata_group=self.metadata_group,
            app_ids=self.app_ids,
            timezone=self.timezone or "UTC",
            timezone_set=self.timezone is not None,
        )
