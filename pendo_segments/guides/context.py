"""The variables a guide template sees, and how a caller's dict becomes them.

Callers (the gallery, ``guides render``, the no-login campaign) pass a plain
dict; :func:`normalise_context` fills every documented field that is missing
with ``None``, converts dates / numpy numbers, and adds derived values. After
that, StrictUndefined only fires for names that are *not* documented — i.e.
typos in the copy — while a documented-but-empty value must be guarded in the
template (printing ``None`` is an error too, see ``environment.py``).

The shape (also in ``pendo_segments/guides/README.md``)::

    visitor   visitor_id, name, first_name (derived), email, language, first_visit
    account   account_id, name, arr, plan, csm_owner, csm_email, contract_start,
              renewal_date, seats, self_service
    tier      "P1" | "P2" | "P3" | "Neighborhood" | None
    health    health score 0-100 or None
    feature   id, name (localised), url            intervention guides
    years     whole years                           anniversary
    anniversary_of    "first_visit" | "contract"    anniversary (default first_visit)
    anniversary_date  date of that anniversary      anniversary (derived)
    days_since_last_visit  int or None              no-login
    product   name, app_url, help_url, community_url, academy_url (manifest defaults)
    as_of     the day the copy is rendered for (default: today, UTC)
    locale    the locale being rendered ("en", "ja"), set by the renderer
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pendo_segments.guides.i18n import as_date, clean_number

if TYPE_CHECKING:
    from pendo_segments.guides.manifest import Guide, Manifest

#: Fields of each object variable; StrictUndefined makes any other name an error.
OBJECT_FIELDS: dict[str, tuple[str, ...]] = {
    "visitor": ("visitor_id", "name", "first_name", "email", "language", "first_visit"),
    "account": (
        "account_id",
        "name",
        "arr",
        "plan",
        "csm_owner",
        "csm_email",
        "contract_start",
        "renewal_date",
        "seats",
        "self_service",
    ),
    "product": ("name", "app_url", "help_url", "community_url", "academy_url"),
    "feature": ("id", "name", "url"),
}
SCALAR_FIELDS: tuple[str, ...] = (
    "tier",
    "health",
    "years",
    "anniversary_of",
    "anniversary_date",
    "days_since_last_visit",
    "as_of",
    "locale",
)
#: Every top-level name a template may use.
CONTEXT_NAMES: frozenset[str] = frozenset(OBJECT_FIELDS) | frozenset(SCALAR_FIELDS)
_DATE_FIELDS = {"first_visit", "contract_start", "renewal_date"}


def plain_value(value: Any) -> Any:
    """A data cell as a context value: blanks (None, NaN, NaT, pandas NA) → None, numpy
    scalars → Python, strings stripped (blank → None). Every context built from data
    (the gallery's data subjects, the no-login campaign) goes through this one."""
    value = clean_number(value)
    if isinstance(value, str):
        return value.strip() or None
    return value


def normalise_context(
    context: Mapping[str, Any] | None, manifest: Manifest, guide: Guide, locale: str
) -> dict[str, Any]:
    """A complete template context for ``guide`` in ``locale`` from a caller's dict."""
    context = dict(context or {})
    out: dict[str, Any] = {name: context.get(name) for name in SCALAR_FIELDS}
    out.update({k: v for k, v in context.items() if k not in CONTEXT_NAMES})
    out["visitor"] = _object("visitor", context.get("visitor"))
    out["account"] = _object("account", context.get("account"))
    out["product"] = _object("product", {**manifest.product, **dict(context.get("product") or {})})
    out["feature"] = _feature(context.get("feature"), manifest, guide, locale)
    out["locale"] = locale
    out["as_of"] = as_date(out["as_of"]) or dt.datetime.now(dt.UTC).date()
    out["health"] = _health(out["health"])
    out["days_since_last_visit"] = _int_or_none(out["days_since_last_visit"])
    out["account"]["name"] = name_for_locale(
        out["account"]["name"], locale, (context.get("account") or {}).get("name_latin")
    )
    visitor = out["visitor"]
    if not visitor["first_name"] and visitor["name"]:
        visitor["first_name"] = str(visitor["name"]).split()[0]
    if guide.kind == "anniversary":
        _anniversary(out)
    else:
        out["years"] = _int_or_none(out["years"])
    return out


#: Languages whose copy may print a name in its own (non-Latin) script.
_OWN_SCRIPT_LANGUAGES = frozenset({"ja", "zh", "ko"})


def name_for_locale(name: Any, locale: str, latin: Any = None) -> Any:
    """A company name the copy in ``locale`` can print.

    English copy (including an English fallback for a Japanese visitor) must not
    greet "株式会社ヤマダ": a name in a non-Latin script gives way to ``latin``
    (an account's ``name_latin``, when the data has one) or to nothing, which
    every template already words around ("Your workspace is ready").
    """
    language = locale.split("-")[0].lower()
    if not isinstance(name, str) or language in _OWN_SCRIPT_LANGUAGES or _is_latin(name):
        return name
    return latin if isinstance(latin, str) and latin.strip() and _is_latin(latin) else None


def _is_latin(text: str) -> bool:
    import unicodedata

    return all(unicodedata.name(ch, "").startswith("LATIN") for ch in text if ch.isalpha())


def _object(name: str, value: Any) -> dict[str, Any]:
    data = dict(value or {})
    out: dict[str, Any] = {key: None for key in OBJECT_FIELDS[name]}
    for key, item in data.items():
        item = clean_number(item)
        out[key] = as_date(item) if key in _DATE_FIELDS and item is not None else item
    return out


def _feature(value: Any, manifest: Manifest, guide: Guide, locale: str) -> dict[str, Any]:
    given = dict(value or {}) if isinstance(value, Mapping) else {"id": value} if value else {}
    feature_id = guide.feature or given.get("id")
    base = manifest.feature_context(feature_id, locale) if feature_id in manifest.features else {}
    return _object("feature", {**base, **{k: v for k, v in given.items() if v is not None}})


def _health(value: Any) -> float | None:
    if isinstance(value, Mapping):  # a health row: {"health_score": 71.5, ...}
        value = value.get("health_score", value.get("score"))
    value = clean_number(value)
    return None if value is None or value == "" else float(value)


def _int_or_none(value: Any) -> int | None:
    value = clean_number(value)
    return None if value is None or value == "" else int(value)


def _anniversary(out: dict[str, Any]) -> None:
    """Fill ``anniversary_of``, ``anniversary_date`` and ``years`` (nearest anniversary)."""
    of = out["anniversary_of"] or "first_visit"
    out["anniversary_of"] = of
    start = out["account"]["contract_start"] if of == "contract" else out["visitor"]["first_visit"]
    if start is not None and (out["years"] is None or out["anniversary_date"] is None):
        date, years = nearest_anniversary(start, out["as_of"])
        out["anniversary_date"] = out["anniversary_date"] or date
        out["years"] = out["years"] if out["years"] is not None else years
    out["anniversary_date"] = as_date(out["anniversary_date"])
    out["years"] = _int_or_none(out["years"])


def nearest_anniversary(start: dt.date, as_of: dt.date) -> tuple[dt.date, int]:
    """The anniversary of ``start`` closest to ``as_of`` (ties → the later one) and its
    year count, at least 1. Feb 29 starts are celebrated on Feb 28 in common years."""
    first = max(start.year + 1, as_of.year - 1)
    candidates = [(_on_year(start, year), year - start.year) for year in range(first, first + 3)]
    return min(candidates, key=lambda c: (abs((c[0] - as_of).days), -c[0].toordinal()))


def _on_year(start: dt.date, year: int) -> dt.date:
    try:
        return start.replace(year=year)
    except ValueError:  # Feb 29 in a common year
        return dt.date(year, 2, 28)
