"""Settings of the no-login campaign: ``[campaign]`` / ``[campaign.no_login]`` in the config
file, plus ``--state`` on the command line.

::

    [campaign]
    state_file = "campaign-state.sqlite"     # relative paths: beside the config file

    [campaign.no_login]
    window_days = 30            # "no login in N days" (derived from segment no_login_30d)
    min_tenure_days = 0         # first visit at least N days before the as-of day
    cooldown_days = 30          # never contact a visitor again within N days
    return_window_days = 14     # a login within N days of the email counts as "returned"
    exclude_accounts = ["acme-internal"]
    exclude_tiers = ["P1"]      # P1 accounts get a personal call instead
    opt_out_file = "opt-out.csv"   # visitor_id and/or email column (or one entry per line)
    max_attempts = 5            # SMTP failures retried on later runs, then given up (reported)
    enrol_days = 30             # visitors stay in the welcome-back segment this long
    welcome_back_segment = "[campaign] no-login welcome back"   # the Pendo list segment's name
    # welcome_back_segment_id = "..."   # use an existing API-created list segment
    upload_file = "welcome_back_visitors.csv"   # written instead when no Pendo key is set
    # segment = "no_login_30d"; email_guide = "no_login_email"; in_app_guide = "welcome_back"
    # defs = "segment_defs"      # segments, tiers.yaml and health.yaml (tier exclusions)
    # templates = "guide_templates"; tier_overrides = "overrides.csv"
    # tiers_file = "tiers.csv"   # frozen `pendo-segments tiers --format csv` output instead

Unknown keys are errors (with the closest valid key suggested): a typo in
``cooldown_days`` must not silently fall back to a default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pendo_segments.config import reject_unknown_keys
from pendo_segments.errors import ConfigError

CAMPAIGN = "no_login"
DEFAULT_STATE_FILE = "campaign-state.sqlite"

_INTS: dict[str, tuple[int, int]] = {  # key -> (default, minimum)
    "window_days": (30, 1),
    "min_tenure_days": (0, 0),
    "cooldown_days": (30, 0),
    "return_window_days": (14, 1),
    "max_attempts": (5, 1),
    "enrol_days": (30, 1),
}
_STRINGS: dict[str, str] = {
    "segment": "no_login_30d",
    "email_guide": "no_login_email",
    "in_app_guide": "welcome_back",
    "welcome_back_segment": "[campaign] no-login welcome back",
}
_PATHS = ("opt_out_file", "upload_file", "defs", "templates", "tiers_file", "tier_overrides")
_LISTS = ("exclude_accounts", "exclude_tiers")
_OPTIONAL_STRINGS = ("welcome_back_segment_id",)
NO_LOGIN_KEYS = (*_INTS, *_STRINGS, *_PATHS, *_LISTS, *_OPTIONAL_STRINGS)
TIER_NAMES = ("P1", "P2", "P3", "Neighborhood")


@dataclass(frozen=True)
class NoLoginSettings:
    """Everything the no-login campaign reads from configuration, already checked."""

    state_file: Path = Path(DEFAULT_STATE_FILE)
    window_days: int = 30
    min_tenure_days: int = 0
    cooldown_days: int = 30
    return_window_days: int = 14
    max_attempts: int = 5
    enrol_days: int = 30
    exclude_accounts: frozenset[str] = field(default_factory=frozenset)
    exclude_tiers: frozenset[str] = field(default_factory=frozenset)
    opt_out_file: Path | None = None
    segment: str = "no_login_30d"
    email_guide: str = "no_login_email"
    in_app_guide: str = "welcome_back"
    welcome_back_segment: str = "[campaign] no-login welcome back"
    welcome_back_segment_id: str | None = None
    upload_file: Path = Path("welcome_back_visitors.csv")
    defs: Path | None = None
    templates: Path | None = None
    tiers_file: Path | None = None
    tier_overrides: Path | None = None
    campaign: str = CAMPAIGN


def no_login_settings(
    config: Any = None, *, state_file: Path | str | None = None, **overrides: Any
) -> NoLoginSettings:
    """Read ``[campaign]`` / ``[campaign.no_login]`` from a :class:`~pendo_segments.config.Config`.

    ``state_file`` (the ``--state`` option) wins over the file; ``overrides``
    replace single settings (tests, library callers).
    """
    table = config.section("campaign") if config is not None else {}
    where = str(config.path) if config is not None and config.path else "pendo-segments.toml"
    base = config.path.parent if config is not None and config.path else Path(".")
    sub = table.pop(CAMPAIGN, {})
    if not isinstance(sub, dict):
        raise ConfigError(f"{where}: 'campaign.{CAMPAIGN}' must be a table ([campaign.{CAMPAIGN}])")
    reject_unknown_keys(table, ("state_file",), where, "campaign")
    reject_unknown_keys(sub, NO_LOGIN_KEYS, where, f"campaign.{CAMPAIGN}")
    at = f"{where}: [campaign.{CAMPAIGN}]"
    values: dict[str, Any] = {}
    for key, (_default, minimum) in _INTS.items():
        if key in sub:
            values[key] = _int(sub[key], minimum, f"{at}.{key}")
    for key in _STRINGS:
        if key in sub:
            values[key] = _text(sub[key], f"{at}.{key}")
    for key in _OPTIONAL_STRINGS:
        if sub.get(key):
            values[key] = _text(sub[key], f"{at}.{key}")
    for key in _PATHS:
        if key in sub:
            values[key] = base / _text(sub[key], f"{at}.{key}")
    for key in _LISTS:
        if key in sub:
            values[key] = frozenset(_text_list(sub[key], f"{at}.{key}"))
    unknown_tiers = sorted(set(values.get("exclude_tiers", ())) - set(TIER_NAMES))
    if unknown_tiers:
        raise ConfigError(
            f"{at}.exclude_tiers: unknown tier '{unknown_tiers[0]}' "
            f"(tiers are {', '.join(TIER_NAMES)})"
        )
    if "state_file" in table:
        values["state_file"] = base / _text(table["state_file"], f"{where}: [campaign].state_file")
    if "upload_file" not in values:
        values["upload_file"] = base / NoLoginSettings.upload_file
    if state_file is not None:
        values["state_file"] = Path(state_file)
    elif "state_file" not in values:
        values["state_file"] = base / DEFAULT_STATE_FILE
    values.update(overrides)
    return NoLoginSettings(**values)


def _int(value: Any, minimum: int, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{where} must be a whole number >= {minimum}, got {value!r}")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where} must be a non-empty string, got {value!r}")
    return value.strip()


def _text_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list):
        raise ConfigError(f"{where} must be a list of strings, got {value!r}")
    return [_text(v, f"{where}[{i}]") for i, v in enumerate(value)]
