"""SQL target: one query per segment returning ``subject_id`` (DuckDB dialect).

Tables and columns are those of the data folder (docs/semantics.md §1):
``accounts``, ``visitors``, ``usage_daily``, ``feature_usage``. The as-of day
comes from a ``params`` CTE: a literal when ``as_of`` is given, otherwise the
day after the latest ``usage_daily.date`` — the same default as the pandas
engine. Semantics match ``pendo_segments.evaluate`` exactly:

* a window of N days is ``as_of − N ≤ date ≤ as_of − 1``;
* a visitor is active on a day with ``events > 0 OR minutes > 0``; accounts
  roll up their visitors through ``visitors.account_id``;
* subjects without usage count 0 (``COALESCE(metric, 0)``) and their
  ``days_since_*`` stay NULL (unless ``visitors.last_visit`` / ``first_visit``
  say otherwise: options ``has_last_visit`` / ``has_first_visit`` tell the
  generator whether those optional columns exist);
* generated names (CTEs) never collide: feature ids carry a hash suffix;
* every leaf is wrapped in ``COALESCE(…, FALSE)`` so a comparison with NULL is
  false and ``NOT`` above it is true.

Other dialects go through sqlglot (``dialect=`` option).
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Any, ClassVar

from pendo_segments.compile.base import CompileResult, Generator
from pendo_segments.definitions.models import (
    AllOf,
    AnyOf,
    FieldCondition,
    MetricCondition,
    NotOf,
    Segment,
    SegmentRef,
)

SUBJECT_TABLE = {"account": ("accounts", "account_id"), "visitor": ("visitors", "visitor_id")}
ACTIVE = "(u.events > 0 OR u.minutes > 0)"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(float(value)) if isinstance(value, float) else str(value)
    return "'" + str(value).replace("'", "''") + "'"


def compare(value: str, op: str, threshold: Any) -> str:
    """A metric leaf: unknown (NULL) compares false; ``exists`` tests for a known value."""
    if op == "exists":
        return f"({value} IS NOT NULL)"
    if op == "not_exists":
        return f"({value} IS NULL)"
    return f"COALESCE({value} {op} {literal(threshold)}, FALSE)"


class SQLGenerator(Generator):
    """One query per segment returning ``subject_id`` (DuckDB, or any sqlglot dialect)."""

    target: ClassVar[str] = "sql"
    extension: ClassVar[str] = ".sql"
    language: ClassVar[str] = "sql"
    title: ClassVar[str] = "SQL queries"
    notes: ClassVar[str] = (
        "one SQL query per segment over the data folder's tables (DuckDB, or --dialect)"
    )
    order: ClassVar[int] = 30

    @classmethod
    def file_text(cls, result: CompileResult) -> str:
        return str(result.output).rstrip("\n") + "\n"

    def segment_output(self, segment: Segment) -> str:
        sql = self.query(segment)
        dialect = self.options.get("dialect", "duckdb")
        if dialect != "duckdb" or self.options.get("pretty"):
            import sqlglot

            sql = sqlglot.transpile(sql, read="duckdb", write=writer_for(dialect), pretty=True)[0]
        return sql

    # -- query assembly ----------------------------------------------------
    def query(self, segment: Segment) -> str:
        """The raw DuckDB query for ``segment`` (references become subqueries)."""
        outer_ctes, outer_joins = getattr(self, "_ctes", None), getattr(self, "_joins", None)
        outer_seg = self._segment
        self._segment = segment
        self._ctes: dict[str, str] = {}
        self._joins: list[str] = []
        try:
            where = self.generate(segment.rule, "rule")
            table, key = SUBJECT_TABLE[segment.subject]
            ctes = [f"params AS ({self._params()})", *self._ctes.values()]
            joins = "".join(f"\n{j}" for j in self._joins)
            return (
                f"WITH {', '.join(ctes)}\n"
                f"SELECT s.{key} AS subject_id\nFROM {table} AS s CROSS JOIN params AS p"
                f"{joins}\nWHERE {where}\nORDER BY 1"
            )
        finally:
            self._ctes, self._joins, self._segment = outer_ctes, outer_joins, outer_seg  # type: ignore[assignment]

    def _params(self) -> str:
        if self.as_of is not None:
            return f"SELECT DATE '{self.as_of.isoformat()}' AS as_of"
        return "SELECT CAST(MAX(date) AS DATE) + 1 AS as_of FROM usage_daily"

    def _add_metric(self, name: str, body: str) -> str:
        """Register a metric CTE (``subject_id, value``) and its LEFT JOIN; return alias."""
        if name not in self._ctes:
            self._ctes[name] = f"{name} AS ({body})"
            self._joins.append(
                f"LEFT JOIN {name} ON {name}.subject_id = s."
                f"{SUBJECT_TABLE[self.segment.subject][1]}"
            )
        return name

    # -- nodes ---------------------------------------------------------------
    def all_node(self, node: AllOf, path: str) -> str:
        parts = [self.generate(c, f"{path}.all[{i}]") for i, c in enumerate(node.all)]
        return "(" + " AND ".join(parts) + ")"

    def any_node(self, node: AnyOf, path: str) -> str:
        parts = [self.generate(c, f"{path}.any[{i}]") for i, c in enumerate(node.any)]
        return "(" + " OR ".join(parts) + ")"

    def not_node(self, node: NotOf, path: str) -> str:
        return f"(NOT {self.generate(node.not_, f'{path}.not')})"

    def metric_node(self, cond: MetricCondition, path: str) -> str:
        seg = self.segment
        group = "u.visitor_id" if seg.subject == "visitor" else "v.account_id"
        join_v = (
            ""
            if seg.subject == "visitor"
            else (" JOIN visitors AS v ON v.visitor_id = u.visitor_id")
        )
        if cond.metric in ("days_since_last_visit", "days_since_first_visit"):
            value = self._days_since(cond.metric)
        else:
            window = seg.window_of(cond)
            table = "feature_usage" if cond.metric == "feature_clicks" else "usage_daily"
            where = [f"u.date >= p.as_of - {window}", "u.date < p.as_of"]
            if cond.metric == "active_days":
                agg, where = "COUNT(DISTINCT CAST(u.date AS DATE))", [*where, ACTIVE]
                name = f"active_days_{window}"
            elif cond.metric == "feature_clicks":
                agg = "SUM(u.clicks)"
                where.append(f"u.feature_id = {literal(cond.feature)}")
                name = f"clicks_{ident_slug(str(cond.feature))}_{window}"
            else:
                agg, name = f"SUM(u.{cond.metric})", f"{cond.metric}_{window}"
            alias = self._add_metric(
                name,
                f"SELECT {group} AS subject_id, {agg} AS value FROM {table} AS u"
                f"{join_v} CROSS JOIN params AS p WHERE {' AND '.join(where)} GROUP BY 1",
            )
            value = f"COALESCE({alias}.value, 0)"
        return compare(value, cond.op, cond.value)

    def _days_since(self, metric: str) -> str:
        seg = self.segment
        if metric == "days_since_last_visit":
            per_visitor = (
                "SELECT u.visitor_id, MAX(CAST(u.date AS DATE)) AS day FROM usage_daily"
                f" AS u CROSS JOIN params AS p WHERE u.date < p.as_of AND {ACTIVE}"
                " GROUP BY 1"
            )
            if self.options.get("has_last_visit", False):
                # visitors.last_visit (Pendo's lastvisit) counts when before the as-of day;
                # ids keep their own type: a cast here fails the joins below in PostgreSQL
                # and BigQuery when visitor_id is a number (text = bigint)
                per_visitor = (
                    f"SELECT x.visitor_id, MAX(x.day) AS day FROM ({per_visitor} UNION ALL "
                    "SELECT v.visitor_id, CAST(v.last_visit AS DATE) FROM visitors AS v "
                    "CROSS JOIN params AS p WHERE CAST(v.last_visit AS DATE) < p.as_of) AS x "
                    "GROUP BY 1"
                )
            roll = "MAX"
            name = "last_visit"
        else:
            per_visitor = (
                "SELECT v.visitor_id, COALESCE(CAST(v.first_visit AS DATE), MIN(CAST(u.date AS "
                "DATE))) AS day FROM visitors AS v CROSS JOIN params AS p LEFT JOIN usage_daily"
                f" AS u ON u.visitor_id = v.visitor_id AND u.date < p.as_of AND {ACTIVE}"
                " GROUP BY v.visitor_id, v.first_visit"
                if self.options.get("has_first_visit", True)
                else "SELECT u.visitor_id, MIN(CAST(u.date AS DATE)) AS day FROM usage_daily AS u"
                f" CROSS JOIN params AS p WHERE u.date < p.as_of AND {ACTIVE} GROUP BY 1"
            )
            roll = "MIN"
            name = "first_visit"
        if seg.subject == "visitor":
            body = f"SELECT x.visitor_id AS subject_id, x.day AS value FROM ({per_visitor}) AS x"
        else:
            body = (
                f"SELECT v.account_id AS subject_id, {roll}(x.day) AS value FROM "
                f"({per_visitor}) AS x JOIN visitors AS v ON v.visitor_id = x.visitor_id "
                "GROUP BY 1"
            )
        alias = self._add_metric(name, body)
        return f"date_diff('day', {alias}.value, p.as_of)"

    def field_node(self, cond: FieldCondition, path: str) -> str:
        if self.segment.subject == "visitor" and cond.on_account:
            if "LEFT JOIN accounts AS a ON a.account_id = s.account_id" not in self._joins:
                self._joins.append("LEFT JOIN accounts AS a ON a.account_id = s.account_id")
            col = f"a.{quote_ident(cond.column)}"
        else:
            col = f"s.{quote_ident(cond.column)}"
        op, value = cond.op, cond.value
        if op == "exists":
            return f"({col} IS NOT NULL)"
        if op == "not_exists":
            return f"({col} IS NULL)"
        if op in ("in", "not_in"):
            items = ", ".join(literal(v) for v in value)  # type: ignore[union-attr]
            expr = f"{col} {'IN' if op == 'in' else 'NOT IN'} ({items})"
        elif op == "contains":
            expr = f"contains(CAST({col} AS VARCHAR), {literal(value)})"
        elif op == "anniversary_within":
            expr = self._anniversary(col, int(value))  # type: ignore[arg-type]
        else:
            expr = f"{col} {op} {literal(value)}"
        return f"COALESCE({expr}, FALSE)"

    @staticmethod
    def _anniversary(col: str, days: int) -> str:
        """An anniversary (≥ 1 year) in ``as_of … as_of + days − 1``; 29 Feb → 28 Feb."""
        checks = []
        for k in range((days - 1) // 365 + 2):
            y = f"(year(p.as_of) + {k})"
            leap = f"(({y} % 4 = 0 AND {y} % 100 <> 0) OR {y} % 400 = 0)"
            day = (
                f"CASE WHEN month({col}) = 2 AND day({col}) = 29 AND NOT {leap} "
                f"THEN 28 ELSE day({col}) END"
            )
            ann = f"make_date({y}, month({col}), {day})"
            checks.append(f"(year({col}) < {y} AND {ann} BETWEEN p.as_of AND p.as_of + {days - 1})")
        return "(" + " OR ".join(checks) + ")"

    def segment_node(self, ref: SegmentRef, path: str) -> str:
        other = self.defs.get(ref.segment)
        name = f"seg_{ref.segment}"
        if name not in self._ctes:
            inner = self.query(other).replace("\n", "\n  ")
            self._ctes[name] = f"{name} AS (\n  {inner}\n)"
        key = SUBJECT_TABLE[self.segment.subject][1]
        if other.subject != self.segment.subject:
            key = "account_id"  # a visitor segment referencing an account segment
        return f"COALESCE(s.{key} IN (SELECT subject_id FROM {name}), FALSE)"


#: dialects where ``DATE ± integer`` shifts by whole days (written as is)
DAY_ARITHMETIC = frozenset({"duckdb", "spark", "spark2", "postgres", "oracle"})


@functools.cache
def writer_for(dialect: str) -> Any:
    """The sqlglot dialect to write: whole days added to a date become a date function.

    ``as_of - 30`` goes back 30 days in DuckDB, Spark, PostgreSQL and Oracle;
    BigQuery rejects it, Databricks SQL documents ``DATE - DATE`` and ``DATE -
    INTERVAL`` only and MySQL computes a number, so every other dialect gets
    sqlglot's spelling of a day shift: ``DATE_ADD(as_of, INTERVAL -30 DAY)``
    (BigQuery), ``DATEADD(DAY, -30, as_of)`` (Snowflake), ``DATE_ADD(as_of, -30)``
    (Databricks), …

    Spark-family writers also keep nested WITH clauses in place: sqlglot's
    Spark writer hoists them to the top, where the CTEs of a referenced segment
    collide with the outer ones (``params``: Spark 4 rejects
    DUPLICATED_CTE_NAMES); Spark 3+ runs nested CTEs.
    """
    nested = dialect in ("spark", "spark2", "databricks")
    shift = dialect not in DAY_ARITHMETIC
    if not nested and not shift:
        return dialect
    from sqlglot.dialects.dialect import Dialect

    base = type(Dialect.get_or_raise(dialect))

    class Writer(base):  # type: ignore[valid-type,misc]
        class Generator(base.Generator):  # type: ignore[name-defined]
            if nested:
                EXPRESSIONS_WITHOUT_NESTED_CTES: set[Any] = set()

            def generate(self, expression: Any, copy: bool = True) -> str:
                if shift:
                    tree = expression.copy() if copy else expression
                    expression = tree.transform(day_shift, nested, copy=False)
                return str(super().generate(expression, copy=False if shift else copy))

    Writer.__name__ = Writer.__qualname__ = (
        f"{base.__name__}DaysNested" if nested else f"{base.__name__}Days"
    )
    return Writer


def day_shift(node: Any, spark_family: bool = False) -> Any:
    """``DATE ± n`` (a whole number of days) as a date function adding ±n days.

    Databricks' ``DATEADD(DAY, n, d)`` returns a TIMESTAMP; ``DATE_ADD(d, n)`` a DATE.
    """
    from sqlglot import exp

    if isinstance(node, exp.Add | exp.Sub) and is_date(node.this) and is_whole(node.expression):
        days = int(node.expression.name) * (1 if isinstance(node, exp.Add) else -1)
        shift = exp.TsOrDsAdd if spark_family else exp.DateAdd
        return shift(this=node.this, expression=exp.Literal.number(days), unit=exp.var("DAY"))
    return node


def is_date(node: Any) -> bool:
    """A date this target writes: the ``as_of`` parameter or a cast to DATE."""
    from sqlglot import exp

    if isinstance(node, exp.Paren):
        return is_date(node.this)
    if isinstance(node, exp.Column):
        return node.name == "as_of"
    return isinstance(node, exp.Cast) and node.to.is_type(exp.DataType.Type.DATE)


def is_whole(node: Any) -> bool:
    from sqlglot import exp

    return isinstance(node, exp.Literal) and not node.is_string and node.name.isdigit()


def ident_slug(text: str) -> str:
    """A readable, collision-free identifier part for any text (a feature id).

    SQL folds unquoted identifiers to one case and we replace punctuation, so
    ``a-b``, ``a_b`` and ``A_B`` would share one CTE name; a short stable hash
    of the exact text keeps them apart.
    """
    readable = "".join(c if c.isascii() and c.isalnum() else "_" for c in text).lower()[:30]
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return f"{readable}_{digest}"


# -- many segments over shared metric tables ----------------------------------


@dataclass
class SharedSQL:
    """Many segments compiled together: metric tables first, then one query per segment.

    ``tables`` maps a table name to the ``SELECT`` that fills it (each holds
    ``subject_id`` and one column per metric, or ``subject_id, value`` for a
    visit day); an engine materialises them in order (DuckDB ``CREATE TEMP
    TABLE … AS``, Spark a cached temp view) and then runs ``queries``, whose
    metric CTEs only read those tables. Each usage file is scanned once per
    (subject, window) instead of once per metric and segment.
    """

    tables: dict[str, str]
    queries: dict[str, str]


class SharedMetricSQL(SQLGenerator):
    """:class:`SQLGenerator` whose metrics come from tables shared by all segments.

    Same semantics as the per-segment queries (docs/semantics.md §2): the
    windowed sums and distinct active days are the same aggregates over the
    same rows, grouped once per subject and window; visit days are the
    per-segment CTE bodies, computed once.
    """

    PREFIX: ClassVar[str] = "ps_metric_"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tables: dict[str, str] = {}  # name -> SELECT (visit days: fixed bodies)
        self._usage_cols: dict[tuple[str, int], set[str]] = {}
        self._click_features: dict[tuple[str, int], set[str]] = {}

    def compile_shared(self, segments: list[Segment]) -> SharedSQL:
        queries = {seg.name: self.compile(seg).output for seg in segments}
        tables = dict(self._tables)
        for (subject, window), metrics in sorted(self._usage_cols.items()):
            tables[self._usage_table(subject, window)] = self._usage_select(
                subject, window, metrics
            )
        for (subject, window), features in sorted(self._click_features.items()):
            tables[self._clicks_table(subject, window)] = self._clicks_select(
                subject, window, features
            )
        return SharedSQL(tables=tables, queries=queries)

    # -- overrides ----------------------------------------------------------
    def _add_metric(self, name: str, body: str) -> str:
        # a visit-day body of the parent: computed once, whatever segment asks
        table = f"{self.PREFIX}{self.segment.subject}_{name}"
        self._tables.setdefault(table, f"WITH params AS ({self._params()}) {body}")
        return super()._add_metric(name, f"SELECT subject_id, value FROM {table}")

    def metric_node(self, cond: MetricCondition, path: str) -> str:
        if cond.metric in ("days_since_last_visit", "days_since_first_visit"):
            return super().metric_node(cond, path)
        subject, window = self.segment.subject, self.segment.window_of(cond)
        if cond.metric == "feature_clicks":
            feature = str(cond.feature)
            self._click_features.setdefault((subject, window), set()).add(feature)
            name = f"clicks_{ident_slug(feature)}_{window}"
            body = (
                f"SELECT subject_id, clicks AS value FROM {self._clicks_table(subject, window)} "
                f"WHERE feature_id = {literal(feature)}"
            )
        else:
            self._usage_cols.setdefault((subject, window), set()).add(cond.metric)
            name = f"{cond.metric}_{window}"
            body = (
                f"SELECT subject_id, {cond.metric} AS value "
                f"FROM {self._usage_table(subject, window)}"
            )
        value = f"COALESCE({SQLGenerator._add_metric(self, name, body)}.value, 0)"
        return compare(value, cond.op, cond.value)

    # -- shared tables ---------------------------------------------------------
    def _usage_table(self, subject: str, window: int) -> str:
        return f"{self.PREFIX}{subject}_usage_{window}"

    def _clicks_table(self, subject: str, window: int) -> str:
        return f"{self.PREFIX}{subject}_clicks_{window}"

    def _scan(self, subject: str, table: str, window: int) -> str:
        group = "u.visitor_id" if subject == "visitor" else "v.account_id"
        join_v = (
            "" if subject == "visitor" else " JOIN visitors AS v ON v.visitor_id = u.visitor_id"
        )
        return (
            f"WITH params AS ({self._params()}) SELECT {group} AS subject_id, {{aggs}} "
            f"FROM {table} AS u{join_v} CROSS JOIN params AS p "
            f"WHERE u.date >= p.as_of - {window} AND u.date < p.as_of{{where}} GROUP BY {{group}}"
        )

    def _usage_select(self, subject: str, window: int, metrics: set[str]) -> str:
        aggs = {
            "active_days": f"COUNT(DISTINCT CAST(u.date AS DATE)) FILTER (WHERE {ACTIVE})",
            "minutes": "SUM(u.minutes)",
            "events": "SUM(u.events)",
        }
        parts = ", ".join(f"{aggs[m]} AS {m}" for m in sorted(metrics))
        return self._scan(subject, "usage_daily", window).format(aggs=parts, where="", group="1")

    def _clicks_select(self, subject: str, window: int, features: set[str]) -> str:
        wanted = ", ".join(literal(f) for f in sorted(features))
        return self._scan(subject, "feature_usage", window).format(
            aggs="u.feature_id AS feature_id, SUM(u.clicks) AS clicks",
            where=f" AND u.feature_id IN ({wanted})",
            group="1, 2",
        )
