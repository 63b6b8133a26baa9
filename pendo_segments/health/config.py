"""Health score settings (docs/semantics.md §5): weights, windows, saturation points.

The defaults here *are* the contract; ``segment_defs/health.yaml`` restates
them so users can see and change them. Weights live in their own top-level
``weights:`` block so that ``health calibrate`` can print a block that
replaces it as a whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from pendo_segments.health.configfile import load_checked

#: Component names in output order (docs/semantics.md §5 table order).
COMPONENTS: tuple[str, ...] = (
    "login_frequency",
    "core_feature_adoption",
    "breadth",
    "nps",
    "support_tickets",
)
LABELS: dict[str, str] = {
    "login_frequency": "login frequency",
    "core_feature_adoption": "core feature adoption",
    "breadth": "breadth",
    "nps": "NPS",
    "support_tickets": "support tickets",
}
CONFIG_NAME = "health.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


#: the largest sum of weights: a score sums weight × component (0–100), which must stay
#: a finite float (two weights of 1e308 made every score blank); only ratios matter
MAX_WEIGHT_SUM = 1e300


class Weights(_Section):
    """Relative weights; only their ratios matter (missing components are renormalised)."""

    login_frequency: float = Field(default=20.0, ge=0)
    core_feature_adoption: float = Field(default=30.0, ge=0)
    breadth: float = Field(default=20.0, ge=0)
    nps: float = Field(default=15.0, ge=0)
    support_tickets: float = Field(default=15.0, ge=0)

    @model_validator(mode="after")
    def _some_weight(self) -> Weights:
        total = sum(self.as_dict().values())
        if total <= 0:
            raise ValueError("at least one weight must be above 0")
        if not total <= MAX_WEIGHT_SUM:  # also catches a sum that overflowed to inf
            raise ValueError(
                f"the weights add up to more than {MAX_WEIGHT_SUM:g}; only their ratios "
                "matter, so scale them down (e.g. to add up to 100)"
            )
        return self

    def as_dict(self) -> dict[str, float]:
        return {c: float(getattr(self, c)) for c in COMPONENTS}


class LoginFrequency(_Section):
    window_days: int = Field(default=30, ge=1, le=3650)
    full_at_active_days: float = Field(default=16.0, gt=0)


class Adoption(_Section):
    window_days: int = Field(default=30, ge=1, le=3650)
    full_at_share: float = Field(default=0.8, gt=0, le=1)
    min_clicks: int = Field(default=1, ge=1)


class Breadth(Adoption):
    full_at_share: float = Field(default=0.5, gt=0, le=1)


class Nps(_Section):
    window_days: int = Field(default=90, ge=1, le=3650)


class SupportTickets(_Section):
    window_days: int = Field(default=30, ge=1, le=3650)
    zero_at_tickets: float = Field(default=5.0, gt=0)


class HealthConfig(_Section):
    """The whole ``health.yaml``; every key is optional."""

    weights: Weights = Field(default_factory=Weights)
    login_frequency: LoginFrequency = Field(default_factory=LoginFrequency)
    core_feature_adoption: Adoption = Field(default_factory=Adoption)
    breadth: Breadth = Field(default_factory=Breadth)
    nps: Nps = Field(default_factory=Nps)
    support_tickets: SupportTickets = Field(default_factory=SupportTickets)
    _source: str = PrivateAttr(default="")

    @property
    def source(self) -> str:
        """The file the settings came from ("" = built-in defaults)."""
        return self._source


def load_health_config(path: str | Path | None) -> HealthConfig:
    """Read ``health.yaml``; ``None`` gives the docs/semantics.md §5 defaults."""
    if path is None:
        return HealthConfig()
    config, _ = load_checked(path, HealthConfig)
    config._source = str(path)
    return config


def find_config(defs: str | Path | None, name: str) -> Path | None:
    """``DEFS/name`` when DEFS is a folder holding it, DEFS itself when it is that file."""
    if defs is None:
        return None
    base = Path(defs)
    if base.is_dir():
        candidate = base / name
        return candidate if candidate.is_file() else None
    return base if base.is_file() and base.name == name else None


def settings_file(defs: str | Path | None, explicit: str | Path | None, name: str) -> Path | None:
    """The file a ``--config`` / ``--policy`` / ``--rules`` option names, else ``DEFS/name``."""
    return Path(explicit) if explicit is not None else find_config(defs, name)


def health_config_for(defs: str | Path | None, explicit: str | Path | None = None) -> HealthConfig:
    """Health settings from ``explicit`` or ``DEFS/health.yaml``, else the defaults."""
    return load_health_config(settings_file(defs, explicit, CONFIG_NAME))


def describe(config: HealthConfig) -> dict[str, Any]:
    """Settings as plain data (for JSON output and reports)."""
    return config.model_dump(mode="json")
