"""Sync segments and account metadata to Pendo: ``plan`` first, then ``apply``.

>>> plan = make_plan(defs, ds, client, settings)            # doctest: +SKIP
>>> save_plan(plan, "plan.json")                              # doctest: +SKIP
>>> apply_plan(load_plan("plan.json"), client, settings,      # doctest: +SKIP
...            audit=AuditLog(settings.audit_log))
"""

from __future__ import annotations

from pendo_segments.sync.apply import ApplyResult, apply_plan
from pendo_segments.sync.audit import AuditLog
from pendo_segments.sync.plan import Plan, SegmentChange, load_plan, make_plan, save_plan
from pendo_segments.sync.settings import SyncSettings, load_sync_settings

__all__ = [
    "ApplyResult",
    "AuditLog",
    "Plan",
    "SegmentChange",
    "SyncSettings",
    "apply_plan",
    "load_plan",
    "load_sync_settings",
    "make_plan",
    "save_plan",
]
