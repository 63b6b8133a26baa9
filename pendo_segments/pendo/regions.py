"""Pendo data-centre regions and their API hosts (docs/pendo-api.md §0)."""

from __future__ import annotations

from pendo_segments.errors import ConfigError

REGIONS: dict[str, str] = {
    "us": "https://app.pendo.io",
    "us1": "https://us1.app.pendo.io",
    "eu": "https://app.eu.pendo.io",
    "jpn": "https://app.jpn.pendo.io",
    "au": "https://app.au.pendo.io",
}


def normalise_region(name: str, *, origin: str = "region") -> str:
    """``'EU '`` → ``'eu'``; an unknown name is a ConfigError listing the valid ones."""
    region = name.strip().lower()
    if region not in REGIONS:
        raise ConfigError(
            f"{origin}: unknown Pendo region {name.strip()!r}; valid: {', '.join(REGIONS)}"
        )
    return region


def region_from_key(key: str) -> str | None:
    """Integration keys carry a region suffix (``….eu``); tap-pendo routes on it too."""
    _, dot, suffix = key.strip().rpartition(".")
    suffix = suffix.lower()
    return suffix if dot and suffix in REGIONS else None


def base_url_for(region: str) -> str:
    return REGIONS[normalise_region(region)]
