"""Layers point one way: a module imports only its own layer and the layers below it.

The order is the package's design (data flows top to bottom): a lower layer
importing a higher one is a cycle waiting to happen and makes the lower layer
impossible to use or test alone. Imports inside functions (lazy, for start-up
time) obey the same rule; the few that must reach up are listed below with a
reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pendo_segments

PACKAGE = Path(pendo_segments.__file__).parent

#: Lowest first. Each entry is one layer: the top-level modules / subpackages in it.
LAYERS: list[tuple[str, ...]] = [
    # base: the package itself (__version__), errors, atomic writes, settings, Secret,
    # regions and the Pendo field map (pendo_segments/base/).
    ("", "base", "errors", "atomic", "config", "shipped"),
    ("definitions",),
    # the window / active-day / visit-day rules, the metric catalogue and the health
    # arithmetic, each stated once as a SQL tree beside its numpy function
    ("semantics",),
    ("compile",),
    ("data",),
    ("evaluate",),
    # one Engine interface over pandas, DuckDB and Spark; knows nothing of health or tiers,
    # which hand it queries of the semantic core
    ("engines",),
    ("health",),
    ("tiers", "export"),
    ("guides",),
    ("pendo",),
    # Resolves --data; builds a Pendo client for ``pendo:``, so it sits above pendo.
    ("sources",),
    ("sync",),
    ("campaign",),
    # Account fields and alert Tasks in Salesforce (reads health, tiers, alerts, export)
    ("salesforce",),
    ("backtest",),
    ("report",),
    # Slack messages of alerts: links to the report's pages, its Japanese words
    ("notify",),
    ("demo",),
    ("cli",),
]

#: Upward imports allowed anyway: (importing module, imported module or package prefix) ->
#: why it cannot point down, e.g.
#: ``("pendo_segments.health.x", "pendo_segments.tiers"): "reason"``.
#: Prefer moving the module to the layer it belongs to; none is needed today.
EXCEPTIONS: dict[tuple[str, str], str] = {}

RANK = {name: index for index, names in enumerate(LAYERS) for name in names}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, module: str | None = None) -> list[tuple[str, int]]:
    """Every ``pendo_segments`` module the file imports (at any depth), with its line."""
    module = module or _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if node.module is None:  # from . import x: each x may be a module
                found += [(f"{target}.{alias.name}", node.lineno) for alias in node.names]
            else:
                found.append((target, node.lineno))
    return [(name, line) for name, line in found if name.split(".")[0] == "pendo_segments"]


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_top_level_module_has_a_layer() -> None:
    unplaced = sorted(
        {_layer(_module_name(p)) for p in _modules()} - set(RANK),
    )
    assert unplaced == [], f"add these to LAYERS in tests/test_layers.py: {unplaced}"


def _upward(path: Path, module: str) -> list[str]:
    problems = []
    for target, line in _imports(path, module):
        if RANK.get(_layer(target), -1) <= RANK[_layer(module)]:
            continue
        if any(module == a and target.startswith(b) for a, b in EXCEPTIONS):
            continue
        problems.append(
            f"{path.name}:{line}: {module} ({_layer(module) or 'base'}) "
            f"imports {target} ({_layer(target)})"
        )
    return problems


def test_no_layer_imports_a_higher_one() -> None:
    problems = [p for path in _modules() for p in _upward(path, _module_name(path))]
    assert problems == [], "\n".join(problems)


def test_the_checker_sees_lazy_and_relative_upward_imports(tmp_path: Path) -> None:
    fake = tmp_path / "config.py"
    fake.write_text(
        "from pendo_segments.errors import ConfigError\n"
        "def f():\n"
        "    from pendo_segments.pendo.client import PendoClient\n"
        "    from .sync import plan\n",
        encoding="utf-8",
    )
    assert _upward(fake, "pendo_segments.config") == [
        "config.py:3: pendo_segments.config (config) imports pendo_segments.pendo.client (pendo)",
        "config.py:4: pendo_segments.config (config) imports pendo_segments.sync (sync)",
    ]


def test_every_exception_gives_its_reason() -> None:
    assert [pair for pair, reason in EXCEPTIONS.items() if not reason.strip()] == []


def test_exceptions_are_still_needed() -> None:
    imports = {(_module_name(p), t) for p in _modules() for t, _ in _imports(p)}
    stale = [
        (module, prefix)
        for module, prefix in EXCEPTIONS
        if not any(m == module and t.startswith(prefix) for m, t in imports)
    ]
    assert stale == [], f"remove these EXCEPTIONS, nothing imports that way any more: {stale}"
