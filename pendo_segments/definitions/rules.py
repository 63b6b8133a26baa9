"""Parse one rule tree (``all`` / ``any`` / ``not`` over leaves) from YAML, with lines.

Segment definitions, tier rules (``tiers.yaml``) and alerts (``alerts.yaml``)
write conditions in the same language and are parsed here, so they share
one set of ``FILE:LINE`` messages and did-you-mean hints. Each place allows
its own leaf kinds: segments use metric / field / segment; the account
rules add health / signal / previous / tier, whose names come from a
:class:`Vocabulary` the caller provides (the health layer owns them).

The parser never raises: it reports through a callback and returns ``None``
for a broken node, so one run lists every mistake. It also records what a
rule mentions (segments, features, tiers) with lines, for checks that need
the other files or the data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from pendo_segments.definitions.models import (
    COMPARISON_OPS,
    FIELD_OPS,
    GROUP_KEYS,
    LEAF_MODELS,
    METRIC_OPS,
    METRICS,
    PRESENCE_OPS,
    STANDARD_FIELDS,
    AllOf,
    AnyOf,
    NotOf,
)
from pendo_segments.definitions.yaml_lines import (
    LineDict,
    LineList,
    closest,
    key_path,
    line_of,
    suggest,
)

#: all / any / not nested deeper than this is refused (compilers and SQL engines recurse).
MAX_RULE_DEPTH = 32
SEGMENT_LEAVES: tuple[str, ...] = ("metric", "field", "segment")
#: Leaves of the account rules in tiers.yaml (a tier rule cannot test the tier itself).
TIER_LEAVES: tuple[str, ...] = ("field", "segment", "health", "signal")
ALERT_LEAVES: tuple[str, ...] = ("field", "segment", "health", "signal", "previous", "tier")

#: ``report(line, path, message)``
Report = Callable[[int, tuple[Any, ...], str], None]


@dataclass(frozen=True)
class Vocabulary:
    """Names the account leaves may use; ``tiers`` None means tier names are not checked."""

    health: tuple[str, ...] = ()
    signals: tuple[str, ...] = ()
    flags: frozenset[str] = frozenset()  # true/false signals: no op / value
    tiers: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Mention:
    """A name a rule refers to (segment, feature, tier, field), where it is written."""

    kind: str
    name: str
    line: int
    path: tuple[Any, ...]


@dataclass
class RuleParser:
    """Parses rule trees of one file; ``mentions`` and ``where`` fill up as it goes."""

    file: str
    report: Report
    leaves: Sequence[str] = SEGMENT_LEAVES
    vocabulary: Vocabulary = field(default_factory=Vocabulary)
    mentions: list[Mention] = field(default_factory=list)
    #: ``FILE:LINE: path`` of every parsed node, by ``id(node)``, for errors only data reveals.
    where: dict[int, str] = field(default_factory=dict)

    def parse(
        self,
        node: Any,
        parent: Any,
        rel: tuple[Any, ...],
        base: tuple[Any, ...] = (),
        *,
        subject: Any = None,
    ) -> Any:
        """The rule at ``parent[rel[-1]]`` (key path ``base + rel``); None when broken.

        ``subject`` is the segment's subject ("account" for tier and alert rules),
        for field name hints.
        """
        return self._node(node, parent, rel, base, subject, 0)

    # -- groups --------------------------------------------------------------------
    def _node(
        self,
        node: Any,
        parent: Any,
        rel: tuple[Any, ...],
        base: tuple[Any, ...],
        subject: Any,
        depth: int,
    ) -> Any:
        path = (*base, *rel)
        line = line_of(parent, rel[-1:], getattr(parent, "line", 1))
        kinds = (*self.leaves, *GROUP_KEYS)
        if depth > MAX_RULE_DEPTH:
            self.report(
                line,
                _outer(path),
                f"conditions nested more than {MAX_RULE_DEPTH} deep (all / any / not)",
            )
            return None
        if not isinstance(node, LineDict):
            self.report(line, path, f"expected a condition mapping with one of {' / '.join(kinds)}")
            return None
        present = [k for k in node if k in (*LEAF_MODELS, *GROUP_KEYS)]
        if len(present) != 1:
            keys = ", ".join(f"'{k}'" for k in node) or "none"
            hint = next((suggest(str(k), kinds) for k in node if suggest(str(k), kinds)), "")
            what = (
                f"found {', '.join(present)} (nest them under all/any)"
                if present
                else f"keys {keys}{hint}"
            )
            self.report(
                node.line, path, f"a condition has exactly one of {' / '.join(kinds)}; {what}"
            )
            self._mentions_below(node, path)
            return None
        kind = present[0]
        if kind in GROUP_KEYS:
            return self._group(kind, node, path, subject, depth)
        if kind not in self.leaves:
            self.report(
                line_of(node, (kind,)),
                (*path, kind),
                f"'{kind}' conditions are not available here (use {', '.join(self.leaves)})",
            )
            return None
        leaf = self._leaf(kind, node, path, subject)
        if leaf is not None:
            self.where[id(leaf)] = f"{self.file}:{node.line}: {key_path(path)}"
        return leaf

    def _group(
        self, kind: str, node: LineDict, path: tuple[Any, ...], subject: Any, depth: int
    ) -> Any:
        extra = [k for k in node if k != kind]
        for key in extra:
            self.report(
                line_of(node, (key,)), (*path, key), f"unexpected key '{key}' beside '{kind}'"
            )
        if kind == "not":
            inner = self._node(node["not"], node, ("not",), path, subject, depth + 1)
            out: Any = None if inner is None or extra else NotOf(**{"not": inner})
        else:
            items = node[kind]
            if not isinstance(items, LineList) or not items:
                self.report(
                    line_of(node, (kind,)),
                    (*path, kind),
                    f"'{kind}' needs a non-empty list of conditions",
                )
                return None
            parsed = [
                self._node(item, items, (kind, i), path, subject, depth + 1)
                for i, item in enumerate(items)
            ]
            if extra or any(p is None for p in parsed):
                return None
            out = AllOf(all=parsed) if kind == "all" else AnyOf(any=parsed)
        if out is not None:
            self.where[id(out)] = f"{self.file}:{node.line}: {key_path(path)}"
        return out

    def _mentions_below(self, node: Any, path: tuple[Any, ...]) -> None:
        """Record the references of a broken node too, so they are still checked."""
        if isinstance(node, LineDict):
            ref = node.get("segment")
            if isinstance(ref, str):
                self.mentions.append(Mention("segment", ref, node.line, path))

    # -- leaves --------------------------------------------------------------------
    def _leaf(self, kind: str, node: LineDict, path: tuple[Any, ...], subject: Any) -> Any:
        model: type[BaseModel] = LEAF_MODELS[kind]
        allowed = [model.model_fields[f].alias or f for f in model.model_fields]
        ok = True

        def bad(key: str | None, message: str) -> None:
            nonlocal ok
            where = (*path, key) if key else path
            self.report(line_of(node, (key,)) if key else node.line, where, message)
            ok = False

        for key in node:
            if key not in allowed:
                bad(key, f"unknown key '{key}' in a {kind} condition{suggest(str(key), allowed)}")
        value = node[kind]
        if kind == "segment" and isinstance(value, str):
            self.mentions.append(Mention("segment", value, node.line, path))
        if kind == "metric":
            if value not in METRICS:
                bad("metric", f"unknown metric '{value}'{suggest(str(value), METRICS)}")
            if isinstance(node.get("feature"), str):
                self.mentions.append(
                    Mention("feature", node["feature"], line_of(node, ("feature",)), path)
                )
        if node.get("op") is not None:
            valid = FIELD_OPS if kind == "field" else METRIC_OPS
            if node["op"] not in valid:
                op = str(node["op"])
                hint = f"; did you mean '{op[::-1]}'?" if op[::-1] in valid else suggest(op, valid)
                bad(
                    "op",
                    f"unknown op '{op}' for a {kind} condition{hint} (valid: {', '.join(valid)})",
                )
        if kind == "field" and isinstance(value, str):
            field_hint = self._field_hint(value, subject)
            if field_hint:
                bad("field", field_hint)
            else:  # checked against the data's columns when there are some
                self.mentions.append(Mention("field", value, line_of(node, ("field",)), path))
        if kind in ("health", "previous", "signal", "tier") and ok:
            for key, message in self._account_leaf(kind, node):
                bad(key, message)
        if not ok:
            return None
        try:
            return model.model_validate(dict(node))
        except ValidationError as err:
            for line, where, message in validation_messages(err, node, path):
                self.report(line, where, message)
            return None

    def _account_leaf(self, kind: str, node: LineDict) -> list[tuple[str, str]]:
        """Name and op/value checks of health / previous / signal / tier leaves."""
        voc = self.vocabulary
        name = node[kind]
        if kind in ("health", "previous"):
            if name not in voc.health:
                return [
                    (
                        kind,
                        f"unknown health value '{name}'{suggest(str(name), voc.health)} "
                        f"(one of {', '.join(voc.health)})",
                    )
                ]
            return _compare_problems(node)
        if kind == "signal":
            if name not in voc.signals:
                return [
                    (
                        "signal",
                        f"unknown signal '{name}'{suggest(str(name), voc.signals)}"
                        f" (one of {', '.join(voc.signals)})",
                    )
                ]
            if name in voc.flags:
                if node.get("op") is not None or node.get("value") is not None:
                    return [
                        (
                            "op",
                            f"signal '{name}' is true/false; write {{signal: {name}}} "
                            "or wrap it in 'not'",
                        )
                    ]
                return []
            if node.get("op") is None:
                return [("signal", f"signal '{name}' needs 'op' and 'value'")]
            return _compare_problems(node)
        # tier
        names = [name] if isinstance(name, str) else list(name or [])
        for tier in names:
            if isinstance(tier, str):
                self.mentions.append(Mention("tier", tier, line_of(node, ("tier",)), ()))
            if voc.tiers is not None and tier not in voc.tiers:
                return [
                    (
                        "tier",
                        f"unknown tier '{tier}'{suggest(str(tier), voc.tiers)} "
                        f"(tiers: {', '.join(voc.tiers)})",
                    )
                ]
        return []

    def _field_hint(self, name: str, subject: Any) -> str | None:
        """A near-miss of a standard column or of the ``account.`` prefix."""
        in_segment = "metric" in self.leaves
        head, dot, rest = name.partition(".")
        if dot and head != "account":
            if closest(head, ["account"]):
                return f"unknown field '{name}'; did you mean 'account.{rest}'?"
            return f"unknown field '{name}': only 'account.' may prefix a column"
        column = name.removeprefix("account.")
        on = "account" if name.startswith("account.") else subject
        if name.startswith("account.") and subject == "account":
            if in_segment:
                return (
                    f"'{name}': an account segment reaches its own columns directly; use '{column}'"
                )
            return f"'{name}': conditions here are about accounts; use '{column}'"
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


def _compare_problems(node: LineDict) -> list[tuple[str, str]]:
    op, value = node.get("op"), node.get("value")
    if op in PRESENCE_OPS:
        return [("value", f"op '{op}' takes no value")] if value is not None else []
    if op in COMPARISON_OPS and value is None:
        return [("op", f"op '{op}' needs a numeric value")]
    return []


def _outer(path: tuple[Any, ...]) -> tuple[Any, ...]:
    """``rule.not.not…`` → ``rule``: where a nesting starts, for a message that stays short."""
    for i, step in enumerate(path):
        if step in GROUP_KEYS:
            return path[:i]
    return path


# -- pydantic errors ----------------------------------------------------------------

_TYPE_TAGS = {
    "float": "a number",
    "int": "a number",
    "bool": "true/false",
    "str": "text",
    "list[union[bool,int,float,str]]": "a list",
    "list[str]": "a list",
}


def validation_messages(
    err: ValidationError, node: Any, path: tuple[Any, ...]
) -> list[tuple[int, tuple[Any, ...], str]]:
    """``(line, key path, message)`` per key (a union yields one error per member type)."""
    seen: dict[tuple[Any, ...], list[str]] = {}
    messages: dict[tuple[Any, ...], str] = {}
    for e in err.errors():
        loc = tuple(e["loc"])
        base = tuple(
            p
            for p in loc
            if str(p).lower() not in _TYPE_TAGS
            and not str(p).startswith(("union[", "list[", "function-", "literal["))
        )
        if len(base) < len(loc) and e["type"] != "value_error":
            tag = next(str(p) for p in loc if p not in base)
            seen.setdefault(base, []).append(_TYPE_TAGS.get(tag.lower(), tag))
            messages.setdefault(base, f"{e.get('input')!r} is not a valid value")
        else:
            messages[base] = _message(e)
            seen.setdefault(base, [])
    out = []
    for base, message in messages.items():
        kinds = list(dict.fromkeys(seen[base]))
        if kinds:
            message = f"{message}; expected {' or '.join(kinds)}"
        out.append((line_of(node, base, getattr(node, "line", 1)), (*path, *base), message))
    return out


def _message(error: Any) -> str:
    msg = str(error.get("msg", "invalid value"))
    msg = msg.removeprefix("Value error, ")
    if error.get("type") == "missing":
        return f"missing required key '{error['loc'][-1]}'" if error.get("loc") else msg
    if error.get("type") == "extra_forbidden":
        return f"unknown key '{error['loc'][-1]}'"
    if error.get("type") == "string_pattern_mismatch":
        return f"{error.get('input')!r} is not a valid name (lowercase letters, digits, _)"
    return msg
