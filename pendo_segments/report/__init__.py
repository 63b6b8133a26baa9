"""The CS manager's report: one self-contained HTML dashboard plus a page per P1 account."""

from __future__ import annotations

from pendo_segments.report.build import ReportOptions, WrittenReport, build_report, collect

__all__ = ["ReportOptions", "WrittenReport", "build_report", "collect"]
