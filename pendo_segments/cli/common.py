"""Small helpers the command modules share (loading, progress on stderr)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pendo_segments.cli.output import warn


def load_defs(path: Path) -> Any:
    from pendo_segments.definitions import load_definitions

    return load_definitions(path)


def load_data(data: str, lenient: bool = False, as_of: Any = None, narrow: bool = False) -> Any:
    from pendo_segments.sources import open_dataset

    with status(f"Loading data from {data}"):
        return open_dataset(data, lenient=lenient, warn=warn, as_of=as_of, narrow=narrow)


@contextlib.contextmanager
def status(message: str) -> Iterator[Callable[[str], None]]:
    """A spinner on stderr when it is a terminal; silent in pipes and CI logs."""
    if not sys.stderr.isatty():
        yield lambda _msg: None
        return
    from rich.console import Console
    from rich.markup import escape

    console = Console(stderr=True)
    with console.status(escape(message)) as st:
        yield lambda msg: st.update(escape(f"{message}: {msg}"))
