"""Render one guide for one locale and one subject.

A guide template is a set of blocks (``title``, ``step_N_title``,
``step_N_body``, ``step_N_buttons``; emails add ``subject``, ``preheader``,
``footer``). Each block is rendered on its own in the sandboxed environment;
a block the translation lacks is taken from the default locale (English)
and reported in ``missing`` with ``fallback=True``. Bodies go through the
nh3 sanitiser; titles and button labels become plain text.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from markupsafe import Markup

from pendo_segments.guides import htmltools
from pendo_segments.guides.context import normalise_context
from pendo_segments.guides.environment import TemplateError, collect, make_env, run_template
from pendo_segments.guides.i18n import pick_locale, primary_language
from pendo_segments.guides.manifest import Guide, Manifest, display_path
from pendo_segments.guides.source import TemplateSource, load_source

EMAIL_LAYOUT = "_layouts/email.html.j2"


@dataclass(frozen=True)
class Button:
    label: str
    url: str


@dataclass(frozen=True)
class Step:
    title: str
    body_html: str
    buttons: list[Button] = field(default_factory=list)


@dataclass
class RenderedGuide:
    """A guide ready for Pendo: plain-text titles, sanitised HTML bodies, https buttons."""

    guide_id: str
    locale: str
    requested_locale: str
    fallback: bool
    title: str
    steps: list[Step]
    pendo_type: str
    subject: str | None = None  # email only
    text: str | None = None  # email only: plain-text part
    html: str | None = None  # email only: the whole HTML document
    preheader: str | None = None  # email only
    missing: list[str] = field(default_factory=list)  # blocks taken from the default locale
    fallback_reason: str | None = None
    tier: str | None = None
    name: str = ""
    kind: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Fields in reading order; email-only fields only for emails."""
        data = asdict(self)
        order = [
            "guide_id",
            "name",
            "kind",
            "pendo_type",
            "tier",
            "locale",
            "requested_locale",
            "fallback",
            "fallback_reason",
            "missing",
            "title",
        ]
        if self.pendo_type == "email":
            order += ["subject", "preheader"]
        order += ["steps"] + (["text", "html"] if self.pendo_type == "email" else [])
        return {key: data[key] for key in order}

    def to_json(self) -> str:
        """Stable, human-readable JSON (keys in a fixed order, UTF-8 kept)."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"


@dataclass
class RawBlock:
    """One block's output before sanitising — what lint inspects."""

    name: str
    html: str
    source: TemplateSource
    locale: str


@dataclass
class RawGuide:
    guide: Guide
    locale: str
    requested_locale: str
    fallback_reason: str | None
    blocks: dict[str, RawBlock]
    missing: list[str]
    context: dict[str, Any]

    def text(self, name: str) -> str:
        block = self.blocks.get(name)
        return block.html if block else ""

    @property
    def step_numbers(self) -> list[int]:
        names = [b for b in self.blocks if b.startswith("step_") and b.endswith("_body")]
        return sorted(int(b.split("_")[1]) for b in names)


def resolve_locale(
    manifest: Manifest, guide: Guide, requested: str | None
) -> tuple[str, str | None]:
    """The locale to render and, when it is not the one asked for, why."""
    default = manifest.default_locale
    chosen = pick_locale(requested, guide.locales, default)
    reason = None
    if requested and primary_language(requested) != primary_language(chosen):
        reason = f"no '{requested}' translation of {guide.id}; using '{chosen}'"
    if chosen != default and not guide.templates[chosen].is_file():
        reason = f"{display_path(guide.templates[chosen])} is missing; using '{default}'"
        chosen = default
    return chosen, reason


def render_raw(
    manifest: Manifest, guide_id: str, locale: str | None, context: dict[str, Any] | None
) -> RawGuide:
    """Render every block of ``guide_id`` (unsanitised), filling gaps from the default locale."""
    guide = manifest.guide(guide_id)
    context = dict(context or {})
    language = (context.get("visitor") or {}).get("language")
    requested = locale or (language if isinstance(language, str) and language else None)
    requested = requested or manifest.default_locale
    chosen, reason = resolve_locale(manifest, guide, requested)
    blocks = _render_blocks(manifest, guide, chosen, context)
    missing: list[str] = []
    if chosen != manifest.default_locale:
        base = _render_blocks(manifest, guide, manifest.default_locale, context, skip=set(blocks))
        missing = sorted(base)
        blocks.update(base)
        if missing and not reason:
            reason = (
                f"{guide.template_name(chosen)} lacks {', '.join(missing)}; using "
                f"'{manifest.default_locale}' for those"
            )
    _require(guide, chosen, blocks, manifest)
    return RawGuide(
        guide,
        chosen,
        requested,
        reason,
        blocks,
        missing,
        normalise_context(context, manifest, guide, chosen),
    )


def _render_blocks(
    manifest: Manifest,
    guide: Guide,
    locale: str,
    context: dict[str, Any],
    skip: set[str] | None = None,
) -> dict[str, RawBlock]:
    root = manifest.root
    source = load_source(root, guide.template_name(locale))
    env = make_env(root)
    variables = normalise_context(context, manifest, guide, locale)
    template = run_template(env, lambda: env.get_template(source.name), root, source.name)
    out: dict[str, RawBlock] = {}
    for name, block_fn in template.blocks.items():
        if skip and name in skip:
            continue
        html = run_template(
            env,
            lambda fn=block_fn: collect(fn(template.new_context(variables))),  # type: ignore[misc]
            root,
            source.name,
        )
        out[name] = RawBlock(name, html.strip(), source, locale)
    return out


def _require(guide: Guide, locale: str, blocks: dict[str, RawBlock], manifest: Manifest) -> None:
    needed = ["title", "step_1_body"] + (["subject"] if guide.pendo_type == "email" else [])
    lacking = [name for name in needed if name not in blocks]
    if lacking:
        path = guide.templates.get(locale) or Path(manifest.root) / guide.template_name(locale)
        raise TemplateError(
            display_path(path),
            1,
            "structure",
            f"missing {'block' if len(lacking) == 1 else 'blocks'}: {', '.join(lacking)}",
        )


def render_guide(
    manifest: Manifest,
    guide_id: str,
    locale: str | None = None,
    context: dict[str, Any] | None = None,
) -> RenderedGuide:
    """Render ``guide_id`` for a subject; ``locale=None`` picks it from ``visitor.language``.

    Raises :class:`~pendo_segments.errors.RenderError` (a ``TemplateError`` with
    ``file``/``line``/``rule``) when the copy cannot be rendered.
    """
    return assemble(manifest, render_raw(manifest, guide_id, locale, context))


def assemble(manifest: Manifest, raw: RawGuide) -> RenderedGuide:
    """Sanitise and structure a raw render into what Pendo needs."""
    guide = raw.guide
    steps = [
        Step(
            title=htmltools.plain_text(raw.text(f"step_{n}_title")),
            body_html=htmltools.sanitize(raw.text(f"step_{n}_body")),
            buttons=buttons_of(raw.text(f"step_{n}_buttons")),
        )
        for n in raw.step_numbers
    ]
    rendered = RenderedGuide(
        guide_id=guide.id,
        locale=raw.locale,
        requested_locale=raw.requested_locale,
        fallback=raw.fallback_reason is not None,
        title=htmltools.plain_text(raw.text("title")),
        steps=steps,
        pendo_type=guide.pendo_type,
        missing=list(raw.missing),
        fallback_reason=raw.fallback_reason,
        tier=raw.context.get("tier"),
        name=guide.name,
        kind=guide.kind,
    )
    if guide.pendo_type == "email":
        _email(manifest, raw, rendered)
    return rendered


def buttons_of(fragment: str) -> list[Button]:
    """Every ``<a href>`` of a buttons block; a non-https link keeps its label, loses its URL."""
    return [Button(label, url) for label, url in htmltools.links(htmltools.sanitize(fragment))]


def _email(manifest: Manifest, raw: RawGuide, rendered: RenderedGuide) -> None:
    rendered.subject = htmltools.plain_text(raw.text("subject"))
    rendered.preheader = htmltools.plain_text(raw.text("preheader")) or None
    step = rendered.steps[0]
    footer = htmltools.sanitize(raw.text("footer"))
    env = make_env(manifest.root)
    email = {
        "subject": rendered.subject,
        "preheader": rendered.preheader or "",
        "title": rendered.title,
        "body": Markup(step.body_html),  # noqa: S704 - sanitised above
        "buttons": step.buttons,
        "footer": Markup(footer),  # noqa: S704 - sanitised above
    }
    variables = {**raw.context, "email": email}
    rendered.html = run_template(
        env,
        lambda: collect(env.get_template(EMAIL_LAYOUT).generate(variables)),
        manifest.root,
        EMAIL_LAYOUT,
    )
    parts = [rendered.title, "", htmltools.html_to_text(step.body_html).rstrip()]
    parts += [""] + [f"{b.label}: {b.url}" for b in step.buttons if b.url]
    if footer:
        parts += ["", "--", htmltools.html_to_text(footer).rstrip()]
    rendered.text = "\n".join(parts).strip() + "\n"
