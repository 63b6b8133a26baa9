"""Example subjects for previews and lint, and which one shows which variant.

A subject is a render context (see ``context.py``). The gallery renders each
guide × tier × locale with the subject that fits best: same language and
same tier, else same language, else anyone — the chosen subject's tier is
then set to the variant's, so a P3 page always shows P3 copy. With usage
data the gallery uses ``data_subjects.DataChooser`` instead: real members of
each page's segment.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pendo_segments.definitions.yaml_lines import read_yaml_file
from pendo_segments.errors import RenderError
from pendo_segments.guides.i18n import pick_locale
from pendo_segments.guides.manifest import Guide, Manifest, display_path

SUBJECTS_NAME = "preview_subjects.yaml"


def load_subjects(manifest: Manifest, path: Path | str | None = None) -> list[dict[str, Any]]:
    """Subjects from ``path`` (default: ``preview_subjects.yaml`` beside the manifest).

    A top-level ``as_of`` applies to every subject that has none, so the
    gallery does not change from one day to the next.
    """
    path = Path(path) if path is not None else manifest.root / SUBJECTS_NAME
    where = display_path(path)
    raw = read_yaml_file(path, RenderError, where=where, missing="preview subjects file not found")
    items = raw.get("subjects") if isinstance(raw, dict) else raw
    if not isinstance(items, list) or not items:
        raise RenderError(f"{where}:1: expected a non-empty list under `subjects:`")
    as_of = raw.get("as_of") if isinstance(raw, dict) else None
    subjects: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        line = getattr(items, "item_lines", [1] * len(items))[i]
        if not isinstance(item, dict) or not isinstance(item.get("visitor", {}), dict):
            raise RenderError(
                f"{where}:{line}: subjects[{i}]: expected a mapping with visitor / account"
            )
        subject = _plain(item)
        if as_of is not None:
            subject.setdefault("as_of", as_of)
        subjects.append(subject)
    return subjects


#: People whose names end in punctuation, so that ``guides lint`` sees "Inc.." and
#: "Ltd.." before a customer does. Added to every lint run's subjects (not to the
#: gallery's): every field filled, so every branch that prints a name is taken.
NAME_EDGE_SUBJECTS: tuple[dict[str, Any], ...] = (
    {
        "visitor": {
            "visitor_id": "lint-inc",
            "name": "Jordan Lee",
            "email": "jordan.lee@keystone-travel.example",
            "language": "en",
            "first_visit": "2024-01-15",
        },
        "account": {
            "account_id": "lint-inc",
            "name": "Keystone Travel, Inc.",
            "arr": 96000,
            "plan": "Enterprise",
            "csm_owner": "Sam Ortiz Jr.",
            "contract_start": "2023-03-01",
            "renewal_date": "2027-02-28",
            "seats": 80,
        },
        "health": 61.0,
        "days_since_last_visit": 47,
        "anniversary_of": "contract",
    },
    {
        "visitor": {
            "visitor_id": "lint-ltd",
            "name": "A. N. Other",
            "email": "a.other@harbour-finch.example",
            "language": "en-GB",
            "first_visit": "2022-06-01",
        },
        "account": {
            "account_id": "lint-ltd",
            "name": "Harbour & Finch Ltd.",
            "csm_owner": "Neighborhood team",
            "self_service": True,
        },
        "days_since_last_visit": 33,
        "anniversary_of": "first_visit",
    },
    {
        "visitor": {
            "visitor_id": "lint-kk",
            "name": "山田 太郎",
            "email": "taro.yamada@yamada-shoji.example",
            "language": "ja-JP",
            "first_visit": "2024-04-01",
        },
        "account": {
            "account_id": "lint-kk",
            "name": "山田商事株式会社",
            "name_latin": "Yamada Shoji Co., Ltd.",
            "csm_owner": "高橋 直子",
            "contract_start": "2022-04-01",
        },
        "days_since_last_visit": 52,
        "anniversary_of": "contract",
    },
    {
        "visitor": {
            "visitor_id": "lint-ja-inc",
            "name": "佐々木 健",
            "language": "ja",
            "first_visit": "2025-02-10",
        },
        "account": {
            "account_id": "lint-ja-inc",
            "name": "Sakura Digital, Inc.",
            "csm_owner": "Chris Park Jr.",
            "contract_start": "2024-02-10",
        },
        "days_since_last_visit": 40,
        "anniversary_of": "first_visit",
    },
)


def with_name_edge_cases(subjects: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``subjects`` plus :data:`NAME_EDGE_SUBJECTS` (each with the others' ``as_of``, so
    the copy is checked for the same day)."""
    as_of = next((s["as_of"] for s in subjects if s.get("as_of") is not None), None)
    extra = [copy.deepcopy(s) for s in NAME_EDGE_SUBJECTS]
    if as_of is not None:
        for subject in extra:
            subject["as_of"] = as_of
    return [*subjects, *extra]


def _plain(value: Any) -> Any:
    """LineDict / LineList → dict / list (so subjects deep-copy and serialise simply)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def subject_locale(subject: dict[str, Any], available: Sequence[str], default: str) -> str:
    return pick_locale((subject.get("visitor") or {}).get("language"), list(available), default)


def pick_subject(
    subjects: Sequence[dict[str, Any]],
    locale: str,
    tier: str | None,
    available: Sequence[str],
    default: str = "en",
) -> dict[str, Any]:
    """The best example subject for a locale and tier, as a fresh context dict."""
    if not subjects:
        raise RenderError("no preview subjects given")

    def score(subject: dict[str, Any]) -> tuple[int, int]:
        same_locale = subject_locale(subject, available, default) == locale
        same_tier = tier is None or subject.get("tier") == tier
        return (int(same_locale), int(same_tier))

    best = max(subjects, key=score)  # max keeps the first of equals: file order decides
    context = copy.deepcopy(dict(best))
    if tier is not None:
        context["tier"] = tier
    return context


@dataclass(frozen=True)
class Variant:
    """One page of the gallery: a guide for one segment and tier (all its locales)."""

    guide: Guide
    segment: str
    tier: str | None

    @property
    def slug(self) -> str:
        return f"{self.guide.id}--{self.segment}--{self.tier or 'all'}"


def variants(manifest: Manifest, guide_ids: Sequence[str] | None = None) -> Iterator[Variant]:
    """Every guide × segment × tier variant, in manifest order."""
    for guide in manifest.guides:
        if guide_ids and guide.id not in guide_ids:
            continue
        for segment in guide.segments:
            for tier in guide.tiers:
                yield Variant(guide, segment, tier)


@dataclass(frozen=True)
class SubjectChoice:
    """Who a gallery page shows, and why — the gallery prints ``why`` beside the guide.

    ``member`` is True when the subject is a real member of the page's segment,
    False when the segment had no member in the data (an invented example is shown
    and labelled so), and None when the gallery was built without data.
    """

    context: dict[str, Any]
    why: str
    member: bool | None = None
    visitor_id: str | None = None
    account_id: str | None = None

    @property
    def label(self) -> str | None:
        """The warning the gallery shows above an invented example, if any."""
        return self.why if self.member is False else None


class SubjectChooser(Protocol):
    """Picks the subject of one gallery page in one locale."""

    description: str

    def __call__(self, variant: Variant, locale: str) -> SubjectChoice: ...


class ExampleChooser:
    """Subjects from ``preview_subjects.yaml``: invented people, best fit per locale and tier."""

    def __init__(self, manifest: Manifest, subjects: Sequence[dict[str, Any]]) -> None:
        self.manifest = manifest
        self.subjects = list(subjects)
        self.description = f"{len(self.subjects)} example subjects"

    def __call__(self, variant: Variant, locale: str) -> SubjectChoice:
        return self.choose(variant, locale, why="example subject (preview_subjects.yaml)")

    def choose(
        self, variant: Variant, locale: str, *, why: str, member: bool | None = None
    ) -> SubjectChoice:
        guide = variant.guide
        context = pick_subject(
            self.subjects, locale, variant.tier, guide.locales, self.manifest.default_locale
        )
        return SubjectChoice(
            context,
            why,
            member,
            (context.get("visitor") or {}).get("visitor_id"),
            (context.get("account") or {}).get("account_id"),
        )
