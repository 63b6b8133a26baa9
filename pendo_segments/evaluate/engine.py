"""Evaluate segment rule trees on a data set, vectorised per subject.

Metrics are computed once per (subject, metric, window, feature) and shared
by every segment; a rule tree becomes boolean numpy operations over all
subjects at once. Segments are evaluated in dependency order so references
read an already computed membership.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pendo_segments.definitions.features import FeatureCatalogue
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
from pendo_segments.errors import EvaluationError
from pendo_segments.evaluate.fields import COMPARE, field_mask, resolve_column
from pendo_segments.evaluate.metrics import Metrics
from pendo_segments.semantics.catalogue import CATALOGUE

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset

MEMBERSHIP_COLUMNS = ["segment", "subject", "subject_id"]


def resolve_as_of(ds: Dataset, as_of: dt.date | None, defs: DefinitionSet | None = None) -> dt.date:
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

    def membership_batches(self, names: Sequence[str] | None = None) -> Iterator[Any]:
        """docs/semantics.md §4 membership as Arrow tables, one per segment, in order.

        Ids are sorted by Arrow (UTF-8 byte order, which is code point order,
        as Python sorts them), so millions of members never become Python
        strings on their way to the output.
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        for name in sorted(names or self.masks):
            seg = self.segments[name]
            ids = pa.array(self.members(name), type=pa.string(), from_pandas=True)
            ids = ids.take(pc.sort_indices(ids))
            yield pa.table(
                {
                    "segment": pa.repeat(name, len(ids)).cast(pa.string()),
                    "subject": pa.repeat(seg.subject, len(ids)).cast(pa.string()),
                    "subject_id": ids,
                }
            )

    def membership(self, names: Sequence[str] | None = None) -> pd.DataFrame:
        """docs/semantics.md §4: ``segment,subject,subject_id`` sorted by segment, subject_id."""
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

    def __init__(self, ds: Dataset, as_of: dt.date, defs: DefinitionSet | None = None) -> None:
        self.ds = ds.fields_at(as_of)  # account / visitor fields of D−1 (history files)
        self.as_of = as_of
        self.defs = defs
        self.metrics = Metrics(self.ds, as_of)
        self.masks: dict[str, np.ndarray] = {}
        self._features = FeatureCatalogue.from_frame(ds.features)
        if defs is not None:  # feature names → ids, each unknown one at its line
            defs.use_features(self._features, EvaluationError, check=())

    # -- segments ------------------------------------------------------------
    def segment_mask(self, seg: Segment) -> np.ndarray:
        if seg.name not in self.masks:
            # who exists at the as-of day (docs/semantics.md §2b): the rest are in no segment
            subjects = self.metrics.subjects(seg.subject)
            self.masks[seg.name] = self.node(seg.rule, seg, "rule") & subjects
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
        feature = check_feature(cond, seg, path, self._features, self.defs)
        window = seg.window_of(cond) if CATALOGUE[cond.metric].windowed else None
        return self.metrics.metric(seg.subject, cond.metric, window, feature)

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


def check_feature(
    cond: MetricCondition,
    seg: Segment,
    path: str,
    features: FeatureCatalogue,
    defs: DefinitionSet | None = None,
) -> str | None:
    """The id of a ``feature_clicks`` condition's feature (written as an id or a name).

    Definitions are resolved before evaluation (``DefinitionSet.use_features``);
    this also serves segments taken from a set before it was resolved.
    """
    if cond.feature is None:
        return None
    found = features.id_of(cond.feature)
    if cond.metric == "feature_clicks" and found is None:
        key = (seg.name, str(cond.feature))
        where = (
            defs.feature_lines[key]
            if defs is not None and key in defs.feature_lines
            else f"{seg.source}: {seg.name}: {path}"
        )
        raise EvaluationError(f"{where}: {features.problem(str(cond.feature))}")
    return found


def check_segments(
    # A Dataset, or any object with its reference frames (the DuckDB engine checks
    # definitions before it reads the usage files).
    defs: DefinitionSet,
    ds: Any,
    names: Sequence[str] | None,
    as_of: dt.date,
) -> None:
    """Raise what the pandas engine would for unknown features and bad field conditions.

    Other engines run this first on the (small) accounts / visitors / features
    frames, so a definition error reads the same whichever engine runs.
    """
    features = FeatureCatalogue.from_frame(ds.features)
    wanted = [s.name for s in defs.select(names)]  # names → ids for every engine after this
    defs.use_features(features, EvaluationError, check=wanted)

    def walk(node: Any, seg: Segment, path: str) -> None:
        if isinstance(node, AllOf):
            for i, child in enumerate(node.all):
                walk(child, seg, f"{path}.all[{i}]")
        elif isinstance(node, AnyOf):
            for i, child in enumerate(node.any):
                walk(child, seg, f"{path}.any[{i}]")
        elif isinstance(node, NotOf):
            walk(node.not_, seg, f"{path}.not")
        elif isinstance(node, MetricCondition):
            check_feature(node, seg, path, features, defs)
        elif isinstance(node, FieldCondition):
            where = f"{seg.source}: {seg.name}: {path}"
            on_account = seg.subject == "account" or node.on_account
            frame, table = (ds.accounts, "accounts") if on_account else (ds.visitors, "visitors")
            column = resolve_column(frame, node.column, table, where)
            field_mask(node, column.reset_index(drop=True), as_of, where)
        elif isinstance(node, SegmentRef) and node.segment not in defs:
            raise EvaluationError(f"{seg.name}: references unknown segment '{node.segment}'")

    for seg in defs.closure([s.name for s in defs.select(names)]):
        walk(seg.rule, seg, "rule")


def evaluate(
    defs: DefinitionSet,
    ds: Dataset,
    *,
    as_of: dt.date | None = None,
    names: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Evaluation:
    """Evaluate the named segments (all by default) and what they reference."""
    day = resolve_as_of(ds, as_of, defs)
    ev = Evaluator(ds, day, defs)
    from pendo_segments.evaluate.as_of import check_subjects

    check_subjects(ev.metrics)  # a day where nobody exists yet (§2b): one line, not empty output
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
