"""The render context: documented fields always exist; derived values are right."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from pendo_segments.guides.context import OBJECT_FIELDS, nearest_anniversary, normalise_context
from pendo_segments.guides.manifest import SHIPPED_ROOT, load_manifest


@pytest.fixture(scope="module")
def manifest():  # type: ignore[no-untyped-def]
    return load_manifest(SHIPPED_ROOT)


def test_missing_fields_become_none_and_product_defaults_apply(manifest) -> None:  # type: ignore[no-untyped-def]
    ctx = normalise_context(
        {"visitor": {"name": "Jane Q Cooper", "shoe_size": 42}},
        manifest,
        manifest.guide("welcome_lightbox"),
        "en",
    )
    assert set(OBJECT_FIELDS["account"]) <= set(ctx["account"])
    assert all(v is None for v in ctx["account"].values())
    assert ctx["visitor"]["first_name"] == "Jane"
    assert ctx["visitor"]["shoe_size"] == 42  # custom fields are kept
    assert ctx["product"]["name"] == "Acme Insights"
    assert ctx["tier"] is None and ctx["health"] is None and ctx["locale"] == "en"


def test_values_are_converted(manifest) -> None:  # type: ignore[no-untyped-def]
    ctx = normalise_context(
        {
            "visitor": {"first_visit": "2025-11-25"},
            "account": {"arr": np.float64(185000.0), "seats": float("nan")},
            "health": {"health_score": np.float64(71.5)},
            "days_since_last_visit": np.int64(41),
            "product": {"name": "Other"},
        },
        manifest,
        manifest.guide("welcome_back"),
        "ja",
    )
    assert ctx["visitor"]["first_visit"] == dt.date(2025, 11, 25)
    assert ctx["account"]["arr"] == 185000.0 and type(ctx["account"]["arr"]) is float
    assert ctx["account"]["seats"] is None
    assert ctx["health"] == 71.5
    assert ctx["days_since_last_visit"] == 41 and type(ctx["days_since_last_visit"]) is int
    assert ctx["product"]["name"] == "Other"
    assert ctx["product"]["help_url"] == "https://help.acme-insights.example"


def test_intervention_gets_its_feature_from_the_manifest(manifest) -> None:  # type: ignore[no-untyped-def]
    ctx = normalise_context({}, manifest, manifest.guide("intervention_path_reports"), "ja")
    assert ctx["feature"] == {
        "id": "path_reports",
        "name": "パスレポート",
        "url": "https://app.acme-insights.example/analytics/paths",
    }


def test_anniversary_years_are_derived(manifest) -> None:  # type: ignore[no-untyped-def]
    guide = manifest.guide("anniversary")
    ctx = normalise_context(
        {
            "account": {"contract_start": "2023-11-27"},
            "anniversary_of": "contract",
            "as_of": "2026-11-23",
        },
        manifest,
        guide,
        "en",
    )
    assert (ctx["years"], ctx["anniversary_date"]) == (3, dt.date(2026, 11, 27))
    ctx = normalise_context(
        {"visitor": {"first_visit": "2020-01-01"}, "years": 2, "as_of": "2026-11-23"},
        manifest,
        guide,
        "en",
    )
    assert ctx["years"] == 2  # given years win
    assert ctx["anniversary_of"] == "first_visit"


@pytest.mark.parametrize(
    ("start", "as_of", "expected"),
    [
        ("2023-11-27", "2026-11-23", ("2026-11-27", 3)),  # 4 days ahead
        ("2023-11-19", "2026-11-23", ("2026-11-19", 3)),  # 4 days ago
        ("2026-01-05", "2026-11-23", ("2027-01-05", 1)),  # never less than 1 year
        ("2020-02-29", "2027-03-01", ("2027-02-28", 7)),  # leap day in a common year
        ("2024-05-23", "2026-11-23", ("2027-05-23", 3)),  # 181 days ahead beats 184 behind
    ],
)
def test_nearest_anniversary(start: str, as_of: str, expected: tuple[str, int]) -> None:
    day, years = nearest_anniversary(dt.date.fromisoformat(start), dt.date.fromisoformat(as_of))
    assert (day.isoformat(), years) == expected


def test_pandas_blanks_are_none_and_a_blank_language_means_english(manifest) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    from pendo_segments.guides.render import render_guide

    ctx = normalise_context(
        {"visitor": {"name": pd.NA, "first_visit": pd.NaT, "language": float("nan")}},
        manifest,
        manifest.guide("welcome_back"),
        "en",
    )
    assert ctx["visitor"]["name"] is None and ctx["visitor"]["first_visit"] is None
    g = render_guide(manifest, "welcome_back", None, {"visitor": {"language": float("nan")}})
    assert (g.locale, g.fallback, g.title) == ("en", False, "Welcome back, there!")


def test_english_copy_never_prints_a_japanese_company_name(manifest) -> None:  # type: ignore[no-untyped-def]
    """Issue 15 #10: a Japanese visitor falling back to English, or English copy for a
    Japanese company, says "Your workspace" rather than "Your 株式会社ヤマダ workspace"."""
    from pendo_segments.guides.render import render_guide

    context = {
        "visitor": {"name": "山田 葵", "language": "ja-JP"},
        "account": {"name": "株式会社ヤマダ"},
    }
    english = render_guide(manifest, "welcome_lightbox", "en", context)
    body = english.steps[0].body_html
    assert "ヤマダ" not in body and "Your workspace is ready." in body
    japanese = render_guide(manifest, "welcome_lightbox", "ja", context)
    assert "株式会社ヤマダのワークスペース" in japanese.steps[0].body_html
    latin = {**context, "account": {"name": "株式会社ヤマダ", "name_latin": "Yamada Inc."}}
    assert "Your Yamada Inc. workspace is ready." in (
        render_guide(manifest, "welcome_lightbox", "en", latin).steps[0].body_html
    )
    kept = {"account": {"name": "Crème Brûlée GmbH"}}
    assert "Your Crème Brûlée GmbH workspace" in (
        render_guide(manifest, "welcome_lightbox", "en", kept).steps[0].body_html
    )
