"""SQL target: one query per segment returning ``subject_id`` (DuckDB dialect).

Tables and columns are those of the data folder (docs/semantics.md §1):
``accounts``, ``visitors``, ``usage_daily``, ``feature_usage``. The as-of day
comes from a ``params`` CTE: a literal when ``as_of`` is given, otherwise the
day after the latest ``usage_daily.date`` — the same default as the pandas
engine. The query is a sqlglot tree: each metric is a CTE from the metric
catalogue (:mod:`pendo_segments.semantics.catalogue`: the window, active-day,
visit-day and roll-up rules of docs/semantics.md §2, stated there once), and
this generator adds what is the target's own:

* subjects without usage count 0 (``COALESCE(metric, 0)``) and their
  ``days_since_*`` stay NULL (unless ``visitors.last_visit`` / ``first_visit``
  say otherwise: options ``has_last_visit`` / ``has_first_visit`` tell the
  generator whether those optional columns exist);
* generated names (CTEs) never collide: feature ids carry a hash suffix;
* every leaf is wrapped in ``COALESCE(…, FALSE)`` so a comparison with NULL is
  false and ``NOT`` above it is true.

The tree is written as DuckDB, or for any sqlglot dialect (``dialect=``).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

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
from pendo_segments.semantics import catalogue
from pendo_segments.semantics.rules import (
    Existence,
    as_of_sql,
    both,
    col,
    days_since_sql,
    earliest_active_sql,
    fn,
    num,
    params,
    table,
    with_params,
)

if TYPE_CHECKING:
    from sqlglot import exp
else:
    from pendo_segments.semantics.lazy import exp

SUBJECT_TABLE = {"account": ("accounts", "account_id"), "visitor": ("visitors", "visitor_id")}
COMPARISONS: dict[str, str] = {
    "=": "EQ",
    "!=": "NEQ",
    "<": "LT",
    "<=": "LTE",
    ">": "GT",
    ">=": "GTE",
}


def literal(value: Any) -> exp.Expr:
    """A constant as the target writes it (whole numbers bare, floats with a point)."""
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        return num(value if isinstance(value, float) else str(value))
    return exp.Literal.string(str(value))


def field(name: str, table_alias: str) -> exp.Column:
    """A column of the subject's own table: quoted, so any header name works."""
    return col(name, table_alias, quoted=True)


def known(value: exp.Expr, present: bool = True) -> exp.Expr:
    """``(value IS NOT NULL)`` or ``(value IS NULL)``."""
    test: exp.Expr = exp.Is(this=value, expression=exp.Null())
    return exp.paren(exp.Not(this=test) if present else test, copy=False)


def false_if_null(test: exp.Expr) -> exp.Expr:
    """``COALESCE(test, FALSE)``: a comparison with an unknown value is false."""
    return fn("COALESCE", test, exp.Boolean(this=False))


def compare(value: exp.Expr, op: str, threshold: Any) -> exp.Expr:
    """A leaf: unknown (NULL) compares false; ``exists`` tests for a known value."""
    if op in ("exists", "not_exists"):
        return known(value, op == "exists")
    comparison = getattr(exp, COMPARISONS[op])(this=value, expression=literal(threshold))
    return false_if_null(comparison)


def left_join(name: str, on: exp.Expr, alias: str | None = None) -> exp.Join:
    return exp.Join(this=table(name, alias) if alias else exp.to_table(name), side="LEFT", on=on)


def count_or_zero(cte: str) -> exp.Expr:
    """``COALESCE(cte.value, 0)``: a subject without rows counted nothing."""
    return fn("COALESCE", col("value", cte), num(0))


def render(tree: exp.Expr, dialect: str = "duckdb", pretty: bool = False) -> str:
    """DuckDB on one line, or pretty-printed for ``pretty`` / another ``dialect``."""
    if dialect != "duckdb" or pretty:
        return str(tree.sql(dialect=writer_for(dialect), pretty=True))
    return str(tree.sql(dialect="duckdb"))


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
        return self.render(self.query(segment))

    def render(self, tree: exp.Expr) -> str:
        return render(
            tree, self.options.get("dialect", "duckdb"), self.options.get("pretty", False)
        )

    # -- query assembly ----------------------------------------------------
    def query(self, segment: Segment) -> exp.Select:
        """The query for ``segment`` as a tree (references become nested queries)."""
        outer_ctes, outer_joins = getattr(self, "_ctes", None), getattr(self, "_joins", None)
        outer_seg = self._segment
        self._segment = segment
        self._ctes: dict[str, exp.Select] = {}
        self._joins: dict[str, exp.Join] = {}
        try:
            where = self.generate(segment.rule, "rule")
            name, exists = self._subjects(segment.subject)
            key = SUBJECT_TABLE[segment.subject][1]
            select = (
                exp.select(exp.alias_(col(key, "s"), "subject_id"))
                .from_(table(name, "s"))
                .join(table("params", "p"), join_type="cross")
            )
            for join in self._joins.values():
                select = select.join(join, copy=False)
            if exists != exp.true():  # accounts without created / churn dates: all exist
                where = both(where, exists)
            # DuckDB sorts NULLs last; written out so every dialect sorts the same way
            by_id = exp.Ordered(this=num(1), nulls_first=False)
            select = select.where(where, copy=False).order_by(by_id, copy=False)
            for cte, body in {"params": self._params(), **self._ctes}.items():
                select = select.with_(cte, as_=body, copy=False)
            return select
        finally:
            self._ctes, self._joins, self._segment = outer_ctes, outer_joins, outer_seg  # type: ignore[assignment]

    def _subjects(self, subject: str) -> tuple[str, exp.Expr]:
        """The table a segment's subjects come from (as ``s``), and who of them exists at
        the as-of day (docs/semantics.md §2b): the rest are in no segment."""
        return SUBJECT_TABLE[subject][0], self.existence.subject_sql(subject, "s")

    def _params(self) -> exp.Select:
        return params(self.as_of)

    @property
    def existence(self) -> Existence:
        """The optional columns the existence rule reads (options ``has_first_visit``,
        ``has_created``: accounts.created, ``has_churn_date``: an outcomes table with it)."""
        return Existence(
            has_first_visit=self.options.get("has_first_visit", True),
            has_created=self.options.get("has_created", False),
            has_churn_date=self.options.get("has_churn_date", False),
            # usage tables whose rows name their own account (§1): roll-ups use it
            row_account=tuple(self.options.get("row_account", ())),
        )

    def _add_metric(self, name: str, body: exp.Select) -> str:
        """Register a metric CTE (``subject_id, value``) and its LEFT JOIN; return its name."""
        if name not in self._ctes:
            self._ctes[name] = body
            key = SUBJECT_TABLE[self.segment.subject][1]
            on = exp.EQ(this=col("subject_id", name), expression=col(key, "s"))
            self._joins[name] = left_join(name, on)
        return name

    # -- nodes ---------------------------------------------------------------
    def all_node(self, node: AllOf, path: str) -> exp.Expr:
        parts = [self.generate(c, f"{path}.all[{i}]") for i, c in enumerate(node.all)]
        return exp.paren(exp.and_(*parts, copy=False), copy=False)

    def any_node(self, node: AnyOf, path: str) -> exp.Expr:
        parts = [self.generate(c, f"{path}.any[{i}]") for i, c in enumerate(node.any)]
        return exp.paren(exp.or_(*parts, copy=False), copy=False)

    def not_node(self, node: NotOf, path: str) -> exp.Expr:
        return exp.paren(exp.Not(this=self.generate(node.not_, f"{path}.not")), copy=False)

    def metric_node(self, cond: MetricCondition, path: str) -> exp.Expr:
        seg = self.segment
        if not catalogue.CATALOGUE[cond.metric].windowed:
            value = self._days_since(cond.metric)
        else:
            window = seg.window_of(cond)
            if cond.metric == "feature_clicks":
                name = f"clicks_{ident_slug(str(cond.feature))}_{window}"
            else:
                name = f"{cond.metric}_{window}"
            body = catalogue.metric_sql(
                cond.metric, seg.subject, window, cond.feature, self.existence
            )
            value = count_or_zero(self._add_metric(name, body))
        return compare(value, cond.op, cond.value)

    def _days_since(self, metric: str) -> exp.Expr:
        body = self._visit_day(metric, self.segment.subject)
        last = metric == "days_since_last_visit"
        name = self._add_metric("last_visit" if last else "first_visit", body)
        return days_since_sql(col("value", name))

    def _visit_day(self, metric: str, subject: str) -> exp.Select:
        """The visit-day table behind ``metric`` (``days_since_last_visit`` /
        ``…_first_visit``), reading the visitors' declared day where the data has it."""
        last = metric == "days_since_last_visit"
        declared = (
            self.options.get("has_last_visit", False)
            if last
            else self.options.get("has_first_visit", True)
        )
        return catalogue.visit_day_sql(metric, subject, declared, self.existence)

    def field_node(self, cond: FieldCondition, path: str) -> exp.Expr:
        if self.segment.subject == "visitor" and cond.on_account:
            on = exp.EQ(this=col("account_id", "a"), expression=col("account_id", "s"))
            self._joins.setdefault("a", left_join("accounts", on, alias="a"))
            column = field(cond.column, "a")
        else:
            column = field(cond.column, "s")
        op, value = cond.op, cond.value
        if op in ("exists", "not_exists"):
            return known(column, op == "exists")
        test: exp.Expr
        if op in ("in", "not_in"):
            items = [literal(v) for v in value]  # type: ignore[union-attr]
            test = exp.In(this=column, expressions=items)
            test = test if op == "in" else exp.Not(this=test)
        elif op == "contains":
            text = exp.cast(column, exp.DataType.build("VARCHAR", dialect="duckdb"))
            test = fn("contains", text, literal(value))
        elif op == "anniversary_within":
            test = anniversary(column, int(value))  # type: ignore[arg-type]
        else:
            test = getattr(exp, COMPARISONS[op])(this=column, expression=literal(value))
        return false_if_null(test)

    def segment_node(self, ref: SegmentRef, path: str) -> exp.Expr:
        other = self.defs.get(ref.segment)
        name = f"seg_{ref.segment}"
        if name not in self._ctes:
            self._ctes[name] = self.query(other)
        key = SUBJECT_TABLE[self.segment.subject][1]
        if other.subject != self.segment.subject:
            key = "account_id"  # a visitor segment referencing an account segment
        members = exp.select("subject_id").from_(name).subquery(copy=False)
        return false_if_null(exp.In(this=col(key, "s"), query=members))


def anniversary(column: exp.Expr, days: int) -> exp.Expr:
    """An anniversary (≥ 1 year) in ``as_of … as_of + days − 1``; 29 Feb → 28 Feb."""

    def year_plus(k: int) -> exp.Expr:  # (year(p.as_of) + k)
        return exp.paren(exp.Add(this=fn("year", as_of_sql()), expression=num(k)), copy=False)

    def divisible(y: exp.Expr, by: int, yes: bool = True) -> exp.Expr:
        kind = exp.EQ if yes else exp.NEQ
        return kind(this=exp.Mod(this=y, expression=num(by)), expression=num(0))

    checks = []
    for k in range((days - 1) // 365 + 2):
        leap = exp.paren(
            exp.or_(
                exp.paren(
                    exp.and_(divisible(year_plus(k), 4), divisible(year_plus(k), 100, False))
                ),
                divisible(year_plus(k), 400),
                copy=False,
            ),
            copy=False,
        )
        feb29 = exp.and_(
            exp.EQ(this=fn("month", column.copy()), expression=num(2)),
            exp.EQ(this=fn("day", column.copy()), expression=num(29)),
            exp.Not(this=leap),
            copy=False,
        )
        day = exp.Case(ifs=[exp.If(this=feb29, true=num(28))], default=fn("day", column.copy()))
        ann = fn("make_date", year_plus(k), fn("month", column.copy()), day)
        span = exp.Between(
            this=ann,
            low=as_of_sql(),
            high=exp.Add(this=as_of_sql(), expression=num(days - 1)),
        )
        older = exp.LT(this=fn("year", column.copy()), expression=year_plus(k))
        checks.append(exp.paren(exp.and_(older, span, copy=False), copy=False))
    return exp.paren(exp.or_(*checks, copy=False), copy=False)


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
    parts = dialect not in DATE_FROM_PARTS
    if not nested and not shift and not parts:
        return dialect
    from sqlglot.dialects.dialect import Dialect

    base = type(Dialect.get_or_raise(dialect))

    class Writer(base):  # type: ignore[valid-type,misc]
        class Generator(base.Generator):  # type: ignore[name-defined]
            if nested:
                EXPRESSIONS_WITHOUT_NESTED_CTES: set[Any] = set()

            def generate(self, expression: Any, copy: bool = True) -> str:
                if shift or parts:
                    tree = expression.copy() if copy else expression
                    if shift:
                        tree = tree.transform(day_shift, nested, copy=False)
                    if parts:
                        tree = tree.transform(date_from_parts, dialect, copy=False)
                    expression, copy = tree, False
                return str(super().generate(expression, copy=copy))

    Writer.__name__ = Writer.__qualname__ = (
        f"{base.__name__}DaysNested" if nested else f"{base.__name__}Days"
    )
    return Writer


#: dialects whose writer spells sqlglot's DateFromParts as a function the database has
DATE_FROM_PARTS = frozenset(
    {"duckdb", "spark", "spark2", "databricks", "snowflake", "bigquery", "tsql", "fabric"}
)


def date_from_parts(node: Any, dialect: str) -> Any:
    """``make_date(y, m, d)`` where the writer has no such function (the anniversary rule).

    sqlglot writes ``DATE_FROM_PARTS`` for PostgreSQL, MySQL, Oracle, Redshift,
    Trino …, which none of them has. PostgreSQL gets ``MAKE_DATE`` with integer
    arguments (its ``EXTRACT`` returns numeric, and ``make_date(numeric, …)``
    does not exist); the others parse a zero-padded ``YYYY-MM-DD`` text with
    their own date parser (sqlglot spells ``StrToDate`` per dialect).
    """
    from sqlglot import exp

    if not isinstance(node, exp.DateFromParts):
        return node
    ints = [
        exp.cast(part, "INT") for part in (node.args["year"], node.args["month"], node.args["day"])
    ]
    if dialect == "postgres":
        return exp.Anonymous(this="MAKE_DATE", expressions=ints)

    def padded(part: exp.Expr, width: int) -> exp.Expr:
        text = exp.cast(part, "VARCHAR")
        return exp.func("LPAD", text, exp.Literal.number(width), exp.Literal.string("0"))

    iso = exp.Concat(
        expressions=[
            padded(ints[0], 4),
            exp.Literal.string("-"),
            padded(ints[1], 2),
            exp.Literal.string("-"),
            padded(ints[2], 2),
        ]
    )
    return exp.StrToDate(this=iso, format=exp.Literal.string("%Y-%m-%d"))


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
    windowed sums and distinct active days are the catalogue's aggregates over
    the same rows, grouped once per subject and window (the active-day filter
    moves into ``FILTER (WHERE …)``); visit days are the per-segment CTE
    bodies, computed once.
    """

    PREFIX: ClassVar[str] = "ps_metric_"
    #: each visitor's earliest active day (docs/semantics.md §2b first seen)
    EARLIEST: ClassVar[str] = "ps_metric_first_active"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tables: dict[str, exp.Select] = {}  # name -> SELECT (visit days: fixed bodies)
        self._usage_cols: dict[tuple[str, int], set[str]] = {}
        self._click_features: dict[tuple[str, int], set[str]] = {}

    @property
    def existence(self) -> Existence:
        # first-seen days read from one shared table, not a correlated scan per query
        return dataclasses.replace(super().existence, earliest_table=self.EARLIEST)

    def share(
        self,
        subject: str,
        window: int,
        metrics: tuple[str, ...] = (),
        features: tuple[str, ...] = (),
    ) -> tuple[str, str]:
        """Also compute ``metrics`` / the clicks of ``features`` per (subject, window) in
        the shared tables (a backtest day's health reads them: one scan for both);
        returns the usage and clicks tables' names. Call before :meth:`compile_shared`."""
        if metrics:
            self._usage_cols.setdefault((subject, window), set()).update(metrics)
        if features:
            self._click_features.setdefault((subject, window), set()).update(features)
        return self._usage_table(subject, window), self._clicks_table(subject, window)

    def _subjects(self, subject: str) -> tuple[str, exp.Expr]:
        # option subject_tables: who exists is one shared table of the subjects' rows, read
        # by every segment, instead of a test (a join with the first-seen days) in each:
        # Spark joined 1M visitors again per visitor segment (benchmarks/RESULTS-spark.md)
        name, exists = super()._subjects(subject)
        if not self.options.get("subject_tables") or exists == exp.true():
            return name, exists
        rows = exp.Column(this=exp.Star(), table=exp.to_identifier("s"))
        body = with_params(exp.select(rows).from_(table(name, "s"))).where(exists)
        return self._share_table(subject, "subjects", body), exp.true()

    def share_last_visit(self) -> str:
        """The visitors' last-visit table (``subject_id, value``), shared as a segment's."""
        body = self._visit_day("days_since_last_visit", "visitor")
        return self._share_table("visitor", "last_visit", body)

    def compile_shared(self, segments: list[Segment]) -> SharedSQL:
        queries = {seg.name: self.compile(seg).output for seg in segments}
        tables = {self.EARLIEST: earliest_active_sql(), **self._tables}
        for (subject, window), metrics in sorted(self._usage_cols.items()):
            tables[self._usage_table(subject, window)] = self._usage_select(
                subject, window, metrics
            )
        for (subject, window), features in sorted(self._click_features.items()):
            tables[self._clicks_table(subject, window)] = self._clicks_select(
                subject, window, features
            )
        return SharedSQL(tables={k: self.render(v) for k, v in tables.items()}, queries=queries)

    # -- overrides ----------------------------------------------------------
    def _add_metric(self, name: str, body: exp.Select) -> str:
        # a visit-day body of the parent: computed once, whatever segment asks
        shared = self._share_table(self.segment.subject, name, body)
        return super()._add_metric(name, exp.select("subject_id", "value").from_(shared))

    def _share_table(self, subject: str, name: str, body: exp.Select) -> str:
        """The shared table ``name`` of ``subject`` (made from ``body`` the first time)."""
        shared = f"{self.PREFIX}{subject}_{name}"
        if shared not in self._tables:
            self._tables[shared] = body.with_("params", as_=self._params())
        return shared

    def metric_node(self, cond: MetricCondition, path: str) -> exp.Expr:
        if not catalogue.CATALOGUE[cond.metric].windowed:
            return super().metric_node(cond, path)
        subject, window = self.segment.subject, self.segment.window_of(cond)
        if cond.metric == "feature_clicks":
            feature = str(cond.feature)
            self._click_features.setdefault((subject, window), set()).add(feature)
            name = f"clicks_{ident_slug(feature)}_{window}"
            body = (
                exp.select("subject_id", exp.alias_("clicks", "value"))
                .from_(self._clicks_table(subject, window))
                .where(exp.EQ(this=col("feature_id"), expression=literal(feature)))
            )
        else:
            self._usage_cols.setdefault((subject, window), set()).add(cond.metric)
            name = f"{cond.metric}_{window}"
            body = exp.select("subject_id", exp.alias_(cond.metric, "value")).from_(
                self._usage_table(subject, window)
            )
        value = count_or_zero(SQLGenerator._add_metric(self, name, body))
        return compare(value, cond.op, cond.value)

    # -- shared tables ---------------------------------------------------------
    def _usage_table(self, subject: str, window: int) -> str:
        return f"{self.PREFIX}{subject}_usage_{window}"

    def _clicks_table(self, subject: str, window: int) -> str:
        return f"{self.PREFIX}{subject}_clicks_{window}"

    def _usage_select(self, subject: str, window: int, metrics: set[str]) -> exp.Select:
        aggs = [
            exp.alias_(catalogue.CATALOGUE[m].filtered_aggregate_sql(), m) for m in sorted(metrics)
        ]
        scan = catalogue.usage_scan(subject, "usage_daily", window, *aggs, exists=self.existence)
        return scan.group_by(num(1), copy=False).with_("params", as_=self._params(), copy=False)

    def _clicks_select(self, subject: str, window: int, features: set[str]) -> exp.Select:
        clicks = catalogue.CATALOGUE["feature_clicks"]
        wanted = exp.In(
            this=col("feature_id", "u"), expressions=[literal(f) for f in sorted(features)]
        )
        scan = catalogue.usage_scan(
            subject,
            "feature_usage",
            window,
            exp.alias_(col("feature_id", "u"), "feature_id"),
            exp.alias_(clicks.aggregate_sql(), "clicks"),
            where=wanted,
            exists=self.existence,
        )
        return scan.group_by(num(1), num(2), copy=False).with_(
            "params", as_=self._params(), copy=False
        )
