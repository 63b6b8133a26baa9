"""A result as something to show: a table (rows, a frame or Arrow batches) or a JSON document.

Results render themselves (``render(fmt)``) and the CLI's one ``emit`` writes
what they give in the chosen format, so a command body never formats.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class Rendered:
    """One of ``payload`` (a JSON document), ``text`` (a finished report, e.g. a table format
    with prose around it), ``frame`` (a DataFrame), ``batches`` or ``rows``."""

    columns: Sequence[str] = ()
    rows: Iterable[Sequence[Any]] | None = None
    frame: Any = None  # a pandas DataFrame, columns in its order
    batches: Iterable[Any] | None = None  # DataFrames or Arrow batches of ``columns``
    payload: Any = None  # the JSON document, when it is not the table's records
    text: str | None = None  # written as it is
    title: str | None = None
