"""Settings of the no-login campaign: ``[campaign]`` / ``[campaign.no_login]`` in the config
file, plus ``--state`` on the command line.

::

    [campaign]
    state_file = "campaign-state.sqlite"     # relative paths: beside the config file

    [campaign.no_login]
    window_days = 30            # "no login in N days" (derived from segment no_login_30d)
    min_tenure_days = 0         # first visit at least N days before the as-of day
    cooldown_days = 30          # never contact a visitor again within N days
    max_days_lapsed = 365       # gone longer than this: not emailed (probably left; ask the CSM)
    return_window_days = 14     # a login within N days of the email counts as "returned"
    exclude_accounts = ["acme-internal"]
    exclude_tiers = ["P1"]      # the default: P1 visitors go to their CSM as an alert, not an email
                                # ([] emails every tier)
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

The defaults are the safe ones for a file nobody wrote: "for P1 customers no
interaction happens by accident", so P1 is excluded (its lapsed visitors
become ``p1_lapsed_visitors`` alerts for the CSM, :mod:`.csm_alerts`), and a
visitor gone longer than a year is not greeted with "Pick up where you left off".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator

from pendo_segments.base.settings import (
    NonEmptyText,
    Section,
    TextList,
    problem,
    read_section,
    whole,
)
from pendo_segments.errors import ConfigError

CAMPAIGN = "no_login"
DEFAULT_STATE_FILE = "campaign-state.sqlite"
TIER_NAMES = ("P1", "P2", "P3", "Neighborhood")
DEFAULT_EXCLUDE_TIERS = ("P1",)
DEFAULT_MAX_DAYS_LAPSED = 365


def _optional(value: Any) -> str | None:
    """An empty ``welcome_back_segment_id`` means "not set" (create the segment)."""
    if not value:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be a non-empty string, got {value!r}")
    return value.strip()


def _tiers(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"must be a list of strings, got {value!r}")
    unknown = sorted({v.strip() for v in value} - set(TIER_NAMES))
    if unknown:
        raise ValueError(f"unknown tier '{unknown[0]}' (tiers are {', '.join(TIER_NAMES)})")
    return [v.strip() for v in value]


class CampaignSection(Section):
    """``[campaign]``: settings shared by every campaign (its sub-tables are read apart)."""

    state_file: NonEmptyText | None = None


class NoLoginSection(Section):
    """``[campaign.no_login]`` as written in the file (None: not set, use the default)."""

    window_days: Annotated[int, BeforeValidator(whole(1))] = 30
    min_tenure_days: Annotated[int, BeforeValidator(whole(0))] = 0
    cooldown_days: Annotated[int, BeforeValidator(whole(0))] = 30
    max_days_lapsed: Annotated[int, BeforeValidator(whole(1))] = DEFAULT_MAX_DAYS_LAPSED
    return_window_days: Annotated[int, BeforeValidator(whole(1))] = 14
    max_attempts: Annotated[int, BeforeValidator(whole(1))] = 5
    enrol_days: Annotated[int, BeforeValidator(whole(1))] = 30
    segment: NonEmptyText = "no_login_30d"
    email_guide: NonEmptyText = "no_login_email"
    in_app_guide: NonEmptyText = "welcome_back"
    welcome_back_segment: NonEmptyText = "[campaign] no-login welcome back"
    welcome_back_segment_id: Annotated[str | None, BeforeValidator(_optional)] = None
    opt_out_file: NonEmptyText | None = None
    upload_file: NonEmptyText = "welcome_back_visitors.csv"
    defs: NonEmptyText | None = None
    templates: NonEmptyText | None = None
    tiers_file: NonEmptyText | None = None
    tier_overrides: NonEmptyText | None = None
    exclude_accounts: TextList = []
    exclude_tiers: Annotated[list[str], BeforeValidator(_tiers)] = list(DEFAULT_EXCLUDE_TIERS)


#: Keys of [campaign.no_login] (the file's names, in the order documented above).
NO_LOGIN_KEYS = tuple(NoLoginSection.keys())
_PATHS = ("opt_out_file", "upload_file", "defs", "templates", "tiers_file", "tier_overrides")


@dataclass(frozen=True)
class NoLoginSettings:
    """Everything the no-login campaign reads from configuration, already checked."""

    state_file: Path = Path(DEFAULT_STATE_FILE)
    window_days: int = 30
    min_tenure_days: int = 0
    cooldown_days: int = 30
    max_days_lapsed: int = DEFAULT_MAX_DAYS_LAPSED
    return_window_days: int = 14
    max_attempts: int = 5
    enrol_days: int = 30
    exclude_accounts: frozenset[str] = field(default_factory=frozenset)
    exclude_tiers: frozenset[str] = frozenset(DEFAULT_EXCLUDE_TIERS)
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
    replace single settings (tests, library callers). Relative paths are beside
    the config file.
    """
    table = config.section("campaign") if config is not None else {}
    where = str(config.path) if config is not None and config.path else "pendo-segments.toml"
    base = config.path.parent if config is not None and config.path else Path(".")
    sub = table.pop(CAMPAIGN, {})
    if not isinstance(sub, dict):
        raise ConfigError(
            problem(where, "campaign", CAMPAIGN, f"must be a table ([campaign.{CAMPAIGN}])")
        )
    shared = read_section(CampaignSection, table, where=where, section="campaign")
    section = read_section(NoLoginSection, sub, where=where, section=f"campaign.{CAMPAIGN}")
    values: dict[str, Any] = section.model_dump(
        exclude={*_PATHS, "exclude_accounts", "exclude_tiers"}
    )
    for key in _PATHS:
        path = getattr(section, key)
        if path is not None:
            values[key] = base / path
    values["exclude_accounts"] = frozenset(section.exclude_accounts)
    values["exclude_tiers"] = frozenset(section.exclude_tiers)
    if state_file is not None:
        values["state_file"] = Path(state_file)
    else:
        values["state_file"] = base / (shared.state_file or DEFAULT_STATE_FILE)
    values.update(overrides)
    if values["max_days_lapsed"] <= values["window_days"]:
        raise ConfigError(
            problem(
                where,
                f"campaign.{CAMPAIGN}",
                "max_days_lapsed",
                f"must be more than window_days ({values['window_days']}), got "
                f"{values['max_days_lapsed']}: nobody lapsed in the window could be emailed",
            )
        )
    return NoLoginSettings(**values)
