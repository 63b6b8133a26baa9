"""Small result types returned by :class:`~pendo_segments.pendo.client.PendoClient`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class MetadataResult:
    """Totals of a bulk metadata write, summed over every batch sent.

    ``missing`` lists ids Pendo does not know (it reports them instead of creating
    them); they are also counted in ``failed``.
    """

    kind: str
    group: str
    total: int = 0
    updated: int = 0
    failed: int = 0
    missing: list[str] = field(default_factory=list)
    errors: list[Any] = field(default_factory=list)
    batches: int = 0

    @property
    def ok(self) -> bool:
        return self.failed == 0 and not self.missing and not self.errors
