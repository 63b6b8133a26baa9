"""The guide manifest (``guide_templates/guides.yaml``): which guide exists,
who sees it, as which Pendo guide type, in which languages.

The manifest is the one place that ties copy to segments, so it is validated
strictly and every problem is reported as ``guides.yaml:LINE: key.path: …``
in a single :class:`~pendo_segments.errors.RenderError`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pendo_segments.definitions.yaml_lines import key_path, line_of, read_yaml_file, suggest
from pendo_segments.errors import RenderError

MANIFEST_NAME = "guides.yaml"
TEMPLATE_SUFFIX = ".j2"
#: The templates shipped with the project (next to the package in a checkout).
SHIPPED_ROOT = Path(__file__).resolve().parents[2] / "guide_templates"

TIERS = ("P1", "P2", "P3", "Neighborhood")
KINDS = ("welcome", "intervention", "no_login", "anniversary")
PENDO_TYPES = ("lightbox", "walkthrough", "banner", "email")
_NAME = r"^[a-z][a-z0-9_]*$"
_LOCALE = r"^[a-z]{2,3}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limits(_Strict):
    """Copy limits for one Pendo guide type, in display columns (CJK counts 2)."""

    steps: tuple[int, int] = (1, 1)
    title: int = Field(60, gt=0)
    step_title: int = Field(60, gt=0)
    body: int = Field(1000, gt=0)
    button: int = Field(24, gt=0)
    subject: int = Field(70, gt=0)

    @field_validator("steps")
    @classmethod
    def _ordered(cls, value: tuple[int, int]) -> tuple[int, int]:
        if not 1 <= value[0] <= value[1]:
            raise ValueError("must be [min, max] with 1 <= min <= max")
        return value


class Feature(_Strict):
    """A key feature: its name per locale and where it lives in the product."""

    id: str = ""
    name: dict[str, str]
    path: str = "/"

    def localised(self, locale: str, default_locale: str) -> str:
        return self.name.get(locale) or self.name.get(default_locale) or self.id


class Guide(_Strict):
    """One guide: its copy lives in ``<template>.<locale>.j2`` under the manifest root."""

    id: str = Field(pattern=_NAME)
    name: str = ""
    kind: Literal["welcome", "intervention", "no_login", "anniversary"]
    pendo_type: Literal["lightbox", "walkthrough", "banner", "email"]
    segments: list[str] = Field(min_length=1)
    locales: list[str] = Field(min_length=1)
    tier_variants: list[Literal["P1", "P2", "P3", "Neighborhood"]] = Field(default_factory=list)
    template: str
    feature: str | None = None
    root: Path = Field(default=Path("."), exclude=True)

    @field_validator("segments")
    @classmethod
    def _segment_names(cls, value: list[str]) -> list[str]:
        import re

        bad = [s for s in value if not re.match(_NAME, s)]
        if bad:
            raise ValueError(f"segment name {bad[0]!r} must match {_NAME}")
        return value

    @field_validator("locales")
    @classmethod
    def _locale_codes(cls, value: list[str]) -> list[str]:
        import re

        bad = [loc for loc in value if not re.match(_LOCALE, loc)]
        if bad:
            raise ValueError(f"locale {bad[0]!r} must be a language code such as 'en' or 'ja'")
        if len(set(value)) != len(value):
            raise ValueError("locales are listed twice")
        return value

    @field_validator("template")
    @classmethod
    def _relative(cls, value: str) -> str:
        if value.startswith("/") or ".." in Path(value).parts or value.endswith(TEMPLATE_SUFFIX):
            raise ValueError("must be a path inside guide_templates without the .LOCALE.j2 suffix")
        return value

    @model_validator(mode="after")
    def _feature_for_interventions(self) -> Guide:
        if self.kind == "intervention" and not self.feature:
            raise ValueError("an intervention guide needs `feature`")
        return self

    def template_name(self, locale: str) -> str:
        """Loader name (``/``-separated, relative to the root) of one locale's template."""
        return f"{self.template}.{locale}{TEMPLATE_SUFFIX}"

    @property
    def templates(self) -> dict[str, Path]:
        """Template file per listed locale (the file may be missing; lint says so)."""
        return {loc: self.root / self.template_name(loc) for loc in self.locales}

    @property
    def tiers(self) -> list[str | None]:
        """The tiers to render separately; ``[None]`` when the copy is the same for all."""
        return list(self.tier_variants) or [None]


class Manifest(_Strict):
    version: Literal[1] = 1
    default_locale: str = Field("en", pattern=_LOCALE)
    product: dict[str, str]
    features: dict[str, Feature] = Field(default_factory=dict)
    limits: dict[Literal["lightbox", "walkthrough", "banner", "email"], Limits] = Field(
        default_factory=dict
    )
    guides: list[Guide] = Field(min_length=1)
    root: Path = Field(default=Path("."), exclude=True)
    #: line of each guide entry in guides.yaml, for lint messages
    guide_lines: dict[str, int] = Field(default_factory=dict, exclude=True)

    @field_validator("product")
    @classmethod
    def _product_urls(cls, value: dict[str, str]) -> dict[str, str]:
        for key in ("name", "app_url", "help_url", "community_url"):
            if key not in value:
                raise ValueError(f"needs `{key}`")
        return value

    @property
    def path(self) -> Path:
        return self.root / MANIFEST_NAME

    def guide(self, guide_id: str) -> Guide:
        for guide in self.guides:
            if guide.id == guide_id:
                return guide
        raise RenderError(f"unknown guide '{guide_id}'{suggest(guide_id, self.guide_ids)}")

    @property
    def guide_ids(self) -> list[str]:
        return [g.id for g in self.guides]

    def limits_for(self, pendo_type: str) -> Limits:
        for kind, limits in self.limits.items():
            if kind == pendo_type:
                return limits
        return Limits.model_validate({})

    def feature_context(self, feature_id: str, locale: str) -> dict[str, Any]:
        """``feature`` as templates see it: id, localised name and deep link."""
        feature = self.features[feature_id]
        return {
            "id": feature_id,
            "name": feature.localised(locale, self.default_locale),
            "url": self.product["app_url"].rstrip("/") + feature.path,
        }


def default_root() -> Path:
    """``./guide_templates`` when the working folder has one, else the shipped templates."""
    from pendo_segments.shipped import shipped_path

    local = Path("guide_templates")
    if (local / MANIFEST_NAME).is_file():
        return local
    return shipped_path("guide_templates", prefer_cwd=False)


def load_manifest(root: Path | str | None = None) -> Manifest:
    """Read and validate ``ROOT/guides.yaml``; raise RenderError listing every problem."""
    root = Path(root) if root is not None else default_root()
    path = root / MANIFEST_NAME
    where = display_path(path)
    raw = read_yaml_file(path, RenderError, where=where, missing="guide manifest not found")
    if not isinstance(raw, dict):
        raise RenderError(f"{where}:1: expected a mapping with `guides:`")
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as err:
        problems = [
            f"{where}:{line_of(raw, e['loc'])}: {key_path(e['loc']) or 'manifest'}: {_message(e)}"
            for e in err.errors()
        ]
        raise RenderError("\n".join(dict.fromkeys(problems))) from None
    problems = _cross_checks(manifest, raw, where)
    if problems:
        raise RenderError("\n".join(problems))
    guides = [g.model_copy(update={"root": root}) for g in manifest.guides]
    features = {fid: f.model_copy(update={"id": fid}) for fid, f in manifest.features.items()}
    lines = {g.id: line_of(raw, ("guides", i)) for i, g in enumerate(manifest.guides)}
    return manifest.model_copy(
        update={"root": root, "guides": guides, "features": features, "guide_lines": lines}
    )


def _cross_checks(manifest: Manifest, raw: Any, where: str) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    for i, guide in enumerate(manifest.guides):
        at = f"{where}:{line_of(raw, ('guides', i))}: guides[{i}]"
        if guide.id in seen:
            problems.append(f"{at}.id: duplicate guide id '{guide.id}'")
        seen.add(guide.id)
        if guide.feature and guide.feature not in manifest.features:
            problems.append(
                f"{at}.feature: unknown feature '{guide.feature}'"
                f"{suggest(guide.feature, manifest.features)}"
            )
        if manifest.default_locale not in guide.locales:
            problems.append(
                f"{at}.locales: must include the default locale "
                f"'{manifest.default_locale}' (the fallback)"
            )
    return problems


def _message(error: Mapping[str, Any]) -> str:
    msg = str(error.get("msg", "invalid"))
    if error.get("type") == "extra_forbidden":
        return "unknown key"
    return msg.removeprefix("Value error, ")


def display_path(path: Path) -> str:
    """A path as users typed it: relative to the working folder when inside it."""
    try:
        return (
            os.path.relpath(path)
            if path.is_absolute() and Path.cwd() in path.parents
            else str(path)
        )
    except ValueError:
        return str(path)
