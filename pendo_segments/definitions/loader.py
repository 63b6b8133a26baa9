"""Load segment definitions from YAML with ``FILE:LINE`` errors.

Every problem in every file is collected before anything is raised, so one
``validate`` run lists all of them. Cross-file checks (duplicate names,
unknown references, cycles, subject mismatches) run after all files parsed.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from pendo_segments.definitions.models import (
    FIELD_OPS,
    METRIC_OPS,
    METRICS,
    RULE_KEYS,
    STANDARD_FIELDS,
    AllOf,
    AnyOf,
    FieldCondition,
    MetricCondition,
    NotOf,
    Segment,
    SegmentRef,
    walk,
)
from pendo_segments.definitions.yaml_lines import (
    LineDict,
    LineList,
    YamlProblem,
    closest,
    key_path,
    line_of,
    load_yaml,
    relabel,
    suggest,
)
from pendo_segments.errors import DefinitionError

#: Files in a definitions folder that hold other configuration, not segments.
RESERVED_STEMS = frozenset({"tiers", "health", "alerts", "guides"})
SEGMENT_KEYS = (
    "name",
    "title",
    "description",
    "subject",
    "window_days",
    "rule",
    "tags",
    "for_each",
)
_MODEL_FOR: dict[str, type[BaseModel]] = {
    "metric": MetricCondition,
    "field": FieldCondition,
    "segment": SegmentRef,
}
#: all / any / not nested deeper than this is refused (compilers and SQL engines recurse).
MAX_RULE_DEPTH = 32
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


@dataclass
class DefinitionSet:
    """Validated segments, ordered so that referenced segments come first."""

    segments: dict[str, Segment]
    files: list[Path] = field(default_factory=list)

    def __iter__(self) -> Iterator[Segment]:
        return iter(self.segments.values())

    def __len__(self) -> int:
        return len(self.segments)

    def __contains__(self, name: object) -> bool:
        return name in self.segments

    def get(self, name: str) -> Segment:
        try:
            return self.segments[name]
        except KeyError:
            raise DefinitionError(
                f"unknown segment '{name}'{suggest(name, self.segments)}"
            ) from None

    def select(self, names: Sequence[str] | None) -> list[Segment]:
        """The named segments (all when ``names`` is empty), in definition order."""
        if not names:
            return list(self.segments.values())
        wanted = {self.get(n).name for n in names}
        return [s for s in self.segments.values() if s.name in wanted]

    def closure(self, names: Sequence[str]) -> list[Segment]:
        """The named segments plus every segment they reference, dependencies first."""
        needed: set[str] = set()
        stack = list(names)
        while stack:
            name = stack.pop()
            if name in needed:
                continue
            needed.add(name)
            stack.extend(references(self.get(name)))
        return [s for s in self.segments.values() if s.name in needed]


def references(segment: Segment) -> list[str]:
    return [n.segment for n in walk(segment.rule) if isinstance(n, SegmentRef)]


class _Collector:
    """Accumulates ``FILE:LINE: message`` problems."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, file: str, line: int, message: str, path: Sequence[Any] = ()) -> None:
        where = f"{key_path(path)}: " if path else ""
        self.problems.append(f"{file}:{line}: {where}{message}")


def load_definitions(path: str | Path) -> DefinitionSet:
    """Load a folder (every ``*.yaml``/``*.yml`` but reserved ones) or one file."""
    root = Path(path)
    if not root.exists():
        raise DefinitionError(f"{root}: no such file or folder")
    if root.is_dir():
        files = sorted(
            p
            for p in root.iterdir()
            if p.suffix in (".yaml", ".yml") and p.stem not in RESERVED_STEMS
        )
        if not files:
            raise DefinitionError(f"{root}: no segment definition files (*.yaml)")
    else:
        files = [root]
    out = _Collector()
    found: list[Segment] = []
    for file in files:
        found.extend(_load_file(file, out))
    segments = _cross_check(found, out, broken=_broken_names(files) if out.problems else set())
    if out.problems:
        raise DefinitionError(out.problems)
    return DefinitionSet(segments=segments, files=files)


def _load_file(file: Path, out: _Collector) -> list[Segment]:
    name = str(file)
    try:
        doc = load_yaml(file)
    except YamlProblem as err:
        out.add(name, err.line, err.message)
        return []
    if doc is None:
        out.add(name, 1, "empty file: expected a segment (name, title, subject, rule)")
        return []
    if not isinstance(doc, LineDict):
        out.add(name, line_of(doc, ()), "expected a mapping with a segment, or 'segments:' list")
        return []
    if "segments" in doc:
        items = doc["segments"]
        extra = [k for k in doc if k != "segments"]
        if extra:
            out.add(
                name,
                line_of(doc, (extra[0],)),
                f"unexpected key '{extra[0]}' beside 'segments:' (put it in each segment)",
            )
        if not isinstance(items, LineList):
            out.add(name, line_of(doc, ("segments",)), "'segments' must be a list of segments")
            return []
        result: list[Segment] = []
        for i, item in enumerate(items):
            if not isinstance(item, LineDict):
                out.add(
                    name,
                    line_of(items, (i,)),
                    "each item of 'segments' must be a mapping",
                    ("segments", i),
                )
                continue
            if "name" not in item:
                out.add(
                    name,
                    item.line,
                    "missing 'name' (required in a 'segments:' list)",
                    ("segments", i),
                )
                continue
            result.extend(_stamp(item, name, ("segments", i), None, out))
        return result
    return _stamp(doc, name, (), file.stem, out)


def _stamp(
    raw: LineDict, file: str, path: tuple[Any, ...], default_name: str | None, out: _Collector
) -> list[Segment]:
    """Expand ``for_each`` and parse each stamped copy."""
    unknown = [k for k in raw if k not in SEGMENT_KEYS]
    for key in unknown:
        out.add(
            file,
            line_of(raw, (key,)),
            f"unknown key '{key}'{suggest(key, SEGMENT_KEYS)}",
            (*path, key),
        )
    if unknown:
        return []
    for_each = raw.get("for_each")
    if for_each is None:
        return [s for s in [_parse_segment(raw, file, path, default_name, {}, out)] if s]
    fe_line = line_of(raw, ("for_each",))
    fe_path = (*path, "for_each")
    if not isinstance(for_each, LineDict) or not for_each:
        out.add(
            file,
            fe_line,
            "for_each must map a parameter to a list of values, "
            "e.g. {feature: [core_events, data_explorer]}",
            fe_path,
        )
        return []
    name_template = str(raw.get("name") or default_name or "")
    ok = True
    for key, values in for_each.items():
        if (
            not isinstance(values, LineList)
            or not values
            or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in values)
        ):
            out.add(
                file,
                line_of(raw, ("for_each", key)),
                f"for_each.{key} must be a non-empty list of names",
                fe_path,
            )
            ok = False
        elif len(set(map(str, values))) != len(values):
            out.add(
                file, line_of(raw, ("for_each", key)), f"for_each.{key} repeats a value", fe_path
            )
            ok = False
        if f"{{{key}}}" not in name_template:
            out.add(
                file,
                line_of(raw, ("name",), fe_line),
                f"name '{name_template}' must contain '{{{key}}}' so each stamped "
                "segment gets its own name",
                (*path, "name"),
            )
            ok = False
    used = set(_PLACEHOLDER.findall(name_template)) - set(for_each)
    for key in sorted(used):
        out.add(
            file,
            line_of(raw, ("name",)),
            f"placeholder '{{{key}}}' in name is not a for_each parameter{suggest(key, for_each)}",
            (*path, "name"),
        )
        ok = False
    if not ok:
        return []
    keys = list(for_each)
    stamped: list[Segment] = []
    for combo in itertools.product(*(list(map(str, for_each[k])) for k in keys)):
        params = dict(zip(keys, combo, strict=True))

        def fill(text: str, params: dict[str, str] = params) -> str:
            return _PLACEHOLDER.sub(lambda m: params.get(m.group(1), m.group(0)), text)

        copy = relabel(raw, fill)
        del copy["for_each"]
        if "name" not in copy and default_name:
            copy["name"] = fill(default_name)
            copy.key_lines["name"] = raw.line
        seg = _parse_segment(copy, file, path, None, params, out)
        if seg:
            stamped.append(seg)
    return stamped


def _parse_segment(
    raw: LineDict,
    file: str,
    path: tuple[Any, ...],
    default_name: str | None,
    params: dict[str, str],
    out: _Collector,
) -> Segment | None:
    before = len(out.problems)
    fields: dict[str, Any] = {k: v for k, v in raw.items() if k not in ("rule", "for_each")}
    if "name" not in fields and default_name is not None:
        fields["name"] = default_name
    for required in ("title", "subject", "rule"):
        if required not in raw:
            out.add(file, raw.line, f"missing required key '{required}'", path)
    if "subject" in raw and raw["subject"] not in ("account", "visitor"):
        out.add(
            file,
            line_of(raw, ("subject",)),
            f"subject must be 'account' or 'visitor', not "
            f"{raw['subject']!r}{suggest(str(raw['subject']), ('account', 'visitor'))}",
            (*path, "subject"),
        )
        fields.pop("subject")
    rule = None
    if "rule" in raw:
        rule = _parse_rule(raw["rule"], raw, ("rule",), file, path, out, subject=raw.get("subject"))
    if len(out.problems) > before:
        return None
    try:
        seg = Segment.model_validate({**fields, "rule": rule, "params": params})
    except ValidationError as err:
        _report(err, raw, file, path, out)
        return None
    return seg.with_source(file, raw.line)


def _parse_rule(
    node: Any,
    parent: Any,
    rel: tuple[Any, ...],
    file: str,
    seg_path: tuple[Any, ...],
    out: _Collector,
    subject: Any,
    depth: int = 0,
) -> Any:
    """Parse one rule node, reporting problems against its own line."""
    path = (*seg_path, *rel)
    line = line_of(parent, rel[-1:], getattr(parent, "line", 1))
    if depth > MAX_RULE_DEPTH:
        out.add(
            file,
            line,
            f"conditions nested more than {MAX_RULE_DEPTH} deep (all / any / not)",
            _outer(path),
        )
        return None
    if not isinstance(node, LineDict):
        out.add(
            file,
            line,
            "expected a condition mapping with one of metric / field / segment / all / any / not",
            path,
        )
        return None
    present = [k for k in node if k in RULE_KEYS]
    if len(present) > 1:
        out.add(
            file,
            node.line,
            "a condition has exactly one of metric / field / segment / "
            f"all / any / not; found {', '.join(present)} (nest them under all/any)",
            path,
        )
        return None
    if not present:
        guess = next((suggest(k, RULE_KEYS) for k in node if suggest(k, RULE_KEYS)), "")
        keys = ", ".join(f"'{k}'" for k in node) or "none"
        out.add(
            file,
            node.line,
            f"unknown condition (keys {keys}); expected one of metric / "
            f"field / segment / all / any / not{guess}",
            path,
        )
        return None
    kind = present[0]
    if kind in ("all", "any", "not"):
        extra = [k for k in node if k != kind]
        if extra:
            out.add(
                file,
                line_of(node, (extra[0],)),
                f"unexpected key '{extra[0]}' beside '{kind}'",
                (*path, extra[0]),
            )
            return None
    if kind in ("all", "any"):
        items = node[kind]
        if not isinstance(items, LineList) or not items:
            out.add(
                file,
                line_of(node, (kind,)),
                f"'{kind}' needs a non-empty list of conditions",
                (*path, kind),
            )
            return None
        parsed = [
            _parse_rule(item, items, (kind, i), file, path, out, subject, depth + 1)
            for i, item in enumerate(items)
        ]
        if any(p is None for p in parsed):
            return None
        return AllOf(all=parsed) if kind == "all" else AnyOf(any=parsed)
    if kind == "not":
        inner = _parse_rule(node["not"], node, ("not",), file, path, out, subject, depth + 1)
        return None if inner is None else NotOf(**{"not": inner})
    return _parse_leaf(kind, node, file, path, out, subject)


def _outer(path: tuple[Any, ...]) -> tuple[Any, ...]:
    """``rule.not.not…`` → ``rule``: where a nesting starts, for a message that stays short."""
    for i, step in enumerate(path):
        if step in ("all", "any", "not"):
            return path[:i]
    return path


def _parse_leaf(
    kind: str, node: LineDict, file: str, path: tuple[Any, ...], out: _Collector, subject: Any
) -> Any:
    model = _MODEL_FOR[kind]
    allowed = list(model.model_fields)
    ok = True
    for key in node:
        if key not in allowed:
            out.add(
                file,
                line_of(node, (key,)),
                f"unknown key '{key}' in a {kind} condition{suggest(key, allowed)}",
                (*path, key),
            )
            ok = False
    if kind == "metric" and node["metric"] not in METRICS:
        out.add(
            file,
            line_of(node, ("metric",)),
            f"unknown metric '{node['metric']}'{suggest(str(node['metric']), METRICS)}",
            (*path, "metric"),
        )
        ok = False
    if "op" in node:
        valid = METRIC_OPS if kind == "metric" else FIELD_OPS
        if node["op"] not in valid:
            op = str(node["op"])
            hint = f"; did you mean '{op[::-1]}'?" if op[::-1] in valid else suggest(op, valid)
            out.add(
                file,
                line_of(node, ("op",)),
                f"unknown op '{op}' for a {kind} condition{hint} (valid: {', '.join(valid)})",
                (*path, "op"),
            )
            ok = False
    if kind == "field" and isinstance(node.get("field"), str):
        field_hint = _field_hint(node["field"], subject)
        if field_hint:
            out.add(file, line_of(node, ("field",)), field_hint, (*path, "field"))
            ok = False
    if not ok:
        return None
    try:
        return model.model_validate(dict(node))
    except ValidationError as err:
        _report(err, node, file, path, out)
        return None


def _field_hint(name: str, subject: Any) -> str | None:
    """Reject a near-miss of a standard column (custom columns are otherwise free)."""
    column = name.removeprefix("account.")
    on = "account" if name.startswith("account.") else subject
    if name.startswith("account.") and subject == "account":
        return f"'{name}': an account segment reaches its own columns directly; use '{column}'"
    standard = STANDARD_FIELDS.get(on if isinstance(on, str) else "", ())
    if not standard or column in standard:
        return None
    # Only a typo-sized difference counts: a custom column like 'tier_name' is not 'name'.
    match = closest(column, [s for s in standard if abs(len(s) - len(column)) <= 2])
    if match and column.lower() not in standard:
        prefix = "account." if name.startswith("account.") else ""
        return (
            f"unknown field '{name}'; did you mean '{prefix}{match}'? (a custom column "
            "needs a name not this close to a standard one)"
        )
    return None


_TYPE_TAGS = {
    "float": "a number",
    "int": "a number",
    "bool": "true/false",
    "str": "text",
    "list[union[bool,int,float,str]]": "a list",
}


def _report(
    err: ValidationError, node: LineDict, file: str, path: tuple[Any, ...], out: _Collector
) -> None:
    """Report pydantic errors once per key (a union yields one error per member type)."""
    seen: dict[tuple[Any, ...], list[str]] = {}
    messages: dict[tuple[Any, ...], str] = {}
    for e in err.errors():
        loc = tuple(e["loc"])
        base = tuple(
            p
            for p in loc
            if str(p).lower() not in _TYPE_TAGS and not str(p).startswith(("union[", "list["))
        )
        if len(base) < len(loc) and e["type"] != "value_error":
            tag = next(str(p) for p in loc if p not in base)
            seen.setdefault(base, []).append(_TYPE_TAGS.get(tag.lower(), tag))
            messages.setdefault(base, f"{e.get('input')!r} is not a valid value")
        else:
            messages[base] = _pyd_message(e)
            seen.setdefault(base, [])
    for base, message in messages.items():
        kinds = list(dict.fromkeys(seen[base]))
        if kinds:
            message = f"{message}; expected {' or '.join(kinds)}"
        out.add(file, line_of(node, base, node.line), message, (*path, *base))


def _pyd_message(error: Any) -> str:
    msg = str(error.get("msg", "invalid value"))
    msg = msg.removeprefix("Value error, ")
    if error.get("type") == "missing":
        return f"missing required key '{error['loc'][-1]}'" if error.get("loc") else msg
    if error.get("type") == "extra_forbidden":
        return f"unknown key '{error['loc'][-1]}'"
    if error.get("type") == "string_pattern_mismatch":
        return f"{error.get('input')!r} is not a valid name (lowercase letters, digits, _)"
    return msg


def _broken_names(files: list[Path]) -> set[str]:
    """Names of segments in files with problems, so a reference to them is not a 2nd error."""
    names: set[str] = set()
    for file in files:
        try:
            doc = load_yaml(file)
        except YamlProblem:
            names.add(file.stem)
            continue
        items = doc.get("segments") if isinstance(doc, dict) else None
        for item in items if isinstance(items, list) else [doc]:
            if isinstance(item, dict):
                names.add(str(item.get("name", file.stem)))
    return names


def _cross_check(
    found: list[Segment], out: _Collector, broken: set[str] | None = None
) -> dict[str, Segment]:
    by_name: dict[str, Segment] = {}
    for seg in found:
        if seg.name in by_name:
            first = by_name[seg.name]
            out.problems.append(
                f"{seg.source}: duplicate segment name '{seg.name}' "
                f"(first defined at {first.source})"
            )
            continue
        by_name[seg.name] = seg
    for seg in by_name.values():
        for ref in references(seg):
            if ref not in by_name:
                if ref in (broken or set()):
                    continue
                out.problems.append(
                    f"{seg.source}: segment '{seg.name}' references unknown "
                    f"segment '{ref}'{suggest(ref, by_name)}"
                )
            elif seg.subject == "account" and by_name[ref].subject == "visitor":
                out.problems.append(
                    f"{seg.source}: account segment '{seg.name}' cannot "
                    f"reference visitor segment '{ref}'"
                )
    order = _topological(by_name, out)
    return {name: by_name[name] for name in order}


def _topological(by_name: dict[str, Segment], out: _Collector) -> list[str]:
    """Dependency order; reports each reference cycle once, with its path."""
    state: dict[str, int] = {}
    order: list[str] = []
    reported: set[frozenset[str]] = set()

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = trail[trail.index(name) :] + [name]
            key = frozenset(cycle)
            if key not in reported:
                reported.add(key)
                seg = by_name[name]
                out.problems.append(f"{seg.source}: reference cycle: {' -> '.join(cycle)}")
            return
        state[name] = 1
        for ref in references(by_name[name]):
            if ref in by_name:
                visit(ref, [*trail, name])
        state[name] = 2
        order.append(name)

    for name in by_name:
        visit(name, [])
    return order
