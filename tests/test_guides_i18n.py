"""Locale choice and babel formatting, checked against hand-written expectations."""

from __future__ import annotations

import datetime as dt

import pytest

from pendo_segments.guides.i18n import (
    display_width,
    format_date,
    format_money,
    format_number,
    ordinal,
    pick_locale,
)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("ja-JP", "ja"),
        ("ja", "ja"),
        ("JA_jp", "ja"),
        ("en-US", "en"),
        ("en-GB", "en"),
        ("fr-FR", "en"),
        ("", "en"),
        (None, "en"),
        ("zh-Hant-TW", "en"),
        ("jav", "en"),
    ],
)
def test_pick_locale(language: str | None, expected: str) -> None:
    assert pick_locale(language, ["en", "ja"]) == expected


def test_pick_locale_prefers_the_longest_match_and_falls_back_to_first_available() -> None:
    assert pick_locale("zh-Hant-TW", ["en", "zh", "zh-Hant"]) == "zh-Hant"
    assert pick_locale("zh-CN", ["en", "zh", "zh-Hant"]) == "zh"
    assert pick_locale("fr", ["ja"]) == "ja"  # no English at all: the first available


def test_dates_numbers_money_per_locale() -> None:
    day = dt.date(2026, 11, 23)
    assert format_date(day, "ja") == "2026年11月23日"
    assert format_date("2026-11-23", "en") == "November 23, 2026"
    assert format_date(dt.datetime(2026, 11, 23, 15, 0), "ja") == "2026年11月23日"
    assert format_number(12345, "en") == "12,345"
    assert format_number(1234.5, "ja") == "1,234.5"
    assert format_number(1234.5, "de") == "1.234,5"
    assert format_money(185000, "en") == "$185,000"
    assert format_money(99.5, "en") == "$99.50"
    with pytest.raises(ValueError, match="not a date"):
        format_date("soon", "en")


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (4, "4th"),
        (11, "11th"),
        (12, "12th"),
        (13, "13th"),
        (21, "21st"),
        (22, "22nd"),
        (101, "101st"),
        (111, "111th"),
    ],
)
def test_english_ordinals(n: int, expected: str) -> None:
    assert ordinal(n, "en") == expected


def test_ordinal_in_japanese_is_the_plain_number() -> None:
    assert ordinal(3, "ja") == "3"


def test_display_width_counts_cjk_twice() -> None:
    assert display_width("abc") == 3
    assert display_width("日本語") == 6
    assert display_width("Acme Insightsへようこそ") == 13 + 10
