"""The gallery built from data shows people who fit each guide.

Each page's subject is read from the page itself and checked against an
evaluation the test runs on its own; the no-login email's day count is
recomputed by hand from the sample CSV files; a segment without members gives
a labelled example page; and in Chromium, at 1024 px, no email preview
overflows and Japanese copy breaks lines strictly.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import need
from test_guides_browser import CHROMIUM, serve_folder

from pendo_segments.definitions import load_definitions
from pendo_segments.evaluate import evaluate
from pendo_segments.guides.data_subjects import DataChooser
from pendo_segments.guides.manifest import SHIPPED_ROOT, Manifest, load_manifest
from pendo_segments.guides.preview import build_gallery
from pendo_segments.guides.subjects import load_subjects
from pendo_segments.shipped import shipped_path
from pendo_segments.sources import open_dataset

SAMPLE = Path(__file__).resolve().parents[1] / "pendo_segments" / "sample_data"
DEFS = shipped_path("segment_defs", prefer_cwd=False)

_SECTION = re.compile(r'<section class="locale" id="(\w+)".*?</section>', re.S)
_SHOWN_TO = re.compile(r'<p class="who">Shown to <code>([^<]+)</code>: ([^<]+)</p>')
_VISITOR_ROW = re.compile(r"<dt>Visitor</dt><dd>[^<]*· ([^<]+)</dd>")


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return load_manifest(SHIPPED_ROOT)


@pytest.fixture(scope="module")
def sample() -> object:
    return open_dataset("sample")


@pytest.fixture(scope="module")
def data_gallery(
    manifest: Manifest, sample: object, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, DataChooser]:
    chooser = DataChooser(
        manifest,
        sample,  # type: ignore[arg-type]
        load_definitions(DEFS),
        defs_path=DEFS,
        examples=load_subjects(manifest),
    )
    folder = tmp_path_factory.mktemp("gallery") / "preview"
    build_gallery(manifest, folder, chooser=chooser)
    return folder, chooser


def shown_subjects(page: Path) -> dict[str, tuple[str, str]]:
    """locale -> (visitor id, why) as the page shows them; both places must agree."""
    out = {}
    for match in _SECTION.finditer(page.read_text(encoding="utf-8")):
        section = match.group(0)
        shown = _SHOWN_TO.search(section)
        row = _VISITOR_ROW.search(section)
        assert shown and row, f"{page.name} {match.group(1)}: no subject shown"
        assert html.unescape(row.group(1)) == html.unescape(shown.group(1))
        out[match.group(1)] = (html.unescape(shown.group(1)), html.unescape(shown.group(2)))
    return out


def test_every_page_shows_a_member_of_its_segment_in_its_tier_and_language(
    manifest: Manifest, sample: object, data_gallery: tuple[Path, DataChooser]
) -> None:
    folder, chooser = data_gallery
    ev = evaluate(load_definitions(DEFS), sample, as_of=chooser.as_of)  # type: ignore[arg-type]
    members = {name: set(ev.members(name)) for name in ev.masks}
    tier_of = {
        row["account_id"]: row["tier"]
        for row in chooser.view.tiers.frame()[["account_id", "tier"]].to_dict("records")
    }
    with (SAMPLE / "visitors.csv").open(encoding="utf-8") as f:
        visitors = {row["visitor_id"]: row for row in csv.DictReader(f)}
    pages = fallbacks = 0
    for guide in manifest.guides:
        for segment in guide.segments:
            assert members[segment], f"{segment} has members in the sample"
            for tier in guide.tiers:
                page = folder / "pages" / f"{guide.id}--{segment}--{tier}.html"
                shown = shown_subjects(page)
                assert set(shown) == set(guide.locales)
                for locale, (visitor_id, why) in shown.items():
                    assert visitor_id in members[segment], f"{page.name} {locale}: {visitor_id}"
                    assert why.startswith(f"member of {segment}")
                    language = visitors[visitor_id]["language"]
                    assert (language == "ja") == (locale == "ja"), (page.name, language)
                    account_tier = tier_of[visitors[visitor_id]["account_id"]]
                    if f"no {tier} member" not in why:
                        assert account_tier == tier, (page.name, locale, visitor_id)
                        continue
                    fallbacks += 1  # then no member in that tier reads the language
                    assert not [
                        v
                        for v in members[segment]
                        if tier_of[visitors[v]["account_id"]] == tier
                        and (visitors[v]["language"] == "ja") == (locale == "ja")
                    ], (page.name, locale)
                pages += 1
    assert pages == 36
    assert fallbacks < 4  # the sample has members in nearly every tier and language
    index = (folder / "index.html").read_text(encoding="utf-8")
    assert "Example person" not in index
    assert index.count('class="who"><code>v-') == 72  # every page × language says who


def _last_active(wanted: set[str], as_of: dt.date) -> dict[str, dt.date]:
    """docs/semantics.md §2, by hand: the latest active day before as_of, or last_visit."""
    days: dict[str, list[dt.date]] = {v: [] for v in wanted}
    with (SAMPLE / "usage_daily.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["visitor_id"] not in wanted:
                continue
            day = dt.date.fromisoformat(row["date"])
            if day < as_of and (float(row["events"] or 0) > 0 or float(row["minutes"] or 0) > 0):
                days[row["visitor_id"]].append(day)
    with (SAMPLE / "visitors.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["visitor_id"] in wanted and row["last_visit"]:
                last_visit = dt.date.fromisoformat(row["last_visit"])
                if last_visit < as_of:
                    days[row["visitor_id"]].append(last_visit)
    return {v: max(d) for v, d in days.items()}


def test_no_login_email_quotes_the_subjects_real_lapse(
    data_gallery: tuple[Path, DataChooser],
) -> None:
    folder, _ = data_gallery
    with (SAMPLE / "usage_daily.csv").open(encoding="utf-8") as f:
        as_of = max(dt.date.fromisoformat(r["date"]) for r in csv.DictReader(f)) + dt.timedelta(1)
    pages = [folder / "pages" / f"no_login_email--no_login_30d--{t}.html" for t in ("P1", "P3")]
    subjects = {page: shown_subjects(page) for page in pages}
    last = _last_active({v for s in subjects.values() for v, _ in s.values()}, as_of)
    checked = 0
    for page in pages:
        text = page.read_text(encoding="utf-8")
        emails = {
            m.group(1): html.unescape(m.group(2))
            for m in re.finditer(
                r'<article [^>]*data-locale="(\w+)".*?srcdoc="([^"]*)"', text, re.S
            )
        }
        for locale, (visitor_id, _why) in subjects[page].items():
            days = (as_of - last[visitor_id]).days
            assert days > 30  # the segment's own rule, checked by hand
            wanted = (
                f"It has been {days} days since" if locale == "en" else f"から{days}日が経ちました"
            )
            assert wanted in emails[locale], (page.name, locale, visitor_id, days)
            checked += 1
    assert checked == 4


def test_a_segment_without_members_shows_a_labelled_example(
    manifest: Manifest,
    sample: object,
    data_gallery: tuple[Path, DataChooser],
    tmp_path: Path,
) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(SHIPPED_ROOT, templates)
    raw = yaml.safe_load((templates / "guides.yaml").read_text(encoding="utf-8"))
    raw["guides"] = [g for g in raw["guides"] if g["id"] == "welcome_lightbox"]
    (templates / "guides.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), "utf-8")
    defs = tmp_path / "defs"
    shutil.copytree(DEFS, defs)
    (defs / "new_users.yaml").write_text(
        "name: new_users\ntitle: Nobody\nsubject: visitor\nrule:\n"
        "  all:\n    - {metric: events, op: '>', value: 1000000000}\n",
        encoding="utf-8",
    )
    small = load_manifest(templates)
    chooser = DataChooser(
        small,
        sample,  # type: ignore[arg-type]
        load_definitions(defs),
        defs_path=defs,
        examples=load_subjects(small),
        view=data_gallery[1].view,
    )
    folder = tmp_path / "g"
    build_gallery(small, folder, chooser=chooser)
    label = "Example person — no member of new_users in the data"
    example_ids = {s["visitor"]["visitor_id"] for s in load_subjects(small)}
    for page in sorted((folder / "pages").glob("*.html")):
        text = page.read_text(encoding="utf-8")
        for match in _SECTION.finditer(text):
            section = match.group(0)
            chrome, _, guide = section.partition("<article ")
            assert f'<p class="warn example-label" role="note">{label}</p>' in chrome
            assert "Example person" not in guide  # the label is not in the copy
            row = _VISITOR_ROW.search(section)
            assert row and html.unescape(row.group(1)) in example_ids
    assert (folder / "index.html").read_text(encoding="utf-8").count(label) == 8
    records = json.loads((folder / "gallery.json").read_text(encoding="utf-8"))
    assert {s["member"] for r in records for s in r["subjects"].values()} == {False}


@pytest.fixture(scope="module")
def served(data_gallery: tuple[Path, DataChooser]) -> Iterator[str]:
    with serve_folder(data_gallery[0]) as url:
        yield url


_WIDTHS = "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
_EMAIL_LANG = "() => [document.documentElement.lang, getComputedStyle(document.body).lineBreak]"
_JA_STYLE = """() => [...document.querySelectorAll('article.guide:lang(ja) .body')].map(
  e => getComputedStyle(e).lineBreak)"""


@pytest.mark.browser
def test_email_previews_fit_at_1024_and_japanese_breaks_strictly(
    manifest: Manifest, served: str
) -> None:
    need(CHROMIUM.exists(), f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "playwright is not installed")
        raise
    emails = [g for g in manifest.guides if g.pendo_type == "email"]
    assert emails
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            # Every email page at 1024 px (the width); one at 1440 px (as before).
            for width, tiers in ((1024, None), (1440, 1)):
                page.set_viewport_size({"width": width, "height": 768})
                for guide in emails:
                    for tier in guide.tiers[:tiers]:
                        name = f"pages/{guide.id}--{guide.segments[0]}--{tier}.html"
                        page.goto(f"{served}/{name}")
                        scroll, client = page.evaluate(_WIDTHS)
                        if scroll > client:
                            problems.append(f"{width}px {name}: page {scroll} > {client}")
                        frames = page.frames[1:]
                        if len(frames) != len(guide.locales):
                            problems.append(f"{name}: {len(frames)} email frames")
                        for frame in frames:
                            scroll, client = frame.evaluate(_WIDTHS)
                            if scroll > client:
                                problems.append(f"{width}px {name}: email {scroll} > {client}")
                            lang, line_break = frame.evaluate(_EMAIL_LANG)
                            if lang == "ja" and line_break != "strict":
                                problems.append(f"{name}: Japanese email breaks {line_break}")
            page.set_viewport_size({"width": 1024, "height": 768})
            page.goto(f"{served}/index.html")
            scroll, client = page.evaluate(_WIDTHS)
            assert scroll <= client, f"index overflows at 1024 px: {scroll} > {client}"
            page.goto(f"{served}/pages/welcome_lightbox--new_users--P1.html")
            assert page.evaluate(_JA_STYLE) == ["strict"]
            assert page.evaluate("() => document.querySelector('#ja article').lang") == "ja"
        finally:
            browser.close()
    assert problems == []
