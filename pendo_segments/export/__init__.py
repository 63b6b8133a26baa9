"""Exports of account scores for other systems (Salesforce)."""

from __future__ import annotations

from pendo_segments.export.salesforce import (
    SalesforceExport,
    export_for_salesforce,
    read_crm_ids,
    salesforce_export,
)

__all__ = ["SalesforceExport", "export_for_salesforce", "read_crm_ids", "salesforce_export"]
