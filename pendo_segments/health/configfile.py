"""Validate a YAML config file (health / tiers / alerts) into a pydantic model.

Errors come out like segment definitions: ``FILE:LINE: key.path: message``,
every problem at once, as one :class:`DefinitionError`. The line-aware YAML
reader is the definitions one (``yaml_lines``), not a second copy.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from pendo_segments.definitions.yaml_lines import (
    LineDict,
    key_path,
    line_of,
    read_yaml_file,
    suggest,
)
from pendo_segments.errors import DefinitionError

M = TypeVar("M", bound=BaseModel)


class Problems:
    """Collects ``FILE:LINE: path: message`` lines for one file."""

    def __init__(self, file: Path | str, doc: Any) -> None:
        self.file, self.doc = str(file), doc
        self.items: list[str] = []

    def add(self, path: Sequence[Any], message: str, line: int | None = None) -> None:
        where = f"{key_path(path)}: " if path else ""
        at = line if line is not None else line_of(self.doc, path)
        self.items.append(f"{self.file}:{at}: {where}{message}")

    def raise_if_any(self) -> None:
        if self.items:
            raise DefinitionError(self.items)


def read_mapping(path: Path) -> LineDict:
    """The top-level mapping of a YAML file (an empty file is an empty mapping)."""
    doc = read_yaml_file(path, DefinitionError)
    if doc is None:
        empty = LineDict()
        empty.line, empty.key_lines = 1, {}
        return empty
    if not isinstance(doc, LineDict):
        raise DefinitionError(f"{path}:{getattr(doc, 'line', 1)}: expected a mapping of settings")
    return doc


def load_checked(path: str | Path, model: type[M]) -> tuple[M, Problems]:
    """Read ``path`` and validate it as ``model``; raise every problem as FILE:LINE.

    The returned :class:`Problems` lets the caller add its own cross-checks
    (duplicate names, unknown references) and raise them the same way.
    """
    file = Path(path)
    doc = read_mapping(file)
    problems = Problems(file, doc)
    for where, value in non_finite(doc):
        problems.add(where, f"must be a finite number, not {value}")
    problems.raise_if_any()
    parsed = validate(model, dict(doc), problems)
    problems.raise_if_any()
    assert parsed is not None
    return parsed, problems


def non_finite(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], float]]:
    """Where ``.nan`` / ``.inf`` / ``1e400`` hide in a settings file (no setting takes them)."""
    if isinstance(node, float) and not math.isfinite(node):
        return [(path, node)]
    if isinstance(node, dict):
        return [hit for k, v in node.items() for hit in non_finite(v, (*path, k))]
    if isinstance(node, list):
        return [hit for i, v in enumerate(node) for hit in non_finite(v, (*path, i))]
    return []


def validate(model: type[M], raw: Any, problems: Problems, base: Sequence[Any] = ()) -> M | None:
    """``model.model_validate(raw)``, reporting errors with their lines; None on failure."""
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        report(err, model, problems, base)
        return None


def report(
    err: ValidationError, model: type[BaseModel], problems: Problems, base: Sequence[Any] = ()
) -> None:
    seen: set[tuple[Any, ...]] = set()
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if not _is_type_tag(p))
        if loc in seen:  # a union reports once per member type
            continue
        seen.add(loc)
        problems.add((*base, *loc), _message(e, model, loc))


def _is_type_tag(step: Any) -> bool:
    text = str(step)
    return text in ("int", "float", "str", "bool") or text.startswith(
        ("union[", "list[", "function-", "literal[")
    )


def _message(e: Any, model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    kind = e.get("type", "")
    if kind == "missing":
        return f"missing required key '{loc[-1]}'" if loc else "missing required key"
    if kind == "extra_forbidden":
        return f"unknown key '{loc[-1]}'{suggest(str(loc[-1]), allowed_keys(model, loc[:-1]))}"
    msg = str(e.get("msg", "invalid value")).removeprefix("Value error, ")
    if kind.startswith(("int_", "float_")) and "input" in e:
        return f"{e['input']!r} is not a number" if "parsing" in kind else msg
    if kind == "literal_error" and "input" in e:
        return f"{e['input']!r} is not valid; {msg[0].lower()}{msg[1:]}"
    return msg


def allowed_keys(model: Any, loc: Sequence[Any]) -> list[str]:
    """Field names of the sub-model reached by ``loc`` (for 'did you mean')."""
    current: Any = model
    for step in loc:
        current = _unwrap(current, step)
        if current is None:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(annotation: Any, step: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(str(step))
        return field.annotation if field else None
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (typing.Union, types.UnionType):
        models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        pick = models[0] if models else (args[0] if len(args) == 1 else None)
        return _unwrap(pick, step) if pick is not None else None
    if origin in (list, dict) and args:
        return args[-1]
    return None
