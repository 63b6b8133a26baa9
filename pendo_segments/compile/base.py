"""The compiler skeleton shared by every target.

A target is a :class:`Generator` subclass. It dispatches on the node kind to
``<kind>_node`` methods (``metric_node``, ``field_node``, ``segment_node``,
``all_node``, ``any_node``, ``not_node``) and raises on a kind it does not
know. Anything a target cannot express goes through one gate,
:meth:`Generator.unsupported`: strict mode raises :class:`CompileError`,
the default collects every case (segment, construct, key path, reason) so
``compile`` can report them all and ``sync`` can fall back to a
visitor-list upload for those segments.
"""

from __future__ import annotations

import datetime as dt
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


class Generator:
    """Walks a validated rule tree and builds one target's output."""

    target: ClassVar[str] = ""

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


def child_paths(path: str, key: str, items: list[Any]) -> list[tuple[Any, str]]:
    return [(item, f"{path}.{key}[{i}]") for i, item in enumerate(items)]


TARGETS: dict[str, str] = {
    "pendo": "pendo_segments.compile.pendo:PendoGenerator",
    "aggregation": "pendo_segments.compile.aggregation:AggregationGenerator",
    "sql": "pendo_segments.compile.sql:SQLGenerator",
}


def generator_class(target: str) -> type[Generator]:
    """The generator for ``target``, imported on demand (SQL pulls in sqlglot)."""
    import importlib

    if target not in TARGETS:
        raise CompileError(f"unknown target '{target}' (valid: {', '.join(TARGETS)})")
    module, _, attr = TARGETS[target].partition(":")
    return getattr(importlib.import_module(module), attr)


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
