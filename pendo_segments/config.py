"""Settings from environment variables and an optional TOML file.

The file is ``$PENDO_SEGMENTS_CONFIG`` when set, else ``./pendo-segments.toml``
when present; it is optional. Environment variables win over the file so a
scheduled job can inject the secret without editing a checked-in file::

    [pendo]
    region = "eu"                 # us | us1 | eu | jpn | au
    # integration_key = "..."     # better: PENDO_INTEGRATION_KEY
    timeout = 30                  # seconds per request
    max_retries = 5
    rate_limit_per_second = 5
    managed_prefix = "[ps] "
    metadata_group = "custom"

Other layers read their own tables with :meth:`Config.section` (``[campaign]``,
``[smtp]``, ``[sync]`` …). The integration key is held in :class:`Secret`, whose
``str``/``repr``/format are ``***``, so it cannot leak into output, logs or errors.
"""

from __future__ import annotations

import copy
import difflib
import math
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pendo_segments.base.regions import REGIONS, base_url_for, normalise_region, region_from_key
from pendo_segments.base.secret import Secret, check_key
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
    managed_prefix: str = "[ps] "
    metadata_group: str = "custom"
    # Event sources count only Pendo's default app unless told otherwise; "*" is every app.
    app_ids: tuple[str, ...] = ("*",)
    # Pendo's days are the subscription's time-zone days, not UTC days.
    timezone: str = "UTC"

    def require_key(self) -> Secret:
        """The key, or a ConfigError that says how to provide one."""
        if not self.integration_key:
            raise ConfigError(
                f"no Pendo integration key: set {KEY_ENV} (or integration_key under [pendo] "
                f"in {DEFAULT_CONFIG_NAME})"
            )
        return self.integration_key


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


# Keys allowed in [pendo]; anything else is a typo worth reporting.
_PENDO_KEYS = (
    "integration_key",
    "region",
    "base_url",
    "timeout",
    "max_retries",
    "rate_limit_per_second",
    "managed_prefix",
    "metadata_group",
    "app_ids",
    "timezone",
)


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
    return Config(pendo=_pendo_settings(table, env, where), path=file_path, data=data)


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


def _pendo_settings(table: dict[str, Any], env: Mapping[str, str], where: str) -> PendoSettings:
    reject_unknown_keys(table, _PENDO_KEYS, where, "pendo")
    defaults = PendoSettings()

    key_text = env.get(KEY_ENV) or table.get("integration_key")
    if key_text is not None and not isinstance(key_text, str):
        raise ConfigError(f"{where}: [pendo].integration_key must be a string")
    origin = KEY_ENV if env.get(KEY_ENV) else f"{where}: [pendo].integration_key"
    key = Secret(check_key(key_text.strip(), origin)) if key_text and key_text.strip() else None

    if env.get(REGION_ENV):
        region = normalise_region(env[REGION_ENV], origin=REGION_ENV)
    elif "region" in table:
        region = normalise_region(
            _string(table, "region", where), origin=f"{where}: [pendo].region"
        )
    else:
        region = (region_from_key(key.reveal()) if key else None) or "us"

    override = env.get(BASE_URL_ENV) or table.get("base_url")
    origin = BASE_URL_ENV if env.get(BASE_URL_ENV) else f"{where}: [pendo].base_url"
    override = _base_url(override, origin) if override else None

    return PendoSettings(
        integration_key=key,
        region=region,
        base_url=override or base_url_for(region),
        base_url_override=override,
        timeout=_positive(table, "timeout", where, defaults.timeout),
        max_retries=_count(table, "max_retries", where, defaults.max_retries),
        rate_limit_per_second=_rate(table, where, defaults.rate_limit_per_second),
        managed_prefix=_string(table, "managed_prefix", where, defaults.managed_prefix),
        metadata_group=_string(table, "metadata_group", where, defaults.metadata_group),
        app_ids=_app_ids(table, where, defaults.app_ids),
        timezone=_timezone(
            env.get(TIMEZONE_ENV) or table.get("timezone"), where, defaults.timezone
        ),
    )


def _app_ids(table: dict[str, Any], where: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = table.get("app_ids", list(default))
    if isinstance(value, str | int):
        value = [value]
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, str | int) and str(v).strip() for v in value)
    ):
        raise ConfigError(
            f'{where}: [pendo].app_ids must be a non-empty list of app ids, or ["*"] for every app'
        )
    return tuple(str(v).strip() for v in value)


def _timezone(value: Any, where: str, default: str) -> str:
    if value is None:
        return default
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: [pendo].timezone must be an IANA time zone name")
    try:
        ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{where}: [pendo].timezone: unknown time zone {value!r} "
            "(use an IANA name such as 'America/New_York')"
        ) from None
    return value.strip()


def reject_unknown_keys(
    table: Mapping[str, Any], allowed: Iterable[str], where: str, section: str
) -> None:
    """One message for a misspelt key in any section of the TOML file."""
    allowed = list(allowed)
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"{where}: unknown key [{section}].{key}{hint}")


def _string(table: dict[str, Any], name: str, where: str, default: str | None = None) -> str:
    value = table.get(name, default)
    if not isinstance(value, str):
        raise ConfigError(f"{where}: [pendo].{name} must be a string, got {value!r}")
    return value


def _number(table: dict[str, Any], name: str, where: str, default: float) -> float:
    value = table.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ConfigError(f"{where}: [pendo].{name} must be a number, got {value!r}")
    return float(value)


def _positive(table: dict[str, Any], name: str, where: str, default: float) -> float:
    value = _number(table, name, where, default)
    if value <= 0:
        raise ConfigError(f"{where}: [pendo].{name} must be greater than 0, got {value:g}")
    return value


def _count(table: dict[str, Any], name: str, where: str, default: int) -> int:
    value = table.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{where}: [pendo].{name} must be a whole number >= 0, got {value!r}")
    return value


def _rate(table: dict[str, Any], where: str, default: float | None) -> float | None:
    """Requests per second; 0 turns the client-side limit off."""
    if "rate_limit_per_second" not in table:
        return default
    value = _number(table, "rate_limit_per_second", where, 0.0)
    if value < 0:
        raise ConfigError(
            f"{where}: [pendo].rate_limit_per_second must be >= 0 (0 = no limit), got {value:g}"
        )
    return value or None


def _base_url(value: Any, origin: str) -> str:
    from urllib.parse import urlsplit

    text = str(value).strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{origin}: {text!r} is not an http(s) URL (e.g. https://app.pendo.io)")
    return text
