"""The scheduled no-login campaign: email lapsed visitors once, enrol them in "welcome back".

Start at :func:`run_no_login` (dry run unless ``send=True``) and
:func:`campaign_status`. How it is safe to run unattended — the outbox
protocol and its exact guarantee — is in :mod:`pendo_segments.campaign.outbox`.

Modules: ``settings`` (config), ``eligibility`` (who and why), ``messages``
(copy, Message-ID), ``state`` (SQLite, lock), ``outbox`` (mark / send /
confirm), ``smtp`` (delivery), ``enrol`` (Pendo segment or upload file),
``returns`` (success rate), ``run``, ``status``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "NoLoginSettings",
    "RunReport",
    "StatusReport",
    "campaign_status",
    "no_login_settings",
    "run_no_login",
]

_LAZY = {
    "NoLoginSettings": "pendo_segments.campaign.settings",
    "no_login_settings": "pendo_segments.campaign.settings",
    "RunReport": "pendo_segments.campaign.run",
    "run_no_login": "pendo_segments.campaign.run",
    "StatusReport": "pendo_segments.campaign.status",
    "campaign_status": "pendo_segments.campaign.status",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)
