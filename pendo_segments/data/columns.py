"""Convert one raw column (Arrow) into its canonical pandas type, vectorised.

Values arrive as text (CSV is read as strings so ids such as ``00123`` are
never mangled) or as whatever a Parquet file stored. Each converter tries the
fast Arrow cast first; only when that fails does it compute a per-row
validity mask to find the first bad row for the error message. No Python
loop ever runs over rows.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.extensions import ExtensionArray

from pendo_segments.data.schema import BOOL, DATE, Col
from pendo_segments.errors import DataError

DATE_RE = r"^\d{4}-\d{2}-\d{2}$"
NUMBER_RE = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
# Inference of custom columns is stricter: a leading zero (zip codes, ids such
# as 00123) keeps the column text instead of silently dropping the zero.
INFER_NUMBER_RE = r"^[+-]?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$"
TRUE_WORDS = ["true", "yes", "1"]
FALSE_WORDS = ["false", "no", "0"]


class Where:
    """Names the file and column in error messages: ``FILE: row N, column 'C': …``.

    With ``lines`` (CSV files), rows are named with their file line too:
    ``row 4 (line 5)``, since quoted newlines make the two drift apart. A
    folder of part files names the part and its own row instead
    (``lines`` with a ``locate`` method, see ``files.PartRows``).
    """

    def __init__(self, label: str, column: str, lines: Lines | Parts | None = None) -> None:
        self.label = label
        self.column = column
        self.lines = lines

    def _place(self, idx: int) -> tuple[str, str]:
        """(file label, ``row N`` with its line when known) of a 0-based data row."""
        if isinstance(self.lines, Parts):
            return self.lines.locate(idx)
        if self.lines is None:
            return self.label, f"row {idx + 1}"
        return self.label, f"row {idx + 1} (line {self.lines.line(idx)})"

    def row(self, idx: int) -> str:
        """``row N`` (1-based data row), with the file line when known, and its part."""
        label, text = self._place(idx)
        return text if label == self.label else f"{label} {text}"

    def at(self, idx: int) -> str:
        """``FILE: row N, column 'C'``: the start of a one-line message."""
        label, text = self._place(idx)
        return f"{label}: {text}, column '{self.column}'"

    def row_error(
        self, values: pa.ChunkedArray, bad: pa.ChunkedArray | pa.Array, problem: str
    ) -> DataError | None:
        """The error for the first row where ``bad`` is true, else None."""
        idx = first_true(bad)
        if idx is None:
            return None
        return DataError(f"{self.at(idx)}: {show(values[idx].as_py())} {problem}")

    def fail(self, message: str) -> DataError:
        return DataError(f"{self.label}: column '{self.column}': {message}")


class Lines(Protocol):
    def line(self, row: int) -> int: ...


@runtime_checkable
class Parts(Protocol):
    def locate(self, row: int) -> tuple[str, str]: ...


def show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def first_true(mask: pa.ChunkedArray | pa.Array) -> int | None:
    idx = pc.index(pc.fill_null(mask, False), True).as_py()
    return None if idx < 0 else idx


def any_true(mask: pa.ChunkedArray | pa.Array) -> bool:
    return bool(pc.any(pc.fill_null(mask, False)).as_py())


def _raise_first(where: Where, values: pa.ChunkedArray, bad: Any, problem: str) -> None:
    err = where.row_error(values, bad, problem)
    if err is not None:
        raise err


def as_text(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Any Arrow column as plain strings (dictionary, numbers, … included)."""
    t = values.type
    if pa.types.is_string(t):
        return values
    if pa.types.is_dictionary(t):
        return as_text(values.cast(t.value_type))
    return values.cast(pa.string())


def check_required(values: pa.ChunkedArray, col: Col, where: Where) -> None:
    idx = first_true(pc.is_null(values)) if col.required and values.null_count else None
    if idx is not None:
        raise DataError(f"{where.at(idx)}: required value is blank")


# -- per kind ---------------------------------------------------------------


def to_text(values: pa.ChunkedArray, col: Col, where: Where) -> pd.Series:
    values = as_text(values)
    check_required(values, col, where)
    return text_series(values)


def text_series(values: pa.ChunkedArray | pa.Array) -> pd.Series:
    """Arrow strings → pandas string dtype (pandas 3 default ``str``)."""
    series = values.to_pandas()
    if series.dtype == object:  # pandas 2 without the string default
        series = series.astype("string")
    return series


def parse_dates(values: pa.ChunkedArray, col: Col, where: Where) -> pa.ChunkedArray:
    """Dates as Arrow ``timestamp[s]`` at UTC midnight."""
    t = values.type
    if pa.types.is_timestamp(t):
        if t.tz is not None:
            values = values.cast(pa.timestamp(t.unit, "UTC")).cast(pa.timestamp(t.unit))
        out = pc.floor_temporal(values, unit="day").cast(pa.timestamp("s"))
    elif pa.types.is_date(t):
        out = values.cast(pa.timestamp("s"))
    else:
        text = as_text(values)
        try:
            out = text.cast(pa.date32()).cast(pa.timestamp("s"))
        except pa.ArrowInvalid:
            ok = pc.match_substring_regex(text, DATE_RE)
            parsed = pc.strptime(
                pc.if_else(ok, text, None), format="%Y-%m-%d", unit="s", error_is_null=True
            )
            # strptime rolls 2026-02-30 over to March: insist on a round trip
            same = pc.equal(pc.strftime(parsed, format="%Y-%m-%d"), text)
            bad = pc.and_(pc.is_valid(text), pc.invert(pc.fill_null(same, False)))
            _raise_first(where, text, bad, "is not a date (YYYY-MM-DD)")
            raise where.fail("cannot be read as dates (YYYY-MM-DD)") from None
        values = text
    check_required(values, col, where)
    return out


def to_dates(values: pa.ChunkedArray, col: Col, where: Where) -> np.ndarray:
    return dates_numpy(parse_dates(values, col, where))


def dates_numpy(ts: pa.ChunkedArray) -> np.ndarray:
    return ts.to_numpy().astype("datetime64[s]", copy=False)


def to_days32(values: pa.ChunkedArray, col: Col, where: Where) -> pd.Series:
    """Dates as Arrow ``date32`` (4 bytes a row, half of ``datetime64``), in one chunk.

    The narrow form of a usage table's ``date`` (see :func:`convert`): the
    evaluator reads it as int32 day numbers without a copy.
    """
    if pa.types.is_date(values.type):
        check_required(values, col, where)
        days = values.cast(pa.date32())
    else:
        days = parse_dates(values, col, where).cast(pa.date32())
    return pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array([days.combine_chunks()])))


def narrow_int(values: np.ndarray | ExtensionArray) -> np.ndarray | ExtensionArray:
    """int64 counts as int32 when every value fits (exact); sums still accumulate wide."""
    if not isinstance(values, np.ndarray) or values.dtype != np.int64 or not len(values):
        return values
    info = np.iinfo(np.int32)
    if values.min() < info.min or values.max() > info.max:
        return values
    return values.astype(np.int32)


def _number_problem(col: Col) -> str:
    if col.kind == "int":
        if col.min == 0 and col.max is None:
            return "is not a non-negative integer"
        if col.min is not None and col.max is not None:
            return f"is not an integer from {col.min:g} to {col.max:g}"
        return "is not an integer"
    return "is not a number"


def _numbers(values: pa.ChunkedArray, col: Col, where: Where) -> pa.ChunkedArray:
    """Any column as float64; unparsable or non-finite text is an error."""
    t = values.type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        out = values.cast(pa.float64())
        text = values
    else:
        text = as_text(values)
        try:
            out = text.cast(pa.float64())
        except pa.ArrowInvalid:
            bad = pc.and_(pc.is_valid(text), pc.invert(pc.match_substring_regex(text, NUMBER_RE)))
            _raise_first(where, text, bad, _number_problem(col))
            raise where.fail("cannot be read as numbers") from None
    check_required(values, col, where)
    if not _finite_within(out):
        _raise_first(where, text, pc.invert(pc.is_finite(out)), _number_problem(col))
    return out


def _finite_within(
    numbers: pa.ChunkedArray, lo: float | None = None, hi: float | None = None
) -> bool:
    """Every value present, finite and within ``lo``–``hi``: two numpy passes, no masks.

    NaN propagates through ``min`` / ``max`` and infinities are their own
    extremes, so finite extremes within the bounds clear the whole column; the
    per-row masks (and their messages) are only built when this is False.
    """
    if numbers.null_count or not pa.types.is_floating(numbers.type):
        return False
    for chunk in numbers.chunks:
        if not len(chunk):
            continue
        data = chunk.to_numpy()
        least, most = data.min(), data.max()
        if not (np.isfinite(least) and np.isfinite(most)):
            return False
        if (lo is not None and least < lo) or (hi is not None and most > hi):
            return False
    return True


def _ints_within(ints: pa.ChunkedArray, col: Col) -> bool:
    """Every integer within ``col``'s bounds, by one min/max pass (nulls are checked apart)."""
    if col.min is None and col.max is None:
        return True
    extremes = pc.min_max(ints)
    lo, hi = extremes["min"].as_py(), extremes["max"].as_py()
    if lo is None:  # no value at all
        return True
    return (col.min is None or lo >= col.min) and (col.max is None or hi <= col.max)


def to_float(values: pa.ChunkedArray, col: Col, where: Where) -> np.ndarray:
    if pa.types.is_floating(values.type) or pa.types.is_integer(values.type):
        numbers = values.cast(pa.float64())
        if _finite_within(numbers, col.min, col.max):  # the usual case: nothing to report
            return numbers.to_numpy()
    out = _numbers(values, col, where)
    if _finite_within(out, col.min, col.max):
        return out.to_numpy()
    if col.min is not None:
        _raise_first(
            where,
            values,
            pc.less(out, col.min),
            "is negative" if col.min == 0 else f"is below {col.min:g}",
        )
    if col.max is not None:
        _raise_first(where, values, pc.greater(out, col.max), f"is above {col.max:g}")
    return out.to_numpy()  # nulls become NaN


INT64_MAX = 2**63 - 1


def _check_int64(values: pa.ChunkedArray, numbers: pa.ChunkedArray, where: Where) -> None:
    """A value beyond int64 is an error of its row, not an Arrow overflow traceback."""
    if pa.types.is_floating(numbers.type):
        big = pc.greater_equal(pc.abs(numbers), float(2**63))
    elif pa.types.is_unsigned_integer(numbers.type):
        big = pc.greater(numbers, pa.scalar(INT64_MAX, numbers.type))
    else:
        return
    _raise_first(where, values, big, "is too large for an integer")


def to_int(values: pa.ChunkedArray, col: Col, where: Where) -> np.ndarray | ExtensionArray:
    """int64, or nullable Int64 when the column has blanks."""
    if pa.types.is_integer(values.type):
        _check_int64(values, values, where)
        ints = values.cast(pa.int64())
        check_required(values, col, where)
    else:
        try:
            ints = (
                as_text(values).cast(pa.int64())
                if not pa.types.is_floating(values.type)
                else values.cast(pa.int64())
            )
            check_required(values, col, where)
        except pa.ArrowInvalid:
            # "3.0" (spreadsheet exports) is still an integer; "2.5" is not
            floats = _numbers(values, col, where)
            fraction = pc.not_equal(pc.floor(floats), floats)
            _raise_first(where, values, fraction, _number_problem(col))
            _check_int64(values, floats, where)
            ints = floats.cast(pa.int64())
    problem = _number_problem(col)
    if _ints_within(ints, col):
        return _int_array(ints)
    if col.min is not None:
        _raise_first(where, values, pc.less(ints, col.min), problem)
    if col.max is not None:
        _raise_first(where, values, pc.greater(ints, col.max), problem)
    return _int_array(ints)


def _int_array(ints: pa.ChunkedArray) -> np.ndarray | ExtensionArray:
    if ints.null_count == 0:
        return ints.to_numpy().astype(np.int64, copy=False)
    mask = pc.is_null(ints).to_numpy()
    data = pc.fill_null(ints, 0).to_numpy().astype(np.int64, copy=False)
    return pd.arrays.IntegerArray(data, mask)


def to_bool(values: pa.ChunkedArray, col: Col, where: Where) -> ExtensionArray:
    """true/false/yes/no/1/0, any case; blank → NA."""
    if pa.types.is_boolean(values.type):
        flags = values
    else:
        text = pc.utf8_lower(as_text(values))
        yes = pc.is_in(text, value_set=pa.array(TRUE_WORDS))
        no = pc.is_in(text, value_set=pa.array(FALSE_WORDS))
        bad = pc.and_(pc.is_valid(text), pc.invert(pc.or_(yes, no)))
        _raise_first(where, as_text(values), bad, "is not true/false")
        flags = pc.if_else(pc.is_valid(text), yes, None)
    check_required(values, col, where)
    return _bool_array(flags)


def _bool_array(flags: pa.ChunkedArray) -> ExtensionArray:
    mask = pc.is_null(flags).to_numpy(zero_copy_only=False)
    data = pc.fill_null(flags, False).to_numpy(zero_copy_only=False).astype(bool)
    return pd.arrays.BooleanArray(data, mask)


def infer(values: pa.ChunkedArray, where: Where) -> Any:
    """Type an unknown extra column: numbers, ISO dates, true/false, else text."""
    t = values.type
    if pa.types.is_boolean(t):
        return _bool_array(values)
    if pa.types.is_integer(t):
        if pa.types.is_uint64(t) and any_true(pc.greater(values, pa.scalar(INT64_MAX, t))):
            return text_series(as_text(values))  # huge integers are ids, not amounts
        return _int_array(values.cast(pa.int64()))
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return values.cast(pa.float64()).to_numpy()
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return to_dates(values, DATE, where)
    text = as_text(values)
    if text.null_count == len(text):
        return text_series(text)

    def every(mask: Any) -> bool:  # true for every non-blank value
        return not any_true(pc.and_(pc.is_valid(text), pc.invert(mask)))

    if every(pc.match_substring_regex(text, INFER_NUMBER_RE)):
        try:  # exact for integers beyond 2**53
            return _int_array(text.cast(pa.int64()))
        except pa.ArrowInvalid:
            floats = text.cast(pa.float64())
        if every(pc.is_finite(floats)):
            if not every(pc.equal(pc.floor(floats), floats)):
                return floats.to_numpy()
            if every(pc.less(pc.abs(floats), 2.0**53)):
                return _int_array(floats.cast(pa.int64()))
            return text_series(text)  # huge integers are ids, not amounts
    if every(pc.match_substring_regex(text, DATE_RE)):
        try:
            return dates_numpy(text.cast(pa.date32()).cast(pa.timestamp("s")))
        except pa.ArrowInvalid:
            pass
    if every(pc.is_in(pc.utf8_lower(text), value_set=pa.array(["true", "false"]))):
        return to_bool(text, BOOL, where)
    return text_series(text)


def blank_values(col: Col, n_rows: int) -> Any:
    """``n_rows`` blank values in ``col``'s canonical type (an optional column a file lacks)."""
    missing = np.ones(n_rows, dtype=bool)
    if col.kind == "bool":
        return pd.arrays.BooleanArray(np.zeros(n_rows, dtype=bool), missing)
    if col.kind == "int":
        return pd.arrays.IntegerArray(np.zeros(n_rows, dtype=np.int64), missing)
    if col.kind == "float":
        return np.full(n_rows, np.nan)
    if col.kind == "date":
        return np.full(n_rows, np.datetime64("NaT"), dtype="datetime64[s]")
    return text_series(pa.nulls(n_rows, pa.string())).array


CONVERTERS = {
    "str": to_text,
    "float": to_float,
    "int": to_int,
    "bool": to_bool,
    "date": to_dates,
}


def convert(values: pa.ChunkedArray, col: Col, where: Where, narrow: bool = False) -> Any:
    """Canonical pandas-ready values for one column (``cat`` stays Arrow text).

    ``narrow`` (the evaluator's usage tables): dates as ``date32`` and
    integers as int32 when they fit; the same checks and messages.
    """
    t = values.type.value_type if pa.types.is_dictionary(values.type) else values.type
    if pa.types.is_nested(t):
        raise where.fail(f"holds {t} values; expected plain text, numbers, dates or true/false")
    try:
        if narrow and col.kind == "date":
            return to_days32(values, col, where)
        if narrow and col.kind == "int":
            return narrow_int(to_int(values, col, where))
        return _convert(values, col, where)
    except (pa.ArrowException, OverflowError) as err:  # a type no converter expects
        message = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise where.fail(f"cannot be read as {col.kind} values ({t}: {message})") from None


def _convert(values: pa.ChunkedArray, col: Col, where: Where) -> Any:
    if col.kind == "infer":
        return infer(values, where)
    if col.kind == "cat":
        if not pa.types.is_dictionary(values.type):
            values = as_text(values)
        check_required(values, col, where)
        return values
    return CONVERTERS[col.kind](values, col, where)
