"""Compiler output for every shipped segment equals its reviewed golden file.

A difference means the compiler output changed. If that is intended, run
``python scripts/update_golden.py`` and review the diff of tests/golden/.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from pendo_segments.compile.base import compile_segments
from pendo_segments.definitions.loader import load_definitions

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "update_golden", ROOT / "scripts" / "update_golden.py"
)
assert _spec and _spec.loader
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)

SEGMENTS = [s.name for s in load_definitions(golden.DEFS)]
CASES = [(target, variant, name) for (target, variant) in golden.CASES for name in SEGMENTS]


@pytest.fixture(scope="module")
def texts() -> dict[tuple[str, str], dict[str, str]]:
    """Compiled golden texts per (target, variant), compiled once per case on first use."""
    return {}


@pytest.mark.parametrize(
    ("target", "variant", "name"),
    CASES,
    ids=[f"{t}{'.' + v if v else ''}-{n}" for t, v, n in CASES],
)
def test_compiled_output_matches_golden_file(
    texts: dict, target: str, variant: str, name: str
) -> None:
    path = golden.golden_path(target, name, variant)
    if target == "sql" and not path.exists():
        pytest.skip(f"no SQL golden file yet: {path.relative_to(ROOT)}")
    assert path.exists(), f"missing {path.relative_to(ROOT)}: run scripts/update_golden.py"
    if (target, variant) not in texts:
        texts[(target, variant)] = golden.compiled(target, variant)
    assert texts[(target, variant)][name] == path.read_text(encoding="utf-8"), (
        f"{path.relative_to(ROOT)} differs; if intended run scripts/update_golden.py "
        "and review the diff"
    )


@pytest.mark.parametrize("target", ["pendo", "aggregation"])
def test_no_golden_file_for_a_segment_that_is_not_shipped(target: str) -> None:
    names = {p.name.split(".")[0] for p in (golden.GOLDEN / target).glob("*.json")}
    assert names == set(SEGMENTS)


def test_pendo_rules_do_not_depend_on_as_of() -> None:
    """Why the Pendo target has one golden file per segment, not one per as-of."""
    defs = load_definitions(golden.DEFS)
    fixed = [r.to_dict() for r in compile_segments(defs, "pendo", as_of=golden.AS_OF)]
    live = [r.to_dict() for r in compile_segments(defs, "pendo")]
    assert fixed == live


def test_update_check_reports_nothing_to_change() -> None:
    assert golden.update(["pendo", "aggregation"], check=True) == []
