"""Resolve a ``--data`` value to a :class:`~pendo_segments.data.dataset.Dataset`.

``DIR`` is a docs/semantics.md §1 folder, ``sample`` the bundled sample data set,
and ``pendo:`` live data pulled from Pendo's Aggregation API with a client for
the configured subscription. This module sits above the ``pendo`` layer (it
builds that client), so the data layer never imports ``pendo``.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pendo_segments.errors import DataError

#: The ``--data`` values that are not folders, for the hint on a near miss (``samples``).
KEYWORDS = ("sample", "pendo:")


def open_dataset(
    spec: str,
    *,
    lenient: bool = False,
    warn: Callable[[str], None] | None = None,
    as_of: dt.date | None = None,
    narrow: bool = False,
) -> Any:
    if spec.startswith("pendo:"):
        from pendo_segments.config import load_config
        from pendo_segments.data.pendo_source import load_from_pendo
        from pendo_segments.pendo.client import pull_client_from_config

        config = load_config()
        client = pull_client_from_config(config)
        config.pendo.require_timezone(f"--data {spec}")
        return load_from_pendo(  # paced like `pull` ([pendo] pull_requests_per_second)
            spec,
            as_of=as_of,
            warn=warn,
            client=client,
            app_ids=config.pendo.app_ids,
            timezone=config.pendo.timezone,
        )
    from pendo_segments.data.loaders import load_dataset, load_sample

    if spec == "sample":
        return load_sample()
    if not Path(spec).is_dir():
        close = difflib.get_close_matches(spec, KEYWORDS, n=1, cutoff=0.6)
        if close:
            raise DataError(f"{spec}: data folder not found; did you mean '{close[0]}'?")
    return load_dataset(spec, lenient=lenient, warn=warn, narrow=narrow)


def open_accounts(
    spec: str, *, lenient: bool = False, warn: Callable[[str], None] | None = None
) -> Any:
    """The accounts (and outcomes) of ``spec`` without its usage, for a saved backtest;
    live Pendo data has no file to skip, so it is read whole."""
    from pendo_segments.data.loaders import bundled_sample_path, load_accounts

    if spec.startswith("pendo:"):
        return open_dataset(spec, lenient=lenient, warn=warn)
    if spec == "sample":
        ds = load_accounts(bundled_sample_path(), warn=lambda _message: None)
        ds.source = "sample"
        return ds
    if not Path(spec).is_dir():
        open_dataset(spec)  # the usual "not found" message and hint
    return load_accounts(spec, lenient=lenient, warn=warn)
