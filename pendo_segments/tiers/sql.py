"""The tier policy of docs/semantics.md §6 as one SQL query (DuckDB, Spark, … via sqlglot).

``tiers/assign.py`` is the reference. The query builds on the health CTEs of
``health/sql.py`` (score, components and raw signals per account) and the
compiled segment SQL (``compile/sql.py``) for the segments the rules name;
each rule's condition becomes a true/false column and ``CASE WHEN when_0
THEN 0 WHEN when_1 THEN 1 … END`` picks the first match (and its tier name),
next to the renewal-risk flag. The engine
returns one row per account; the reason texts (Python format specs such as
``{arr:,.0f}``), manual overrides, moves and the CSM capacity are then
applied in pandas exactly as for the pandas engine.

Leaves follow health/rules.py: health values are compared after rounding half
up to one decimal, an unknown value makes a comparison false, field values
are read in the column's type with the same one-line errors.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pendo_segments.compile.sql import (
    COMPARISONS,
    SQLGenerator,
    compare,
    false_if_null,
    field,
    literal,
)
from pendo_segments.definitions.loader import DefinitionSet
from pendo_segments.definitions.models import (
    FieldCondition,
    HealthCondition,
    Segment,
    SignalCondition,
)
from pendo_segments.definitions.yaml_lines import suggest
from pendo_segments.errors import DefinitionError, EvaluationError
from pendo_segments.evaluate.fields import coerce
from pendo_segments.health.config import HealthConfig
from pendo_segments.health.rules import (
    BOOL_SIGNALS,
    HEALTH_NAMES,
    SIGNALS,
    AccountRule,
    Facts,
    check_segments,
    segment_names,
)
from pendo_segments.health.sql import Tables, health_ctes, health_result, to_dialect, with_ctes
from pendo_segments.semantics.rules import col, date, num, table, with_params
from pendo_segments.semantics.score import round1_sql
from pendo_segments.tiers.assign import TierResult, finish_tiers, render_reasons
from pendo_segments.tiers.policy import Rule, TierPolicy

if TYPE_CHECKING:
    from sqlglot import exp
else:
    from pendo_segments.semantics.lazy import exp

#: column kinds of the accounts table (as evaluate/fields.py names them)
Kinds = dict[str, str]
_ACCOUNT_RULE = {"field": "account_id", "op": "exists"}  # any valid account rule


def _compare(value: exp.Expr, op: str | None, threshold: float | None) -> exp.Expr:
    """A health or signal leaf (a numeric signal always has an op)."""
    assert op is not None
    return compare(value, op, float(threshold or 0))


class PolicySQL(SQLGenerator):
    """Tier conditions as SQL over ``accounts AS s`` and ``health AS h``.

    Segment references and field leaves are the SQL target's own (nested
    segment queries, ``COALESCE(…, FALSE)``); health and signal leaves read
    the health CTE.
    """

    def __init__(self, defs: DefinitionSet, kinds: Kinds, risk: exp.Expr, **options: Any) -> None:
        super().__init__(defs, **options)
        self.kinds = kinds
        self.risk = risk  # the renewal-risk flag (a true/false signal)
        # conditions here are about accounts: the SQL target's account-subject SQL
        self.policy_segment = Segment.model_validate(
            {"name": "tiers", "title": "tier policy", "subject": "account", "rule": _ACCOUNT_RULE}
        )
        self._segment = self.policy_segment
        self._ctes: dict[str, exp.Select] = {}
        self._joins: dict[str, exp.Join] = {}
        self.rule: AccountRule | None = None

    def condition(self, rule: AccountRule) -> exp.Expr:
        self.rule = rule
        return self.generate(rule.rule, "when")

    def where(self, node: Any) -> str:
        assert self.rule is not None
        return self.rule.where_of(node)

    def field_node(self, cond: FieldCondition, path: str) -> exp.Expr:
        """The SQL target's field SQL, with the value read in the column's type first."""
        if self._segment is not self.policy_segment:  # inside a referenced segment
            return super().field_node(cond, path)
        where = self.where(cond)
        if cond.column not in self.kinds:
            raise EvaluationError(
                f"{where}: no column '{cond.column}' in accounts{suggest(cond.column, self.kinds)}"
            )
        kind, op = self.kinds[cond.column], cond.op
        if op in ("exists", "not_exists", "contains"):
            return super().field_node(cond, path)
        if op == "anniversary_within" and kind != "date":
            raise EvaluationError(
                f"{where}: 'anniversary_within' needs a date column, '{cond.column}' is {kind}"
            )
        if op == "anniversary_within":
            return super().field_node(cond, path)
        values = cond.value if isinstance(cond.value, list) else [cond.value]
        typed = [_sql_value(coerce(v, kind, where)) for v in values]
        if kind == "bool" and op not in ("=", "!=", "in", "not_in"):
            raise EvaluationError(f"{where}: op '{op}' cannot order true/false values")
        column: exp.Expr = field(cond.column, "s")
        if kind == "date":
            column = date(column)
        test: exp.Expr
        if op in ("in", "not_in"):
            test = exp.In(this=column, expressions=[_date_or_literal(v, kind) for v in typed])
            return false_if_null(test if op == "in" else exp.Not(this=test))
        test = getattr(exp, COMPARISONS[op])(
            this=column, expression=_date_or_literal(typed[0], kind)
        )
        return false_if_null(test)

    def health_node(self, cond: HealthCondition, path: str) -> exp.Expr:
        column = col("health_score" if cond.health == "score" else cond.health, "h")
        if cond.op in ("exists", "not_exists"):
            return _compare(column, cond.op, None)
        return _compare(round1_sql(column), cond.op, cond.value)

    def signal_node(self, cond: SignalCondition, path: str) -> exp.Expr:
        if cond.signal in BOOL_SIGNALS:
            return self.risk.copy()
        return _compare(col(f"sig_{cond.signal}", "h"), cond.op, cond.value)

    def unsupported_node(self, node: Any) -> exp.Expr:
        raise DefinitionError(f"{self.where(node)}: a '{node.kind}' condition cannot run in SQL")

    def generate(self, node: Any, path: str) -> Any:
        at_policy = self._segment is self.policy_segment
        if at_policy and (
            getattr(self, f"{node.kind}_node", None) is None or node.kind == "metric"
        ):
            return self.unsupported_node(node)
        return super().generate(node, path)


def _sql_value(value: Any) -> Any:
    if isinstance(value, np.datetime64):
        return dt.date.fromisoformat(str(value.astype("datetime64[D]")))
    return value


def _date_or_literal(value: Any, kind: str) -> exp.Expr:
    if kind == "date":
        return date(exp.Literal.string(value.isoformat()))
    return literal(value)


@dataclass(frozen=True)
class PolicyQuery:
    """The query and what its rows mean."""

    sql: str
    tables: Tables
    as_of: dt.date
    columns: tuple[str, ...]  # accounts columns returned for reasons and capacity


def policy_query(
    policy: TierPolicy,
    defs: DefinitionSet,
    config: HealthConfig,
    tables: Tables,
    as_of: dt.date,
    kinds: Kinds,
    *,
    has_first_visit: bool,
    dialect: str = "duckdb",
) -> PolicyQuery:
    """One row per account that exists at the as-of day (docs/semantics.md §2b): health
    columns, ``rule_index``, ``tier``, ``renewal_risk``.

    Each rule's own condition is computed once, as ``when_<i>`` (true/false,
    whether or not an earlier rule matched); the first true one decides.
    """
    conds = [r.when for r in policy.rules]
    check_segments(defs, segment_names(conds), conds)
    within, below = policy.renewal_risk.within_days, policy.renewal_risk.score_below
    days = col("sig_renewal_in_days", "h")
    risk = false_if_null(
        exp.and_(
            exp.GTE(this=days, expression=num(0)),
            exp.LTE(this=days.copy(), expression=num(int(within))),
            exp.LT(this=round1_sql(col("health_score", "h")), expression=num(float(below))),
            copy=False,
        )
    )
    gen = PolicySQL(
        defs,
        kinds,
        risk,
        as_of=as_of,
        has_first_visit=has_first_visit,
        has_last_visit=tables.last_visit,
        has_created=tables.created,  # who exists in the segments named (§2b)
        has_churn_date=tables.churn_date,
        row_account=tables.row_account,  # usage rows' own accounts (§1)
    )
    whens: list[exp.Expr] = []
    index: list[exp.If] = []
    tier: list[exp.If] = []
    columns: list[str] = ["arr"] if "arr" in kinds else []
    for i, rule in enumerate(policy.rules):
        if rule.when is not None:
            whens.append(exp.alias_(gen.condition(rule.when), f"when_{i}"))
            index.append(exp.If(this=col(f"when_{i}", "t"), true=num(i)))
            tier.append(exp.If(this=col(f"when_{i}", "t"), true=literal(rule.tier)))
        for name in _account_placeholders(rule, kinds):
            if name not in columns:
                columns.append(name)
    last = policy.rules[-1]  # has no condition: every account gets a tier
    picked = [exp.alias_(field(c, "s"), f"col_{c}", quoted=True) for c in columns]
    inner = exp.select(_all_of("h"), exp.alias_(risk, "renewal_risk"), *picked, *whens)
    on = exp.EQ(this=col("account_id", "h"), expression=col("account_id", "s"))
    # inner: ``health`` holds the accounts that exist at the as-of day (§2b) only
    inner = with_params(inner.from_(table("accounts", "s"))).join(
        table("health", "h"), on=on, join_type="inner", copy=False
    )
    outer = exp.select(
        _all_of("t"),
        exp.alias_(exp.Case(ifs=index, default=num(len(policy.rules) - 1)), "rule_index"),
        exp.alias_(exp.Case(ifs=tier, default=literal(last.tier)), "tier"),
    ).from_(inner.subquery("t", copy=False))
    outer = outer.order_by(exp.Ordered(this=col("account_id", "t"), nulls_first=False), copy=False)
    sql = with_ctes(outer, {**health_ctes(config, tables, as_of), **gen._ctes})
    return PolicyQuery(to_dialect(sql, dialect), tables, as_of, tuple(columns))


def _all_of(alias: str) -> exp.Column:
    """``alias.*``."""
    return exp.Column(this=exp.Star(), table=exp.to_identifier(alias))


def _account_placeholders(rule: Rule, kinds: Kinds) -> list[str]:
    """Accounts columns a reason names; an unknown name fails as in the pandas path."""
    out = []
    for name in rule.placeholders:
        if name in HEALTH_NAMES or name in SIGNALS:
            continue
        if name not in kinds:
            options = [*kinds, *HEALTH_NAMES, *SIGNALS]
            raise DefinitionError(
                f"{rule.where}.{rule.key_of(name)}: unknown placeholder '{{{name}}}'"
                f"{suggest(name, options)} (an accounts column, score, a "
                "component or a signal)"
            )
        out.append(name)
    return out


@dataclass
class _Accounts:
    """The accounts columns the reasons and the capacity table read (Facts.ds)."""

    accounts: pd.DataFrame


def tier_result(
    frame: pd.DataFrame,
    query: PolicyQuery,
    policy: TierPolicy,
    config: HealthConfig,
    overrides: pd.DataFrame | None,
) -> TierResult:
    """The engine's rows as a :class:`TierResult` (reasons, overrides as in pandas)."""
    health = health_result(frame, config, query.tables, query.as_of)
    accounts = pd.DataFrame({"account_id": np.asarray(health.account_ids, dtype=object)})
    for c in query.columns:
        accounts[c] = frame[f"col_{c}"].to_numpy()
    facts = Facts(
        ds=_Accounts(accounts),  # type: ignore[arg-type]
        health=health,
        renewal=(policy.renewal_risk.within_days, policy.renewal_risk.score_below),
    )
    # copies: overrides write into them (frames' arrays may be read-only views)
    rule_of = np.array(pd.to_numeric(frame["rule_index"]), dtype=np.int64)
    tier = np.array(frame["tier"], dtype=object)
    reason = np.empty(len(tier), dtype=object)
    for i, rule in enumerate(policy.rules):
        rows = np.flatnonzero(rule_of == i)
        if len(rows):
            reason[rows] = render_reasons(rule, facts, rows)
    risk = np.array(frame["renewal_risk"].fillna(False), dtype=bool)
    return finish_tiers(policy, facts, tier, reason, rule_of, risk, overrides)


def frame_kinds(accounts: pd.DataFrame) -> Kinds:
    from pendo_segments.evaluate.fields import column_kind

    return {str(c): column_kind(accounts[c]) for c in accounts.columns}
