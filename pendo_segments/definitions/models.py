"""Pydantic models of the rule language (docs/semantics.md §3, §6).

The models only declare shape; line-aware validation lives in ``loader.py``
and the targets live in ``pendo_segments.compile``. The same models produce
the JSON Schema shipped for editors.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, PrivateAttr, Tag, model_validator

METRICS: tuple[str, ...] = (
    "active_days",
    "minutes",
    "events",
    "feature_clicks",
    "days_since_last_visit",
    "days_since_first_visit",
)
#: Metrics counted over a window; the two ``days_since_*`` look at all history.
WINDOWED_METRICS: frozenset[str] = frozenset({"active_days", "minutes", "events", "feature_clicks"})
#: Metrics that can be unknown (null): a subject that was never active.
NULLABLE_METRICS: frozenset[str] = frozenset({"days_since_last_visit", "days_since_first_visit"})

COMPARISON_OPS: tuple[str, ...] = ("=", "!=", "<", "<=", ">", ">=")
PRESENCE_OPS: tuple[str, ...] = ("exists", "not_exists")
FIELD_OPS: tuple[str, ...] = (
    *COMPARISON_OPS,
    "in",
    "not_in",
    *PRESENCE_OPS,
    "contains",
    "anniversary_within",
)
METRIC_OPS: tuple[str, ...] = (*COMPARISON_OPS, *PRESENCE_OPS)

#: Columns docs/semantics.md §1 names per subject; other fields are custom columns.
STANDARD_FIELDS: dict[str, tuple[str, ...]] = {
    "account": (
        "account_id",
        "arr",
        "plan",
        "name",
        "contract_start",
        "renewal_date",
        "qbr_date",
        "csm_owner",
        "seats",
        "self_service",
        "crm_id",
        "domain",
    ),
    "visitor": ("visitor_id", "account_id", "email", "language", "first_visit", "name"),
}

Subject = Literal["account", "visitor"]
CompareOp = Literal["=", "!=", "<", "<=", ">", ">=", "exists", "not_exists"]
FieldOp = Literal[
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "in",
    "not_in",
    "exists",
    "not_exists",
    "contains",
    "anniversary_within",
]
Scalar = Union[bool, int, float, str]  # noqa: UP007 - pydantic schema order matters

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
FIELD_PATTERN = r"^(account\.)?[A-Za-z_][A-Za-z0-9_]*$"


_SCIENTIFIC = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def finite(value: Any) -> Any:
    """Refuse ``1e400`` / ``.nan`` / ``.inf``: no target can express them (JSON has no Infinity).

    YAML 1.1 reads ``1e400`` (no dot) as text, so such text counts as the number.
    """
    items = value if isinstance(value, list) else [value]
    for item in items:
        number = float(item) if isinstance(item, str) and _SCIENTIFIC.match(item) else item
        if isinstance(number, float) and not math.isfinite(number):
            raise ValueError(f"value must be a finite number, not {item}")
    return value


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)
    kind: ClassVar[str]


class MetricCondition(_Node):
    """A behavioural condition: a usage metric compared over a window."""

    kind: ClassVar[str] = "metric"
    metric: Literal[
        "active_days",
        "minutes",
        "events",
        "feature_clicks",
        "days_since_last_visit",
        "days_since_first_visit",
    ]
    op: CompareOp
    value: float | int | None = None
    window_days: int | None = Field(default=None, ge=1, le=3650)
    feature: str | None = Field(
        default=None,
        description="feature_clicks only: a feature id, or its exact name in the feature "
        "catalogue (features.csv); an id wins over another feature's name.",
    )

    @model_validator(mode="after")
    def _check(self) -> MetricCondition:
        finite(self.value)
        if self.op in PRESENCE_OPS:
            if self.value is not None:
                raise ValueError(f"op '{self.op}' takes no value")
        elif self.value is None:
            raise ValueError(f"op '{self.op}' needs a numeric value")
        elif isinstance(self.value, bool):
            raise ValueError("value must be a number, not true/false")
        if self.metric == "feature_clicks" and not self.feature:
            raise ValueError("metric 'feature_clicks' needs 'feature: FEATURE' (an id or a name)")
        if self.metric != "feature_clicks" and self.feature is not None:
            raise ValueError(
                f"'feature' only goes with metric 'feature_clicks', not '{self.metric}'"
            )
        if self.metric in NULLABLE_METRICS and self.window_days is not None:
            raise ValueError(f"metric '{self.metric}' looks at all history; drop 'window_days'")
        return self


class FieldCondition(_Node):
    """An attribute condition on the subject's own (or its account's) columns."""

    kind: ClassVar[str] = "field"
    field: str = Field(pattern=FIELD_PATTERN)
    op: FieldOp
    value: Scalar | list[Scalar] | None = None

    @model_validator(mode="after")
    def _check(self) -> FieldCondition:
        op, value = self.op, self.value
        finite(value)
        if op in PRESENCE_OPS:
            if value is not None:
                raise ValueError(f"op '{op}' takes no value")
        elif op in ("in", "not_in"):
            if not isinstance(value, list) or not value:
                raise ValueError(f"op '{op}' needs a non-empty list as value")
        elif value is None:
            raise ValueError(f"op '{op}' needs a value")
        elif isinstance(value, list):
            raise ValueError(f"op '{op}' takes one value, not a list (use 'in')")
        if op == "anniversary_within" and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise ValueError("op 'anniversary_within' needs a whole number of days ≥ 1")
        if op == "contains" and not isinstance(value, str):
            raise ValueError("op 'contains' needs a text value")
        if op in ("<", "<=", ">", ">=") and isinstance(value, bool):
            raise ValueError(f"op '{op}' cannot compare with true/false")
        return self

    @property
    def on_account(self) -> bool:
        return self.field.startswith("account.")

    @property
    def column(self) -> str:
        return self.field.removeprefix("account.")


class SegmentRef(_Node):
    """Membership of another segment."""

    kind: ClassVar[str] = "segment"
    segment: str = Field(pattern=NAME_PATTERN)


class HealthCondition(_Node):
    """The account's health score or one component (0–100, compared at 1 decimal)."""

    kind: ClassVar[str] = "health"
    health: str
    op: CompareOp
    value: float | None = None

    @model_validator(mode="after")
    def _check(self) -> HealthCondition:
        finite(self.value)
        return self


class PreviousCondition(_Node):
    """A value of the previous health run (``--previous FILE``): score or a component."""

    kind: ClassVar[str] = "previous"
    previous: str
    op: CompareOp
    value: float | None = None

    @model_validator(mode="after")
    def _check(self) -> PreviousCondition:
        finite(self.value)
        return self


class SignalCondition(_Node):
    """A raw health signal (``days_since_last_login``…); true/false ones take no op."""

    kind: ClassVar[str] = "signal"
    signal: str
    op: CompareOp | None = None
    value: float | None = None

    @model_validator(mode="after")
    def _check(self) -> SignalCondition:
        finite(self.value)
        return self


class TierCondition(_Node):
    """The account's assigned tier is one of these (alerts only)."""

    kind: ClassVar[str] = "tier"
    tier: str | list[str] = Field(min_length=1)

    @property
    def names(self) -> list[str]:
        return [self.tier] if isinstance(self.tier, str) else list(self.tier)


class AllOf(_Node):
    kind: ClassVar[str] = "all"
    all: list[Rule] = Field(min_length=1)


class AnyOf(_Node):
    kind: ClassVar[str] = "any"
    any: list[Rule] = Field(min_length=1)


class NotOf(_Node):
    kind: ClassVar[str] = "not"
    not_: Rule = Field(alias="not")


GROUP_KEYS: tuple[str, ...] = ("all", "any", "not")
#: Leaf kinds by their key. Segments use metric / field / segment; the account rules
#: of tiers.yaml and alerts.yaml add the health leaves (the loader says which are allowed).
LEAF_MODELS: dict[str, type[_Node]] = {
    "metric": MetricCondition,
    "field": FieldCondition,
    "segment": SegmentRef,
    "health": HealthCondition,
    "signal": SignalCondition,
    "previous": PreviousCondition,
    "tier": TierCondition,
}
RULE_KEYS: dict[str, str] = {k: k for k in (*LEAF_MODELS, *GROUP_KEYS)}


def rule_kind(node: Any) -> str | None:
    """Which kind of rule a raw mapping (or model) is, from its keys."""
    if isinstance(node, _Node):
        return node.kind
    if isinstance(node, dict):
        found = [RULE_KEYS[k] for k in node if k in RULE_KEYS]
        if len(found) == 1:
            return found[0]
    return None


Rule = Annotated[
    Annotated[MetricCondition, Tag("metric")]
    | Annotated[FieldCondition, Tag("field")]
    | Annotated[SegmentRef, Tag("segment")]
    | Annotated[HealthCondition, Tag("health")]
    | Annotated[SignalCondition, Tag("signal")]
    | Annotated[PreviousCondition, Tag("previous")]
    | Annotated[TierCondition, Tag("tier")]
    | Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[NotOf, Tag("not")],
    Discriminator(rule_kind),
]

AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()


#: the tag that marks a churn-risk rule: the report's backtest table lists these segments
RISK_TAG = "risk"
TITLE_JA = (
    "The title in Japanese, shown by the Japanese report (report --locale ja) instead of the name."
)
TAGS = (
    "Free-form labels. The tag 'risk' marks a churn-risk rule: the report's "
    "backtest table ('would the at-risk rules have caught the churners?') lists "
    "the account segments tagged with it (report --risk-tag picks another tag)."
)


class Segment(BaseModel):
    """One segment, after ``for_each`` stamping."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    title: str = Field(min_length=1)
    title_ja: str | None = Field(default=None, min_length=1, description=TITLE_JA)
    description: str = ""
    subject: Subject
    window_days: int = Field(default=30, ge=1, le=3650)
    rule: Rule
    tags: list[str] = Field(default_factory=list, description=TAGS)
    #: The values a ``for_each`` template was stamped with, e.g. {"feature": "core_events"}.
    params: dict[str, str] = Field(default_factory=dict)

    _source_file: str = PrivateAttr(default="")
    _source_line: int = PrivateAttr(default=0)

    @property
    def source(self) -> str:
        """``FILE:LINE`` where this segment is defined."""
        return f"{self._source_file}:{self._source_line}" if self._source_file else "<memory>"

    def with_source(self, file: str, line: int) -> Segment:
        self._source_file, self._source_line = file, line
        return self

    def window_of(self, cond: MetricCondition) -> int:
        return cond.window_days or self.window_days


class SegmentFile(BaseModel):
    """Schema of a definition file: one segment, or a list under ``segments:``.

    ``for_each`` (e.g. ``{feature: [core_events, data_explorer]}``) stamps one
    segment per value; ``{feature}`` in name, title, description and rule
    strings is replaced. As a list of rows (``[{slug: core_events, feature:
    Core events}]``) it stamps one segment per row with the row's parameters.
    """

    model_config = ConfigDict(extra="forbid", title="pendo-segments definition file")

    name: str | None = Field(default=None, pattern=r"^[a-z{][a-z0-9_{}]*$")
    title: str | None = None
    title_ja: str | None = Field(default=None, description=TITLE_JA)
    description: str | None = None
    subject: Subject | None = None
    window_days: int | None = Field(default=None, ge=1, le=3650)
    rule: Rule | None = None
    tags: list[str] | None = Field(default=None, description=TAGS)
    for_each: dict[str, list[str]] | list[dict[str, str]] | None = Field(
        default=None,
        description="One segment per value ({feature: [a, b]}) or per row "
        "([{slug: core_events, feature: Core events}]); {param} in the name and "
        "texts is replaced. feature: takes a feature id or its exact name.",
    )
    segments: list[dict[str, Any]] | None = Field(
        default=None,
        description="Several segments in one file; each item has the keys above.",
    )


def walk(rule: Any) -> list[Any]:
    """All nodes of a rule tree, depth first, parents before children."""
    out = [rule]
    if isinstance(rule, AllOf):
        for r in rule.all:
            out.extend(walk(r))
    elif isinstance(rule, AnyOf):
        for r in rule.any:
            out.extend(walk(r))
    elif isinstance(rule, NotOf):
        out.extend(walk(rule.not_))
    return out


def children(rule: Any) -> list[Any]:
    if isinstance(rule, AllOf):
        return list(rule.all)
    if isinstance(rule, AnyOf):
        return list(rule.any)
    if isinstance(rule, NotOf):
        return [rule.not_]
    return []
