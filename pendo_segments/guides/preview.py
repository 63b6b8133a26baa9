"""The static preview gallery: every guide × segment × tier, languages side by side.

``index.html`` lists every variant; ``pages/<guide>--<segment>--<tier>.html``
shows the guide as a customer would see it (lightbox, walkthrough steps,
banner or email) for each locale next to each other, with the subject it was
rendered for (who and why: see ``subjects.SubjectChooser``) and the JSON for
Pendo. No JavaScript: it opens from disk, from
``guides preview --serve`` or from any static host.
"""

from __future__ import annotations

import functools
import http.server
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2

from pendo_segments.atomic import output_folder, write_text
from pendo_segments.guides import i18n
from pendo_segments.guides.context import normalise_context
from pendo_segments.guides.manifest import Guide, Manifest
from pendo_segments.guides.render import RenderedGuide, render_guide
from pendo_segments.guides.subjects import (
    ExampleChooser,
    SubjectChoice,
    SubjectChooser,
    Variant,
    load_subjects,
    variants,
)

_GALLERY_TEMPLATES = Path(__file__).parent / "gallery"


@dataclass
class LocaleRender:
    """One locale of one variant: the rendered guide and the subject behind it."""

    locale: str
    rendered: RenderedGuide
    subject: dict[str, Any]
    context: dict[str, Any]
    choice: SubjectChoice

    @property
    def label(self) -> str:
        return locale_label(self.locale)

    @property
    def json(self) -> str:
        return self.rendered.to_json()


@dataclass
class VariantRender:
    variant: Variant
    locales: list[LocaleRender]


def locale_label(locale: str) -> str:
    """ "English (en)", "日本語 (ja)": each language named in itself."""
    name = i18n.babel_locale(locale).get_display_name(i18n.babel_locale(locale)) or locale
    return f"{name[:1].upper()}{name[1:]} ({locale})"


def render_variants(
    manifest: Manifest,
    subjects: Sequence[dict[str, Any]],
    guide_ids: Sequence[str] | None = None,
    chooser: SubjectChooser | None = None,
) -> list[VariantRender]:
    """Render every variant in every listed locale with the subject ``chooser`` picks
    (default: the best-fitting example subject)."""
    chooser = chooser or ExampleChooser(manifest, subjects)
    out = []
    for variant in variants(manifest, guide_ids):
        guide = variant.guide
        renders = []
        for locale in guide.locales:
            choice = chooser(variant, locale)
            subject = choice.context
            _fill_for_preview(subject, manifest, guide)
            rendered = render_guide(manifest, guide.id, locale, subject)
            context = normalise_context(subject, manifest, guide, rendered.locale)
            renders.append(LocaleRender(locale, rendered, subject, context, choice))
        out.append(VariantRender(variant, renders))
    return out


def _fill_for_preview(subject: dict[str, Any], manifest: Manifest, guide: Guide) -> None:
    """Give an example subject what its guide needs but real data may lack.

    Subjects picked from usage data have no anniversary when their dates are
    blank; a preview still has to show the anniversary copy, so use 1 year.
    """
    if guide.kind != "anniversary":
        return
    if normalise_context(subject, manifest, guide, manifest.default_locale)["years"] is None:
        subject["years"] = 1


def subject_rows(context: dict[str, Any], locale: str) -> list[tuple[str, str]]:
    """The example subject as label / value pairs, formatted for ``locale``."""
    visitor, account = context["visitor"], context["account"]

    def fmt(value: Any, kind: str = "") -> str:
        if value is None or value == "":
            return "—"
        if kind == "date":
            return i18n.format_date(value, locale)
        if kind == "money":
            return i18n.format_money(value, locale)
        if kind == "number":
            return i18n.format_number(value, locale)
        return str(value)

    rows = [
        ("Visitor", f"{fmt(visitor['name'])} · {fmt(visitor['visitor_id'])}"),
        ("Email", fmt(visitor["email"])),
        ("Language", fmt(visitor["language"])),
        ("First visit", fmt(visitor["first_visit"], "date")),
        ("Account", f"{fmt(account['name'])} · {fmt(account['account_id'])}"),
        ("ARR", fmt(account["arr"], "money")),
        ("Plan", fmt(account["plan"])),
        ("Tier", fmt(context["tier"])),
        ("CSM", fmt(account["csm_owner"])),
        ("Health", fmt(context["health"], "number")),
        ("Days since last visit", fmt(context["days_since_last_visit"], "number")),
    ]
    if context.get("years") is not None:
        of = str(context["anniversary_of"]).replace("_", " ")
        rows.append(
            (
                "Anniversary",
                f"{fmt(context['years'], 'number')} · {of} anniversary · "
                f"{fmt(context['anniversary_date'], 'date')}",
            )
        )
    if context["feature"]["id"]:
        rows.append(("Feature", f"{context['feature']['name']} ({context['feature']['id']})"))
    return rows


@functools.lru_cache(maxsize=1)
def _gallery_env() -> jinja2.Environment:
    # Our own page chrome, not customer copy: a plain (non-sandboxed) environment,
    # still autoescaped and strict.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_GALLERY_TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(subject_rows=subject_rows)
    return env


def standalone_html(rendered: RenderedGuide) -> str:
    """One guide on its own page (``guides render`` writes these); emails are their own HTML."""
    if rendered.pendo_type == "email" and rendered.html:
        return rendered.html
    css = (_GALLERY_TEMPLATES / "gallery.css").read_text(encoding="utf-8")
    return _gallery_env().get_template("standalone.html.j2").render(g=rendered, css=css)


def build_gallery(
    manifest: Manifest,
    out: Path | str,
    subjects: list[dict[str, Any]] | None = None,
    *,
    force: bool = False,
    chooser: SubjectChooser | None = None,
) -> Path:
    """Write the gallery folder ``out`` (see :func:`~pendo_segments.atomic.output_folder`
    for what happens to an existing folder) and return its ``index.html``.

    ``subjects`` default to ``preview_subjects.yaml`` beside the manifest;
    ``chooser`` (e.g. :class:`~pendo_segments.guides.data_subjects.DataChooser`)
    picks each page's subject instead.
    """
    out = Path(out)
    subjects = subjects if subjects is not None else load_subjects(manifest)
    with output_folder(out, force=force) as tmp:
        write_gallery(manifest, tmp, subjects, chooser)
    return out / "index.html"


def write_gallery(
    manifest: Manifest,
    folder: Path,
    subjects: list[dict[str, Any]],
    chooser: SubjectChooser | None = None,
) -> None:
    """Write the gallery's files into ``folder`` (which the caller owns)."""
    chooser = chooser or ExampleChooser(manifest, subjects)
    renders = render_variants(manifest, subjects, chooser=chooser)
    env = _gallery_env()
    locales = list(dict.fromkeys(loc for g in manifest.guides for loc in g.locales))
    fallbacks = sum(lr.rendered.fallback for vr in renders for lr in vr.locales)
    write_text(
        folder / "gallery.css",
        (_GALLERY_TEMPLATES / "gallery.css").read_text("utf-8"),
        parents=True,
    )
    for vr in renders:
        write_text(
            folder / "pages" / f"{vr.variant.slug}.html",
            env.get_template("page.html.j2").render(vr=vr, manifest=manifest),
            parents=True,
        )
    write_text(
        folder / "index.html",
        env.get_template("index.html.j2").render(
            renders=renders,
            manifest=manifest,
            locales=locales,
            locale_label=locale_label,
            fallbacks=fallbacks,
            subjects=chooser.description,
            examples=sum(lr.choice.member is False for vr in renders for lr in vr.locales),
        ),
    )
    write_text(
        folder / "gallery.json",
        json.dumps(
            [
                {
                    "page": f"pages/{vr.variant.slug}.html",
                    "guide": vr.variant.guide.id,
                    "segment": vr.variant.segment,
                    "tier": vr.variant.tier,
                    "locales": {lr.locale: lr.rendered.to_dict() for lr in vr.locales},
                    "subjects": {
                        lr.locale: {
                            "visitor_id": lr.choice.visitor_id,
                            "account_id": lr.choice.account_id,
                            "member": lr.choice.member,
                            "why": lr.choice.why,
                        }
                        for lr in vr.locales
                    },
                }
                for vr in renders
            ],
            indent=2,
            ensure_ascii=False,
        )
        + "\n",
    )


#: the names a browser uses for this machine; anything else may be DNS rebinding
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def local_host(host: str | None, port: int) -> bool:
    """Whether a ``Host:`` header names this machine's loopback at ``port``.

    A page on a hostile site whose name is rebound to 127.0.0.1 is same-origin with
    itself, not with us: its requests carry its own name in ``Host:``. With ``--data``
    the gallery shows real names and addresses, so such requests get no answer.
    """
    if not host or any(c in host for c in "@/\\?# \t"):
        return False
    try:
        parts = urlsplit(f"//{host}")
        given = parts.port
    except ValueError:  # a port that is not a number, an unbalanced bracket
        return False
    return parts.hostname in LOOPBACK_HOSTS and (80 if given is None else given) == port


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Static files, answered only to requests addressed to the loopback by name."""

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        hosts = self.headers.get_all("Host") or []
        port = int(self.server.server_address[1])  # type: ignore[index]
        if len(hosts) != 1 or not local_host(hosts[0], port):
            self.send_error(403, "Host must be 127.0.0.1, localhost or [::1] with this port")
            return False
        return True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass


def make_server(
    folder: Path | str, host: str = "127.0.0.1", port: int = 8000
) -> http.server.ThreadingHTTPServer:
    """An HTTP server for the gallery folder (call ``serve_forever``; port 0 = any free).

    It answers 403 to a ``Host:`` other than the loopback names with the served port.
    """
    handler = functools.partial(_QuietHandler, directory=str(folder))
    return http.server.ThreadingHTTPServer((host, port), handler)
