"""The gallery folder, subject choice, ``guides render`` output and the local server."""

from __future__ import annotations

import json
import threading
import urllib.request
from pathlib import Path

import pytest

from pendo_segments.errors import RenderError
from pendo_segments.guides.export import write_rendered
from pendo_segments.guides.manifest import SHIPPED_ROOT, Manifest, load_manifest
from pendo_segments.guides.preview import build_gallery, locale_label, make_server
from pendo_segments.guides.subjects import load_subjects, pick_subject

SUBJECTS = [
    {"visitor": {"name": "Ann Lee", "language": "en"}, "account": {"name": "Acme"}, "tier": "P1"},
    {
        "visitor": {"name": "Bo Diaz", "language": "en-GB"},
        "account": {"name": "Bolt"},
        "tier": "P3",
    },
    {
        "visitor": {"name": "山田 太郎", "language": "ja-JP"},
        "account": {"name": "山田商事"},
        "tier": "P3",
    },
]


@pytest.fixture(scope="module")
def shipped() -> Manifest:
    return load_manifest(SHIPPED_ROOT)


@pytest.fixture(scope="module")
def gallery(shipped: Manifest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_gallery(shipped, tmp_path_factory.mktemp("g") / "preview")


def test_pick_subject_prefers_language_then_tier() -> None:
    assert pick_subject(SUBJECTS, "en", "P3", ["en", "ja"])["visitor"]["name"] == "Bo Diaz"
    assert pick_subject(SUBJECTS, "en", "P2", ["en", "ja"])["visitor"]["name"] == "Ann Lee"
    chosen = pick_subject(SUBJECTS, "ja", "P1", ["en", "ja"])
    assert (chosen["visitor"]["name"], chosen["tier"]) == (
        "山田 太郎",
        "P1",
    )  # tier set to the variant
    assert SUBJECTS[2]["tier"] == "P3"  # the caller's subject is not modified
    with pytest.raises(RenderError, match="no preview subjects given"):
        pick_subject([], "en", None, ["en"])


def test_shipped_subjects_cover_every_tier_in_both_languages(shipped: Manifest) -> None:
    subjects = load_subjects(shipped)
    pairs = {
        (s["visitor"]["language"][:2] if s["visitor"]["language"] else "en", s["tier"])
        for s in subjects
    }
    assert pairs == {
        (loc, tier) for loc in ("en", "ja") for tier in ("P1", "P2", "P3", "Neighborhood")
    }
    assert all(str(s["as_of"]) == "2026-11-23" for s in subjects)


def test_gallery_has_a_page_for_every_guide_segment_tier(shipped: Manifest, gallery: Path) -> None:
    folder = gallery.parent
    expected = {
        f"{g.id}--{seg}--{tier or 'all'}.html"
        for g in shipped.guides
        for seg in g.segments
        for tier in g.tiers
    }
    assert {p.name for p in (folder / "pages").iterdir()} == expected
    assert len(expected) == 36
    index = gallery.read_text(encoding="utf-8")
    for name in expected:
        assert f'href="pages/{name}#en"' in index and f'href="pages/{name}#ja"' in index
    assert (folder / "gallery.css").is_file()


def test_a_page_shows_both_languages_and_the_subjects(gallery: Path) -> None:
    page = (gallery.parent / "pages" / "welcome_lightbox--new_users--P1.html").read_text("utf-8")
    assert 'data-guide="welcome_lightbox" data-locale="en" data-fallback="false"' in page
    assert 'data-guide="welcome_lightbox" data-locale="ja" data-fallback="false"' in page
    assert "English (en)" in page and "日本語 (ja)" in page
    assert "Welcome to Acme Insights, Jane!" in page and "Acme Insightsへようこそ" in page
    # the sample subject panel, formatted per locale with babel
    assert "Jane Cooper · v-10482" in page and "佐藤 美咲 · v-50318" in page
    assert "November 25, 2025" in page and "2025年11月24日" in page
    assert "$185,000" in page and "$240,000" in page


def test_gallery_json_matches_pages(gallery: Path) -> None:
    data = json.loads((gallery.parent / "gallery.json").read_text("utf-8"))
    assert len(data) == 36
    first = data[0]
    assert set(first["locales"]) == {"en", "ja"}
    assert (gallery.parent / first["page"]).is_file()


def test_gallery_takes_subjects_as_a_parameter(shipped: Manifest, tmp_path: Path) -> None:
    index = build_gallery(shipped, tmp_path / "g", SUBJECTS)
    page = (index.parent / "pages" / "welcome_back--no_login_30d--P1.html").read_text("utf-8")
    assert "Welcome back, Ann!" in page and "山田 太郎様、おかえりなさい" in page


def test_missing_translation_is_flagged_in_the_gallery(shipped: Manifest, tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "t"
    shutil.copytree(SHIPPED_ROOT, root)
    (root / "anniversary" / "lightbox.ja.j2").unlink()
    index = build_gallery(load_manifest(root), tmp_path / "g")
    page = (index.parent / "pages" / "anniversary--anniversary--P2.html").read_text("utf-8")
    assert 'data-locale="en" data-fallback="true"' in page  # the ja column, rendered in English
    assert (
        "Translation missing:" in page and "lightbox.ja.j2 is missing; using &#39;en&#39;" in page
    )
    assert "fallback: en" in index.read_text("utf-8")


def test_render_writes_json_and_html_per_variant(shipped: Manifest, tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    records = write_rendered(shipped, out, SUBJECTS, ["no_login_email", "welcome_back"])
    assert len(records) == 2 * 4 * 2  # guides × tiers × locales
    email = json.loads((out / "no_login_email/no_login_30d/P3.ja.json").read_text("utf-8"))
    assert email["subject"] == "Acme Insightsで前回の続きから始めましょう"
    assert (
        (out / "no_login_email/no_login_30d/P3.ja.html")
        .read_text("utf-8")
        .startswith("<!DOCTYPE html>")
    )
    banner = (out / "welcome_back/no_login_30d/P1.en.html").read_text("utf-8")
    assert "Welcome back, Ann!" in banner and "<style>" in banner
    assert json.loads((out / "index.json").read_text("utf-8")) == records
    with pytest.raises(RenderError, match="unknown guide 'welcome'; did you mean"):
        write_rendered(shipped, tmp_path / "x", SUBJECTS, ["welcome"])
    assert not (tmp_path / "x").exists()


def test_locale_labels_name_each_language_in_itself() -> None:
    assert locale_label("en") == "English (en)"
    assert locale_label("ja") == "日本語 (ja)"


def test_server_serves_the_gallery_on_localhost(gallery: Path) -> None:
    server = make_server(gallery.parent, "127.0.0.1", 0)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    try:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5) as resp:  # noqa: S310
            assert resp.status == 200 and b"Guide preview gallery" in resp.read()
    finally:
        server.shutdown()
        server.server_close()


def _get(port: int, host: str | None) -> tuple[int, bytes]:
    """GET /index.html over a raw socket carrying exactly ``host`` as the Host header."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.putrequest("GET", "/index.html", skip_host=True)
        if host is not None:
            conn.putheader("Host", host)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_server_refuses_a_foreign_host_header(gallery: Path) -> None:
    """DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1 makes
    the browser send ``Host: evil.example:PORT``; with --data the gallery holds real
    addresses, so only the loopback names with the served port get an answer."""
    server = make_server(gallery.parent, "127.0.0.1", 0)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    try:
        port = server.server_address[1]
        for good in (
            f"127.0.0.1:{port}",
            f"localhost:{port}",
            f"LocalHost:{port}",
            f"[::1]:{port}",
        ):
            status, body = _get(port, good)
            assert (good, status) == (good, 200) and b"Guide preview gallery" in body
        for bad in (
            f"evil.example:{port}",
            "evil.example",
            f"127.0.0.1:{port + 1}",  # another port: not this server's origin
            "127.0.0.1",  # port 80 implied
            f"localhost.evil.example:{port}",
            f"evil.example@localhost:{port}",
            f"127.0.0.2:{port}",
            None,  # no Host header at all
        ):
            status, body = _get(port, bad)
            assert (bad, status) == (bad, 403)
            assert b"Guide preview gallery" not in body
    finally:
        server.shutdown()
        server.server_close()
