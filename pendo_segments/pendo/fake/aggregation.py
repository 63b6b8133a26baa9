"""The fake Pendo's Aggregation API interpreter: sources are served by the fake,
these are the pipeline operators and the ``filter`` / ``eval`` expression language.

Only what real pipelines use (pendo-io/pendo-ETL-API-calls, singer-io/tap-pendo,
audiences of guides) plus Pendo's UI time functions ``dateAdd`` and
``startOfPeriod``; anything else answers 400, so a compiler test learns that the
fake (not necessarily Pendo) cannot run it.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

DAY_MS = 86_400_000
ANONYMOUS_PREFIX = "_PENDO_T_"  # anonymous visitors, dropped by ``identified``


class HTTPError(Exception):
    """An answer other than 200, with Pendo's plain-text error body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# --- pipeline operators ----------------------------------------------------------------
Rows = list[dict[str, Any]]


def _op_identified(fake: Any, rows: Rows, arg: Any, depth: int) -> Rows:
    return [
        r
        for r in rows
        if (v := get_path(r, str(arg))) not in (None, "")
        and not str(v).startswith(ANONYMOUS_PREFIX)
    ]


def _op_filter(fake: Any, rows: Rows, arg: Any, depth: int) -> Rows:
    expr = Expr(str(arg))
    return [r for r in rows if bool(expr.evaluate(r, fake.now_ms, fake.timezone))]


def _op_select(fake: Any, rows: Rows, arg: Any, depth: int) -> Rows:
    exprs = {out: Expr(str(src)) for out, src in mapping(arg, "select").items()}
    return [
        {out: e.evaluate(r, fake.now_ms, fake.timezone) for out, e in exprs.items()} for r in rows
    ]


def _op_eval(fake: Any, rows: Rows, arg: Any, depth: int) -> Rows:
    exprs = {out: Expr(str(src)) for out, src in mapping(arg, "eval").items()}
    return [
        {**r, **{out: e.evaluate(r, fake.now_ms, fake.timezone) for out, e in exprs.items()}}
        for r in rows
    ]


def _op_group(fake: Any, rows: Rows, arg: Any, depth: int) -> Rows:
    spec = mapping(arg, "group")
    keys = spec.get("group") or []
    keys = [keys] if isinstance(keys, str) else list(keys)
    return _aggregate(rows, keys, spec.get("fields") or {})


def _op_reduce(fake: Any, rows: Rows, arg: Any, depth: int) -> Rows:
    return _aggregate(rows, [], arg, keep_empty=True)


def _op_sort(fake: Any, rows: Rows, arg: Any, depth: int) -> Rows:
    fields = [arg] if isinstance(arg, str) else list(arg)
    out = list(rows)
    for name in reversed(fields):  # stable sorts, last key first
        path = name.lstrip("-+")

        def key(row: dict[str, Any], path: str = path) -> tuple[int, Any]:
            return _sort_key(get_path(row, path))

        out.sort(key=key, reverse=name.startswith("-"))
    return out


def _op_limit(fake: Any, rows: Rows, arg: Any, depth: int) -> Rows:
    if not isinstance(arg, int) or arg < 0:
        raise HTTPError(400, "limit must be a non-negative integer")
    return rows[:arg]


def _op_unwind(fake: Any, rows: Rows, arg: Any, depth: int) -> Rows:
    spec = mapping(arg, "unwind")
    name, keep = str(spec.get("field")), bool(spec.get("keepEmpty"))
    out: Rows = []
    for r in rows:
        values = r.get(name)
        values = values if isinstance(values, list) else ([] if values is None else [values])
        if not values and keep:
            out.append({**r, name: None})
        out.extend({**r, name: v} for v in values)
    return out


def _op_segment(fake: Any, rows: Rows, arg: Any, depth: int) -> Rows:
    members = fake._segment_members(str(mapping(arg, "segment").get("id")), depth)
    return [r for r in rows if str(r.get("visitorId")) in members]


def _op_bulk_expand(fake: Any, rows: Rows, arg: Any, depth: int) -> Rows:
    out = [dict(r) for r in rows]
    for target, how in mapping(arg, "bulkExpand").items():
        ((kind, id_path),) = mapping(how, "bulkExpand").items()
        table = {"account": fake.accounts, "visitor": fake.visitors}.get(kind)
        if table is None:
            raise HTTPError(400, f"bulkExpand kind '{kind}' is not supported by the fake")
        for r in out:
            rid = get_path(r, id_path)
            record = table.get(str(rid)) if rid is not None else None
            r[target] = expanded(record)
    return out


def expanded(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """A record as ``bulkExpand`` joins it: its metadata groups sit directly under the
    name (``account.agent.plan``, ``account.auto.id``; no ``metadata.`` in between, as
    the guide audiences and client pipelines in docs/pendo-api.md read them)."""
    if record is None:
        return None
    out = {k: copy.deepcopy(v) for k, v in record.items() if k != "metadata"}
    out.update(copy.deepcopy(record.get("metadata") or {}))
    return out


OPERATORS: dict[str, Callable[[Any, Rows, Any, int], Rows]] = {
    "identified": _op_identified,
    "filter": _op_filter,
    "select": _op_select,
    "eval": _op_eval,
    "group": _op_group,
    "reduce": _op_reduce,
    "sort": _op_sort,
    "limit": _op_limit,
    "unwind": _op_unwind,
    "segment": _op_segment,
    "bulkExpand": _op_bulk_expand,
}


def _aggregate(rows: Rows, keys: list[str], fields: Any, *, keep_empty: bool = False) -> Rows:
    if isinstance(fields, list):  # [{"out": {"sum": "x"}}, …] is accepted too
        fields = {k: v for item in fields for k, v in mapping(item, "fields").items()}
    specs: list[tuple[str, str, str | None]] = []
    for out, spec in mapping(fields, "fields").items():
        ((fn, src),) = mapping(spec, "field").items()
        if fn not in ("sum", "count", "max", "min", "avg"):
            raise HTTPError(400, f"unsupported aggregation '{fn}' in the fake")
        specs.append((out, fn, src))
    groups: dict[tuple[Any, ...], Rows] = {}
    for r in rows:
        groups.setdefault(tuple(_hashable(get_path(r, k)) for k in keys), []).append(r)
    if not groups and keep_empty:
        groups[()] = []
    out_rows: Rows = []
    for members in groups.values():
        result = {k: get_path(members[0], k) if members else None for k in keys}
        for out, fn, src in specs:
            present = (
                [v for v in (get_path(m, src) for m in members) if v is not None] if src else []
            )
            if fn == "count":
                result[out] = len(members) if src is None else len({_hashable(v) for v in present})
            elif fn == "sum":
                result[out] = sum(present) if present else 0
            elif fn == "avg":
                result[out] = sum(present) / len(present) if present else None
            else:
                result[out] = (max if fn == "max" else min)(present) if present else None
        out_rows.append(result)
    return out_rows


# --- filter / eval expressions ----------------------------------------------------------
class ExprError(ValueError):
    pass


_TOKEN = re.compile(
    r"""\s*(?:
    (?P<num>\d+(?:\.\d+)?)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>==|!=|>=|<=|&&|\|\||[<>!()+\-*/,])
  | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
)""",
    re.VERBOSE,
)


class Expr:
    """``metadata.auto.lastupdated >= 1 && (plan == "Growth" || arr > 1000)``, ``now() - 3``.

    Comparisons with a missing (null) value are false except ``== null`` / ``!= null``.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = self._tokenise(text)
        self.pos = 0
        self.tree = self._or()
        if self.pos != len(self.tokens):
            raise ExprError(f"unexpected {self.tokens[self.pos][1]!r} in {text!r}")

    def evaluate(self, row: dict[str, Any], now_ms: int, tz: str = "UTC") -> Any:
        return _eval_node(self.tree, row, now_ms, tz)

    @staticmethod
    def _tokenise(text: str) -> list[tuple[str, str]]:
        tokens, pos = [], 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            match = _TOKEN.match(text, pos)
            if not match or match.end() == pos:
                raise ExprError(f"cannot read {text[pos:]!r} in {text!r}")
            kind = match.lastgroup or "op"
            tokens.append((kind, match.group(kind)))
            pos = match.end()
        return tokens

    def _peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise ExprError(f"unexpected end of {self.text!r}")
        token = self.tokens[self.pos]
        if expected is not None and token[1] != expected:
            raise ExprError(f"expected {expected!r}, got {token[1]!r} in {self.text!r}")
        self.pos += 1
        return token

    def _binary(self, ops: tuple[str, ...], lower: Callable[[], Any]) -> Any:
        node = lower()
        while self._peek() in ops and self.tokens[self.pos][0] == "op":
            op = self._take()[1]
            node = ("bin", op, node, lower())
        return node

    def _or(self) -> Any:
        return self._binary(("||",), self._and)

    def _and(self) -> Any:
        return self._binary(("&&",), self._cmp)

    def _cmp(self) -> Any:
        return self._binary(("==", "!=", ">=", "<=", ">", "<"), self._add)

    def _add(self) -> Any:
        return self._binary(("+", "-"), self._mul)

    def _mul(self) -> Any:
        return self._binary(("*", "/"), self._unary)

    def _unary(self) -> Any:
        if self._peek() in ("!", "-") and self.tokens[self.pos][0] == "op":
            return ("un", self._take()[1], self._unary())
        return self._primary()

    def _primary(self) -> Any:
        kind, text = self._take()
        if kind == "num":
            return ("lit", float(text) if "." in text else int(text))
        if kind == "str":
            return ("lit", json.loads(text) if text[0] == '"' else text[1:-1])
        if kind == "op" and text == "(":
            node = self._or()
            self._take(")")
            return node
        if kind == "name":
            if text in ("true", "false", "null"):
                return ("lit", {"true": True, "false": False, "null": None}[text])
            if self._peek() == "(":
                self._take("(")
                args = []
                while self._peek() != ")":
                    args.append(self._or())
                    if self._peek() == ",":
                        self._take(",")
                self._take(")")
                return ("call", text, args)
            return ("field", text)
        raise ExprError(f"unexpected {text!r} in {self.text!r}")


def _eval_node(node: Any, row: dict[str, Any], now_ms: int, tz: str) -> Any:
    tag = node[0]
    if tag == "lit":
        return node[1]
    if tag == "field":
        return get_path(row, node[1])
    if tag == "call":
        args = [_eval_node(a, row, now_ms, tz) for a in node[2]]
        if node[1] == "now" and not args:
            return now_ms
        if node[1] == "isNull" and len(args) == 1:
            return args[0] is None
        if node[1] == "contains" and len(args) == 2:
            return args[0] is not None and args[1] in args[0]
        if node[1] == "startOfPeriod" and len(args) == 2 and args[0] == "daily":
            return start_of_day(args[1], tz)
        if node[1] == "dateAdd" and len(args) == 3 and args[2] == "days":
            return date_add_days(args[0], args[1], tz)
        if node[1] == "if" and len(args) == 3:
            return args[1] if args[0] else args[2]
        if node[1] == "expandAppIds" and len(args) == 1:
            return {"expandAppIds": args[0]}
        raise ExprError(f"unsupported function {node[1]}() in the fake")
    if tag == "un":
        value = _eval_node(node[2], row, now_ms, tz)
        if node[1] == "!":
            return not value
        return -value if isinstance(value, int | float) else None
    op, left, right = (
        node[1],
        _eval_node(node[2], row, now_ms, tz),
        _eval_node(node[3], row, now_ms, tz),
    )
    if op == "&&":
        return bool(left) and bool(right)
    if op == "||":
        return bool(left) or bool(right)
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    if left is None or right is None:
        return False if op in ("<", "<=", ">", ">=") else None
    try:
        return {
            "<": lambda: left < right,
            "<=": lambda: left <= right,
            ">": lambda: left > right,
            ">=": lambda: left >= right,
            "+": lambda: left + right,
            "-": lambda: left - right,
            "*": lambda: left * right,
            "/": lambda: left / right,
        }[op]()
    except (TypeError, ZeroDivisionError):
        return False if op in ("<", "<=", ">", ">=") else None


def start_of_day(ms: Any, tz: str) -> int | None:
    """Local midnight (in the subscription's time zone) of the day holding ``ms``."""
    if not isinstance(ms, int | float):
        return None
    from zoneinfo import ZoneInfo

    local = dt.datetime.fromtimestamp(ms / 1000, ZoneInfo(tz))
    midnight = dt.datetime.combine(local.date(), dt.time(), ZoneInfo(tz))
    return int(midnight.timestamp() * 1000)


def date_add_days(ms: Any, days: Any, tz: str) -> int | None:
    """``ms`` moved by whole calendar days in ``tz`` (a DST day is 23 or 25 hours)."""
    if not isinstance(ms, int | float) or not isinstance(days, int | float):
        return None
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)
    local = dt.datetime.fromtimestamp(ms / 1000, zone)
    moved = dt.datetime.combine(local.date() + dt.timedelta(days=int(days)), local.time(), zone)
    return int(moved.timestamp() * 1000)


def local_day_ms(day: dt.date, tz: str) -> int:
    """Epoch ms of ``day``'s midnight in ``tz``."""
    from zoneinfo import ZoneInfo

    return int(dt.datetime.combine(day, dt.time(), ZoneInfo(tz)).timestamp() * 1000)


# --- small helpers ------------------------------------------------------------------------
def get_path(row: Any, path: str) -> Any:
    value = row
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise HTTPError(400, f"{what} must be an object")
    return value


def _hashable(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else value


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, bool | int | float):
        return (1, value)
    return (2, str(value))
