"""Aggregation target: one Pendo Aggregation API request per segment.

Pendo's servers do the counting; the request returns the member ids. The
pipeline (``POST /api/v1/aggregation``, docs/pendo-api.md) has the shape of
Pendo's own guide audiences (a subject source, ``identified``, the test, a
``select`` of the id)::

    {"source": {"visitors": null}}                   (accounts: {"accounts": null})
    {"identified": "visitorId"}                       visitor segments only
    {"eval": {"accountId": "metadata.auto.accountid"}}     \\ only when a visitor
    {"bulkExpand": {"account": {"account": "accountId"}}}  / segment reads account.F
    {"merge": {"fields": [id], "mappings": {...}, "pipeline": [     one per window
        {"source": {"events": {"appId": "expandAppIds(\\"*\\")"},
                    "timeSeries": {"period": "dayRange", "first": <start>, "count": N}}},
        {"identified": "visitorId"},
        {"group": {"group": [id, "day"], "fields": {numEvents, numMinutes sums}}},
        {"eval": {"activeDay": "if(numEvents > 0 || numMinutes > 0, 1, 0)"}},
        {"group": {"group": [id], "fields": {"active_days_30d": {"sum": "activeDay"}, ...}}}]}}
    {"merge": {... featureEvents {"featureId": F, "appId": ...} ... clicks = sum of numEvents}}
    {"eval": {"active_days_30d": "if(isNull(active_days_30d), 0, active_days_30d)", ...}}
    {"filter": "<the rule as one boolean expression>"}
    {"select": {id: id}}

Pendo fidelity (public sources named, so each choice can be checked):

* Every event source carries ``appId``: without it Pendo answers for the
  default app only (Pendo's tech note on the API; tap-pendo sends
  ``expandAppIds("*")`` unless ``app_ids`` are configured, then the list).
  ``[pendo] app_ids`` picks them; the default ``("*",)`` means every app.
* Days are the subscription's time-zone days (Pendo support article
  360039367831): ``dayRange`` buckets start at local midnight. Without a fixed
  as-of a window starts at ``dateAdd(startOfPeriod("daily", now()), -N,
  "days")``, the form Pendo's own UI emits; with ``as_of`` at the epoch ms of
  local midnight in ``[pendo] timezone`` (IANA name, via zoneinfo). Date
  fields compare with the same local midnights.
* After ``bulkExpand`` the account's groups sit directly under ``account``:
  ``account.agent.plan`` (no ``metadata.``), as real pipelines read them.
* The envelope and operators are those of Pendo's ETL examples repository
  (pendo-io/pendo-ETL-API-calls) and singer-io/tap-pendo.

Semantics (docs/semantics.md §2, stated once in :mod:`pendo_segments.semantics`;
the window, active-day and last-visit tests here are those trees written in
Pendo's expression syntax by :func:`pendo_expression`):

* A window of N days is ``timeSeries {first: as_of − N days, count: N}``: the
  N whole days before as-of.
* Grouping by (subject, day) before counting makes an account active on a day
  when any of its visitors was (sums of non-negative counts are > 0 exactly
  when one of them is).
* Subjects without usage come from the ``visitors``/``accounts`` source and
  get 0 from the zero-fill ``eval``; every comparison on a value that can be
  unknown is guarded with ``!isNull(...)``, so unknown compares false and a
  ``not`` above it is true.
* ``days_since_first_visit`` reads Pendo's ``metadata.auto.firstvisit``;
  "d op K" becomes a comparison of that timestamp with the midnight of
  ``as_of − K``. ``days_since_last_visit`` counts from the later of the last
  active day in the windows and ``metadata.auto.lastvisit`` when that is before
  the as-of day (a visit on the as-of day or later says nothing about the days
  before): ``d <= K`` is "active in the last K days or lastvisit in them",
  ``d >= K`` is "visited before as-of and neither in the last K − 1 days".
* A reference to a segment of the same subject is inlined (with that
  segment's own default window); other references are unsupported.

Expression syntax that Pendo does not document publicly lives in the
constants below, so a correction is a one-line change.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pendo_segments.compile.base import Generator, child_paths
from pendo_segments.compile.fields import iso_date, pendo_field
from pendo_segments.definitions.loader import DefinitionSet
from pendo_segments.definitions.models import (
    AllOf,
    AnyOf,
    FieldCondition,
    MetricCondition,
    NotOf,
    Segment,
    SegmentRef,
)
from pendo_segments.errors import CompileError
from pendo_segments.semantics.catalogue import CATALOGUE
from pendo_segments.semantics.rules import active_sql, before_sql, col, window_bounds, window_sql

if TYPE_CHECKING:
    from sqlglot import exp
else:
    from pendo_segments.semantics.lazy import exp

# -- Pendo names and expression syntax --------------------------------------------
#: Start of Pendo's today (local midnight of the subscription), as Pendo's UI writes it.
TODAY = 'startOfPeriod("daily", now())'
#: ``days`` whole days after (negative: before) the start of today.
DAYS_FROM_TODAY = 'dateAdd({today}, {days}, "days")'
#: Every app of the subscription (tap-pendo's default ``app_ids``).
ALL_APPS = 'expandAppIds("*")'
IS_NULL = "isNull({x})"
NOT_NULL = "!isNull({x})"
ZERO_IF_NULL = "if(isNull({x}), 0, {x})"
CONTAINS = "contains({x}, {v})"  # UNCONFIRMED function name
ACTIVE_DAY_FIELD = "activeDay"
OPERATORS: dict[str, str] = {"=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}

SUBJECTS: dict[str, tuple[str, str]] = {
    "visitor": ("visitors", "visitorId"),
    "account": ("accounts", "accountId"),
}
EVENTS_SOURCE = "events"
FEATURE_SOURCE = "featureEvents"
VISITOR_ACCOUNT = "metadata.auto.accountid"
FIRST_VISIT = "metadata.auto.firstvisit"
LAST_VISIT = "metadata.auto.lastvisit"
#: What ``bulkExpand`` names the joined account record.
EXPANDED_ACCOUNT = "account"
#: Columns of docs/semantics.md §1 as Pendo names them: the event sources' per-day
#: sums (a feature's clicks are its ``numEvents``) and the visitor's visit metadata.
PENDO_COLUMNS: dict[str, str] = {
    "events": "numEvents",
    "minutes": "numMinutes",
    "clicks": "numEvents",
    "first_visit": FIRST_VISIT,
    "last_visit": LAST_VISIT,
}
#: Per-day sums of the events source that the metrics are built from.
DAY_SUMS: dict[str, dict[str, str]] = {
    "numEvents": {"sum": "numEvents"},
    "numMinutes": {"sum": "numMinutes"},
}


def usage_metric(metric: str) -> dict[str, str]:
    """A windowed usage metric of the catalogue as a sum over the per-day rows."""
    m = CATALOGUE[metric]
    return {"sum": ACTIVE_DAY_FIELD if m.column is None else PENDO_COLUMNS[m.column]}


def pendo_expression(node: exp.Expr, day_start: Callable[[int], int | str]) -> str:
    """A rule tree of :mod:`pendo_segments.semantics` in Pendo's expression syntax.

    ``p.as_of - N`` is the start of the day N days before as-of (``day_start(N)``).
    Only what the rules use is known; anything else is a bug here, not bad input.
    """

    def write(n: exp.Expr) -> str:
        if isinstance(n, exp.Paren):
            return f"({write(n.this)})"
        if isinstance(n, exp.Column):
            return str(day_start(0)) if n.name == "as_of" else PENDO_COLUMNS[n.name]
        if isinstance(n, exp.Literal) and not n.is_string:
            return str(n.this)
        if isinstance(n, exp.Sub) and isinstance(n.this, exp.Column) and n.this.name == "as_of":
            return str(day_start(int(n.expression.this)))
        for kind, op in _operators().items():
            if isinstance(n, kind):
                return f"{write(n.this)} {op} {write(n.expression)}"
        raise CompileError(f"aggregation: cannot write {n.sql()} in Pendo's syntax")

    return write(node.this if isinstance(node, exp.Paren) else node)


def _operators() -> dict[Any, str]:
    return {
        exp.Or: "||",
        exp.And: "&&",
        exp.GT: ">",
        exp.GTE: ">=",
        exp.LT: "<",
        exp.LTE: "<=",
        exp.EQ: "==",
        exp.NEQ: "!=",
    }


REASONS: dict[str, str] = {
    "anniversary_within": "the Aggregation API has no documented day-of-year date "
    "functions to test an anniversary",
    "reference to another subject": "only segments of the same subject can be inlined; "
    "'{name}' is an {subject} segment",
}


def app_id_param(app_ids: Sequence[str]) -> str | list[str]:
    """``appId`` of an event source: every app for ``("*",)``, else the listed ids."""
    ids = [str(a).strip() for a in app_ids if str(a).strip()]
    if not ids or "*" in ids:
        return ALL_APPS
    return ids


def local_midnight_ms(day: dt.date, timezone: str) -> int:
    """Epoch ms of the midnight that starts ``day`` in ``timezone`` (Pendo's day start)."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(timezone))
    return int(start.timestamp()) * 1000


class AggregationGenerator(Generator):
    """An Aggregation API request per segment returning the member ids.

    ``app_ids`` and ``timezone`` are the ``[pendo]`` settings of the same
    names: which apps the event sources count and whose midnights days start at.
    """

    target: ClassVar[str] = "aggregation"
    order: ClassVar[int] = 20
    pendo_settings: ClassVar[tuple[str, ...]] = ("app_ids", "timezone")
    title: ClassVar[str] = "Pendo Aggregation API requests"
    notes: ClassVar[str] = (
        "Aggregation API requests (POST /api/v1/aggregation) returning each segment's "
        "member ids, counted by Pendo"
    )

    def __init__(
        self,
        defs: DefinitionSet,
        *,
        app_ids: Sequence[str] = ("*",),
        timezone: str = "UTC",
        **kwargs: Any,
    ) -> None:
        super().__init__(defs, **kwargs)
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise CompileError(
                f"unknown time zone {timezone!r} (use an IANA name such as 'America/New_York')"
            ) from None
        self.app_ids = app_id_param(app_ids)
        self.timezone = timezone

    def segment_output(self, segment: Segment) -> dict[str, Any] | None:
        self._owners = [segment]
        self._usage: dict[int, dict[str, str]] = {}  # window -> {field: metric}
        self._features: dict[tuple[str, int], str] = {}  # (feature, window) -> field
        self._needs_account = False
        expr = self.generate(segment.rule, "rule")
        if self._problems or expr is None:
            return None
        source, key = SUBJECTS[segment.subject]
        pipeline: list[dict[str, Any]] = [{"source": {source: None}}]
        if segment.subject == "visitor":
            pipeline.append({"identified": "visitorId"})
        if self._needs_account:
            pipeline += [
                {"eval": {"accountId": VISITOR_ACCOUNT}},
                {"bulkExpand": {"account": {"account": "accountId"}}},
            ]
        filled: list[str] = []
        for window, fields in sorted(self._usage.items()):
            pipeline.append(merge(key, list(fields), self.usage_pipeline(key, window, fields)))
            filled += fields
        for (feature, window), name in self._features.items():
            pipeline.append(merge(key, [name], self.feature_pipeline(key, feature, window, name)))
            filled.append(name)
        if filled:
            pipeline.append({"eval": {f: ZERO_IF_NULL.format(x=f) for f in filled}})
        pipeline += [{"filter": expr}, {"select": {key: key}}]
        request_id = f"pendo-segments:{segment.name}:{self.as_of or 'today'}"
        return {
            "response": {"mimeType": "application/json"},
            "request": {"name": segment.name, "requestId": request_id, "pipeline": pipeline},
        }

    # -- time ------------------------------------------------------------------
    def day_start(self, days_before: int) -> int | str:
        """Local midnight of ``as_of − days_before``: epoch ms, or relative to Pendo's today."""
        if self.as_of is not None:
            return self.midnight(self.as_of - dt.timedelta(days=days_before))
        if days_before == 0:
            return TODAY
        return DAYS_FROM_TODAY.format(today=TODAY, days=-days_before)

    def midnight(self, day: dt.date) -> int:
        return local_midnight_ms(day, self.timezone)

    def time_series(self, window: int) -> dict[str, Any]:
        """The window as Pendo's day range: ``count`` days from the first one."""
        first, end = window_bounds(0, window)  # relative to as-of
        return {"period": "dayRange", "first": self.day_start(-first), "count": end - first}

    def pendo(self, node: exp.Expr) -> str:
        return pendo_expression(node, self.day_start)

    # -- sub-pipelines ---------------------------------------------------------
    def usage_pipeline(self, key: str, window: int, fields: dict[str, str]) -> list[dict[str, Any]]:
        steps: list[dict[str, Any]] = [
            {
                "source": {
                    EVENTS_SOURCE: {"appId": self.app_ids},
                    "timeSeries": self.time_series(window),
                }
            },
            {"identified": "visitorId"},
            {"group": {"group": [key, "day"], "fields": DAY_SUMS}},
        ]
        if "active_days" in fields.values():
            active = self.pendo(active_sql())
            steps.append({"eval": {ACTIVE_DAY_FIELD: f"if({active}, 1, 0)"}})
        steps.append(
            {
                "group": {
                    "group": [key],
                    "fields": {field: usage_metric(metric) for field, metric in fields.items()},
                }
            }
        )
        return steps

    def feature_pipeline(
        self, key: str, feature: str, window: int, name: str
    ) -> list[dict[str, Any]]:
        return [
            {
                "source": {
                    FEATURE_SOURCE: {"featureId": feature, "appId": self.app_ids},
                    "timeSeries": self.time_series(window),
                }
            },
            {"identified": "visitorId"},
            {"group": {"group": [key], "fields": {name: {"sum": "numEvents"}}}},
        ]

    def metric_field(self, metric: str, window: int, feature: str | None = None) -> str:
        """The (zero-filled) field holding ``metric`` over ``window``; registers its merge."""
        if feature is None:
            name = f"{metric}_{window}d"
            self._usage.setdefault(window, {})[name] = metric
            return name
        if (feature, window) not in self._features:
            base = f"feature_clicks_{window}d_{re.sub(r'[^A-Za-z0-9_]', '_', feature)}"
            name, n = base, 1
            while name in self._features.values():
                n += 1
                name = f"{base}_{n}"
            self._features[(feature, window)] = name
        return self._features[(feature, window)]

    # -- groups ----------------------------------------------------------------
    def all_node(self, node: AllOf, path: str) -> str | None:
        return self._join(" && ", child_paths(path, "all", node.all))

    def any_node(self, node: AnyOf, path: str) -> str | None:
        return self._join(" || ", child_paths(path, "any", node.any))

    def _join(self, op: str, items: list[tuple[Any, str]]) -> str | None:
        parts = [self.generate(child, p) for child, p in items]
        done = [p for p in parts if p is not None]
        if len(done) < len(parts):
            return None
        return done[0] if len(done) == 1 else op.join(wrap(p) for p in done)

    def not_node(self, node: NotOf, path: str) -> str | None:
        inner = self.generate(node.not_, f"{path}.not")
        return None if inner is None else f"!({inner})"

    def segment_node(self, node: SegmentRef, path: str) -> str | None:
        ref = self.defs.get(node.segment)
        if ref.subject != self.segment.subject:
            self.unsupported(
                "reference to another subject",
                path,
                REASONS["reference to another subject"].format(name=ref.name, subject=ref.subject),
            )
            return None
        self._owners.append(ref)
        try:
            return self.generate(ref.rule, f"{path}->{ref.name}.rule")
        finally:
            self._owners.pop()

    # -- leaves ----------------------------------------------------------------
    def metric_node(self, node: MetricCondition, path: str) -> str:
        if node.metric == "days_since_last_visit":
            return self.days_since_last_visit(node)
        if node.metric == "days_since_first_visit":
            return self.days_since_first_visit(node)
        if node.op in ("exists", "not_exists"):  # a zero-filled count is always known
            return "true" if node.op == "exists" else "false"
        field = self.metric_field(node.metric, self._owners[-1].window_of(node), node.feature)
        return f"{field} {OPERATORS[node.op]} {literal(node.value)}"

    def days_since_last_visit(self, node: MetricCondition) -> str:
        """d = as_of − the later of the last active day and lastvisit before as_of (≥ 1)."""
        known = (
            f"({NOT_NULL.format(x=FIRST_VISIT)} && {self.pendo(before_sql(col('first_visit')))})"
            f" || ({NOT_NULL.format(x=LAST_VISIT)} && {self.pendo(before_sql(col('last_visit')))})"
        )

        def recent(k: int) -> str:  # lastvisit in the k days before as-of
            in_window = self.pendo(window_sql(col("last_visit"), k))
            return f"{NOT_NULL.format(x=LAST_VISIT)} && {in_window}"

        def seen(k: int) -> str:  # some visit in the last k days: d <= k
            return f"{self.metric_field('active_days', k)} > 0 || ({recent(k)})"

        def unseen(k: int) -> str:  # no visit in the last k days: d > k
            return f"{self.metric_field('active_days', k)} == 0 && !({recent(k)})"

        def exactly(k: int) -> str:
            if k < 1:
                return "false"
            return seen(1) if k == 1 else f"({seen(k)}) && {unseen(k - 1)}"

        if node.op == "exists":
            return known
        if node.op == "not_exists":
            return f"!({known})"
        cmp = integer_comparison(node.op, node.value)
        if isinstance(cmp, bool):
            return known if cmp else "false"
        op, k = cmp
        if op == "<=":
            return seen(k) if k >= 1 else "false"
        if op == ">=":
            return known if k <= 1 else f"({known}) && {unseen(k - 1)}"
        if op == "=":
            return exactly(k)
        return f"({known}) && !({exactly(k)})"

    def days_since_first_visit(self, node: MetricCondition) -> str:
        """d = as_of − day of first visit: compare the timestamp with midnights."""
        t = FIRST_VISIT
        known = NOT_NULL.format(x=t)
        if node.op == "exists":
            return known
        if node.op == "not_exists":
            return IS_NULL.format(x=t)
        cmp = integer_comparison(node.op, node.value)
        if isinstance(cmp, bool):
            return known if cmp else "false"
        op, k = cmp
        # d <= k  <=>  t >= midnight(as_of − k);  d >= k  <=>  t < midnight(as_of − k + 1)
        lo, hi = self.day_start(k), self.day_start(k - 1)
        tests = {
            "<=": f"{t} >= {lo}",
            ">=": f"{t} < {hi}",
            "=": f"{t} >= {lo} && {t} < {hi}",
            "!=": f"({t} < {lo} || {t} >= {hi})",
        }
        return f"{known} && {tests[op]}"

    def field_node(self, node: FieldCondition, path: str) -> str | None:
        if node.op == "anniversary_within":
            self.unsupported("anniversary_within", path, REASONS["anniversary_within"])
            return None
        f = pendo_field(self.segment.subject, node)
        x = f.path
        if f.kind != self.segment.subject:
            self._needs_account = True
            # the visitor row already holds accountId; the account's groups sit
            # directly under the expanded record: account.agent.plan
            x = f.field if f.group is None else f"{EXPANDED_ACCOUNT}.{f.group}.{f.field}"
        if node.op == "exists":
            return NOT_NULL.format(x=x)
        if node.op == "not_exists":
            return IS_NULL.format(x=x)
        midnight = self.midnight if f.schema == "time" else None
        values = node.value if isinstance(node.value, list) else [node.value]
        if node.op == "in":
            test = " || ".join(compare(x, "=", v, midnight) for v in values)
        elif node.op == "not_in":
            test = " && ".join(compare(x, "!=", v, midnight) for v in values)
        elif node.op == "contains":
            test = CONTAINS.format(x=x, v=literal(node.value))
        else:
            test = compare(x, node.op, node.value, midnight)
        return f"{NOT_NULL.format(x=x)} && {wrap(test)}"


def compare(x: str, op: str, value: Any, midnight: Callable[[dt.date], int] | None) -> str:
    """``x op value``; a date value on a time field compares with that day's midnights."""
    day = iso_date(value) if midnight is not None else None
    if day is None or midnight is None:
        return f"{x} {OPERATORS[op]} {literal(value)}"
    lo = midnight(day)
    hi = midnight(day + dt.timedelta(days=1))
    return {
        "=": f"{x} >= {lo} && {x} < {hi}",
        "!=": f"({x} < {lo} || {x} >= {hi})",
        "<": f"{x} < {lo}",
        "<=": f"{x} < {hi}",
        ">": f"{x} >= {hi}",
        ">=": f"{x} >= {lo}",
    }[op]


def integer_comparison(op: str, value: Any) -> tuple[str, int] | bool:
    """Rewrite ``d op value`` for a whole number d as ``d op' K`` (op' in <=, >=, =, !=).

    Returns True when every known d passes, False when none does.
    """
    v = float(value)
    whole = v.is_integer()
    if op == "<":
        return ("<=", math.ceil(v) - 1)
    if op == "<=":
        return ("<=", math.floor(v))
    if op == ">":
        return (">=", math.floor(v) + 1)
    if op == ">=":
        return (">=", math.ceil(v))
    if op == "=":
        return ("=", int(v)) if whole else False
    return ("!=", int(v)) if whole else True


def literal(value: Any) -> str:
    """A value in Pendo expression syntax (JSON literals)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return json.dumps(value, ensure_ascii=False)


def wrap(expr: str) -> str:
    """Parenthesise a compound expression before combining it."""
    if " && " not in expr and " || " not in expr:
        return expr
    return expr if _enclosed(expr.removeprefix("!")) else f"({expr})"


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _enclosed(expr: str) -> bool:
    """Whether ``expr`` is one parenthesised group, e.g. ``(a || b)`` but not ``(a) && (b)``."""
    expr = _STRING.sub('""', expr)  # parentheses inside text values do not count
    depth = 0
    for i, ch in enumerate(expr):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0:
            return i == len(expr) - 1 and ch == ")"
    return False


def merge(key: str, fields: list[str], pipeline: list[dict[str, Any]]) -> dict[str, Any]:
    """Left-join ``fields`` computed by ``pipeline`` onto the subject rows by ``key``."""
    return {"merge": {"fields": [key], "mappings": {f: f for f in fields}, "pipeline": pipeline}}
