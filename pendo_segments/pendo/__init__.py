"""Pendo's v1 REST API: regions, wire shapes, HTTP transport and the typed client.

``from pendo_segments.pendo import PendoClient`` works, but the import of
``requests`` is deferred until first use so the CLI's ``--help`` stays fast.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MetadataResult", "PendoClient", "client_from_config"]


def __getattr__(name: str) -> Any:
    if name in ("PendoClient", "client_from_config"):
        from pendo_segments.pendo import client

        return getattr(client, name)
    if name == "MetadataResult":
        from pendo_segments.pendo.models import MetadataResult

        return MetadataResult
    raise AttributeError(name)
