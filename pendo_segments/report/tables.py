"""The report's data tables as HTML, built in Python.

A 10,000-account book has about 2,000 P1 drill-down pages of four tables
each; a Jinja macro spends tens of microseconds per cell (a loop object and
an attribute lookup per cell), this a few. Every cell is escaped
(``markupsafe.escape``; markup that is already safe passes as is).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

from markupsafe import Markup, escape


def table(
    caption: Any, head: Sequence[Any], rows: Iterable[Sequence[Any]], numeric: Collection[int] = ()
) -> Markup:
    """A ``<table>`` with a caption, column headers and row headers (the first cell of a row).

    Columns in ``numeric`` are right-aligned (class ``n``).
    """
    numeric = set(numeric)
    heads = "".join(
        f'<th scope="col"{_CLASS if i in numeric else ""}>{escape(h)}</th>'
        for i, h in enumerate(head)
    )
    body = []
    for row in rows:
        cells = [f'<th scope="row">{escape(row[0])}</th>'] if len(row) else []
        cells += [
            f"<td{_CLASS if i in numeric else ''}>{escape(c)}</td>"
            for i, c in enumerate(row[1:], start=1)
        ]
        body.append(f"<tr>{''.join(cells)}</tr>\n")
    return Markup(
        f"<table>\n<caption>{escape(caption)}</caption>\n<thead><tr>{heads}</tr></thead>\n"
        f"<tbody>\n{''.join(body)}</tbody>\n</table>\n"
    )


_CLASS = ' class="n"'
