"""Evaluate segment rule trees on a data set, vectorised per subject.

Metrics are computed once per (subject, metric, window, feature) and shared
by every segment; a rule tree becomes boolean numpy operations over all
subjects at once. Segments are evaluated in dependency order so references
read an already computed membership.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

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
from pendo_segments.evaluate.fields import COMPARE, field_mask, resolve_column
from pendo_segments.evaluate.metrics import Metrics

MEMBERSHIP_COLUMNS = ["segment", "subject", "subject_id"]


def resolve_as_of(ds: Any, as_of: dt.date | None, defs: DefinitionSet | None = None) -> dt.date:
    """The given day, else the day after the data; warns when a given day sees no usage."""
    if as_of is None:
        return ds.default_as_of()
    if defs is not None:
        from pendo_segments.evaluate.as_of import warn_if_nothing_active

        warn_if_nothing_active(ds, as_of, defs)
    return as_of


@dataclass
class Evaluation:
    """Memberships of many segments on one data set and as-of day."""

    as_of: dt.date
    metrics: Metrics
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    segments: dict[str, Segment] = field(default_factory=dict)

    def members(self, name: str) -> pd.Index:
        seg = self.segments[name]
        return self.metrics.ids(seg.subject)[self.masks[name]]

    def counts(self) -> dict[str, int]:
        return {name: int(mask.sum()) for name, mask in self.masks.items()}

    def membership(self, names: Sequence[str] | None = None) -> pd.DataFrame:
        """CONTRACT.md §4: ``segment,subject,subject_id`` sorted by segment, subject_id."""
        frames = []
        for name in sorted(names or self.masks):
            seg = self.segments[name]
            ids = np.sort(np.asarray(self.members(name), dtype=object))
            frames.append(
                pd.DataFrame({"segment": name, "subject": seg.subject, "subject_id": ids})
            )
        if not frames:
            return pd.DataFrame(columns=MEMBERSHIP_COLUMNS)
        return pd.concat(frames, ignore_index=True)[MEMBERSHIP_COLUMNS]


class Evaluator:
    """Evaluates rule nodes for one data set / as-of; also used by ``explain``."""

    def __init__(self, ds: Any, as_of: dt.date, defs: DefinitionSet | None = None) -> None:
        self.ds = ds
        self.as_of = as_of
        self.defs = defs
        self.metrics = Metrics(ds, as_of)
        self.masks: dict[str, np.ndarray] = {}
        self._feature_ids = {str(f) for f in ds.features["feature_id"]}
        self._frames: dict[str, pd.DataFrame] = {}

    # -- segments ------------------------------------------------------------
    def segment_mask(self, seg: Segment) -> np.ndarray:
        if seg.name not in self.masks:
            self.masks[seg.name] = self.node(seg.rule, seg, "rule")
        return self.masks[seg.name]

    def node(self, node: Any, seg: Segment, path: str) -> np.ndarray:
        if isinstance(node, AllOf):
            out = np.ones(self.metrics.size(seg.subject), dtype=bool)
            for i, child in enumerate(node.all):
                out &= self.node(child, seg, f"{path}.all[{i}]")
            return out
        if isinstance(node, AnyOf):
            out = np.zeros(self.metrics.size(seg.subject), dtype=bool)
            for i, child in enumerate(node.any):
                out |= self.node(child, seg, f"{path}.any[{i}]")
            return out
        if isinstance(node, NotOf):
            return ~self.node(node.not_, seg, f"{path}.not")
        if isinstance(node, MetricCondition):
            return self.metric_mask(node, seg, path)
        if isinstance(node, FieldCondition):
            return field_mask(
                node,
                self.field_values(node, seg, path),
                self.as_of,
                f"{seg.source}: {seg.name}: {path}",
            )
        if isinstance(node, SegmentRef):
            return self.reference_mask(node, seg)
        raise EvaluationError(f"{seg.name}: {path}: cannot evaluate {type(node).__name__}")

    # -- leaves --------------------------------------------------------------
    def metric_values(self, cond: MetricCondition, seg: Segment, path: str) -> np.ndarray:
        if cond.metric == "feature_clicks" and cond.feature not in self._feature_ids:
            raise EvaluationError(
                f"{seg.source}: {seg.name}: {path}: unknown feature '{cond.feature}' "
                f"(not in features){suggest(str(cond.feature), sorted(self._feature_ids))}"
            )
        window = (
            seg.window_of(cond)
            if cond.metric not in ("days_since_last_visit", "days_since_first_visit")
            else None
        )
        return self.metrics.metric(seg.subject, cond.metric, window, cond.feature)

    def metric_mask(self, cond: MetricCondition, seg: Segment, path: str) -> np.ndarray:
        values = self.metric_values(cond, seg, path)
        known = ~np.isnan(values)
        if cond.op == "exists":
            return known
        if cond.op == "not_exists":
            return ~known
        with np.errstate(invalid="ignore"):
            return COMPARE[cond.op](values, float(cond.value)) & known  # type: ignore[arg-type]

    def subject_frame(self, subject: str) -> pd.DataFrame:
        return self.ds.accounts if subject == "account" else self.ds.visitors

    def field_values(self, cond: FieldCondition, seg: Segment, path: str) -> pd.Series:
        """The condition's column aligned to the segment's subjects."""
        where = f"{seg.source}: {seg.name}: {path}"
        if seg.subject == "visitor" and cond.on_account:
            col = resolve_column(self.ds.accounts, cond.column, "accounts", where)
            v2a = self.metrics.v2a
            taken = col.take(np.where(v2a >= 0, v2a, 0)).reset_index(drop=True)
            return taken.where(pd.Series(v2a >= 0))
        table = "accounts" if seg.subject == "account" else "visitors"
        col = resolve_column(self.subject_frame(seg.subject), cond.column, table, where)
        return col.reset_index(drop=True)

    def reference_mask(self, ref: SegmentRef, seg: Segment) -> np.ndarray:
        if self.defs is None or ref.segment not in self.defs:
            raise EvaluationError(f"{seg.name}: references unknown segment '{ref.segment}'")
        other = self.defs.get(ref.segment)
        mask = self.segment_mask(other)
        if other.subject == seg.subject:
            return mask
        # A visitor segment referencing an account segment: the visitor's account is in it.
        v2a = self.metrics.v2a
        return np.where(v2a >= 0, mask[np.where(v2a >= 0, v2a, 0)], False)


def evaluate(
    defs: DefinitionSet,
    ds: Any,
    *,
    as_of: dt.date | None = None,
    names: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Evaluation:
    """Evaluate the named segments (all by default) and what they reference."""
    day = resolve_as_of(ds, as_of, defs)
    ev = Evaluator(ds, day, defs)
    wanted = [s.name for s in defs.select(names)]
    for seg in defs.closure(wanted):
        if progress:
            progress(seg.name)
        ev.segment_mask(seg)
    return Evaluation(
        as_of=day,
        metrics=ev.metrics,
        masks={n: ev.masks[n] for n in wanted},
        segments={n: defs.get(n) for n in wanted},
    )
