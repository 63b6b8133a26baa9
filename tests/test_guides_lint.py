"""``guides lint``: clean on the shipped templates, and each rule catches its fixture.

The fixtures in tests/guide_fixtures/broken/bad/ each break exactly one rule;
the expected FILE:LINE below were read off the fixture files by hand.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pendo_segments.guides.lint import RULES, LintIssue, lint
from pendo_segments.guides.manifest import SHIPPED_ROOT, load_manifest

FIXTURES = Path(__file__).parent / "guide_fixtures" / "broken"

# fixture template → (line, rule, words the message must contain)
EXPECTED = {
    "bad/syntax.en.j2": (4, "syntax", "template syntax error"),
    "bad/undefined.en.j2": (
        3,
        "undefined",
        "unknown field 'visitor.nmae'; did you mean 'visitor.name'?",
    ),
    "bad/missing_translation.ja.j2": (
        1,
        "missing-translation",
        "block 'step_1_buttons' is not translated",
    ),
    "bad/title_length.en.j2": (2, "title-length", "lightbox title is 51 columns, limit 30"),
    "bad/step_length.en.j2": (3, "step-length", "step 1 body is 131 columns, limit 120"),
    "bad/too_many_steps.en.j2": (5, "too-many-steps", "4 steps; a walkthrough allows at most 3"),
    "bad/unbalanced_html.en.j2": (3, "unbalanced-html", "<strong> is not closed before </p>"),
    "bad/script.en.j2": (4, "unsafe-html", "<script> is removed by the sanitiser"),
    "bad/event_handler.en.j2": (4, "unsafe-html", "inline event handler onclick= on <a>"),
    "bad/dead_output.en.j2": (3, "dead-output", "{{ }} can print nothing here"),
    "bad/verbatim.en.j2": (3, "dead-output", "'{first_name}' is printed verbatim"),
    "bad/http_link.en.j2": (4, "https-link", "link 'Help' goes to 'http://help.fixture.example'"),
    "bad/unknown_block.en.j2": (3, "structure", "unknown block 'step1_buttons'"),
    "bad/sandbox.en.j2": (3, "unsafe-template", "access to attribute '__class__'"),
    # the fixture's own subjects have no such names: lint's built-in "Keystone Travel, Inc."
    "bad/doubled_punctuation.en.j2": (
        4,
        "doubled-punctuation",
        "'..' in 'step_1_body': \"…for Keystone Travel, Inc.. Thanks for choosing us.\"",
    ),
    "bad/stray_space.en.j2": (1, "stray-space", "space before '!' in 'title': \"Hi Ada !\""),
    # the line break after 。 on line 3 shows as a space before line 4's sentence
    "bad/japanese_line_break.ja.j2": (
        4,
        "stray-space",
        "space after '。' in 'step_1_body': \"Fixture Appへようこそ。 担当者よりご連絡します。\"",
    ),
    "bad/unbalanced_quotes.ja.j2": (
        3,
        "unbalanced-quotes",
        "'「' is never closed in 'step_1_body': \"まずは「Fixture Appを開いてみましょう。\"",
    ),
    "bad/unbalanced_brackets.en.j2": (
        3,
        "unbalanced-brackets",
        "'(' is never closed in 'step_1_body': \"Your workspace is ready (the Help Center",
    ),
}


@pytest.fixture(scope="module")
def fixture_issues() -> list[LintIssue]:
    return lint(load_manifest(FIXTURES))


def test_shipped_templates_are_clean() -> None:
    assert lint(load_manifest(SHIPPED_ROOT)) == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_broken_fixture_is_caught_at_its_line(
    fixture_issues: list[LintIssue], name: str
) -> None:
    line, rule, words = EXPECTED[name]
    mine = [i for i in fixture_issues if i.file.endswith(name)]
    assert [(i.line, i.rule) for i in mine] == [(line, rule)], mine
    assert words in mine[0].message


def test_missing_locale_points_at_the_guide_in_the_manifest(
    fixture_issues: list[LintIssue],
) -> None:
    found = [i for i in fixture_issues if i.rule == "missing-locale"]
    assert len(found) == 1
    assert found[0].file.endswith("broken/guides.yaml") and found[0].line == 18
    assert "guide 'missing_locale' lists locale 'ja' but" in found[0].message
    assert found[0].message.endswith("bad/missing_locale.ja.j2 does not exist")


def test_control_templates_and_nothing_else_are_clean(fixture_issues: list[LintIssue]) -> None:
    assert not [i for i in fixture_issues if "/ok/" in i.file]
    flagged = {i.file.split("broken/")[1] for i in fixture_issues}
    assert flagged == set(EXPECTED) | {"guides.yaml"}


def test_every_rule_is_documented_and_exercised(fixture_issues: list[LintIssue]) -> None:
    used = {i.rule for i in fixture_issues}
    assert used <= set(RULES)
    # "render" is a catch-all no fixture can plan; "timeout" is exercised in test_guides_limits
    assert set(RULES) - used == {"render", "timeout"}


def test_issue_formats_as_file_line_rule_message() -> None:
    issue = LintIssue("guide_templates/x.en.j2", 7, "https-link", "link 'A' goes to 'http://a'")
    assert str(issue) == "guide_templates/x.en.j2:7: https-link: link 'A' goes to 'http://a'"


def _copy_shipped(tmp_path: Path) -> Path:
    root = tmp_path / "guide_templates"
    shutil.copytree(SHIPPED_ROOT, root)
    return root


def test_a_translation_that_breaks_japanese_limits_is_caught(tmp_path: Path) -> None:
    root = _copy_shipped(tmp_path)
    path = root / "no_login" / "welcome_back.ja.j2"
    text = path.read_text(encoding="utf-8")
    # "佐藤 美咲様、" + 30 full-width characters: well over the banner title limit of 60 columns
    path.write_text(
        text.replace("おかえりなさい{% endblock %}", "おかえりなさい" * 4 + "ませ{% endblock %}"),
        encoding="utf-8",
    )
    issues = lint(load_manifest(root))
    assert {(i.file.split("guide_templates/")[1], i.line, i.rule) for i in issues} == {
        ("no_login/welcome_back.ja.j2", 2, "title-length")
    }


def test_a_partial_with_a_typo_is_caught_even_when_only_included(tmp_path: Path) -> None:
    root = _copy_shipped(tmp_path)
    path = root / "_partials" / "tier_help.en.j2"
    path.write_text(
        path.read_text(encoding="utf-8").replace("account.csm_owner }}", "account.csm }}"),
        encoding="utf-8",
    )
    issues = lint(load_manifest(root))
    static = [i for i in issues if i.message.startswith("unknown field 'account.csm'")]
    assert (
        len(static) == 1
        and static[0].file.endswith("_partials/tier_help.en.j2")
        and static[0].line == 3
    )
    # the rendered check fails in the partial too, for every guide that includes it
    assert all(i.file.endswith("tier_help.en.j2") for i in issues)


def test_the_no_login_email_with_a_name_ending_in_inc_has_one_period(tmp_path: Path) -> None:
    """The sentence that went out as "…for Keystone Travel, Inc.. Your dashboards…"."""
    from pendo_segments.guides.render import render_guide

    manifest = load_manifest(SHIPPED_ROOT)
    for name in ("Keystone Travel, Inc.", "Harbour & Finch Ltd."):
        context = {
            "visitor": {"name": "Jordan Lee", "language": "en"},
            "account": {"name": name},
            "tier": "P2",
            "days_since_last_visit": 47,
        }
        email = render_guide(manifest, "no_login_email", "en", context)
        assert ".." not in email.text  # type: ignore[operator]
        assert f"{name} " in email.text  # type: ignore[operator]  # the name is mid-sentence


def test_lint_catches_the_old_no_login_sentence(tmp_path: Path) -> None:
    """Put the shipped email's old wording back: lint names the line and shows the text."""
    root = _copy_shipped(tmp_path)
    path = root / "no_login" / "email.en.j2"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    # line 9 before the fix, character for character
    lines[8] = (
        "<p>{% if days_since_last_visit %}It has been {{ days_since_last_visit | number }} "
        "days since you last signed in to {{ product.name }}{% else %}It has been a while "
        "since you last signed in to {{ product.name }}{% endif %}{% if account.name %} for "
        "{{ account.name }}{% endif %}. Your dashboards, reports and guides are exactly "
        "where you left them.</p>\n"
    )
    path.write_text("".join(lines), encoding="utf-8")
    issues = lint(load_manifest(root))
    assert [(i.file.split("guide_templates/")[1], i.line, i.rule) for i in issues] == [
        ("no_login/email.en.j2", 9, "doubled-punctuation")
    ]
    assert "Inc.. Your dashboards" in issues[0].message


def test_explicit_subjects_still_get_the_names_that_end_in_a_period() -> None:
    subjects = [{"visitor": {"visitor_id": "v-1", "name": "Ada"}, "account": {"name": "Plain"}}]
    issues = lint(load_manifest(FIXTURES), subjects)
    assert any(
        i.rule == "doubled-punctuation" and i.file.endswith("bad/doubled_punctuation.en.j2")
        for i in issues
    )
