"""QBR packs in a real browser (Debian chromium driven by playwright), opened from disk:
drawn with nothing from the network, nothing past a 390 px phone's screen, every section
and every row on paper, and no English product text on the Japanese pages. Screenshots
go to test-artifacts/qbr-*.png.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import page_problems
import pytest
from test_report_browser import (  # the dashboard's checks, on the packs' pages
    _CHARTS,
    _ROWS,
    _STICKING_OUT,
    ARTIFACTS,
    LAPTOP,
    PHONE,
    _english_labels,
    _open,
    browser,  # noqa: F401 - the fixture
)

from pendo_segments.data import bundled_sample_path, load_sample
from pendo_segments.definitions import load_definitions
from pendo_segments.shipped import shipped_path

DEFS = shipped_path("segment_defs")
#: NPS answers and three alerts; steady usage and no NPS; the sample's smallest book
ACCOUNTS = ("acc-00234", "acc-00028", "acc-00115")
SECTIONS = ("account", "adoption", "top-features", "active-users", "nps", "health", "alerts")

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def packs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from pendo_segments.report.qbr import QbrOptions, build_qbr

    defs, ds = load_definitions(DEFS), load_sample()
    root = tmp_path_factory.mktemp("qbr")
    out = {}
    for locale in ("en", "ja"):
        out[locale] = root / locale
        options = QbrOptions(accounts=ACCOUNTS, locale=locale)
        build_qbr(defs, ds, out[locale], defs_path=DEFS, options=options)
    return out


def _pages(folder: Path) -> list[Path]:
    return [folder / "index.html", *(folder / f"{a}.html" for a in ACCOUNTS)]


def test_packs_draw_offline_without_console_errors(browser: Any, packs: dict[str, Path]) -> None:  # noqa: F811
    outside: list[str] = []
    problems: list[str] = []
    page = browser.new_page(viewport={"width": LAPTOP[0], "height": LAPTOP[1]})

    def route(r: Any) -> None:
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page_problems.watch(page, problems)
    for locale, folder in packs.items():
        page.goto((folder / "index.html").as_uri())
        assert page.eval_on_selector_all("a.pack", "els => els.length") == len(ACCOUNTS)
        page.click("a.pack >> nth=0")
        assert page.url == (folder / f"{ACCOUNTS[0]}.html").as_uri()
        charts = page.evaluate(_CHARTS)
        assert len(charts) == 5, charts  # adoption, top features, active users, NPS, health
        for c in charts:
            assert c["shapes"] >= 2 and c["width"] > 150 and c["height"] > 60, c
            assert c["label"] and c["table"], c
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"qbr-{locale}.png"), full_page=True)
        page.click("#back")
        assert page.url == (folder / "index.html").as_uri()
    page.close()
    assert outside == []
    assert problems == []


@pytest.mark.parametrize("size", [PHONE, LAPTOP], ids=["390px", "1280px"])
@pytest.mark.parametrize("locale", ["en", "ja"])
def test_nothing_sticks_out_past_the_screen(
    browser: Any,  # noqa: F811
    packs: dict[str, Path],
    size: tuple[int, int],
    locale: str,
) -> None:
    problems = []
    for path in _pages(packs[locale]):
        page = _open(browser, path, size)
        problems += [f"{path.name}: {p}" for p in page.evaluate(_STICKING_OUT)]
        if path.stem == ACCOUNTS[0]:
            page.screenshot(path=str(ARTIFACTS / f"qbr-{locale}-{size[0]}.png"), full_page=True)
        page.close()
    assert problems == []


@pytest.mark.parametrize("locale", ["en", "ja"])
def test_a_printout_shows_every_section_row_and_chart(
    browser: Any,  # noqa: F811
    packs: dict[str, Path],
    locale: str,
) -> None:
    """Paper: every section on its own page (the KPIs and the account's facts together),
    every row of every table unclipped, every chart drawn."""
    for account in ACCOUNTS:
        page = _open(browser, packs[locale] / f"{account}.html", LAPTOP, media="print")
        shown = page.evaluate(
            """() => [...document.querySelectorAll('main > section')].map(s => {
                 const r = s.getBoundingClientRect();
                 return [s.id || s.className, s.checkVisibility() && r.height > 20,
                         getComputedStyle(s).breakBefore]; })"""
        )
        rows = {s: page.evaluate(_ROWS, s) for s in SECTIONS}
        charts = page.evaluate(_CHARTS)
        if locale == "en" and account == ACCOUNTS[0]:
            page.pdf(path=str(ARTIFACTS / "qbr-print.pdf"))
        page.close()
        assert [s for s, _, _ in shown] == ["kpis", *SECTIONS], account
        assert all(visible for _, visible, _ in shown), shown
        assert [b for s, _, b in shown[2:]] == ["page"] * (len(SECTIONS) - 1), shown
        for section in ("adoption", "active-users", "health"):
            assert len(rows[section]) >= 9, (account, section)
        for section, seen in rows.items():
            assert all(r["shown"] and not r["clipped"] for r in seen), (account, section)
        assert len(charts) >= 4 and all(c["width"] > 150 and c["shapes"] >= 2 for c in charts)


def _names(folder: Path) -> list[str]:
    """What people and the data named, which the Japanese pages show as written."""
    import csv

    import yaml

    sample = bundled_sample_path()
    names = {"pendo-segments", "Pendo", "sample", "alerts.yaml"}
    for file, columns in (
        ("accounts.csv", ("account_id", "name", "plan", "csm_owner")),
        ("features.csv", ("name",)),
    ):
        with (sample / file).open(encoding="utf-8") as fh:
            names |= {r[c] for r in csv.DictReader(fh) for c in columns}
    names |= {s.name for s in load_definitions(DEFS)}
    alerts = yaml.safe_load((DEFS / "alerts.yaml").read_text(encoding="utf-8"))["alerts"]
    names |= {a["name"] for a in alerts}
    return sorted((n for n in names if n), key=len, reverse=True)


def test_the_japanese_packs_have_no_product_text_in_english(
    browser: Any,  # noqa: F811
    packs: dict[str, Path],
) -> None:
    folder = packs["ja"]
    seen = []
    page = _open(browser, folder / "index.html", LAPTOP)
    for path in _pages(folder):
        page.goto(path.as_uri())
        seen.append(
            page.evaluate(
                """() => [document.title, document.body.innerText,
                   ...[...document.querySelectorAll('svg text, svg title, svg desc')]
                       .map(t => t.textContent)].join('\\n')"""
            )
        )
    page.close()
    text = "\n".join(seen)
    for name in _names(folder):
        text = text.replace(name, " ")
    english = {
        label
        for label in _english_labels()
        if re.search(rf"(?<![A-Za-z]){re.escape(label)}(?![A-Za-z])", text)
    }
    assert english == set()
    assert "主要機能の週ごとの利用" in text and "ヘルススコアの週ごとの推移" in text
    assert "2026年11月1日" in text
