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


def region_problem(name: str) -> str | None:
    """What is wrong with a region name (None: nothing), listing the valid ones."""
    if name.strip().lower() in REGIONS:
        return None
    return f"unknown Pendo region {name.strip()!r}; valid: {', '.join(REGIONS)}"


def normalise_region(name: str, *, origin: str = "region") -> str:
    """``'EU '`` → ``'eu'``; an unknown name is a ConfigError listing the valid ones."""
    message = region_problem(name)
    if message:
        raise ConfigError(f"{origin}: {message}")
    return name.strip().lower()


def region_from_key(key: str) -> str | None:
    """Integration keys carry a region suffix (``….eu``); tap-pendo routes on it too."""
    _, dot, suffix = key.strip().rpartition(".")
    suffix = suffix.lower()
    return suffix if dot and suffix in REGIONS else None


def base_url_for(region: str) -> str:
    return REGIONS[normalise_region(region)]
