"""YAML loading that remembers where every key and item came from.

PyYAML drops positions once it builds Python objects; definition errors must
say ``FILE:LINE``, so mappings and sequences are built as ``LineDict`` /
``LineList`` carrying the line of the node and of each key / item. Duplicate
keys (which PyYAML silently overwrites) are reported instead.

Definition files come from users and repositories, so the reader also
refuses what would only hurt: alias bombs ("billion laughs"), nesting deep
enough to exhaust the stack, and lists or mappings used as keys.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent

#: Limits on what one YAML document may build (far above any real definition file).
MAX_ALIASES = 100
#: Aliases of nodes that themselves hold aliases, nested this deep at most.
MAX_ALIAS_DEPTH = 4
#: Nodes after expanding every alias.
MAX_EXPANDED_NODES = 50_000
#: Nested lists / mappings; the rule language has its own, lower limit.
MAX_YAML_DEPTH = 100


class LineDict(dict[Any, Any]):
    line: int = 0
    key_lines: dict[Any, int]


class LineList(list[Any]):
    line: int = 0
    item_lines: list[int]


class YamlProblem(Exception):
    def __init__(self, line: int, message: str) -> None:
        self.line, self.message = line, message
        super().__init__(message)


class _LineLoader(yaml.SafeLoader):
    """SafeLoader keeping lines, with limits checked while the node tree is composed."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._expanded = 0
        #: per composed node: (expanded size, alias nesting depth)
        self._weight: dict[int, tuple[int, int]] = {}
        #: children weights of the collections being composed
        self._open: list[list[tuple[int, int]]] = []

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(AliasEvent):
            line = self.peek_event().start_mark.line + 1
            node = super().compose_node(parent, index)
            size, depth = self._weight.get(id(node), (1, 0))
            self._aliases += 1
            self._expanded += size
            if self._aliases > MAX_ALIASES:
                raise YamlProblem(line, f"more than {MAX_ALIASES} aliases (*name) in one file")
            if depth + 1 > MAX_ALIAS_DEPTH:
                raise YamlProblem(
                    line, f"aliases nested more than {MAX_ALIAS_DEPTH} deep (an alias bomb?)"
                )
            if self._expanded > MAX_EXPANDED_NODES:
                raise YamlProblem(
                    line,
                    f"aliases expand to more than {MAX_EXPANDED_NODES} values (an alias bomb?)",
                )
            if self._open:
                self._open[-1].append((size, depth + 1))
            return node
        line = self.peek_event().start_mark.line + 1
        if len(self._open) >= MAX_YAML_DEPTH:
            raise YamlProblem(line, f"lists / mappings nested more than {MAX_YAML_DEPTH} deep")
        self._open.append([])
        node = super().compose_node(parent, index)
        kids = self._open.pop()
        weight = (1 + sum(s for s, _ in kids), max((d for _, d in kids), default=0))
        self._weight[id(node)] = weight
        self._expanded += 1
        if self._expanded > MAX_EXPANDED_NODES:
            raise YamlProblem(line, f"more than {MAX_EXPANDED_NODES} values in one file")
        if self._open:
            self._open[-1].append(weight)
        return node

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> LineDict:
        self.flatten_mapping(node)
        out = LineDict()
        out.line = node.start_mark.line + 1
        out.key_lines = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlProblem(
                    key_node.start_mark.line + 1,
                    "a list or mapping cannot be a key (write the key as plain text)",
                )
            key = self.construct_object(key_node, deep=True)
            if key in out:
                raise YamlProblem(
                    key_node.start_mark.line + 1,
                    f"duplicate key '{key}' (first at line {out.key_lines[key]})",
                )
            out[key] = self.construct_object(value_node, deep=True)
            out.key_lines[key] = key_node.start_mark.line + 1
        return out

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> LineList:
        out = LineList(self.construct_object(child, deep=True) for child in node.value)
        out.line = node.start_mark.line + 1
        out.item_lines = [child.start_mark.line + 1 for child in node.value]
        return out


_LineLoader.add_constructor("tag:yaml.org,2002:map", _LineLoader.construct_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _LineLoader.construct_sequence)


def load_yaml(path: Path) -> Any:
    """Parse one YAML file; raise :class:`YamlProblem` with a 1-based line."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise YamlProblem(1, f"not UTF-8 text ({err.reason})") from None
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except YamlProblem:
        raise
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else 1
        what = err.problem or err.context or "invalid YAML"
        raise YamlProblem(line, f"YAML syntax error: {what}") from None
    except yaml.YAMLError as err:
        raise YamlProblem(1, f"YAML error: {err}") from None


def read_yaml_file(
    path: Path, error: type[Exception], *, where: str | None = None, missing: str = "no such file"
) -> Any:
    """Parse a YAML file or raise ``error`` as ``WHERE: missing`` / ``WHERE:LINE: problem``."""
    where = where or str(path)
    if not path.is_file():
        raise error(f"{where}: {missing}")
    try:
        return load_yaml(path)
    except YamlProblem as err:
        raise error(f"{where}:{err.line}: {err.message}") from None


def line_of(node: Any, path: Sequence[Any], default: int = 1) -> int:
    """The line of the deepest element of ``path`` that can be located in ``node``."""
    line = getattr(node, "line", default) or default
    for step in path:
        if isinstance(node, LineDict) and step in node:
            line = node.key_lines.get(step, line)
            node = node[step]
        elif isinstance(node, LineList) and isinstance(step, int) and 0 <= step < len(node):
            line = node.item_lines[step]
            node = node[step]
        else:
            break
    return line


def key_path(path: Iterable[Any]) -> str:
    """``('rule', 'all', 1, 'metric')`` → ``rule.all[1].metric``."""
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            out += ("." if out else "") + str(step)
    return out


def closest(word: str, choices: Iterable[str]) -> str | None:
    match = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return match[0] if match else None


def suggest(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest choice, or ``""``."""
    match = closest(word, choices)
    return f"; did you mean '{match}'?" if match else ""


def relabel(value: Any, transform: Any) -> Any:
    """Copy a LineDict/LineList tree applying ``transform`` to strings, keeping lines."""
    if isinstance(value, LineDict):
        out = LineDict({k: relabel(v, transform) for k, v in value.items()})
        out.line, out.key_lines = value.line, dict(value.key_lines)
        return out
    if isinstance(value, LineList):
        out_l = LineList(relabel(v, transform) for v in value)
        out_l.line, out_l.item_lines = value.line, list(value.item_lines)
        return out_l
    if isinstance(value, str):
        return transform(value)
    return value
