"""The whole flow on the bundled sample, written to a report folder.

Each step is one library call; the demo only strings them together so a new
user sees every layer work on realistic data without configuring anything.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pendo_segments.atomic import check_output_folder, output_folder, write_text

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset


@dataclass
class DemoReport:
    out: Path
    as_of: dt.date
    segments: int = 0
    not_native: list[str] = field(default_factory=list)
    counts: dict[str, tuple[str, int]] = field(default_factory=dict)
    health: dict[str, Any] = field(default_factory=dict)
    tiers: list[tuple[str, int, float, float]] = field(default_factory=list)
    alerts: dict[str, int] = field(default_factory=dict)
    gallery: Path | None = None
    report: Path | None = None
    files: list[str] = field(default_factory=list)


@dataclass
class _Step:
    """What every demo step reads (and the account view the first one leaves)."""

    defs_path: Path
    defs: Any
    ds: Dataset
    as_of: dt.date
    ev: Any
    tmp: Path
    report: DemoReport
    save: Callable[[str, str], None]
    progress: Callable[[str], None]
    view: Any = None


def run_demo(
    out: Path,
    *,
    defs_path: Path | None = None,
    data: str = "sample",
    progress: Callable[[str], None] = lambda _m: None,
    force: bool = False,
) -> DemoReport:
    """Validate, compile, evaluate, score, tier, alert and render guides into ``out``.

    ``out`` is handled by :func:`~pendo_segments.atomic.output_folder`: someone
    else's non-empty folder is refused unless ``force``, and only the demo's own
    files are ever replaced or removed.
    """
    from pendo_segments.compile import compile_segments, markdown_document, targets
    from pendo_segments.definitions import load_definitions
    from pendo_segments.evaluate import evaluate
    from pendo_segments.shipped import shipped_path
    from pendo_segments.sources import open_dataset

    check_output_folder(out, force=force)
    defs_path = defs_path or shipped_path("segment_defs")
    progress("validating definitions")
    defs = load_definitions(defs_path)
    progress("loading the sample data")
    ds = open_dataset(data)
    as_of = ds.default_as_of()
    defs.use_features(ds.features)  # feature names → the data's ids, for every target
    report = DemoReport(out=out, as_of=as_of, segments=len(defs))

    with output_folder(out, force=force) as tmp:

        def save(name: str, text: str) -> None:
            write_text(tmp / name, text)
            report.files.append(name)

        progress("compiling to " + ", ".join(targets()))
        for target in targets():
            results = compile_segments(defs, target, as_of=as_of, pretty=True)
            save(
                f"compiled_{target}.json",
                json.dumps([r.to_dict() for r in results], indent=2, ensure_ascii=False) + "\n",
            )
            save(f"compiled_{target}.md", markdown_document(target, results))
            if target == "pendo":
                report.not_native = [r.segment.name for r in results if not r.native]

        progress("evaluating segments")
        ev = evaluate(defs, ds, as_of=as_of)
        report.counts = {n: (ev.segments[n].subject, c) for n, c in ev.counts().items()}
        save("membership.csv", ev.membership().to_csv(index=False, lineterminator="\n"))

        ctx = _Step(defs_path, defs, ds, as_of, ev, tmp, report, save, progress)
        for step in (_health, _tiers, _alerts, _gallery, _report):
            step(ctx)
        # Every file written, pages and gallery included (the steps name only their entry points).
        report.files = sorted(
            p.relative_to(tmp).as_posix()
            for p in tmp.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )
    if report.gallery is not None:
        report.gallery = out / report.gallery.name
    if report.report is not None:
        report.report = out / "report" / "index.html"
    return report


def _health(ctx: _Step) -> None:
    from pendo_segments.tiers.view import account_view

    ctx.progress("scoring account health and assigning tiers")
    ctx.view = account_view(
        ctx.ds, ctx.defs_path, defs=ctx.defs, as_of=ctx.as_of, metrics=ctx.ev.metrics
    )
    frame = ctx.view.health.frame()
    ctx.save("health.csv", frame.to_csv(index=False, lineterminator="\n"))
    score = frame["health_score"].dropna()
    ctx.report.health = {
        "accounts": int(len(frame)),
        "mean": float(score.mean()),
        "median": float(score.median()),
        "below_40": int((score < 40).sum()),
        "above_70": int((score > 70).sum()),
    }


def _tiers(ctx: _Step) -> None:
    from pendo_segments.tiers.capacity import capacity_csv

    tiers = ctx.view.tiers if ctx.view else None
    if tiers is None:
        return
    ctx.save("tiers.csv", tiers.frame().to_csv(index=False, lineterminator="\n"))
    capacity = tiers.capacity()
    ctx.save("capacity.csv", capacity_csv(capacity))
    ctx.report.tiers = [
        (str(r.tier), int(r.accounts), float(r.arr), float(r.csms))
        for r in capacity.itertuples(index=False)
    ]


def _alerts(ctx: _Step) -> None:
    from pendo_segments.tiers.alerts import alerts_for_view

    if ctx.view is None:
        return
    ctx.progress("raising playbook alerts")
    result = alerts_for_view(ctx.ds, ctx.defs_path, ctx.view, definitions=ctx.defs)
    if result is None:
        return
    ctx.save("alerts.csv", result.rows.to_csv(index=False, lineterminator="\n"))
    ctx.report.alerts = {str(k): int(v) for k, v in result.counts().items()}


def _gallery(ctx: _Step) -> None:
    from pendo_segments.guides.data_subjects import DataChooser
    from pendo_segments.guides.manifest import load_manifest
    from pendo_segments.guides.preview import write_gallery
    from pendo_segments.guides.subjects import load_subjects

    ctx.progress("building the guide preview gallery")
    manifest = load_manifest()
    examples = load_subjects(manifest)
    chooser = DataChooser(
        manifest,
        ctx.ds,
        ctx.defs,
        defs_path=ctx.defs_path,
        examples=examples,
        evaluation=ctx.ev,
        view=ctx.view,
    )
    write_gallery(manifest, ctx.tmp / "gallery", examples, chooser)
    ctx.report.gallery = ctx.tmp / "gallery"
    ctx.report.files.append("gallery/index.html")


def _report(ctx: _Step) -> None:
    from pendo_segments.report import ReportOptions, build_report

    ctx.progress("writing the CS manager's report")
    build_report(
        ctx.defs,
        ctx.ds,
        ctx.tmp / "report",
        defs_path=ctx.defs_path,
        options=ReportOptions(as_of=ctx.as_of),
        progress=ctx.progress,
    )
    ctx.report.report = ctx.tmp / "report" / "index.html"
    ctx.report.files.append("report/index.html")
