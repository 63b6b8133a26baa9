"""Compile segment definitions to Pendo rules, Aggregation pipelines and SQL."""

from __future__ import annotations

from pendo_segments.compile.base import CompileResult, Generator, Unsupported, compile_segments

__all__ = ["CompileResult", "Generator", "Unsupported", "compile_segments"]
