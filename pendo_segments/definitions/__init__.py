"""Segment definitions: models, YAML loader with line numbers, JSON Schema."""

from __future__ import annotations

from pendo_segments.definitions.loader import DefinitionSet, load_definitions, references
from pendo_segments.definitions.models import (
    AllOf,
    AnyOf,
    FieldCondition,
    MetricCondition,
    NotOf,
    Segment,
    SegmentRef,
)

__all__ = [
    "AllOf",
    "AnyOf",
    "DefinitionSet",
    "FieldCondition",
    "MetricCondition",
    "NotOf",
    "Segment",
    "SegmentRef",
    "load_definitions",
    "references",
]
