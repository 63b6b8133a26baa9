"""The report in a real browser (Debian chromium driven by playwright), opened from disk.

Every request is routed through the test: anything but file:// is aborted and
fails the test, so the page provably loads nothing from the network. Checks
that every chart drew (an SVG with shapes and a real size), there are no
console errors, drill-down links open their account page and lead back, and
the Japanese page renders Japanese text. Keeps screenshots in test-artifacts/.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import page_problems
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

# the drawing of each chart the page shows (a chart is drawn wide and narrow; CSS shows one)
_CHARTS = """() => [...document.querySelectorAll('svg.chart')].filter(s => s.checkVisibility()).map(s => {
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


@pytest.fixture(scope="module")
def browser() -> Any:
    need(CHROMIUM.exists(), f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "playwright is not installed")
        raise
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def test_report_renders_offline_in_chromium(browser: Any, reports: dict[str, Path]) -> None:
    problems: list[str] = []
    outside: list[str] = []

    def route(r):  # noqa: ANN001, ANN202
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.route("**/*", route)
        page_problems.watch(page, problems)

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
        page.close()

    assert outside == []
    assert problems == []
    assert (ARTIFACTS / "report-en.png").stat().st_size > 50_000


# -- phones, paper and Japanese -------------------------------------------------------------
# The sample's report at a phone's 390 px and a laptop's 1280 px, printed (print media
# emulated), and in Japanese. Screenshots go to test-artifacts/report-*.png.
PHONE, LAPTOP = (390, 844), (1280, 900)

#: elements whose right (or left) edge is past the screen or their card, or whose text
#: spills out of their box, that no scrolling box holds
_STICKING_OUT = """() => {
  const vw = document.documentElement.clientWidth;
  const scrolls = el => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll') return true;
    }
    return false;
  };
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : '') +
    ' "' + (el.textContent || '').trim().slice(0, 40) + '"';
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (!el.checkVisibility() || scrolls(el)) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.right > vw + 0.5 || r.left < -0.5) out.push(`${name(el)} spans ${r.left}..${r.right} of ${vw}`);
    const card = el.parentElement && el.parentElement.closest('section, .kpi');
    if (card) {
      const c = card.getBoundingClientRect();
      if (r.right > c.right + 0.5) out.push(`${name(el)} ends at ${r.right}, past its card (${c.right})`);
    }
    if (el instanceof HTMLElement && el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1 &&
        getComputedStyle(el).overflowX === 'visible')
      out.push(`${name(el)}: its content is ${el.scrollWidth} px wide in ${el.clientWidth} px`);
  }
  if (document.documentElement.scrollWidth > vw) out.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} > ${vw}`);
  return out;
}"""

#: every text of the charts shown: its rendered size, its box, and overlaps in its chart
_CHART_TEXT = """() => {
  const out = [];
  for (const s of [...document.querySelectorAll('svg.chart')].filter(s => s.checkVisibility())) {
    const box = s.getBoundingClientRect();
    const title = s.querySelector('title').textContent;
    const texts = [...s.querySelectorAll('text')];
    const boxes = texts.map(t => t.getBoundingClientRect());
    texts.forEach((t, i) => {
      const px = parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a;
      const b = boxes[i];
      out.push({chart: title, text: t.textContent, px: px,
                inside: b.left >= box.left - 0.5 && b.right <= box.right + 0.5 &&
                        b.top >= box.top - 0.5 && b.bottom <= box.bottom + 0.5,
                overlaps: boxes.filter((o, j) => j !== i && o.left < b.right - 1 && b.left < o.right - 1 &&
                                       o.top < b.bottom - 1 && b.top < o.bottom - 1)
                               .map((o, j) => j).length});
    });
  }
  return out;
}"""

#: rows of each scroll box, and how many of them are wholly in view
_BOXES = """() => [...document.querySelectorAll('.scroll')].map(b => {
  const r = b.getBoundingClientRect();
  const head = b.querySelector('thead').getBoundingClientRect().height;
  const rows = [...b.querySelectorAll('tbody tr')];
  const seen = rows.filter(t => { const q = t.getBoundingClientRect();
    return q.top >= r.top + head - 1 && q.bottom <= r.top + b.clientHeight + 1; }).length;
  return {section: b.closest('section').id, rows: rows.length, seen: seen};
})"""

#: each row of a section's tables, and whether any box around it clips it
_ROWS = """(section) => [...document.querySelectorAll(`#${section} tbody tr`)].map(tr => {
  const r = tr.getBoundingClientRect();
  let clipped = false;
  for (let p = tr.parentElement; p; p = p.parentElement) {
    const st = getComputedStyle(p);
    if (st.overflowY !== 'visible' || st.overflowX !== 'visible') {
      const q = p.getBoundingClientRect();
      if (r.bottom > q.bottom + 0.5 || r.top < q.top - 0.5 || r.right > q.right + 0.5) clipped = true;
    }
  }
  return {text: tr.innerText.slice(0, 40), shown: tr.checkVisibility() && r.height > 0, clipped: clipped};
})"""


def _open(browser: Any, path: Path, size: tuple[int, int], media: str = "screen") -> Any:
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    page.route(
        "**/*", lambda r: r.continue_() if r.request.url.startswith("file://") else r.abort()
    )
    page.emulate_media(media=media)
    page.goto(path.as_uri())
    return page


def _pages(folder: Path) -> list[Path]:
    """The index and two drill-down pages (one with alerts, one without if there is one)."""
    accounts = sorted((folder / "accounts").glob("*.html"))
    quiet = [p for p in accounts if 'class="muted">' in p.read_text(encoding="utf-8")]
    return [folder / "index.html", accounts[0], *(quiet[:1] or accounts[1:2])]


@pytest.mark.parametrize("size", [PHONE, LAPTOP], ids=["390px", "1280px"])
@pytest.mark.parametrize("locale", ["en", "ja"])
def test_nothing_sticks_out_past_the_screen(
    browser: Any, reports: dict[str, Path], size: tuple[int, int], locale: str
) -> None:
    """At 390 px the ARR ("$24,014,800") spilled out of its card and the capacity table
    ran past the screen: only a box that scrolls may hold something wider."""
    problems = []
    for path in _pages(reports[locale]):
        page = _open(browser, path, size)
        problems += [f"{path.name}: {p}" for p in page.evaluate(_STICKING_OUT)]
        if path.name == "index.html":
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"report-{locale}-{size[0]}.png"), full_page=True)
        page.close()
    assert problems == []


@pytest.mark.parametrize("size", [PHONE, LAPTOP], ids=["390px", "1280px"])
@pytest.mark.parametrize("locale", ["en", "ja"])
def test_chart_text_reads_at_10px_or_more_and_stays_inside_its_chart(
    browser: Any, reports: dict[str, Path], size: tuple[int, int], locale: str
) -> None:
    """A chart drawn 640 units wide on a 390 px screen had 4-6 px labels."""
    small, outside, overlapping, shown = [], [], [], 0
    for path in _pages(reports[locale]):
        page = _open(browser, path, size)
        for t in page.evaluate(_CHART_TEXT):
            shown += 1
            where = f"{path.name}: {t['chart']}: {t['text']!r}"
            if t["px"] < 10:
                small.append(f"{where} at {t['px']:.1f} px")
            if not t["inside"]:
                outside.append(where)
            if t["overlaps"]:
                overlapping.append(where)
        page.close()
    assert shown > 100
    assert small == []
    assert outside == []
    assert overlapping == []


def test_every_chart_names_its_axes(browser: Any, reports: dict[str, Path]) -> None:
    """Axis titles say what is counted and in which unit; months read as words."""
    page = _open(browser, reports["en"] / "index.html", LAPTOP)
    titles = page.evaluate(
        """() => [...document.querySelectorAll('svg.chart')].filter(s => s.checkVisibility())
             .map(s => [s.querySelector('title').textContent,
                        [...s.querySelectorAll('text[font-weight="600"]')].map(t => t.textContent)])"""
    )
    text = page.inner_text("#nps")
    page.close()
    assert len(titles) >= 9
    assert all(axes for _, axes in titles), titles
    by_chart = dict(titles)
    assert any("Minutes" in a for a in by_chart["Total time in app per week"])
    assert any("%" in a for a in by_chart["Key feature usage by visitor (last 30 days)"])
    assert any("(0–100)" in a for a in by_chart["Health score distribution by tier"])
    assert "Aug 2026" in text and "2026-08" not in text


@pytest.mark.parametrize("size", [PHONE, LAPTOP], ids=["390px", "1280px"])
@pytest.mark.parametrize("locale", ["en", "ja"])
def test_scroll_boxes_show_at_least_ten_rows(
    browser: Any, reports: dict[str, Path], size: tuple[int, int], locale: str
) -> None:
    """The alert box showed one row at 390 px (three at 1280 px)."""
    page = _open(browser, reports[locale] / "index.html", size)
    boxes = page.evaluate(_BOXES)
    page.close()
    assert {b["section"] for b in boxes} >= {"alerts", "p1", "segments"}
    assert [b for b in boxes if b["seen"] < min(10, b["rows"])] == []


@pytest.mark.parametrize("locale", ["en", "ja"])
def test_a_printout_has_every_row_and_every_chart(
    browser: Any, reports: dict[str, Path], locale: str
) -> None:
    """Printed, the 360 px scroll boxes showed 5 of 129 alerts. Paper gets every row of
    every table, no scroll box, a page per section and the charts."""
    folder = reports[locale]
    with (folder / "alerts.csv").open(encoding="utf-8") as fh:
        alerts = sum(1 for _ in fh) - 1
    page = _open(browser, folder / "index.html", LAPTOP, media="print")
    rows = {s: page.evaluate(_ROWS, s) for s in ("alerts", "p1", "segments", "backtest")}
    charts = page.evaluate(_CHARTS)
    breaks = page.evaluate(
        "() => [...document.querySelectorAll('main > section[id]')]"
        ".map(s => [s.id, getComputedStyle(s).breakBefore])"
    )
    if locale == "en":
        page.pdf(path=str(ARTIFACTS / "report-print.pdf"))
    page.close()
    assert alerts > 100 and len(rows["alerts"]) == alerts
    assert len(rows["p1"]) == len(list((folder / "accounts").glob("*.html")))
    for section, shown in rows.items():
        assert shown and all(r["shown"] and not r["clipped"] for r in shown), section
    assert len(charts) >= 9 and all(c["width"] > 150 and c["shapes"] >= 2 for c in charts)
    assert [s for s, b in breaks[1:] if b != "page"] == []  # a page per section


def _english_labels() -> list[str]:
    """What the product writes in English: the report's words, the signal texts of
    health/wording.py, the shipped alert titles and actions and tier reasons. Each is cut
    at its placeholders; a fragment is looked for as whole words."""
    import yaml

    from pendo_segments.report.i18n import COMPONENT_TEXT, TERMS, TEXT

    texts = [*TEXT["en"].values(), *COMPONENT_TEXT["en"].values(), *TERMS["ja"]]
    texts += [  # the signal texts (pendo_segments/health/wording.py), written out here
        "health score", "login frequency", "core feature adoption", "support tickets",
        "active days in the last", "% of key features used", "% of all features used",
        "NPS mean", "responses", "support ticket in", "last login", "days ago",
        "no login recorded", "renewal risk: renews", "with health", "score rose from",
        "score fell from", "in segment", "key feature adoption", "days since last login",
        "Override", "policy said",
    ]  # fmt: skip
    alerts = yaml.safe_load((DEFS / "alerts.yaml").read_text(encoding="utf-8"))["alerts"]
    texts += [a[k] for a in alerts for k in ("title", "action")]
    policy = yaml.safe_load((DEFS / "tiers.yaml").read_text(encoding="utf-8"))
    texts += [r["reason"] for r in policy["rules"]]
    fragments = set()
    for text in texts:
        for part in re.split(r"\{[^}]*\}|--previous FILE|[():;,.·]", text):
            part = part.strip(" -–$%<>=")
            if re.search(r"[a-z]{2}", part):  # words, not acronyms (ARR, CSM, NPS)
                fragments.add(part)
    return sorted(fragments, key=len, reverse=True)


def _names(folder: Path) -> list[str]:
    """What people and the data named, which the Japanese page shows as written."""
    import csv

    import yaml

    from pendo_segments.data import bundled_sample_path

    sample = bundled_sample_path()
    names = {"pendo-segments", "Pendo", "sample", "alerts.yaml", "accounts.csv", "FILE"}
    with (folder / "accounts.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            names |= {row["account_id"], row["name"], row["tier"]}
    for file, columns in (("accounts.csv", ("plan", "csm_owner")), ("features.csv", ("name",))):
        with (sample / file).open(encoding="utf-8") as fh:
            names |= {r[c] for r in csv.DictReader(fh) for c in columns}
    names |= {s.name for s in load_definitions(DEFS)}
    alerts = yaml.safe_load((DEFS / "alerts.yaml").read_text(encoding="utf-8"))["alerts"]
    names |= {a["name"] for a in alerts}
    return sorted((n for n in names if n), key=len, reverse=True)


def test_the_japanese_pages_have_no_product_text_in_english(
    browser: Any, reports: dict[str, Path]
) -> None:
    """Signals, actions, tier reasons and kind labels were English on the ja page; names
    people chose (segments, alerts, accounts, tiers) stay as written unless they have a
    title_ja."""
    folder = reports["ja"]
    paths = [folder / "index.html", *sorted((folder / "accounts").glob("*.html"))]
    seen = []
    page = _open(browser, paths[0], LAPTOP)
    page.screenshot(path=str(ARTIFACTS / "report-ja-index.png"), full_page=True)
    for path in paths:
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
    text = re.sub(r"\b(accounts|visitors)_history\b", " ", text)  # file names stay as named
    english = {
        label
        for label in _english_labels()
        if re.search(rf"(?<![A-Za-z]){re.escape(label)}(?![A-Za-z])", text)
    }
    assert english == set()
    assert "ヘルススコア" in text and "最終ログイン" in text  # the signals, in Japanese
