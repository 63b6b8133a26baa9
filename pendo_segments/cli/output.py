"""Formatting of command results: rich tables, stable CSV and JSON.

CSV and JSON are machine-readable contracts (docs/semantics.md §4): fixed column
order, no colour, ``\\n`` line endings, blanks for missing values.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from pendo_segments.atomic import write_text


def resolve_format(fmt: str | None, output: Path | None, default_pipe: str = "csv") -> str:
    """Table on an interactive terminal, ``default_pipe`` when piped or written to a file."""
    if fmt:
        return fmt
    if output is None and sys.stdout.isatty():
        return "table"
    return default_pipe


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if type(value).__name__ in ("NAType", "NaTType"):  # pandas missing, without pandas
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    try:  # other NaN-like scalars (numpy)
        if value != value:  # noqa: PLR0124
            return ""
    except (TypeError, ValueError):
        pass
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if _is_bool(value):
        return "true" if value else "false"
    return value


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool) or type(value).__name__ in ("bool", "bool_")  # numpy too


def _json_value(value: Any) -> Any:
    if _is_bool(value):  # a JSON boolean, not the CSV word
        return bool(value)
    value = _cell(value)
    if value == "":
        return None
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return value


def rows_to_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return buf.getvalue()


def rows_to_json(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    records = [{c: _json_value(v) for c, v in zip(columns, row, strict=True)} for row in rows]
    return json.dumps(records, indent=2, ensure_ascii=False) + "\n"


def emit_text(text: str, output: Path | None) -> None:
    """Print ``text`` or write it atomically to ``output``."""
    if output is None:
        click.echo(text, nl=False)
    else:
        write_text(output, text)


def emit_json(payload: Any, output: Path | None) -> None:
    emit_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n", output)


_DATE_LIKE = re.compile(r"\d{4}-\d{2}-\d{2}")


def emit_rows(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    fmt: str,
    output: Path | None,
    title: str | None = None,
) -> None:
    """Write rows in the chosen format; ``table`` goes through rich."""
    rows = list(rows)
    if fmt == "csv":
        emit_text(rows_to_csv(columns, rows), output)
    elif fmt == "json":
        emit_text(rows_to_json(columns, rows), output)
    else:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        # Text(): a cell such as "[ps] Acme" is a name, not rich markup.
        table = Table(title=Text(title) if title else None)
        cells = [[str(_cell(v)) for v in row] for row in rows]
        for i, c in enumerate(columns):
            # Never cut a value ("2026-11-…" hid the day on a narrow terminal): dates and
            # times stay whole on one line, anything else folds onto the next.
            dates = [row[i] for row in cells if row[i]]
            whole = bool(dates) and all(_DATE_LIKE.match(v) and len(v) <= 25 for v in dates)
            table.add_column(Text(str(c)), overflow="fold", no_wrap=whole)
        for row in cells:
            table.add_row(*[Text(cell) for cell in row])
        if output is None:
            Console().print(table)
        else:
            console = Console(file=io.StringIO(), width=160, color_system=None)
            console.print(table)
            write_text(output, console.file.getvalue())  # type: ignore[attr-defined]


def emit_frame(frame: Any, fmt: str, output: Path | None, title: str | None = None) -> None:
    """Emit a pandas DataFrame (columns in frame order); csv/json column by column."""
    if fmt in ("csv", "json"):
        emit_batches(list(frame.columns), [frame], fmt, output)
        return
    emit_rows(list(frame.columns), frame.itertuples(index=False, name=None), fmt, output, title)


def emit_batches(
    columns: Sequence[str],
    batches: Iterable[Any],
    fmt: str,
    output: Path | None,
    title: str | None = None,
) -> None:
    """Stream frames / Arrow batches as csv or json at the speed of the data.

    Text is formatted a column at a time (``columnar.py``), byte-identical to
    :func:`rows_to_csv` / :func:`rows_to_json`, and written as it comes (to
    a temp file renamed over ``output`` at the end, or to stdout).
    """
    if fmt not in ("csv", "json"):
        import pandas as pd

        frames = [b if isinstance(b, pd.DataFrame) else b.to_pandas() for b in batches]
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
        emit_rows(columns, frame.itertuples(index=False, name=None), fmt, output, title)
        return
    from pendo_segments.cli.columnar import WRITERS

    write = WRITERS[fmt]
    if output is None:
        sys.stdout.flush()
        stdout = sys.stdout.buffer
        write(columns, batches, stdout)
        stdout.flush()
        return
    from pendo_segments.atomic import atomic_open

    with atomic_open(output, "wb") as fh:
        write(columns, batches, fh)


def emit_records(
    records: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    fmt: str,
    output: Path | None,
    title: str | None = None,
) -> None:
    emit_rows(columns, ([r.get(c) for c in columns] for r in records), fmt, output, title)


def emit(result: Any, fmt: str, output: Path | None) -> None:
    """Write a result that renders itself (``render(fmt)``, or a :class:`Rendered`)."""
    from pendo_segments.base.rendered import Rendered

    view = result if isinstance(result, Rendered) else result.render(fmt)
    if view.payload is not None:
        emit_json(view.payload, output)
    elif view.text is not None:
        emit_text(view.text, output)
    elif view.frame is not None:
        emit_frame(view.frame, fmt, output, title=view.title)
    elif view.batches is not None:
        emit_batches(view.columns, view.batches, fmt, output, view.title)
    else:
        emit_rows(view.columns, view.rows or [], fmt, output, title=view.title)


CHECK_COLUMNS = ["check", "ok", "detail"]


def emit_checks(probes: Sequence[Any], fmt: str | None, output: Path | None) -> bool:
    """A ``check`` command's probes (``name``, ``ok``, ``detail``): one row each, or JSON
    with the verdict; True when every probe passed."""
    ok = all(p.ok for p in probes)
    fmt = resolve_format(fmt, output, default_pipe="csv")
    if fmt == "json":
        emit_json({"ok": ok, "checks": [p.to_dict() for p in probes]}, output)
    else:
        rows = [(p.name, "yes" if p.ok else "NO", p.detail) for p in probes]
        emit_rows(CHECK_COLUMNS, rows, fmt, output)
    return ok


def warn(message: str) -> None:
    click.echo(f"Warning: {message}", err=True)
