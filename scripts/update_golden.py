"""Regenerate the compiler golden files under tests/golden/<target>/ — on purpose.

    python scripts/update_golden.py                  # pendo, aggregation (+ sql if present)
    python scripts/update_golden.py --target sql     # one target
    python scripts/update_golden.py --check          # exit 1 if any file would change

Every shipped segment (segment_defs/) is compiled with the fixed as-of day
2026-11-01; the Aggregation target also gets a ``<segment>.live.json`` without
as-of (``now()``-relative windows). The Pendo target does not depend on as-of,
so it has one file per segment. Review the diff: a changed golden file is a
changed compiler output. tests/test_compile_golden.py imports this module, so
the test and the regeneration cannot disagree on the file format.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFS = ROOT / "segment_defs"
GOLDEN = ROOT / "tests" / "golden"
AS_OF = dt.date(2026, 11, 1)

#: (target, variant) -> as_of. The variant is part of the file name ("" = none).
CASES: dict[tuple[str, str], dt.date | None] = {
    ("pendo", ""): AS_OF,
    ("aggregation", ""): AS_OF,
    ("aggregation", "live"): None,
    ("sql", ""): AS_OF,
}


def golden_path(target: str, segment: str, variant: str = "") -> Path:
    from pendo_segments.compile import targets

    ext = targets()[target].extension
    stem = f"{segment}.{variant}" if variant else segment
    return GOLDEN / target / f"{stem}{ext}"


def render(result: Any) -> str:
    """The golden text of one CompileResult: the whole result as JSON, SQL as its text."""
    if result.target == "sql" and isinstance(result.output, str):
        return result.output.rstrip("\n") + "\n"
    return json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n"


def compiled(target: str, variant: str = "") -> dict[str, str]:
    """Segment name -> golden text for every shipped segment."""
    from pendo_segments.compile.base import compile_segments
    from pendo_segments.data.catalogue import data_catalogue
    from pendo_segments.definitions.loader import load_definitions

    # the shipped definitions name their features; the sample's catalogue gives the ids
    defs = load_definitions(DEFS, features=data_catalogue("sample"))
    # SQL goldens are the pretty-printed text users get from `compile --target sql`.
    results = compile_segments(defs, target, as_of=CASES[(target, variant)], pretty=True)
    return {r.segment.name: render(r) for r in results}


def available_targets() -> list[str]:
    """Every target with a golden case (the registry may hold more)."""
    from pendo_segments.compile import targets

    return [t for t in targets() if any(t == target for target, _ in CASES)]


def update(targets: list[str], check: bool = False) -> list[Path]:
    """Write (or with ``check`` only list) the golden files that differ; drop stale ones."""
    from pendo_segments.atomic import write_text

    changed: list[Path] = []
    for target, variant in CASES:
        if target not in targets:
            continue
        texts = compiled(target, variant)
        wanted = {golden_path(target, name, variant): text for name, text in texts.items()}
        for path, text in wanted.items():
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                changed.append(path)
                if not check:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    write_text(path, text)
        suffix = golden_path(target, "x").suffix
        for path in sorted((GOLDEN / target).glob(f"*{suffix}")):
            if path.stem.partition(".")[2] == variant and path not in wanted:
                changed.append(path)  # a segment that is no longer shipped
                if not check:
                    path.unlink()
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--target",
        action="append",
        choices=sorted({target for target, _ in CASES}),
        help="only this target (repeatable); default: all available",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when a golden file is out of date",
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    changed = update(args.target or available_targets(), check=args.check)
    verb = "out of date" if args.check else "updated"
    for path in changed:
        print(f"{verb}: {path.relative_to(ROOT)}")
    if not changed:
        print("golden files are up to date")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
