"""Map CSV data rows to file lines, and find the row Arrow's parser choked on.

Error messages say ``row N (line L)``: a quoted value may hold newlines, so
the data row and the file line differ by more than the header. These scans
run only when there is an error to report, with Python's ``csv`` module
(slow but exact); a file without any quote character needs no scan at all.
"""

from __future__ import annotations

import csv
import gzip
import io
import mmap
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def open_text(path: Path) -> IO[str]:
    """UTF-8 text of a ``.csv`` or ``.csv.gz`` file (a BOM is skipped)."""
    if path.name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def has_quotes(path: Path) -> bool:
    """Whether a plain CSV file holds a ``"`` anywhere (gzip: assume it does)."""
    if path.name.endswith(".gz"):
        return True
    with path.open("rb") as fh:
        if fh.seek(0, 2) == 0:
            return False
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return data.find(b'"') >= 0


def _records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(first file line, fields) of every record, the header included."""
    with open_text(path) as fh:
        reader = csv.reader(fh)
        line = 1
        for fields in reader:
            if fields:  # Arrow skips blank lines; so do the row numbers
                yield line, fields
            line = reader.line_num + 1


class LineMap:
    """The file line of a 0-based data row of one CSV file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._quoted: bool | None = None

    def line(self, row: int) -> int:
        if self._quoted is None:
            self._quoted = has_quotes(self.path)
        if not self._quoted:
            return row + 2
        for i, (line, _fields) in enumerate(_records(self.path)):
            if i == row + 1:
                return line
        return row + 2


def first_ragged_row(path: Path) -> tuple[int, int, int, int] | None:
    """(0-based data row, file line, fields expected, fields found) of the first bad row."""
    expected = None
    try:
        for i, (line, fields) in enumerate(_records(path)):
            if expected is None:
                expected = len(fields)
            elif len(fields) != expected:
                return i - 1, line, expected, len(fields)
    except (csv.Error, UnicodeDecodeError, OSError):
        return None
    return None
