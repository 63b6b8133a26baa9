"""A guide template's source and its blocks, with the lines they start on.

A guide template is a set of named jinja2 blocks — ``title``, ``step_1_body``
… (see README.md) — rendered one by one. Knowing where each block starts
lets rendering and lint point at ``FILE:LINE``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import jinja2
from jinja2 import nodes

from pendo_segments.guides.environment import TemplateError, make_env, template_error
from pendo_segments.guides.manifest import display_path

#: ``title``, ``subject``, ``preheader``, ``footer``, ``step_<n>_title|body|buttons``
BLOCK_NAME = re.compile(
    r"^(?:title|subject|preheader|footer|step_([1-9]\d?)_(?:title|body|buttons))$"
)
EMAIL_ONLY_BLOCKS = ("subject", "preheader", "footer")


@dataclass
class TemplateSource:
    name: str  # loader name, relative to the templates root
    path: Path
    text: str
    ast: nodes.Template
    block_lines: dict[str, int] = field(default_factory=dict)
    block_ends: dict[str, int] = field(default_factory=dict)

    @property
    def display(self) -> str:
        return display_path(self.path)

    def line_of(self, block: str, needle: str | None = None) -> int:
        """Line of ``needle`` inside ``block`` (first occurrence), else the block's first line."""
        start = self.block_lines.get(block, 1)
        if needle:
            end = self.block_ends.get(block, start)
            lines = self.text.splitlines()
            for number in range(start, min(end, len(lines)) + 1):
                if needle.lower() in lines[number - 1].lower():
                    return number
        return start

    def steps(self) -> list[int]:
        """Step numbers that have a body, ascending."""
        return sorted(
            {
                int(m.group(1))
                for b in self.block_lines
                if (m := BLOCK_NAME.match(b)) and m.group(1) and b.endswith("_body")
            }
        )


def load_source(root: Path, name: str) -> TemplateSource:
    """Read and parse ``root/name``; a syntax error raises TemplateError (rule ``syntax``).

    Cached per file version (path + modification time), since every render needs it.
    """
    path = Path(root) / name
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        stamp = -1
    return _load_source(str(Path(root).resolve()), name, stamp)


@lru_cache(maxsize=256)
def _load_source(root_str: str, name: str, stamp: int) -> TemplateSource:
    root = Path(root_str)
    env = make_env(root)
    path = root / name
    try:
        text, _, _ = env.loader.get_source(env, name)  # type: ignore[union-attr]
    except jinja2.TemplateNotFound:
        raise TemplateError(
            display_path(path), 1, "missing-locale", "template file not found"
        ) from None
    try:
        ast = env.parse(text, name=name, filename=str(path))
    except jinja2.TemplateSyntaxError as err:
        raise template_error(err, root, name) from None
    source = TemplateSource(name=name, path=path, text=text, ast=ast)
    lines = text.splitlines()
    for block in ast.find_all(nodes.Block):
        source.block_lines[block.name] = block.lineno
        source.block_ends[block.name] = next(
            (n for n in range(block.lineno, len(lines) + 1) if "endblock" in lines[n - 1]),
            len(lines),
        )
    return source
