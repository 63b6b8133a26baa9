"""Guide copy as code: jinja2 templates per guide and locale, rendered safely.

Start with :func:`load_manifest`, then :func:`render_guide` for one subject,
:func:`lint` to check every template, :func:`build_gallery` for the preview
site. The template layout and the render context: ``README.md`` here.
"""

from __future__ import annotations

from pendo_segments.guides.i18n import pick_locale
from pendo_segments.guides.lint import LintIssue, lint
from pendo_segments.guides.manifest import Guide, Manifest, load_manifest
from pendo_segments.guides.preview import build_gallery
from pendo_segments.guides.render import Button, RenderedGuide, Step, render_guide

__all__ = [
    "Button",
    "Guide",
    "LintIssue",
    "Manifest",
    "RenderedGuide",
    "Step",
    "build_gallery",
    "lint",
    "load_manifest",
    "pick_locale",
    "render_guide",
]
