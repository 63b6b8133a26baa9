"""The Salesforce layer's one exception (a :class:`~pendo_segments.errors.PendoSegmentsError`)."""

from __future__ import annotations

from pendo_segments.errors import PendoSegmentsError


class SalesforceError(PendoSegmentsError):
    """Salesforce refused a request, could not be reached, or a plan cannot be applied."""
