"""Small helpers the command modules share (loading, progress on stderr)."""

from __future__ import annotations

import contextlib
import numbers
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

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


def note(message: str) -> None:
    click.echo(f"Note: {message}", err=True)


def health_settings(explicit: Path | None = None) -> Any:
    """health.yaml beside the definitions found here (or ``explicit``), else the defaults."""
    from pendo_segments.cli.options import find_defs
    from pendo_segments.health.config import health_config_for

    return health_config_for(find_defs(None, None, None), explicit)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool | complex)


def _human(value: Any, column: str) -> str:
    """A number as people read it in a table: 18,726,000 (dollars for ``arr``), not 18726000.0."""
    if not _is_number(value):
        return str(value)
    number = float(value)
    text = f"{number:,.0f}" if number.is_integer() else f"{number:,.1f}"
    return f"${text}" if column == "arr" else text


def stderr_table(frame: Any, title: str) -> None:
    """A small table for humans on stderr (rich on a terminal, plain text otherwise)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from pendo_segments.cli.output import _cell

    cells = [[_cell(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    columns = [str(c) for c in frame.columns]
    numeric = [
        all(v == "" or _is_number(v) for v in column) and any(_is_number(v) for v in column)
        for column in zip(*cells, strict=True)
    ] or [False] * len(columns)
    table = Table(title=Text(title))
    for c, right in zip(columns, numeric, strict=True):
        table.add_column(Text(c), justify="right" if right else "left")
    for row in cells:  # Text(): names are not markup
        table.add_row(*[Text(_human(v, c)) for v, c in zip(row, columns, strict=True)])
    Console(
        stderr=True,
        width=None if sys.stderr.isatty() else 120,
        color_system="auto" if sys.stderr.isatty() else None,
    ).print(table)
