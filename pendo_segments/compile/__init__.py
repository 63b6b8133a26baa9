"""Compile segment definitions to Pendo builder recipes, Aggregation pipelines and SQL."""

from __future__ import annotations

from pendo_segments.compile.base import (
    CompileResult,
    Generator,
    Unsupported,
    compile_segments,
    markdown_document,
    targets,
)

__all__ = [
    "CompileResult",
    "Generator",
    "Unsupported",
    "compile_segments",
    "markdown_document",
    "targets",
]
