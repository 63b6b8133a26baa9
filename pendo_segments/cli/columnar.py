"""CSV and JSON text of whole columns at once, for outputs of millions of rows.

The text is byte-for-byte what ``output.rows_to_csv`` / ``rows_to_json``
write one cell at a time (``csv.writer`` minimal quoting, ``json.dumps``
with indent 2): strings, integers and true/false are formatted by Arrow
compute; any other column (floats, dates, mixed objects) falls back to the
same Python formatting per value of that column only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import IO, Any, TypeAlias

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pendo_segments.data.files import quote_csv, write_concatenated, write_lines

BATCH_ROWS = 1_000_000
CONTROL = r"[\x00-\x1f]"

Column: TypeAlias = Any  # pandas Series, Arrow Array or ChunkedArray


def _plain_text(values: Column) -> pa.Array | None:
    """Strings / integers / booleans as Arrow text (null stays null), else None."""
    if isinstance(values, pd.Series):
        dtype = values.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            if not pd.api.types.is_string_dtype(dtype.categories.dtype):
                return None
        elif not (
            pd.api.types.is_string_dtype(dtype)
            or pd.api.types.is_integer_dtype(dtype)
            or pd.api.types.is_bool_dtype(dtype)
        ):
            return None
        try:
            arr = pa.array(values, from_pandas=True)
        except (pa.ArrowException, TypeError, ValueError):
            return None
    else:
        arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    t = arr.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return arr.cast(pa.string())
    if pa.types.is_integer(t):
        return arr.cast(pa.string())
    if pa.types.is_boolean(t):
        return pc.if_else(arr, "true", "false")
    return None


def _python_values(values: Column) -> Iterable[Any]:
    if isinstance(values, pd.Series):
        return values  # the same scalars DataFrame.itertuples gives
    return values.to_pylist()


def csv_column(values: Column) -> pa.Array:
    """One column as quoted CSV fields."""
    from pendo_segments.cli.output import _cell

    text = _plain_text(values)
    if text is None:
        text = pa.array([_field(_cell(v)) for v in _python_values(values)], type=pa.string())
    return quote_csv(pc.fill_null(text, ""))


def _field(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def json_column(values: Column) -> pa.Array:
    """One column as JSON values (``null`` for missing)."""
    from pendo_segments.cli.output import _json_value

    text = _plain_text(values)
    is_text = text is not None and (
        isinstance(values, pd.Series)
        and (
            pd.api.types.is_string_dtype(values.dtype)
            or isinstance(values.dtype, pd.CategoricalDtype)
        )
        or not isinstance(values, pd.Series)
        and (
            pa.types.is_string(_value_type(values)) or pa.types.is_large_string(_value_type(values))
        )
    )
    if text is not None and is_text and pc.any(pc.match_substring_regex(text, CONTROL)).as_py():
        text = None  # control characters: json.dumps's escapes, value by value
    if text is None:
        return pa.array(
            [
                json.dumps(_json_value(v), ensure_ascii=False, default=str)
                for v in _python_values(values)
            ],
            type=pa.string(),
        )
    if is_text:
        escaped = pc.replace_substring(pc.replace_substring(text, "\\", "\\\\"), '"', '\\"')
        text = pc.binary_join_element_wise('"', escaped, '"', "")
    return pc.fill_null(text, "null")


def _value_type(values: pa.Array | pa.ChunkedArray) -> pa.DataType:
    t = values.type
    return t.value_type if pa.types.is_dictionary(t) else t


Batch: TypeAlias = Any  # pandas DataFrame, Arrow Table or RecordBatch


def _columns(batch: Batch) -> list[Column]:
    if isinstance(batch, pd.DataFrame):
        return [batch.iloc[:, i] for i in range(batch.shape[1])]
    return list(batch.columns)


def _slices(batches: Iterable[Batch]) -> Iterable[Batch]:
    for batch in batches:
        for start in range(0, len(batch), BATCH_ROWS):
            yield batch[start : start + BATCH_ROWS] if len(batch) > BATCH_ROWS else batch


def write_csv(columns: Sequence[str], batches: Iterable[Batch], fh: IO[bytes]) -> None:
    """Header, then every batch's rows, as ``csv.writer`` would (``\\n`` line ends)."""
    header = quote_csv(pa.array([str(c) for c in columns], type=pa.string())).to_pylist()
    if len(columns) == 1 and header == [""]:
        header = ['""']
    fh.write((",".join(header) + "\n").encode("utf-8"))
    for batch in _slices(batches):
        if not len(batch):
            continue
        fields = [csv_column(c) for c in _columns(batch)]
        if len(fields) == 1:  # a lone empty field is written as "" (else the row vanishes)
            fields[0] = pc.if_else(pc.equal(fields[0], ""), '""', fields[0])
        write_lines(fields, fh)


def write_json(columns: Sequence[str], batches: Iterable[Batch], fh: IO[bytes]) -> None:
    """A JSON array of records, as ``json.dumps(records, indent=2)`` writes it."""
    keys = [json.dumps(str(c), ensure_ascii=False) for c in columns]
    first = True
    for batch in _slices(batches):
        if not len(batch):
            continue
        values = [json_column(c) for c in _columns(batch)]
        parts: list[Any] = []
        for i, (key, value) in enumerate(zip(keys, values, strict=True)):
            sep = ",\n" if i < len(keys) - 1 else "\n"
            parts += [f"    {key}: ", value, sep]
        if keys:
            record = pc.binary_join_element_wise("  {\n", *parts, "  }", "")
        else:
            record = pa.array(["  {}"] * len(batch), type=pa.string())
        fh.write(b"[\n" if first else b",\n")
        first = False
        _write_joined(record, fh)
    fh.write(b"[]\n" if first else b"\n]\n")


def _write_joined(record: pa.Array, fh: IO[bytes]) -> None:
    """Records separated by ``,\n`` (the last one without)."""
    n = len(record)
    if n > 1:
        write_concatenated(pc.binary_join_element_wise(record.slice(0, n - 1), ",\n", ""), fh)
    fh.write(record[n - 1].as_py().encode("utf-8"))


WRITERS: dict[str, Callable[[Sequence[str], Iterable[Batch], IO[bytes]], None]] = {
    "csv": write_csv,
    "json": write_json,
}
