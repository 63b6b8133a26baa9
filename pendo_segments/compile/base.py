"""The compiler skeleton shared by every target.

A target is a :class:`Generator` subclass. It dispatches on the node kind to
``<kind>_node`` methods (``metric_node``, ``field_node``, ``segment_node``,
``all_node``, ``any_node``, ``not_node``) and raises on a kind it does not
know. Anything a target cannot express goes through one gate,
:meth:`Generator.unsupported`: strict mode raises :class:`CompileError`,
the default collects every case (segment, construct, key path, reason) so
``compile`` can report them all and ``sync`` can fall back to a
visitor-list upload for those segments.

Targets describe themselves: each generator class carries its file
extension, notes and text renderers (plain text, Markdown, rich), and
registers itself by defining ``target``. :func:`targets` finds every
generator in this package, so a new target is one new module here; the CLI
``--target`` choice and the demo read the registry.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import pkgutil
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pendo_segments.definitions.loader import DefinitionSet
from pendo_segments.definitions.models import Segment
from pendo_segments.errors import CompileError


@dataclass(frozen=True)
class Unsupported:
    """One construct a target cannot express natively."""

    segment: str
    construct: str
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.segment}: {self.path}: {self.construct}: {self.reason}"


@dataclass
class CompileResult:
    segment: Segment
    target: str
    output: Any
    unsupported: list[Unsupported] = field(default_factory=list)

    @property
    def native(self) -> bool:
        return not self.unsupported

    def to_dict(self) -> dict[str, Any]:
        return {
            "segment": self.segment.name,
            "subject": self.segment.subject,
            "target": self.target,
            "native": self.native,
            "unsupported": [
                {"construct": u.construct, "path": u.path, "reason": u.reason}
                for u in self.unsupported
            ],
            "output": self.output,
        }


_REGISTRY: dict[str, type[Generator]] = {}


class Generator:
    """Walks a validated rule tree and builds one target's output."""

    #: The ``--target`` name; defining it registers the class.
    target: ClassVar[str] = ""
    #: File extension of one segment's output (``compile --out-dir``).
    extension: ClassVar[str] = ".json"
    #: Language of :meth:`file_text`, for syntax colour and Markdown fences.
    language: ClassVar[str] = "json"
    #: One line saying what the target produces (``--help``, demo).
    notes: ClassVar[str] = ""
    #: Heading of a whole Markdown document of this target.
    title: ClassVar[str] = ""
    #: Place in listings (``--target`` choices, demo).
    order: ClassVar[int] = 100
    #: ``[pendo]`` settings (PendoSettings attribute names) the generator takes as options.
    pendo_settings: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("target"):
            _REGISTRY[cls.target] = cls

    def __init__(
        self,
        defs: DefinitionSet,
        *,
        as_of: dt.date | None = None,
        strict: bool = False,
        **options: Any,
    ) -> None:
        self.defs = defs
        self.as_of = as_of
        self.strict = strict
        self.options = options
        self._problems: list[Unsupported] = []
        self._segment: Segment | None = None

    # -- entry points -----------------------------------------------------
    def compile(self, segment: Segment) -> CompileResult:
        self._problems = []
        self._segment = segment
        output = self.segment_output(segment)
        return CompileResult(segment, self.target, output, list(self._problems))

    def segment_output(self, segment: Segment) -> Any:
        """The whole output for one segment; targets usually wrap :meth:`generate`."""
        return self.generate(segment.rule, "rule")

    def generate(self, node: Any, path: str) -> Any:
        handler = getattr(self, f"{node.kind}_node", None)
        if handler is None:
            raise CompileError(f"{self.target}: no handler for '{node.kind}' nodes")
        return handler(node, path)

    # -- the one gate -----------------------------------------------------
    def unsupported(self, construct: str, path: str, reason: str) -> None:
        assert self._segment is not None
        problem = Unsupported(self._segment.name, construct, path, reason)
        if self.strict:
            raise CompileError(f"{self.target}: {problem}")
        self._problems.append(problem)

    @property
    def segment(self) -> Segment:
        assert self._segment is not None
        return self._segment

    # -- renderers: how a result is shown (CLI, demo, golden files) ------------
    @classmethod
    def file_text(cls, result: CompileResult) -> str:
        """One segment's output as a file of :attr:`extension`."""
        return json.dumps(result.output, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def heading(cls, result: CompileResult) -> str:
        state = "native" if result.native else f"NOT expressible in {cls.target}"
        return f"{result.segment.name} ({result.segment.subject} segment, {state})"

    @classmethod
    def render_text(cls, result: CompileResult) -> str:
        """Plain text for a terminal or a pipe: heading, problems, the output."""
        lines = [cls.heading(result)]
        lines += [f"  ! {u.path}: {u.construct}: {u.reason}" for u in result.unsupported]
        if result.output is not None:
            lines.append(cls.file_text(result).rstrip("\n"))
        return "\n".join(lines) + "\n"

    @classmethod
    def render_markdown(cls, result: CompileResult) -> str:
        """A Markdown section: heading, problems, the output in a fenced block."""
        seg = result.segment
        out = [f"## {seg.name}: {seg.title}", ""]
        if result.unsupported:
            out += [f"Not expressible in {cls.target}:", ""]
            out += [f"- `{u.path}`: {u.construct}: {u.reason}" for u in result.unsupported]
            out.append("")
        if result.output is not None:
            out += [f"```{cls.language}", cls.file_text(result).rstrip("\n"), "```", ""]
        return "\n".join(out)

    @classmethod
    def render_rich(cls, result: CompileResult) -> Any:
        """A rich renderable for a terminal (colour, tables)."""
        from rich.console import Group
        from rich.rule import Rule
        from rich.syntax import Syntax
        from rich.text import Text

        parts: list[Any] = [Rule(Text(cls.heading(result)))]
        parts += [Text(f"  ! {u.path}: {u.construct}: {u.reason}") for u in result.unsupported]
        if result.output is not None:
            parts.append(Syntax(cls.file_text(result), cls.language, word_wrap=True))
        return Group(*parts)


def child_paths(path: str, key: str, items: list[Any]) -> list[tuple[Any, str]]:
    return [(item, f"{path}.{key}[{i}]") for i, item in enumerate(items)]


def markdown_document(target: str, results: list[CompileResult]) -> str:
    """All results of one target as one Markdown document (``compile --format markdown``)."""
    generator = generator_class(target)
    title = generator.title or target
    notes = generator.notes[:1].upper() + generator.notes[1:]
    head = f"# {title}\n\n{notes}.\n\n"
    return head + "\n".join(generator.render_markdown(r) for r in results)


def targets() -> dict[str, type[Generator]]:
    """Every compile target by name, in listing order (imports this package's modules)."""
    import pendo_segments.compile as package

    for module in pkgutil.iter_modules(package.__path__):
        if module.name.startswith("_"):
            continue
        try:
            importlib.import_module(f"{package.__name__}.{module.name}")
        except ModuleNotFoundError as err:
            # A module needing a missing optional extra is not a target here; a
            # broken module of our own is a bug and must surface.
            if (err.name or "").split(".")[0] == "pendo_segments":
                raise
            continue
    ordered = sorted(_REGISTRY.values(), key=lambda cls: (cls.order, cls.target))
    return {cls.target: cls for cls in ordered}


def generator_class(target: str) -> type[Generator]:
    """The generator for ``target`` (SQL pulls in sqlglot only when it renders)."""
    known = targets()
    if target not in known:
        raise CompileError(f"unknown target '{target}' (valid: {', '.join(known)})")
    return known[target]


def compile_segments(
    defs: DefinitionSet,
    target: str,
    *,
    names: list[str] | None = None,
    as_of: dt.date | None = None,
    strict: bool = False,
    **options: Any,
) -> list[CompileResult]:
    """Compile the selected segments (all by default) for ``target``."""
    gen = generator_class(target)(defs, as_of=as_of, strict=strict, **options)
    return [gen.compile(seg) for seg in defs.select(names)]
