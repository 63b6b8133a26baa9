"""Rendering: every shipped guide in every locale, and the safety properties.

Expected strings are written by hand from the copy and the subjects below.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from pendo_segments.errors import RenderError
from pendo_segments.guides import htmltools
from pendo_segments.guides.manifest import SHIPPED_ROOT, Manifest, load_manifest
from pendo_segments.guides.render import RenderedGuide, render_guide

EN_SUBJECT = {
    "visitor": {
        "visitor_id": "v-1",
        "name": "Jane Cooper",
        "language": "en-US",
        "first_visit": "2025-11-25",
    },
    "account": {
        "account_id": "a-1",
        "name": "Northwind Health",
        "csm_owner": "Dana Whitfield",
        "contract_start": "2023-11-27",
    },
    "days_since_last_visit": 41,
    "as_of": "2026-11-23",
}
JA_SUBJECT = {
    "visitor": {
        "visitor_id": "v-2",
        "name": "佐藤 美咲",
        "language": "ja-JP",
        "first_visit": "2025-11-24",
    },
    "account": {
        "account_id": "a-2",
        "name": "株式会社ミナトロジスティクス",
        "csm_owner": "高橋 直子",
        "contract_start": "2022-11-28",
    },
    "days_since_last_visit": 45,
    "as_of": "2026-11-23",
}
SUBJECTS = {"en": EN_SUBJECT, "ja": JA_SUBJECT}
VISITOR_NAME = {"en": "Jane", "ja": "佐藤 美咲"}
CSM = {"en": "Dana Whitfield", "ja": "高橋 直子"}
FEATURES = {
    "intervention_core_events": {"en": "Core Events", "ja": "コアイベント"},
    "intervention_data_explorer": {"en": "Data Explorer", "ja": "データエクスプローラー"},
    "intervention_path_reports": {"en": "Path Reports", "ja": "パスレポート"},
    "intervention_guide_publishing": {"en": "Guide Publishing", "ja": "ガイドの公開"},
}
COMMUNITY = "https://community.acme-insights.example"


@pytest.fixture(scope="module")
def shipped() -> Manifest:
    return load_manifest(SHIPPED_ROOT)


def visible_text(g: RenderedGuide) -> str:
    parts = [g.title, g.subject or ""]
    for step in g.steps:
        parts += [step.title, htmltools.plain_text(step.body_html)] + [
            b.label for b in step.buttons
        ]
    return " ".join(parts)


def all_urls(g: RenderedGuide) -> list[str]:
    return [url for s in g.steps for _, url in htmltools.links(s.body_html)] + [
        b.url for s in g.steps for b in s.buttons
    ]


def japanese_share(text: str) -> float:
    """Share of Japanese script characters among all letters (kana, kanji, latin)."""
    jp = sum(1 for ch in text if re.match(r"[\u3040-\u30ff\u4e00-\u9fff]", ch))
    letters = jp + sum(1 for ch in text if ch.isascii() and ch.isalpha())
    return jp / letters if letters else 0.0


GUIDE_IDS = [
    "welcome_lightbox",
    "welcome_walkthrough",
    "intervention_core_events",
    "intervention_data_explorer",
    "intervention_path_reports",
    "intervention_guide_publishing",
    "welcome_back",
    "no_login_email",
    "anniversary",
]


def test_the_test_list_matches_the_manifest(shipped: Manifest) -> None:
    assert shipped.guide_ids == GUIDE_IDS


@pytest.mark.parametrize("locale", ["en", "ja"])
@pytest.mark.parametrize("guide_id", GUIDE_IDS)
def test_p1_copy_names_the_visitor_and_the_csm(
    shipped: Manifest, guide_id: str, locale: str
) -> None:
    g = render_guide(shipped, guide_id, locale, {**SUBJECTS[locale], "tier": "P1"})
    text = visible_text(g)
    assert not g.fallback and g.locale == locale
    assert VISITOR_NAME[locale] in text
    assert CSM[locale] in text
    assert COMMUNITY not in " ".join(all_urls(g))
    if guide_id in FEATURES:
        assert FEATURES[guide_id][locale] in g.title
    assert all(url.startswith("https://") for url in all_urls(g))


@pytest.mark.parametrize("tier", ["P3", "Neighborhood"])
@pytest.mark.parametrize("locale", ["en", "ja"])
@pytest.mark.parametrize("guide_id", GUIDE_IDS)
def test_p3_and_neighborhood_point_to_the_community(
    shipped: Manifest, guide_id: str, locale: str, tier: str
) -> None:
    g = render_guide(shipped, guide_id, locale, {**SUBJECTS[locale], "tier": tier})
    assert any(url.startswith(COMMUNITY) for url in all_urls(g))
    assert CSM[locale] not in visible_text(g)


@pytest.mark.parametrize("guide_id", GUIDE_IDS)
def test_japanese_is_really_japanese_and_english_is_not(shipped: Manifest, guide_id: str) -> None:
    ja = visible_text(render_guide(shipped, guide_id, "ja", {**JA_SUBJECT, "tier": "P2"}))
    en = visible_text(render_guide(shipped, guide_id, "en", {**EN_SUBJECT, "tier": "P2"}))
    assert japanese_share(ja) > 0.6, ja
    assert re.search(r"[\u3040-\u309f]{2}", ja), "no hiragana: not Japanese"
    assert (
        "です" in ja
        or "ます" in ja
        or "ません" in ja
        or "ください" in ja
        or "ましょう" in ja
        or "おめでとう" in ja
        or "なさい" in ja
        or "ました" in ja
    )
    assert japanese_share(en) == 0.0


def test_step_counts_follow_the_guide_type(shipped: Manifest) -> None:
    for guide_id in GUIDE_IDS:
        g = render_guide(shipped, guide_id, "en", EN_SUBJECT)
        assert len(g.steps) == (3 if g.pendo_type == "walkthrough" else 1), guide_id


def test_visitor_language_chooses_the_locale(shipped: Manifest) -> None:
    g = render_guide(shipped, "welcome_back", None, JA_SUBJECT)
    assert (g.locale, g.requested_locale, g.fallback) == ("ja", "ja-JP", False)
    assert g.title == "佐藤 美咲様、おかえりなさい"
    g = render_guide(shipped, "welcome_back", None, EN_SUBJECT)
    assert (g.locale, g.requested_locale) == ("en", "en-US")
    assert g.title == "Welcome back, Jane!"


def test_unknown_language_falls_back_to_english_and_says_so(shipped: Manifest) -> None:
    g = render_guide(
        shipped,
        "welcome_back",
        None,
        {**EN_SUBJECT, "visitor": {**EN_SUBJECT["visitor"], "language": "fr-CA"}},
    )
    assert (g.locale, g.requested_locale, g.fallback) == ("en", "fr-CA", True)
    assert g.fallback_reason == "no 'fr-CA' translation of welcome_back; using 'en'"


def test_babel_dates_and_numbers_in_the_copy(shipped: Manifest) -> None:
    contract = {"anniversary_of": "contract", "tier": "P2"}
    ja = render_guide(shipped, "anniversary", "ja", {**JA_SUBJECT, **contract})
    assert ja.title == "ご契約4周年おめでとうございます"
    assert "2026年11月28日で、株式会社ミナトロジスティクスが" in ja.steps[0].body_html
    en = render_guide(shipped, "anniversary", "en", {**EN_SUBJECT, **contract})
    assert en.title == "Happy 3rd anniversary, Northwind Health!"
    assert "On November 27, 2026, Northwind Health celebrates 3 years" in en.steps[0].body_html
    back = render_guide(
        shipped, "welcome_back", "en", {**EN_SUBJECT, "days_since_last_visit": 1234}
    )
    assert "It has been 1,234 days." in back.steps[0].body_html


def test_email_has_subject_text_and_html(shipped: Manifest) -> None:
    g = render_guide(shipped, "no_login_email", "ja", {**JA_SUBJECT, "tier": "P2"})
    assert g.pendo_type == "email"
    assert g.subject == "Acme Insightsで前回の続きから始めましょう"
    assert g.html is not None and g.html.startswith("<!DOCTYPE html>")
    assert '<html lang="ja">' in g.html
    assert "https://app.acme-insights.example/dashboards" in g.html
    assert g.text is not None and "<" not in g.text
    assert "Acme Insightsを開く: https://app.acme-insights.example/dashboards" in g.text
    assert "前回のご利用から45日が経ちました" in g.text
    data = json.loads(g.to_json())
    assert data["subject"] == g.subject and data["steps"][0]["buttons"][0]["url"].startswith(
        "https://"
    )


def test_json_is_ready_for_pendo_building_blocks(shipped: Manifest) -> None:
    g = render_guide(shipped, "welcome_walkthrough", "en", {**EN_SUBJECT, "tier": "P3"})
    data = json.loads(g.to_json())
    assert list(data)[:4] == ["guide_id", "name", "kind", "pendo_type"]
    assert "subject" not in data and "html" not in data
    assert data["title"] == "Jane, your first week in Acme Insights"
    assert [s["title"] for s in data["steps"]] == [
        '1. Decide what "active" means',
        "2. Ask your first question",
        "3. Know where to get help",
    ]
    assert data["steps"][2]["buttons"] == [{"label": "Visit the Community", "url": COMMUNITY}]
    assert data["tier"] == "P3"


# ------------------------------------------------------------------ safety


def test_autoescape_customer_data_is_text_not_markup(shipped: Manifest) -> None:
    evil = "<b>Evil</b> <script>alert(1)</script> & Co"
    g = render_guide(
        shipped, "welcome_lightbox", "en", {**EN_SUBJECT, "account": {"name": evil}, "tier": "P2"}
    )
    body = g.steps[0].body_html
    # nh3 alone would keep <b> (an allowed tag): only autoescaping turns it into text
    assert "&lt;b&gt;Evil&lt;/b&gt; &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in body
    assert "<b>" not in body and "<script" not in body


def _root(tmp_path: Path, templates: dict[str, str], locales: str = "[en, ja]") -> Manifest:
    (tmp_path / "guides.yaml").write_text(
        textwrap.dedent(f"""\
        product: {{name: X, app_url: https://a.example, help_url: https://h.example,
                   community_url: https://c.example}}
        guides:
          - {{id: g, kind: welcome, pendo_type: lightbox, segments: [new_users],
              locales: {locales}, template: g}}
        """),
        encoding="utf-8",
    )
    for name, text in templates.items():
        (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return load_manifest(tmp_path)


def test_strict_undefined_makes_a_typo_an_error_with_file_and_line(tmp_path: Path) -> None:
    manifest = _root(
        tmp_path,
        {
            "g.en.j2": """\
        {% block title %}Hi{% endblock %}
        {% block step_1_body %}
        <p>Hello {{ visitor.nmae }}</p>
        {% endblock %}
        """
        },
        "[en]",
    )
    with pytest.raises(RenderError) as err:
        render_guide(manifest, "g", "en", {"visitor": {"name": "Jane"}})
    assert (
        str(err.value)
        == f"{tmp_path}/g.en.j2:3: undefined variable: 'dict object' has no attribute 'nmae'"
    )
    assert (err.value.line, err.value.rule) == (3, "undefined")  # type: ignore[attr-defined]


def test_strict_undefined_unknown_top_level_name(tmp_path: Path) -> None:
    manifest = _root(
        tmp_path,
        {
            "g.en.j2": "{% block title %}Hi {{ acount.name }}{% endblock %}\n"
            "{% block step_1_body %}x{% endblock %}\n"
        },
        "[en]",
    )
    with pytest.raises(RenderError, match=r"g.en.j2:1: undefined variable: 'acount' is undefined"):
        render_guide(manifest, "g", "en", {})


def test_printing_none_is_an_error_not_the_word_none(tmp_path: Path) -> None:
    manifest = _root(
        tmp_path,
        {
            "g.en.j2": "{% block title %}Hi {{ visitor.name }}{% endblock %}\n"
            "{% block step_1_body %}x{% endblock %}\n"
        },
        "[en]",
    )
    with pytest.raises(RenderError, match=r"g.en.j2:1: undefined variable: printed an empty value"):
        render_guide(manifest, "g", "en", {"visitor": {"name": None}})
    assert render_guide(manifest, "g", "en", {"visitor": {"name": "Ann"}}).title == "Hi Ann"


@pytest.mark.parametrize(
    "expression",
    ["visitor.__class__", "''.__class__.__mro__[1].__subclasses__()", "product.items.__self__"],
)
def test_sandbox_refuses_python_internals(tmp_path: Path, expression: str) -> None:
    manifest = _root(
        tmp_path,
        {
            "g.en.j2": "{% block title %}Hi{% endblock %}\n"
            f"{{% block step_1_body %}}{{{{ {expression} }}}}{{% endblock %}}\n"
        },
        "[en]",
    )
    with pytest.raises(RenderError, match=r"g.en.j2:2: unsafe template code: access to attribute"):
        render_guide(manifest, "g", "en", {})


def test_sanitiser_strips_what_the_copy_should_not_contain(tmp_path: Path) -> None:
    manifest = _root(
        tmp_path,
        {
            "g.en.j2": """\
        {% block title %}<b>Hi</b> & welcome{% endblock %}
        {% block step_1_body %}<p onclick="x()">A <a href="javascript:alert(1)">b</a>
        <a href="https://ok.example">c</a></p><script>bad()</script>{% endblock %}
        {% block step_1_buttons %}<a href="http://plain.example">Go</a>
        <a href="https://ok.example/x">OK</a>{% endblock %}
        """
        },
        "[en]",
    )
    g = render_guide(manifest, "g", "en", {})
    assert g.title == "Hi & welcome"
    body = g.steps[0].body_html
    assert "onclick" not in body and "javascript" not in body and "bad()" not in body
    assert '<a href="https://ok.example" rel="noopener noreferrer">c</a>' in body
    assert [(b.label, b.url) for b in g.steps[0].buttons] == [
        ("Go", ""),
        ("OK", "https://ok.example/x"),
    ]


def test_missing_block_in_translation_comes_from_english(tmp_path: Path) -> None:
    manifest = _root(
        tmp_path,
        {
            "g.en.j2": "{% block title %}Hi{% endblock %}\n"
            "{% block step_1_body %}<p>Hello</p>{% endblock %}\n"
            "{% block step_1_buttons %}<a href='https://h.example'>Help</a>{% endblock %}\n",
            "g.ja.j2": "{% block title %}こんにちは{% endblock %}\n"
            "{% block step_1_body %}<p>ようこそ</p>{% endblock %}\n",
        },
    )
    g = render_guide(manifest, "g", "ja", {})
    assert (g.locale, g.fallback, g.missing) == ("ja", True, ["step_1_buttons"])
    assert g.title == "こんにちは" and g.steps[0].buttons[0].label == "Help"
    assert g.fallback_reason == "g.ja.j2 lacks step_1_buttons; using 'en' for those"


def test_missing_translation_file_renders_english(tmp_path: Path) -> None:
    manifest = _root(
        tmp_path,
        {
            "g.en.j2": "{% block title %}Hi{% endblock %}\n"
            "{% block step_1_body %}<p>Hello</p>{% endblock %}\n"
        },
    )
    g = render_guide(manifest, "g", "ja-JP", {})
    assert (g.locale, g.requested_locale, g.fallback, g.title) == ("en", "ja-JP", True, "Hi")
    assert g.fallback_reason == f"{tmp_path}/g.ja.j2 is missing; using 'en'"


def test_missing_required_block_is_a_structure_error(tmp_path: Path) -> None:
    manifest = _root(tmp_path, {"g.en.j2": "{% block title %}Hi{% endblock %}\n"}, "[en]")
    with pytest.raises(RenderError, match=r"g.en.j2:1: missing block: step_1_body"):
        render_guide(manifest, "g", "en", {})
