"""Punctuation in rendered copy (``guides/punctuation.py``): what is flagged and what is not.

Each case is a sentence a template could produce; the expected findings were
decided by reading it as a customer would.
"""

from __future__ import annotations

import pytest

from pendo_segments.guides.punctuation import block_text, problems


def found(text: str, locale: str = "en") -> list[tuple[str, str]]:
    return [(p.rule, p.what) for p in problems(text, locale)]


@pytest.mark.parametrize(
    ("text", "locale", "expected"),
    [
        (
            "You last signed in for Keystone Travel, Inc.. Your dashboards are here.",
            "en",
            [("doubled-punctuation", "'..'")],
        ),
        ("Thanks,, Dana", "en", [("doubled-punctuation", "',,'")]),
        ("Welcome back!!", "en", [("doubled-punctuation", "'!!'")]),
        ("Welcome back!.", "en", [("doubled-punctuation", "'!.'")]),
        ("Dear team,.", "en", [("doubled-punctuation", "',.'")]),
        ("ご利用ありがとうございます。。", "ja", [("doubled-punctuation", "'。。'")]),
        ("ダッシュボード、、レポート", "ja", [("doubled-punctuation", "'、、'")]),
        ("Welcome back , Jordan", "en", [("stray-space", "space before ','")]),
        ("It is ready .", "en", [("stray-space", "space before '.'")]),
        ("Ready ?", "en", [("stray-space", "space before '?'")]),
        ("ようこそ 。", "ja", [("stray-space", "space before '。'")]),
        ("ようこそ。 担当者よりご連絡します。", "ja", [("stray-space", "space after '。'")]),
        ("Define what “active means.", "en", [("unbalanced-quotes", "'“' is never closed")]),
        ('Define what "active means.', "en", [("unbalanced-quotes", "'\"' is never closed")]),
        ("まずは「開く」」から。", "ja", [("unbalanced-quotes", "'」' closes nothing")]),
        ("See the guide (it is short.", "en", [("unbalanced-brackets", "'(' is never closed")]),
        ("See the guide [1).", "en", [("unbalanced-brackets", "'[' is closed by ')'")]),
        ("詳しくは（ヘルプ参照。", "ja", [("unbalanced-brackets", "'（' is never closed")]),
    ],
)
def test_flagged(text: str, locale: str, expected: list[tuple[str, str]]) -> None:
    assert found(text, locale) == expected


@pytest.mark.parametrize(
    ("text", "locale"),
    [
        ("Wait for it... and more…", "en"),  # ellipses
        ("Keystone Travel, Inc., Northwind Ltd. and others", "en"),  # abbreviation, comma
        ("Happy 3rd anniversary, Keystone Travel, Inc.!", "en"),
        ("Thanks (Keystone Travel, Inc.).", "en"),
        ("Export a .csv file or use .NET with 0.5 seconds", "en"),
        ("Time: 10:30, ratio 1:2", "en"),
        ("Define what “active” means, or ‘core’ — Ada’s and users’ choice", "en"),
        ('Define what "active" means', "en"),
        ("Steps: 1) open it, 2) pick events, a) or b)", "en"),
        ("佐藤 美咲様、Keystone Travel, Inc.でのご利用から47日が経ちました。", "ja"),
        ("「本当に使っている」と言える操作（最大10個）を選びます。", "ja"),
        ("Bienvenue ; voici vos tableaux : prêts ?", "fr"),  # French spaces before ; : ?
    ],
)
def test_not_flagged(text: str, locale: str) -> None:
    assert found(text, locale) == []


def test_snippet_shows_the_text_around_it_and_lines_are_checked_apart() -> None:
    text = "A" * 40 + " for Keystone Travel, Inc.. Your dashboards, reports and guides"
    (problem,) = problems(text, "en")
    assert problem.snippet == "…for Keystone Travel, Inc.. Your dashboards, report…"
    # a period ending one paragraph and one starting the next are not doubled
    assert problems("First paragraph.\n.NET second", "en") == []


def test_block_text_is_what_a_reader_sees() -> None:
    html = (
        '<p>Hello <strong>Jordan</strong>,\n  see the <a href="https://x.example/a..b">notes'
        "</a>.</p><ul><li>One</li><li>Two</li></ul>"
    )
    # no URL (its ".." is not copy), a source line break is a space, block tags are lines
    assert block_text(html) == "Hello Jordan, see the notes.\n- One\n- Two"
