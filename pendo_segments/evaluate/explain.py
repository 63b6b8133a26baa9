"""Why is (or isn't) one subject in a segment?

Re-uses the vectorised evaluator and reads one subject's position out of
each node's result, so the explanation can never disagree with
``evaluate``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pendo_segments.base.rendered import Rendered
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
from pendo_segments.definitions.yaml_lines import suggest
from pendo_segments.errors import EvaluationError
from pendo_segments.evaluate.engine import Evaluator, resolve_as_of
from pendo_segments.evaluate.metrics import EPOCH, NAT_DAY

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset

EXPLAIN_COLUMNS = ["depth", "path", "condition", "value", "op", "threshold", "result"]


@dataclass
class ExplainRow:
    depth: int
    path: str
    condition: str
    value: Any
    op: str
    threshold: Any
    passed: bool

    def as_row(self) -> list[Any]:
        return [
            self.depth,
            self.path,
            self.condition,
            self.value,
            self.op,
            self.threshold,
            "pass" if self.passed else "fail",
        ]


@dataclass
class Explanation:
    segment: Segment
    subject_id: str
    as_of: dt.date
    member: bool
    rows: list[ExplainRow] = field(default_factory=list)
    #: why the subject does not exist at the as-of day (docs/semantics.md §2b)
    absent: str | None = None

    @property
    def summary(self) -> str:
        verdict = "IS" if self.member else "is NOT"
        stamped = (
            f" (stamped with {', '.join(f'{k}={v}' for k, v in self.segment.params.items())})"
            if self.segment.params
            else ""
        )
        absent = f" ({self.absent})" if self.absent else ""
        return (
            f"{self.segment.subject} {self.subject_id} {verdict} in {self.segment.name}"
            f"{stamped} as of {self.as_of.isoformat()}{absent}"
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``explain --format json``."""
        return {
            "segment": self.segment.name,
            "subject": self.segment.subject,
            "subject_id": self.subject_id,
            "as_of": self.as_of.isoformat(),
            "member": self.member,
            "params": self.segment.params,
            "conditions": [dict(zip(EXPLAIN_COLUMNS, r.as_row(), strict=True)) for r in self.rows],
        }

    def render(self, fmt: str) -> Rendered:
        """JSON document, an indented table with the verdict as title, or EXPLAIN_COLUMNS rows."""
        if fmt == "json":
            return Rendered(payload=self.to_dict())
        if fmt == "table":
            rows = [
                ("  " * r.depth + r.condition, r.value, r.op, r.threshold, _mark(r.passed))
                for r in self.rows
            ]
            columns = ["condition", "value", "op", "threshold", "result"]
            return Rendered(columns, rows, title=self.summary)
        return Rendered(EXPLAIN_COLUMNS, [r.as_row() for r in self.rows])


def _mark(passed: bool) -> str:
    return "✔ pass" if passed else "✘ fail"


def _display(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return None
        return int(value) if float(value).is_integer() else round(float(value), 2)
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10]
    if value != value:  # pandas NA / NaT
        return None
    return value.item() if hasattr(value, "item") else value


def explain(
    defs: DefinitionSet, ds: Dataset, name: str, subject_id: str, *, as_of: dt.date | None = None
) -> Explanation:
    seg = defs.get(name)
    return _explain(defs, ds, seg, subject_id, resolve_as_of(ds, as_of, defs))


def explain_spark(
    defs: DefinitionSet, data: Any, name: str, subject_id: str, *, as_of: dt.date | None = None
) -> Explanation:
    """``explain --engine spark``: Spark reads and checks the data and picks the subject's rows.

    The counts of a subject depend only on its account's rows (see
    ``spark_data.subject_rows``), so the evaluator explains from those rows
    exactly what it would from the whole data set; the as-of default and the
    "nothing active" warning come from Spark's pass over all of it.
    """
    from pendo_segments.data.loaders import dataset_from_frames
    from pendo_segments.evaluate.as_of import warn_if_nothing_active
    from pendo_segments.evaluate.spark_data import keep_text, subject_rows

    seg = defs.get(name)
    if as_of is None:
        day = data.default_as_of()
    else:
        day = as_of
        span = [d for d in (data.stats.get("earliest"), data.stats.get("latest")) if d]
        usage = pd.DataFrame({"date": pd.to_datetime(span)})  # the first and last usage day
        warn_if_nothing_active(SimpleNamespace(usage_daily=usage), day, defs)
    data.at(day)  # the fields of D−1 (history files, docs/semantics.md §2b)
    tables = subject_rows(data, seg.subject, str(subject_id))
    ds = dataset_from_frames(tables, source=data.source, warn=lambda _m: None)
    keep_text(data, ds, tables)
    return _explain(defs, ds, seg, subject_id, day)


def _explain(
    defs: DefinitionSet, ds: Dataset, seg: Segment, subject_id: str, day: dt.date
) -> Explanation:
    ev = Evaluator(ds, day, defs)
    ids = ev.metrics.ids(seg.subject)
    pos = ids.get_indexer([str(subject_id)])[0]
    if pos < 0:
        _wrong_subject(ev, seg, str(subject_id))
        raise EvaluationError(
            f"no {seg.subject} '{subject_id}' in the data{suggest(str(subject_id), ids[:50_000])}"
        )
    out = Explanation(seg, str(subject_id), day, bool(ev.segment_mask(seg)[pos]))
    out.absent = ev.metrics.absent_reason(seg.subject, pos)
    _walk(ev, seg, seg.rule, "rule", 0, pos, out.rows)
    return out


def _wrong_subject(ev: Evaluator, seg: Segment, subject_id: str) -> None:
    """An account id given to a visitor segment (or the reverse) says so in one line."""
    other = "visitor" if seg.subject == "account" else "account"
    pos = ev.metrics.ids(other).get_indexer([subject_id])[0]
    if pos < 0:
        return
    accounts = ev.metrics.ids("account")
    if other == "visitor":
        account = ev.metrics.v2a[pos]
        hint = f"; its account is '{accounts[account]}'" if account >= 0 else ""
    else:
        visitors = ev.metrics.ids("visitor")[ev.metrics.v2a == pos]
        hint = f"; one of its visitors is '{visitors[0]}'" if len(visitors) else ""
    raise EvaluationError(
        f"'{subject_id}' is {_article(other)} {other} id but segment {seg.name} lists "
        f"{seg.subject}s: give {_article(seg.subject)} {seg.subject} id{hint}"
    )


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _walk(
    ev: Evaluator, seg: Segment, node: Any, path: str, depth: int, pos: int, rows: list[ExplainRow]
) -> None:
    passed = bool(ev.node(node, seg, path)[pos])
    if isinstance(node, AllOf | AnyOf):
        kids = node.all if isinstance(node, AllOf) else node.any
        label = "all of" if isinstance(node, AllOf) else "any of"
        rows.append(ExplainRow(depth, path, label, None, "", None, passed))
        key = "all" if isinstance(node, AllOf) else "any"
        for i, child in enumerate(kids):
            _walk(ev, seg, child, f"{path}.{key}[{i}]", depth + 1, pos, rows)
    elif isinstance(node, NotOf):
        rows.append(ExplainRow(depth, path, "not", None, "", None, passed))
        _walk(ev, seg, node.not_, f"{path}.not", depth + 1, pos, rows)
    elif isinstance(node, MetricCondition):
        values = ev.metric_values(node, seg, path)
        label = node.metric
        if node.feature:
            label += f"[{node.feature}]"
        if node.metric not in ("days_since_last_visit", "days_since_first_visit"):
            label += f" (last {seg.window_of(node)} days)"
        else:
            label += _visit_note(ev, seg, node.metric, pos)
        rows.append(
            ExplainRow(
                depth, path, label, _display(values[pos]), node.op, _display(node.value), passed
            )
        )
    elif isinstance(node, FieldCondition):
        series = ev.field_values(node, seg, path)
        rows.append(
            ExplainRow(
                depth, path, node.field, _display(series.iloc[pos]), node.op, node.value, passed
            )
        )
    elif isinstance(node, SegmentRef):
        other = ev.defs.get(node.segment)  # type: ignore[union-attr]
        other_pos = pos
        label = f"in segment {node.segment}"
        if other.subject != seg.subject:
            other_pos = int(ev.metrics.v2a[pos])
            label += " (the visitor's account)"
        rows.append(ExplainRow(depth, path, label, None, "", None, passed))
        if other_pos >= 0:
            _walk(ev, other, other.rule, f"{node.segment}.rule", depth + 1, other_pos, rows)


def _visit_note(ev: Evaluator, seg: Segment, metric: str, pos: int) -> str:
    """`` (last visit 2026-10-01)``: the day a ``days_since_*`` count is measured from.

    It may come from usage or from ``visitors.last_visit`` / ``first_visit``
    (docs/semantics.md §2); showing the day says which.
    """
    which = "last" if metric == "days_since_last_visit" else "first"
    day = int(ev.metrics.visit_day(seg.subject, which)[pos])
    if day == NAT_DAY:
        return f" (no {which} visit known)"
    return f" ({which} visit {(EPOCH + dt.timedelta(days=day)).isoformat()})"
