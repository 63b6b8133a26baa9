"""The report's data tables as HTML, built in Python.

A 10,000-account book has about 2,000 P1 drill-down pages of four tables
each; a Jinja macro spends tens of microseconds per cell (a loop object and
an attribute lookup per cell), this a few. Every cell is escaped
(``markupsafe.escape``; markup that is already safe passes as is).

:func:`table_start`, :func:`table_row` and :data:`TABLE_END` are the pieces of
:func:`table`, for pages that make the same head or row again and again and
keep what they made.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

from markupsafe import Markup, escape


def table(
    caption: Any, head: Sequence[Any], rows: Iterable[Sequence[Any]], numeric: Collection[int] = ()
) -> Markup:
    """A ``<table>`` with a caption, column headers and row headers (the first cell of a row),
    in a box that scrolls sideways when the table is wider than the screen.

    Columns in ``numeric`` are right-aligned (class ``n``).
    """
    numeric = set(numeric)
    body = "".join(table_row(row, numeric) for row in rows)
    return Markup(table_start(caption, head, numeric) + body + TABLE_END)


def table_start(caption: Any, head: Sequence[Any], numeric: Collection[int] = ()) -> str:
    """The opening of :func:`table`: caption, column headers and the start of the body."""
    heads = "".join(
        f'<th scope="col"{_CLASS if i in numeric else ""}>{escape(h)}</th>'
        for i, h in enumerate(head)
    )
    return (
        f'<div class="table-box"><table>\n<caption>{escape(caption)}</caption>\n'
        f"<thead><tr>{heads}</tr></thead>\n<tbody>\n"
    )


def table_row(row: Sequence[Any], numeric: Collection[int] = ()) -> str:
    """One row of :func:`table`: its first cell is the row header."""
    cells = [f'<th scope="row">{escape(row[0])}</th>'] if len(row) else []
    cells += [
        f"<td{_CLASS if i in numeric else ''}>{escape(c)}</td>"
        for i, c in enumerate(row[1:], start=1)
    ]
    return f"<tr>{''.join(cells)}</tr>\n"


TABLE_END = "</tbody>\n</table></div>\n"
_CLASS = ' class="n"'
