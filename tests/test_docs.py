"""Every command has --help with an example and is in the README; help starts fast."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from pendo_segments.cli import COMMANDS, main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def leaf_commands() -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []

    def walk(cmd: click.Command, path: tuple[str, ...]) -> None:
        if isinstance(cmd, click.Group):
            ctx = click.Context(cmd)
            for name in cmd.list_commands(ctx):
                walk(cmd.get_command(ctx, name), (*path, name))  # type: ignore[arg-type]
        else:
            out.append(path)

    walk(main, ())
    return out


LEAVES = leaf_commands()


def test_every_registered_command_is_available() -> None:
    assert sorted(main.list_commands(click.Context(main))) == sorted(COMMANDS)


@pytest.mark.parametrize("path", LEAVES, ids=[" ".join(p) for p in LEAVES])
def test_help_has_an_example_and_readme_mentions_it(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"{' '.join(path)} --help has no example"
    assert f"pendo-segments {' '.join(path)}" in README, f"README does not show {' '.join(path)}"


def test_readme_has_the_two_commands() -> None:
    assert "pip install -e '.[dev]' && pendo-segments demo" in README
    ci = Path(".ci/run").read_text(encoding="utf-8")
    assert "python -m pytest -q" in README and ci.rstrip().endswith("python -m pytest -q")


def test_help_does_not_import_pandas() -> None:
    """Cold start: `pendo-segments --help` must not pay for pandas / numpy."""
    code = (
        "import sys; from click.testing import CliRunner; from pendo_segments.cli import main;"
        "r = CliRunner().invoke(main, ['--help']); assert r.exit_code == 0;"
        "heavy = [m for m in ('pandas', 'numpy', 'duckdb', 'pyarrow') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


#: Files that hold the pattern itself, to check for it.
SELF_CHECKS = {"tests/test_docs.py", "tests/test_pendo_shapes.py"}


def test_no_file_cites_a_document_outside_the_repository() -> None:
    """The product carries its own docs: semantics in docs/semantics.md, wire shapes in
    docs/pendo-api.md. Checked over every tracked text file."""
    import re

    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    # spelt in pieces so this file does not match itself
    names = ["CONTRACT" + ".md", "DESIGN" + ".md", "STYLE" + ".md", "/" + "work/", "/" + "shared/"]
    outside = re.compile("|".join(re.escape(n) for n in names))
    hits = []
    for name in tracked:
        path = ROOT / name
        if name in SELF_CHECKS or not path.is_file() or path.suffix in {".png", ".gz"}:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        hits += [
            f"{name}:{n}" for n, line in enumerate(text.splitlines(), 1) if outside.search(line)
        ]
    assert hits == []


def test_semantics_reference_has_every_section_cited() -> None:
    """Every 'docs/semantics.md §N' in the code points at a section that exists."""
    import re

    sections = set(re.findall(r"^## §(\d+)", (ROOT / "docs" / "semantics.md").read_text(), re.M))
    cited = set()
    for path in [*(ROOT / "pendo_segments").rglob("*.py"), ROOT / "README.md"]:
        cited |= set(re.findall(r"docs/semantics\.md §(\d+)", path.read_text(encoding="utf-8")))
    assert cited and cited <= sections
