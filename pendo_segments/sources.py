"""Resolve a ``--data`` value to a :class:`~pendo_segments.data.dataset.Dataset`.

``DIR`` is a CONTRACT.md §1 folder, ``sample`` the bundled sample data set,
and ``pendo:`` live data pulled from Pendo's Aggregation API.
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
        from pendo_segments.data.pendo_source import load_from_pendo

        return load_from_pendo(spec, as_of=as_of, warn=warn)
    from pendo_segments.data.loaders import load_dataset, load_sample

    if spec == "sample":
        return load_sample()
    return load_dataset(spec, lenient=lenient, warn=warn)
