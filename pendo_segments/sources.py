"""Resolve a ``--data`` value to a :class:`~pendo_segments.data.dataset.Dataset`.

``DIR`` is a docs/semantics.md §1 folder, ``sample`` the bundled sample data set,
and ``pendo:`` live data pulled from Pendo's Aggregation API with a client for
the configured subscription. This module sits above the ``pendo`` layer (it
builds that client), so the data layer never imports ``pendo``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any


def open_dataset(
    spec: str,
    *,
    lenient: bool = False,
    warn: Callable[[str], None] | None = None,
    as_of: dt.date | None = None,
) -> Any:
    if spec.startswith("pendo:"):
        from pendo_segments.config import load_config
        from pendo_segments.data.pendo_source import load_from_pendo
        from pendo_segments.pendo.client import client_from_config

        config = load_config()
        return load_from_pendo(
            spec,
            as_of=as_of,
            warn=warn,
            client=client_from_config(config),
            app_ids=config.pendo.app_ids,
            timezone=config.pendo.timezone,
        )
    from pendo_segments.data.loaders import load_dataset, load_sample

    if spec == "sample":
        return load_sample()
    return load_dataset(spec, lenient=lenient, warn=warn)
