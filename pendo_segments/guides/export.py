"""``guides render``: every guide × segment × tier × locale as JSON and HTML files.

Layout of the output folder (see :func:`pendo_segments.atomic.output_folder`: a
folder of someone else's is refused without ``force``, and only files this
command wrote are ever replaced or removed)::

    OUT/.pendo-segments-output                      the files written (marker)
    OUT/index.json                                  one record per file pair
    OUT/<guide>/<segment>/<tier|all>.<locale>.json  RenderedGuide.to_json()
    OUT/<guide>/<segment>/<tier|all>.<locale>.html  as the customer sees it

The JSON is what goes into Pendo's building blocks: plain-text titles, step
bodies as sanitised HTML, and buttons as label + https URL.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pendo_segments.atomic import output_folder, write_text
from pendo_segments.guides.manifest import Manifest
from pendo_segments.guides.preview import render_variants, standalone_html
from pendo_segments.guides.subjects import load_subjects


def write_rendered(
    manifest: Manifest,
    out: Path | str,
    subjects: list[dict[str, Any]] | None = None,
    guide_ids: Sequence[str] | None = None,
    *,
    force: bool = False,
) -> list[dict[str, Any]]:
    """Render and write every variant; return the index records (also in ``index.json``)."""
    for guide_id in guide_ids or ():
        manifest.guide(guide_id)  # unknown id → RenderError with a suggestion
    subjects = subjects if subjects is not None else load_subjects(manifest)
    records: list[dict[str, Any]] = []
    with output_folder(Path(out), force=force) as tmp:
        for vr in render_variants(manifest, subjects, guide_ids):
            v = vr.variant
            for lr in vr.locales:
                stem = f"{v.guide.id}/{v.segment}/{v.tier or 'all'}.{lr.locale}"
                write_text(tmp / f"{stem}.json", lr.rendered.to_json(), parents=True)
                write_text(tmp / f"{stem}.html", standalone_html(lr.rendered), parents=True)
                records.append(
                    {
                        "guide": v.guide.id,
                        "segment": v.segment,
                        "tier": v.tier,
                        "locale": lr.locale,
                        "rendered_locale": lr.rendered.locale,
                        "pendo_type": v.guide.pendo_type,
                        "fallback": lr.rendered.fallback,
                        "fallback_reason": lr.rendered.fallback_reason,
                        "json": f"{stem}.json",
                        "html": f"{stem}.html",
                    }
                )
        write_text(tmp / "index.json", json.dumps(records, indent=2, ensure_ascii=False) + "\n")
    return records
