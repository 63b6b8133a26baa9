"""The guide manifest: the shipped one is complete; broken ones fail with FILE:LINE."""

from __future__ import annotations

from pathlib import Path

import pytest

from pendo_segments.errors import RenderError
from pendo_segments.guides.manifest import SHIPPED_ROOT, load_manifest

SEGMENTS = {
    "new_users",
    "never_used_core_events",
    "never_used_data_explorer",
    "never_used_path_reports",
    "never_used_guide_publishing",
    "no_login_30d",
    "anniversary",
}


def test_shipped_manifest_covers_every_target_segment_kind_and_type() -> None:
    manifest = load_manifest(SHIPPED_ROOT)
    assert {s for g in manifest.guides for s in g.segments} == SEGMENTS
    assert {g.kind for g in manifest.guides} == {
        "welcome",
        "intervention",
        "no_login",
        "anniversary",
    }
    assert {g.pendo_type for g in manifest.guides} == {"lightbox", "walkthrough", "banner", "email"}
    assert all(g.locales == ["en", "ja"] for g in manifest.guides)
    interventions = {g.feature for g in manifest.guides if g.kind == "intervention"}
    assert interventions == {"core_events", "data_explorer", "path_reports", "guide_publishing"}
    for guide in manifest.guides:
        assert all(path.is_file() for path in guide.templates.values()), guide.id


def test_feature_context_is_localised() -> None:
    manifest = load_manifest(SHIPPED_ROOT)
    ja = manifest.feature_context("data_explorer", "ja")
    assert ja["name"] == "データエクスプローラー"
    assert ja["url"] == "https://app.acme-insights.example/analytics/data-explorer"
    assert manifest.feature_context("path_reports", "fr")["name"] == "Path Reports"


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "guides.yaml").write_text(text, encoding="utf-8")
    return tmp_path


BASE = """\
product: {name: X, app_url: https://a.example, help_url: https://h.example, community_url: https://c.example}
guides:
  - id: welcome
    kind: welcome
    pendo_type: lightbox
    segments: [new_users]
    locales: [en]
    template: welcome
"""


def test_minimal_manifest_loads(tmp_path: Path) -> None:
    manifest = load_manifest(_write(tmp_path, BASE))
    guide = manifest.guide("welcome")
    assert guide.templates == {"en": tmp_path / "welcome.en.j2"}
    assert guide.tiers == [None]
    assert manifest.guide_lines == {"welcome": 3}


@pytest.mark.parametrize(
    ("replace", "by", "expected"),
    [
        (
            "pendo_type: lightbox",
            "pendo_type: popup",
            "guides.yaml:5: guides[0].pendo_type: Input should be",
        ),
        (
            "locales: [en]",
            "locales: [en]\n    colour: red",
            "guides.yaml:8: guides[0].colour: unknown key",
        ),
        (
            "locales: [en]",
            "locales: [ja]",
            "guides.yaml:3: guides[0].locales: must include the default locale 'en'",
        ),
        (
            "kind: welcome",
            "kind: intervention\n    feature: core_event",
            "guides.yaml:4: guides[0].feature: unknown feature 'core_event'",
        ),
        (
            "kind: welcome",
            "kind: intervention",
            "guides.yaml:3: guides[0]: an intervention guide needs `feature`",
        ),
        (
            "segments: [new_users]",
            "segments: [New-Users]",
            "guides.yaml:6: guides[0].segments: segment name 'New-Users'",
        ),
        (
            "template: welcome",
            "template: ../../etc/passwd",
            "guides.yaml:8: guides[0].template: must be a path inside",
        ),
    ],
)
def test_manifest_errors_name_file_line_and_key(
    tmp_path: Path, replace: str, by: str, expected: str
) -> None:
    text = BASE.replace(replace, by)
    if "feature: core_event" in text:
        text = text.replace(
            "product:", "features: {core_events: {name: {en: Core Events}}}\nproduct:"
        )
    with pytest.raises(RenderError) as err:
        load_manifest(_write(tmp_path, text))
    assert expected in str(err.value).replace(str(tmp_path) + "/", "")


def test_duplicate_guide_ids_and_unknown_guide(tmp_path: Path) -> None:
    text = BASE + BASE.split("guides:\n")[1]
    with pytest.raises(
        RenderError, match=r"guides.yaml:9: guides\[1\].id: duplicate guide id 'welcome'"
    ):
        load_manifest(_write(tmp_path, text))
    manifest = load_manifest(_write(tmp_path, BASE))
    with pytest.raises(RenderError, match="unknown guide 'welcom'; did you mean 'welcome'?"):
        manifest.guide("welcom")


def test_missing_manifest_and_yaml_syntax_error(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="guides.yaml: guide manifest not found"):
        load_manifest(tmp_path)
    with pytest.raises(RenderError, match=r"guides.yaml:3: YAML syntax error"):
        load_manifest(_write(tmp_path, "guides:\n  - [unclosed\n"))
