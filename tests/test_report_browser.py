"""The report in a real browser (Debian chromium driven by playwright), opened from disk.

Every request is routed through the test: anything but file:// is aborted and
fails the test, so the page provably loads nothing from the network. Checks
that every chart drew (an SVG with shapes and a real size), there are no
console errors, drill-down links open their account page and lead back, and
the Japanese page renders Japanese text. Keeps screenshots in test-artifacts/.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import need

from pendo_segments.data import load_sample
from pendo_segments.definitions import load_definitions
from pendo_segments.report import ReportOptions, build_report
from pendo_segments.shipped import shipped_path

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
DEFS = shipped_path("segment_defs")

pytestmark = pytest.mark.browser

_CHARTS = """() => [...document.querySelectorAll('svg.chart')].map(s => {
  const box = s.getBoundingClientRect();
  return {label: s.querySelector('title') ? s.querySelector('title').textContent : '',
          shapes: s.querySelectorAll('rect, polyline, circle').length,
          width: box.width, height: box.height,
          table: !!(s.closest('section') && s.closest('section').querySelector('table'))};
})"""


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    defs, ds = load_definitions(DEFS), load_sample()
    root = tmp_path_factory.mktemp("reports")
    out = {}
    for locale in ("en", "ja"):
        out[locale] = root / locale
        build_report(defs, ds, out[locale], defs_path=DEFS, options=ReportOptions(locale=locale))
    return out


def test_report_renders_offline_in_chromium(reports: dict[str, Path]) -> None:
    need(CHROMIUM.exists(), f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "playwright is not installed")
        raise

    problems: list[str] = []
    outside: list[str] = []

    def route(r):  # noqa: ANN001, ANN202
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("**/*", route)
            page.on(
                "console",
                lambda m: (
                    problems.append(f"console {m.type}: {m.text}")
                    if m.type in ("error", "warning")
                    else None
                ),
            )
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))

            for locale, folder in reports.items():
                page.goto((folder / "index.html").as_uri())
                charts = page.evaluate(_CHARTS)
                assert len(charts) >= 9, charts
                for c in charts:
                    if c["shapes"] < 2 or c["width"] < 150 or c["height"] < 60:
                        problems.append(f"{locale}: chart did not draw: {c}")
                    if not c["label"] or not c["table"]:
                        problems.append(f"{locale}: chart without title or data table: {c}")
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / f"report-{locale}.png"), full_page=True)
                if locale == "ja":
                    heading = page.inner_text("h1")
                    assert heading == "カスタマーサクセス レポート"
                    assert page.get_attribute("html", "lang") == "ja"
                    assert "2026年11月1日" in page.inner_text("header")
                    continue

                links = page.eval_on_selector_all(
                    "a.drill", "els => els.map(e => e.getAttribute('href'))"
                )
                assert len(links) == len(list((folder / "accounts").glob("*.html")))
                for href in links[:3]:
                    page.goto((folder / href).as_uri())
                    drawn = page.evaluate(_CHARTS)
                    assert len(drawn) == 2 and all(c["shapes"] >= 2 for c in drawn), drawn
                    assert page.inner_text("h1").strip()
                    page.click("#back")
                    assert page.url == (folder / "index.html").as_uri()
                page.goto((folder / "index.html").as_uri())
                page.click("a.drill >> nth=0")
                assert "/accounts/" in page.url
                page.screenshot(path=str(ARTIFACTS / "report-account.png"), full_page=True)
        finally:
            browser.close()

    assert outside == []
    assert problems == []
    assert (ARTIFACTS / "report-en.png").stat().st_size > 50_000
