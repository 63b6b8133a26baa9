"""Locales: choosing one from a visitor's language, and formatting for it (babel).

Templates never format dates or numbers by hand: ``{{ d | date }}`` gives
"November 23, 2026" in English and "2026年11月23日" in Japanese.
"""

from __future__ import annotations

import datetime as dt
import math
import unicodedata
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as _babel_date
from babel.numbers import format_currency, format_decimal

DEFAULT_LOCALE = "en"
_EN_ORDINAL_SUFFIX = {"one": "st", "two": "nd", "few": "rd", "other": "th"}


def pick_locale(language: str | None, available: list[str], default: str = DEFAULT_LOCALE) -> str:
    """The best of ``available`` for a BCP 47 ``language`` (``ja-JP`` → ``ja``); else ``default``.

    Tries the full tag, then drops subtags from the right (``zh-Hant-TW`` →
    ``zh-hant`` → ``zh``); matching ignores case and accepts ``_`` for ``-``.
    """
    wanted = {loc.lower().replace("_", "-"): loc for loc in available}
    tag = language.strip().lower().replace("_", "-") if isinstance(language, str) else ""
    while tag:
        if tag in wanted:
            return wanted[tag]
        tag = tag.rpartition("-")[0]
    return default if default in available or not available else available[0]


def primary_language(language: str | None) -> str:
    """``"ja-JP"`` → ``"ja"``; ``None`` → ``""``."""
    text = language if isinstance(language, str) else ""
    return text.strip().lower().replace("_", "-").partition("-")[0]


def babel_locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse(DEFAULT_LOCALE)


def as_date(value: Any) -> dt.date | None:
    """A date from a date, datetime, pandas Timestamp or ISO string; ``None`` for blanks."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp (NaT is caught by the != check)
        return None if value != value else value.to_pydatetime().date()  # noqa: PLR0124
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def format_date(value: Any, locale: str, fmt: str = "long") -> str:
    """``2026-11-23`` → "November 23, 2026" (en) / "2026年11月23日" (ja)."""
    day = as_date(value)
    if day is None:
        raise ValueError(f"not a date: {value!r}")
    return _babel_date(day, format=fmt, locale=babel_locale(locale))


def format_number(value: Any, locale: str, digits: int | None = None) -> str:
    """Grouped number for the locale (``12,345``); ``digits`` fixes the decimals."""
    number = float(value)
    if digits is not None:
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(number, format=pattern, locale=babel_locale(locale))
    if number.is_integer():
        return format_decimal(int(number), locale=babel_locale(locale))
    return format_decimal(number, locale=babel_locale(locale))


def format_money(value: Any, locale: str, currency: str = "USD") -> str:
    """``185000`` → "$185,000"; cents only when there are any ("$99.50")."""
    number = float(value)
    pattern = "¤#,##0" if number.is_integer() else None
    return format_currency(
        number,
        currency,
        format=pattern,
        locale=babel_locale(locale),
        currency_digits=pattern is None,
    )


def ordinal(value: Any, locale: str) -> str:
    """English ordinals from CLDR plural rules (1st, 2nd, 3rd, 11th, 22nd); other
    locales write the number and let the copy carry the counter (e.g. "3周年")."""
    number = int(value)
    loc = babel_locale(locale)
    if loc.language != "en":
        return format_decimal(number, locale=loc)
    return f"{number}{_EN_ORDINAL_SUFFIX.get(loc.ordinal_form(number), 'th')}"


def display_width(text: str) -> int:
    """Columns ``text`` takes on screen: wide / full-width (CJK) characters count 2."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def clean_number(value: Any) -> Any:
    """numpy scalars → Python; NaN / NA / NaT → None (a blank cell must not print as 'nan')."""
    if type(value).__name__ in ("NAType", "NaTType"):  # pandas blanks, without importing pandas
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
