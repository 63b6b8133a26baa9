"""Pendo target: builder recipes, the rows a person enters in Pendo's segment builder.

Pendo's public API cannot create or edit a rule segment (docs/pendo-api.md):
people build them in the segment builder. This target says exactly what to
enter, per segment, as a ``recipe`` (one row per builder rule: join, source,
field, operator, value, time window) for people, and as the builder's
``definition`` (below) that ``sync plan`` compares with what Pendo holds.
Segments the builder cannot express say why and are synced as visitor lists.

JSON of one segment (``compile --target pendo --format json``, key ``output``),
stable for machines::

    {"name", "title", "description", "subject",
     "summary": "Number of days active at most 2 within the last 30 days AND ...",
     "definition": {"filters": [[row, ...], ...]},  # native only; outer AND, inner OR
     "recipe": [{"group": 1, "join": "", "source": "Account",
                 "field": "Number of days active", "operator": "at most",
                 "value": "2", "window": "within the last 30 days",
                 "note": ""}, ...],                # null when not native
     "why": ["rule.all[1]: not: <reason>", ...],    # empty when native
     "upload": "visitor_list", "expandAccounts": bool}   # not native only

``join`` is ``""`` on the first row, ``AND`` on the first row of each further
group and ``OR`` between rows of one group. ``note`` says what a person must know
about the row ("" when nothing): a "Segment is in" row needs that segment shared
with Everyone, and a row Pendo does not offer for guide targeting says so
(:func:`guide_targeting_note`).

Words are the segment builder's own, as Pendo's help pages write them: "at
least" / "at most" ("Page 'Dashboard' Seen at least 10 times"; Feature clicks
"at least, and at most"), "within the last N days" ("First Visit within last 1
Day"), "equals", "greater than", "less than" (Pendo support articles
360031862532 "Segments", 32271753394203 "Segment rules"; Pendo Adopt article
4405329323547 "Segments").

Pendo keeps a rule-based segment's builder rules in its ``definition`` (Fivetran
flattens them into ``segment_filter`` rows: ``kind``, ``schema``, ``group``,
``field``, ``operator``, ``value``, ``count``, ``time``, ``granularity``,
``fact``, ``feature_id``…; rows sharing an ``or_group_id`` are ORed, the OR
groups are ANDed). The exact JSON is not publicly documented, so we emit rows
with exactly those keys and make the grouping explicit (``filters``: the outer
list is ANDed, each inner list ORed).

Mapping (every Pendo name is in the tables below, so a fix is one line):

================================  ============================================
definition                        builder row
================================  ============================================
``active_days`` op N              "Number of days active", fact ``daysActive``
``minutes`` op N                  "Time on site", fact ``numMinutes``
``events`` op N                   "Number of events", fact ``numEvents``
``feature_clicks`` op N           "Feature clicks", kind ``feature``,
                                  ``featureId``, fact ``numEvents``
window of N days                  ``time: "last", count: N, granularity: "day"``
                                  ("within the last N days")
``days_since_last_visit`` op N    "Last visit" (``auto.lastvisit``),
                                  ``time: "daysAgo"``: days since it op N
``days_since_first_visit`` op N   "First visit" (``auto.firstvisit``), same
field F op V                      kind visitor/account, metadata group/field
                                  from :mod:`pendo_segments.compile.fields`
``in`` [a, b]                     one OR group of ``==`` rows
``!=`` / ``not_in``               ``!=`` rows plus an ``exists`` row (see below)
``{segment: other}``              kind ``segment``, operator ``in``,
                                  ``segmentName``; ``sync`` fills ``segmentId``
================================  ============================================

Native means conjunctive normal form of such rows: the rule is a leaf, an
``any`` of leaves, or an ``all`` whose items are leaves or ``any`` groups of
leaves (nested ``all`` are flattened: AND is associative). Everything else
goes through :meth:`Generator.unsupported` with a reason; the output of such
a segment is an ``{"upload": "visitor_list", ...}`` marker and ``sync``
uploads the locally computed members instead.

Semantics and known gaps:

* A comparison with an unknown value is false (docs/semantics.md §2). Pendo's
  "is not" is assumed to *match* records with no value, so ``!=`` gets an
  extra "exists" row; inside an OR group that row cannot be added, so it is
  unsupported there. For the same reason ``not`` cannot be rewritten by
  flipping operators.
* Builder rules are relative to Pendo's *today*: ``as_of`` has no effect on
  this target. Pendo's "last visit" may be today, which the local as-of rule
  never counts; a visitor returning today leaves the Pendo segment one day
  earlier than the local one.
* Accounts and visitors with no usage are assumed to count 0 in Pendo's
  behavioural rules, as they do locally.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from pendo_segments.compile.base import CompileResult, Generator, child_paths
from pendo_segments.compile.fields import pendo_field
from pendo_segments.definitions.models import (
    NULLABLE_METRICS,
    PRESENCE_OPS,
    WINDOWED_METRICS,
    AllOf,
    AnyOf,
    FieldCondition,
    MetricCondition,
    NotOf,
    Segment,
    SegmentRef,
)

# -- every Pendo name in one place ------------------------------------------------
#: Definition op -> builder operator.
OPERATORS: dict[str, str] = {
    "=": "==",
    "!=": "!=",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
    "contains": "contains",
    "exists": "exists",
    "not_exists": "!exists",
}


@dataclass(frozen=True)
class BuilderRule:
    """A behavioural rule of the segment builder."""

    label: str
    schema: str
    fact: str | None = None
    group: str | None = None
    field: str | None = None
    kind: str | None = None  # None: the segment's subject (visitor / account)
    unit: str = ""


METRIC_RULES: dict[str, BuilderRule] = {
    "active_days": BuilderRule("Number of days active", "number", fact="daysActive"),
    "minutes": BuilderRule("Time on site", "number", fact="numMinutes", unit=" minutes"),
    "events": BuilderRule("Number of events", "number", fact="numEvents"),
    "feature_clicks": BuilderRule("Feature clicks", "number", fact="numEvents", kind="feature"),
    "days_since_last_visit": BuilderRule("Last visit", "time", group="auto", field="lastvisit"),
    "days_since_first_visit": BuilderRule("First visit", "time", group="auto", field="firstvisit"),
}
#: Unit shown after a behavioural value in summaries, by builder label.
UNITS: dict[str, str] = {r.label: r.unit for r in METRIC_RULES.values()}
#: "within the last N days" (the N whole days before today).
WINDOW_KEYS: dict[str, str] = {"time": "last", "granularity": "day"}
#: "days since <time field> op N".
DAYS_AGO_KEYS: dict[str, str] = {"time": "daysAgo", "granularity": "day"}
SEGMENT_RULE: dict[str, Any] = {"name": "Segment", "kind": "segment", "operator": "in"}
UPLOAD_MARKER = "visitor_list"

# -- why a construct is not native (read by CS ops in `compile` and `sync plan`) ----
REASONS: dict[str, str] = {
    "not": "Pendo's segment builder has no NOT around a rule; flipping the comparison "
    "instead (e.g. 'arr > 15000' for NOT 'arr <= 15000') would drop records with no "
    "value, which NOT keeps",
    "any inside any": "Pendo's builder has a single level of OR groups; merge the inner "
    "'any' into the outer one",
    "all inside any": "Pendo's builder can only OR single rules, not an AND group",
    "segment reference inside any": "Pendo's builder accepts 'segment is in' only as its "
    "own AND rule, not inside an OR group",
    "reference to non-native segment": "'{name}' is not a native Pendo rule itself (it is "
    "uploaded as a list computed locally), so a live "
    "Pendo rule cannot depend on it",
    "anniversary_within": "Pendo's builder has no 'anniversary within N days' date rule",
    "text comparison": "Pendo's builder compares text only with is / is not / contains / "
    "exists, not with '{op}'",
    "'is not' inside any": "Pendo's 'is not' also matches records with no value; keeping "
    "them out needs an extra 'exists' rule, which cannot go inside "
    "an OR group",
}

Row = dict[str, Any]
Groups = list[list[Row]]  # outer AND, inner OR
#: Items an OR group cannot hold, by node type.
NESTED_IN_ANY: dict[type[Any], str] = {
    AnyOf: "any inside any",
    AllOf: "all inside any",
    SegmentRef: "segment reference inside any",
}


class PendoGenerator(Generator):
    """Segment builder recipes; non-native segments become visitor-list uploads."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._native: dict[str, bool] = {}

    target: ClassVar[str] = "pendo"
    order: ClassVar[int] = 10
    extension: ClassVar[str] = ".json"
    title: ClassVar[str] = "Pendo segment builder recipes"
    notes: ClassVar[str] = (
        "builder recipes: the rows to enter in Pendo's segment builder (and its "
        "definition JSON); other segments are synced as visitor lists"
    )

    def segment_output(self, segment: Segment) -> dict[str, Any]:
        groups = self.generate(segment.rule, "rule")
        head = {
            "name": segment.name,
            "title": segment.title,
            "description": segment.description,
            "subject": segment.subject,
        }
        if self._problems or groups is None:
            constructs = ", ".join(dict.fromkeys(p.construct for p in self._problems))
            who = "its accounts' visitors" if segment.subject == "account" else "its visitors"
            return {
                **head,
                "summary": f"not a native Pendo rule ({constructs}); uploaded as a "
                f"list of {who} computed locally",
                "recipe": None,
                "why": [f"{p.path}: {p.construct}: {p.reason}" for p in self._problems],
                "upload": UPLOAD_MARKER,
                "expandAccounts": segment.subject == "account",
            }
        # the names people see in Pendo next to the ids (features.csv / the pulled catalogue)
        names = dict(self.defs.catalogue.names) if self.defs.catalogue is not None else {}
        return {
            **head,
            "summary": summary(groups, names),
            "definition": {"filters": groups},
            "recipe": recipe(groups, names),
            "why": [],
        }

    # -- renderers ---------------------------------------------------------------
    @classmethod
    def heading(cls, result: CompileResult) -> str:
        seg = result.segment
        how = "builder recipe" if result.native else "synced as a visitor list"
        return f"{seg.name}: {seg.title} ({seg.subject} segment, {how})"

    @classmethod
    def render_text(cls, result: CompileResult) -> str:
        lines = [cls.heading(result)]
        out = result.output
        if not result.native:
            lines.append("  Pendo's segment builder cannot express it:")
            lines += [f"  - {why}" for why in out["why"]]
            return "\n".join(lines) + "\n"
        rows = [[str(r["group"]), *(r[k] for k in RECIPE_COLUMNS[1:])] for r in out["recipe"]]
        header = [RECIPE_HEADERS[k] for k in RECIPE_COLUMNS]
        widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=False)]
        for row in [header, *rows]:
            cells = (cell.ljust(w) for cell, w in zip(row, widths, strict=True))
            lines.append("  " + "  ".join(cells).rstrip())
        lines += [f"  * {note}" for note in recipe_notes(out["recipe"])]
        return "\n".join(lines) + "\n"

    @classmethod
    def render_markdown(cls, result: CompileResult) -> str:
        seg, out = result.segment, result.output
        lines = [f"## {seg.name}: {seg.title}", ""]
        if seg.description:
            lines += [seg.description, ""]
        if not result.native:
            lines += ["Synced as a visitor list: Pendo's segment builder cannot express it.", ""]
            lines += [f"- {md_cell(why)}" for why in out["why"]]
            return "\n".join(lines) + "\n"
        lines += [f"{seg.subject.capitalize()} segment. {RECIPE_HOWTO}", ""]
        lines.append("| " + " | ".join(RECIPE_HEADERS[k] for k in RECIPE_COLUMNS) + " |")
        lines.append("|" + "---|" * len(RECIPE_COLUMNS))
        for r in out["recipe"]:
            cells = [str(r["group"]), *(md_cell(r[k]) for k in RECIPE_COLUMNS[1:])]
            lines.append("| " + " | ".join(cells) + " |")
        notes = recipe_notes(out["recipe"])
        lines += ["", *(f"- {md_cell(note)}" for note in notes)] if notes else []
        return "\n".join(lines) + "\n"

    @classmethod
    def render_rich(cls, result: CompileResult) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        out = result.output
        if not result.native:
            parts: list[Any] = [Text(cls.heading(result), style="bold")]
            parts += [Text(f"  - {why}") for why in out["why"]]
            return Group(*parts, Text(""))
        table = Table(title=Text(cls.heading(result)), title_justify="left", title_style="bold")
        for key in RECIPE_COLUMNS:
            table.add_column(RECIPE_HEADERS[key], overflow="fold")
        for r in out["recipe"]:
            table.add_row(str(r["group"]), *(Text(str(r[k])) for k in RECIPE_COLUMNS[1:]))
        notes = recipe_notes(out["recipe"])
        if notes:
            table.caption = Text("\n".join(f"* {n}" for n in notes))
            table.caption_justify = "left"
        return table

    # -- groups ----------------------------------------------------------------
    def all_node(self, node: AllOf, path: str) -> Groups | None:
        parts = [self.generate(child, p) for child, p in child_paths(path, "all", node.all)]
        if any(p is None for p in parts):
            return None
        return [group for part in parts if part is not None for group in part]

    def any_node(self, node: AnyOf, path: str) -> Groups | None:
        rows: list[Row] = []
        ok = True
        for child, p in child_paths(path, "any", node.any):
            nested = NESTED_IN_ANY.get(type(child))
            if nested:
                self.unsupported(nested, p, REASONS[nested])
            part = self.generate(child, p)
            if nested or part is None:
                ok = False
            elif len(part) != 1:
                self.unsupported("'is not' inside any", p, REASONS["'is not' inside any"])
                ok = False
            else:
                rows.extend(part[0])
        return [rows] if ok else None

    def not_node(self, node: NotOf, path: str) -> None:
        self.unsupported("not", path, REASONS["not"])
        self.generate(node.not_, f"{path}.not")  # report what is inside, too
        return None

    def segment_node(self, node: SegmentRef, path: str) -> Groups:
        if not self.is_native(node.segment):
            self.unsupported(
                "reference to non-native segment",
                path,
                REASONS["reference to non-native segment"].format(name=node.segment),
            )
        return [[{**SEGMENT_RULE, "segmentName": node.segment, "segmentId": None}]]

    def is_native(self, name: str) -> bool:
        """Whether segment ``name`` compiles to native rules (cached per generator)."""
        if name not in self._native:
            sub = PendoGenerator(self.defs, as_of=self.as_of, **self.options)
            self._native[name] = sub.compile(self.defs.get(name)).native
        return self._native[name]

    # -- leaves ----------------------------------------------------------------
    def metric_node(self, node: MetricCondition, path: str) -> Groups:
        rule = METRIC_RULES[node.metric]
        op, value = node.op, node.value
        windowed = node.metric in WINDOWED_METRICS
        if windowed and op in PRESENCE_OPS:
            # A count is never unknown: "exists" always holds, "not_exists" never.
            op, value = (">=", 0) if op == "exists" else ("<", 0)
        row: Row = {
            "name": rule.label,
            "kind": rule.kind or self.segment.subject,
            "schema": rule.schema,
        }
        if rule.group:
            row.update(group=rule.group, field=rule.field)
        if rule.fact:
            row["fact"] = rule.fact
        if node.feature:
            row["featureId"] = node.feature
        row["operator"] = OPERATORS[op]
        if value is not None:
            row["value"] = value
        if windowed:
            row.update(
                time=WINDOW_KEYS["time"],
                count=self.segment.window_of(node),
                granularity=WINDOW_KEYS["granularity"],
            )
        elif op not in PRESENCE_OPS:
            row.update(DAYS_AGO_KEYS)
        if node.metric in NULLABLE_METRICS and op == "!=":
            return [[row], [exists_row(row)]]
        return [[row]]

    def field_node(self, node: FieldCondition, path: str) -> Groups | None:
        f = pendo_field(self.segment.subject, node)
        op = node.op
        if op == "anniversary_within":
            self.unsupported("anniversary_within", path, REASONS["anniversary_within"])
            return None
        if f.schema == "string" and op in ("<", "<=", ">", ">="):
            self.unsupported("text comparison", path, REASONS["text comparison"].format(op=op))
            return None
        base: Row = {"name": node.field, "kind": f.kind, "schema": f.schema}
        if f.group:
            base["group"] = f.group
        base["field"] = f.field

        def row(operator: str, value: Any = None) -> Row:
            out = {**base, "operator": OPERATORS[operator]}
            if value is not None:
                out["value"] = value
            return out

        values = node.value if isinstance(node.value, list) else [node.value]
        if op == "in":
            return [[row("=", v) for v in values]]
        if op in ("!=", "not_in"):
            return [*([row("!=", v)] for v in values), [row("exists")]]
        return [[row(op, node.value)]]


def exists_row(row: Row) -> Row:
    """The 'has a value' companion of a time/metadata row."""
    keep = ("name", "kind", "schema", "group", "field")
    return {**{k: row[k] for k in keep if k in row}, "operator": OPERATORS["exists"]}


def row_text(row: Row, names: Mapping[str, str] | None = None) -> str:
    """One builder row as a line a CS ops person reads, in the builder's words."""
    if row["kind"] == "segment":
        return f"in segment {row['segmentName']}"
    cells = recipe_row(row)
    name = row["name"]
    if row["kind"] == "feature":
        name = f"{name} on {feature_label(row['featureId'], names)}"
    if row.get("time") == DAYS_AGO_KEYS["time"]:
        return f"{name} {cells['operator']} {cells['value']}"
    value = row.get("value")
    shown_value = (
        ""
        if value is None
        else " "
        + (json.dumps(value, ensure_ascii=False) if isinstance(value, str | bool) else str(value))
    )
    text = f"{name} {cells['operator']}{shown_value}"
    if row.get("time") == WINDOW_KEYS["time"]:
        text += f"{UNITS.get(row['name'], '')} {cells['window']}"
    return text


def summary(groups: Groups, names: Mapping[str, str] | None = None) -> str:
    """The whole rule in words: groups joined by AND, rows in a group by OR."""
    parts = []
    for group in groups:
        texts = [row_text(r, names) for r in group]
        parts.append(texts[0] if len(texts) == 1 else "(" + " OR ".join(texts) + ")")
    return " AND ".join(parts)


# -- recipes: the builder rows in words --------------------------------------------
#: Recipe row keys (JSON) in column order, and their column headers.
RECIPE_COLUMNS = ("group", "join", "source", "field", "operator", "value", "window")
RECIPE_HEADERS = {
    "group": "#",
    "join": "join",
    "source": "source",
    "field": "field",
    "operator": "operator",
    "value": "value",
    "window": "time window",
}
RECIPE_HOWTO = (
    "In Pendo: Segments > Create segment, add one rule per row; rows joined by OR go "
    "in one rule group, AND starts the next group."
)
#: Builder operator -> words, per Pendo schema of the field: "at least" / "at most" as
#: the builder words them ("Seen at least 10 times"), not ">=" / "<=".
OPERATOR_WORDS: dict[str, dict[str, str]] = {
    "number": {
        "==": "equals",
        "!=": "does not equal",
        "<": "less than",
        "<=": "at most",
        ">": "greater than",
        ">=": "at least",
    },
    "string": {"==": "is", "!=": "is not", "contains": "contains"},
    "boolean": {"==": "is", "!=": "is not"},
    # a date value on a time field
    "time": {
        "==": "is on",
        "!=": "is not on",
        "<": "is before",
        "<=": "is on or before",
        ">": "is after",
        ">=": "is on or after",
    },
    # "days since" a time field: "Last visit | is more than | 30 days ago"
    "daysAgo": {
        "==": "is exactly",
        "!=": "is not exactly",
        "<": "is less than",
        "<=": "is at most",
        ">": "is more than",
        ">=": "is at least",
    },
    "any": {"exists": "exists", "!exists": "does not exist", "in": "is in"},
}
SOURCES = {"visitor": "Visitor", "account": "Account", "feature": "Feature", "segment": "Segment"}
#: The time window of a windowed row ("First Visit within last 1 Day" in Pendo's help).
WINDOW_WORDS = "within the last {count} days"

# -- what a person must know about a row ---------------------------------------------
#: Pendo support 360031862532 ("Segments"): "use the Everyone permission under
#: Visibility ... This also allows your segment to be used in nested segments."
SHARED_NOTE = (
    "segment '{name}' must be shared with Everyone in Pendo (Visibility: Everyone) "
    "to be used in another segment"
)
#: Pendo Adopt 4405329323547 ("Segments"): "Guide targeting rules using Feature Clicks
#: are limited to clicked or not clicked ...: clicked options include: ever, within last,
#: since, at least, and at most. not clicked options include: ever, within last, and
#: since." The builder operators that are one of those, per kind of row. Pendo's
#: support article 32271753394203 ("Segment rules") says some other rules "aren't
#: eligible for guide targeting due to processing limitations"; its list is not in the
#: public sources we have, so no other row is marked.
GUIDE_TARGETING_OPERATORS: dict[str, frozenset[str]] = {"feature": frozenset({">=", "<="})}
GUIDE_TARGETING_NOTE = (
    "not available for guide targeting: Pendo offers Feature clicks there only as "
    "clicked at least / at most (or ever / since / within the last) or not clicked"
)


def guide_targeting_note(row: Row) -> str:
    """Why Pendo does not offer this row for guide targeting ("" when it may)."""
    allowed = GUIDE_TARGETING_OPERATORS.get(str(row.get("kind")))
    if allowed is None or row.get("operator") in allowed:
        return ""
    return GUIDE_TARGETING_NOTE


def row_note(row: Row) -> str:
    """What a person must know about one builder row ("" when nothing)."""
    if row.get("kind") == "segment":
        return SHARED_NOTE.format(name=row.get("segmentName"))
    return guide_targeting_note(row)


def recipe(groups: Groups, names: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """The builder rows in words, in order, numbered by AND group."""
    rows = []
    for g, group in enumerate(groups, start=1):
        for i, row in enumerate(group):
            join = "" if g == 1 and i == 0 else ("OR" if i else "AND")
            cells = recipe_row(row, names)
            rows.append({"group": g, "join": join, **cells, "note": row_note(row)})
    return rows


def feature_label(feature_id: str, names: Mapping[str, str] | None = None) -> str:
    """A feature as the builder lists it (its name), with the id: ``Core events (core_events)``.

    Without a catalogue the id alone (as written, unresolved: ``compile`` warns)."""
    name = (names or {}).get(feature_id)
    return f"{name} ({feature_id})" if name and name != feature_id else str(feature_id)


def recipe_row(row: Row, names: Mapping[str, str] | None = None) -> dict[str, str]:
    """source, field, operator, value, window of one builder row."""
    op = row["operator"]
    kind = row["kind"]
    if kind == "segment":
        return _cells("Segment", "Segment", OPERATOR_WORDS["any"]["in"], row["segmentName"], "")
    source = SOURCES.get(kind, str(kind))
    if kind == "feature":
        source = f"Feature {feature_label(row['featureId'], names)}"
    field = row["name"]
    unit = UNITS.get(field, "").strip()
    if row.get("fact") and unit:
        field = f"{field} ({unit})"
    elif row.get("group") and not row.get("fact") and row.get("time") is None:
        field = f"{row['field']} ({row['group']} metadata)"
    value = row.get("value")
    if op in OPERATOR_WORDS["any"]:
        return _cells(source, field, OPERATOR_WORDS["any"][op], "", "")
    if row.get("time") == DAYS_AGO_KEYS["time"]:
        ago = OPERATOR_WORDS["daysAgo"][op]
        return _cells(source, field, ago, f"{shown(value)} days ago", "")
    schema = row.get("schema", "string")
    table = OPERATOR_WORDS.get(schema, OPERATOR_WORDS["number"])
    # e.g. "contains" on a number field: the text wording
    words = table.get(op) or OPERATOR_WORDS["string"].get(op) or op
    windowed = row.get("time") == WINDOW_KEYS["time"]
    window = WINDOW_WORDS.format(count=row["count"]) if windowed else ""
    return _cells(source, field, words, shown(value), window)


def recipe_notes(rows: list[dict[str, Any]]) -> list[str]:
    """The rows' notes as lines under a recipe table ("row 3: ...")."""
    return [f"row {n}: {r['note']}" for n, r in enumerate(rows, start=1) if r.get("note")]


def _cells(source: str, field: str, operator: str, value: str, window: str) -> dict[str, str]:
    return {
        "source": source,
        "field": field,
        "operator": operator,
        "value": value,
        "window": window,
    }


def shown(value: Any) -> str:
    """A value as a person types it into the builder."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def md_cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
