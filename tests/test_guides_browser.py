"""The preview gallery in a real browser (Debian chromium driven by playwright).

Serves a freshly built gallery on 127.0.0.1, opens the index, follows every
page link, and fails on any console error, failed request, or a guide ×
segment × tier page (or one of its languages) that is missing. Keeps one
screenshot as test-artifacts/gallery.png for a human to look at.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import page_problems
import pytest
from conftest import need

from pendo_segments.guides.manifest import SHIPPED_ROOT, load_manifest
from pendo_segments.guides.preview import build_gallery, make_server

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
SCREENSHOT_PAGE = "welcome_lightbox--new_users--P1.html"

pytestmark = pytest.mark.browser

# One round trip per page: what each language column shows.
_GUIDES_ON_PAGE = """() => [...document.querySelectorAll('section.locale')].map(section => {
  const article = section.querySelector('article.guide');
  const box = article ? article.getBoundingClientRect() : {width: 0, height: 0};
  const title = article ? article.querySelector('.g-title, .subject') : null;
  return {locale: section.id, guide: article ? article.dataset.guide : null,
          fallback: article ? article.dataset.fallback : null,
          width: box.width, height: box.height, title: title ? title.innerText : ''};
})"""


@contextlib.contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """The folder over HTTP on 127.0.0.1 (any free port) while the block runs; yields its URL."""
    server = make_server(folder, "127.0.0.1", 0)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def served_gallery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("gallery") / "preview"
    build_gallery(load_manifest(SHIPPED_ROOT), folder)
    with serve_folder(folder) as url:
        yield url


def test_gallery_renders_every_guide_without_console_errors(served_gallery: str) -> None:
    need(
        CHROMIUM.exists(), f"{CHROMIUM} is not installed (apt-get install chromium fonts-noto-cjk)"
    )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "playwright is not installed")
        raise

    manifest = load_manifest(SHIPPED_ROOT)
    expected = {
        f"pages/{g.id}--{seg}--{tier or 'all'}.html": g
        for g in manifest.guides
        for seg in g.segments
        for tier in g.tiers
    }
    problems: list[str] = []

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page_problems.watch(page, problems)
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            page.on(
                "response",
                lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None,
            )

            page.goto(f"{served_gallery}/index.html")
            hrefs = page.eval_on_selector_all(
                "a[href^='pages/']", "els => els.map(e => e.getAttribute('href'))"
            )
            linked = {h.split("#")[0] for h in hrefs}
            assert linked == set(expected), (
                f"missing: {set(expected) - linked}, extra: {linked - set(expected)}"
            )

            for href, guide in sorted(expected.items()):
                page.goto(f"{served_gallery}/{href}")
                shown = {g["locale"]: g for g in page.evaluate(_GUIDES_ON_PAGE)}
                for locale in guide.locales:
                    g = shown.get(locale)
                    if not g or g["guide"] != guide.id:
                        problems.append(f"{href}: no {locale} rendering of {guide.id}")
                    elif g["width"] < 200 or g["height"] < 60 or not g["title"].strip():
                        problems.append(f"{href}: {locale} guide is not visible: {g}")
                    elif g["fallback"] != "false":
                        problems.append(f"{href}: {locale} fell back to another language")
                if href.endswith(SCREENSHOT_PAGE):
                    ARTIFACTS.mkdir(exist_ok=True)
                    page.screenshot(path=str(ARTIFACTS / "gallery.png"), full_page=True)
        finally:
            browser.close()

    assert problems == []
    assert (ARTIFACTS / "gallery.png").stat().st_size > 10_000
