"""Exports of account scores for other systems (Salesforce)."""

from __future__ import annotations

from pendo_segments.export.salesforce import SalesforceExport, salesforce_export

__all__ = ["SalesforceExport", "salesforce_export"]
