"""The P1 drill-down pages are drawn from parts made once per report (the page frame,
table heads, chart frames, rows and dots kept per value). These tests check that
the shortcuts change nothing: a page equals the template rendered directly, does not
depend on what was drawn before it, and keeps escaping every value. Speed itself is
measured by scripts, not here.
"""

from __future__ import annotations

import html
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from markupsafe import Markup

from pendo_segments.data import load_sample
from pendo_segments.definitions import load_definitions
from pendo_segments.errors import RenderError
from pendo_segments.report import ReportOptions, collect, svg
from pendo_segments.report.pages import AccountPages, AccountTables, _environment, _Slots, _write
from pendo_segments.shipped import shipped_path

DEFS = shipped_path("segment_defs")
HOSTILE = ["<script>alert(1)</script>", "B & Co", "A3 <b>", 'it\'s "q" {x} %s', "テスト & <i>"]


@pytest.fixture(scope="module", params=["en", "ja"])
def page(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The sample's report, its P1 accounts again under hostile names and with the
    awkward cases the sample does not have (no alerts, a gap in the trend, …)."""
    page = collect(
        load_definitions(DEFS),
        load_sample(),
        defs_path=DEFS,
        options=ReportOptions(locale=request.param),
        progress=lambda _m: None,
    )
    p1 = page["p1"]
    assert len(p1) > 2 and any(a["alerts"] for a in p1)
    odd = [
        {
            **a,
            "page": f"odd-{k}.html",
            "name": HOSTILE[k % len(HOSTILE)],
            "alerts": [] if k % 2 else a["alerts"],
            "last_login": None,
            "plan": None,
            "trend": [float("nan"), *a["trend"][1:]],
        }
        for k, a in enumerate(p1 * 2)
    ]
    page["p1"] = p1 + odd
    return page


def test_a_page_is_the_template_rendered_with_the_account(page: dict[str, Any]) -> None:
    """The frame (rendered once, values filled in) gives what Jinja gives per page."""
    draw = AccountPages(page, _environment(page["w"]))
    template = _environment(page["w"]).get_template("account.html.j2")
    for a in page["p1"]:
        svg.restart_ids()
        values = draw.values(a)
        direct = template.render(page, a=SimpleNamespace(**values))
        assert draw(a) == direct.encode(), a["id"]


def test_pages_do_not_depend_on_what_was_drawn_before(page: dict[str, Any]) -> None:
    env = _environment(page["w"])
    forward = AccountPages(page, env)
    backward = AccountPages(page, env)
    drawn = {a["page"]: forward(a) for a in page["p1"]}
    for a in reversed(page["p1"]):
        assert backward(a) == drawn[a["page"]], a["page"]


def test_account_values_are_escaped_everywhere_on_the_page(page: dict[str, Any]) -> None:
    draw = AccountPages(page, _environment(page["w"]))
    for a in page["p1"]:
        text = draw(a).decode()
        assert "<script>" not in text and "<b>" not in text and "<i>" not in text
        if a["name"] in HOSTILE:
            shown = html.escape(a["name"]).replace("&#x27;", "&#39;").replace("&quot;", "&#34;")
            assert f"<title>{shown} · " in text and f"<h1>{shown} <span" in text


def test_kept_rows_tell_markup_from_the_equal_text() -> None:
    """A row is kept per label and value: markup must not be served for equal text."""
    from pendo_segments.report.i18n import Words

    tables = AccountTables(Words("en"), [])
    safe = tables.row(Markup("<b>x</b>"), "1")
    text = tables.row("<b>x</b>", "1")
    assert "<b>x</b>" in safe and "&lt;b&gt;x&lt;/b&gt;" in text
    assert tables.row(Markup("<b>x</b>"), "1") == safe and tables.row("<b>x</b>", "1") == text


def test_a_template_testing_an_unframed_value_fails() -> None:
    """A frame holds one branch of every test: a new ``{% if a.x %}`` must not pass silently."""
    from pendo_segments.report.i18n import Words

    env = _environment(Words("en"))
    tested = env.from_string("{% if not a.alerts %}none{% else %}{{ a.alerts }}{% endif %}")
    assert tested.render(a=_Slots(alerts=False)) == "none"
    assert tested.render(a=_Slots(alerts=True)) == "\x00alerts\x00"
    with pytest.raises(RenderError, match=r"tests a\.name"):
        env.from_string("{% if a.name %}x{% endif %}").render(a=_Slots(alerts=True))


def test_write_puts_the_text_as_utf8_bytes(tmp_path: Path) -> None:
    text = "line\r\nnext\n€ テスト\n" * 5000  # several pages of the file system
    _write(tmp_path / "a.html", text)
    _write(str(tmp_path / "b.html"), "")
    _write(tmp_path / "c.html", text.encode())
    assert (tmp_path / "a.html").read_bytes() == text.encode("utf-8")
    assert (tmp_path / "b.html").read_bytes() == b""
    assert (tmp_path / "c.html").read_bytes() == text.encode("utf-8")


def test_a_dot_after_a_gap_is_titled_with_its_own_day_and_value() -> None:
    """A missing score (NaN) leaves a gap; the dots after it keep their own day."""
    import re

    drawn = svg.line_chart(
        ["Sep 6", "Sep 13", "Sep 20"],
        [svg.Series("Health", [40.0, float("nan"), 60.0], "#000")],
        title="t",
        desc="d",
        fmt=lambda v: f"{v:.0f}",
        vmax=100,
    )
    titles = re.findall(r"<circle[^>]*><title>(.*?)</title>", drawn)
    assert titles == ["Sep 6 · Health: 40", "Sep 20 · Health: 60"]
