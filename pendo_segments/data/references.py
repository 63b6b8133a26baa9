"""Checks across tables: unique ids, known visitors / features, account fill.

Ids of the big usage tables become category codes against the reference
tables (``visitors``, ``features``, ``accounts``), so "unknown visitor" is
simply code -1 and the evaluator can index by code without joins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pendo_segments.base.words import plural
from pendo_segments.data.columns import Where, any_true, first_true, show
from pendo_segments.errors import DataError

Warn = Callable[[str], None]


def check_unique(ids: pd.Series, where: Where) -> None:
    """Error naming the second occurrence of a repeated id and the first.

    Big columns are first checked by sorting them in Arrow: hashing 10M ids
    (pandas ``duplicated``, Arrow ``count_distinct``) takes 1–1.5 GB, a sort
    a tenth of it. Only a column with a repeat is searched for the message.
    """
    if len(ids) > SORT_CHECK_ROWS and not _has_repeat(arrow_text(ids)):
        return
    dup = ids.duplicated().to_numpy()
    if not dup.any():
        return
    second = int(dup.argmax())
    value = ids.iloc[second]
    first = int((ids == value).to_numpy().argmax())
    raise DataError(f"{where.at(second)}: duplicate id {show(value)} (first at {where.row(first)})")


#: above this, sort first: 1M visitor ids sort in 0.5 s where pandas hashes them in 2.5 s
SORT_CHECK_ROWS = 100_000


def _has_repeat(text: pa.Array) -> bool:
    """Whether any value repeats (nulls count as one value), found by sorting."""
    ordered = text.take(pc.sort_indices(text))  # nulls sort last
    n = len(ordered)
    same = pc.equal(ordered.slice(1), ordered.slice(0, n - 1))
    return any_true(same) or ordered.null_count > 1


def arrow_text(values: pd.Series | pa.ChunkedArray | pa.Array) -> pa.Array:
    """One contiguous Arrow string array (pandas ``str`` may be chunked inside)."""
    if isinstance(values, pd.Series):
        values = pa.array(values, type=pa.string(), from_pandas=True)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    return values.cast(pa.string())


def codes_in(values: pa.ChunkedArray | pa.Array, categories: pa.Array) -> np.ndarray:
    """Position (int32) of each value in ``categories``; -1 for unknown or blank.

    The lookup builds one hash table of ``categories`` per call, so the whole
    column is looked up at once, never one row group at a time (a file with
    hundreds of row groups would rebuild a million-entry table hundreds of
    times). Dictionary-encoded input (Parquet) looks up each distinct
    dictionary once, and not at all when the dictionary *is* the category list
    (files written by :func:`write_dataset`): then the codes are the indices.
    """
    if isinstance(values, pa.Array):
        values = pa.chunked_array([values])
    if not pa.types.is_dictionary(values.type):
        return lookup(values, categories)
    categories = categories.cast(pa.string())
    words: dict[tuple[int, ...], int] = {}  # dictionary identity -> its slot in `distinct`
    distinct: list[pa.Array] = []
    slots: list[int] = []
    for chunk in values.chunks:
        d = chunk.dictionary
        key = (d.offset, len(d), *(b.address if b else 0 for b in d.buffers()))
        if key not in words:
            words[key] = len(distinct)
            distinct.append(d)
        slots.append(words[key])
    same = [d.cast(pa.string()).equals(categories) for d in distinct]
    other = [d for d, eq in zip(distinct, same, strict=True) if not eq]
    found = lookup(pa.chunked_array(other, type=other[0].type), categories) if other else None
    tables: list[np.ndarray | None] = []
    start = 0
    for d, eq in zip(distinct, same, strict=True):
        if eq or found is None:
            tables.append(None)
        else:  # last slot is -1, for blank rows
            tables.append(np.append(found[start : start + len(d)], np.int32(-1)))
            start += len(d)
    parts = []
    for chunk, slot in zip(values.chunks, slots, strict=True):
        table = tables[slot]
        if table is None:
            parts.append(pc.fill_null(chunk.indices, -1).to_numpy().astype(np.int32))
        else:
            parts.append(table[pc.fill_null(chunk.indices, len(table) - 1).to_numpy()])
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int32)


LOOKUP_PIECE_ROWS = 8_000_000


def lookup(values: pa.ChunkedArray, categories: pa.Array) -> np.ndarray:
    """``index_in`` over a whole column: contiguous pieces, one per core, in threads.

    Arrow builds the hash table of ``categories`` once per call on a
    contiguous array (a chunked array may rebuild it per chunk), so the
    column is cut into a few contiguous pieces looked up side by side.
    """
    n = len(values)
    if n == 0:
        return np.empty(0, dtype=np.int32)
    categories = categories.cast(pa.string())
    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())
    # pieces of at most LOOKUP_PIECE_ROWS: each is copied contiguous while looked up
    pieces = max(1, -(-n // LOOKUP_PIECE_ROWS))
    step = -(-n // pieces)

    def one(start: int) -> np.ndarray:
        piece = values.slice(start, step).combine_chunks()
        found = pc.index_in(piece, value_set=categories)
        return pc.fill_null(found, -1).to_numpy().astype(np.int32, copy=False)

    if pieces == 1:
        return one(0)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(min(pieces, pa.cpu_count())) as pool:
        return np.concatenate(list(pool.map(one, range(0, n, step))))


def drop_unknown(
    codes: np.ndarray,
    values: pa.ChunkedArray | pa.Array,
    where: Where,
    what: str,
    lenient: bool,
    warn: Warn,
) -> np.ndarray | None:
    """Rows to keep when some reference nothing known; error unless lenient."""
    unknown = codes < 0
    if not unknown.any():
        return None
    n_rows = int(unknown.sum())
    missing = pc.filter(values, pa.array(unknown))
    if pa.types.is_dictionary(missing.type):
        missing = missing.cast(missing.type.value_type)
    n_ids = len(pc.unique(missing))
    counts = f"{plural(n_rows, 'row')} of {plural(n_ids, 'unknown ' + what)}"
    if not lenient:
        row = first_true(pa.array(unknown))
        assert row is not None
        raise DataError(
            f"{where.at(row)}: unknown {what} "
            f"{show(values[row].as_py())} ({counts}; --lenient drops them)"
        )
    warn(f"{where.label}: dropped {counts}")
    return ~unknown


def category_dtype(ids: pd.Series | pa.Array) -> pd.CategoricalDtype:
    index = pd.Index(ids if isinstance(ids, pd.Series) else ids.to_pandas())
    return pd.CategoricalDtype(index)


def categorical(codes: np.ndarray, dtype: pd.CategoricalDtype) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)


@dataclass
class AccountLookup:
    """A usage table's ``account_id`` as codes, before blanks take their visitor's."""

    codes: np.ndarray
    ids: pa.Array
    blank: np.ndarray | None


class AccountCodes:
    """Account ids as codes: accounts first, then ids known only to visitors.

    Knows each visitor's account code, to fill ``account_id`` of usage rows.
    """

    def __init__(self, accounts: pd.Series, visitor_accounts: pd.Series) -> None:
        known, theirs = arrow_text(accounts), arrow_text(visitor_accounts)
        stray = pc.and_(pc.is_valid(theirs), pc.invert(pc.is_in(theirs, value_set=known)))
        self.ids = pa.concat_arrays([known, arrow_text(pc.unique(pc.filter(theirs, stray)))])
        self.of_visitor = codes_in(theirs, self.ids)

    def lookup(
        self, given: pa.ChunkedArray, visitor_codes: np.ndarray | None = None
    ) -> AccountLookup:
        """Codes of a usage table's own ``account_id`` column (strays get new codes).

        Rows almost always name their visitor's account: with the rows'
        visitor codes, that is checked by comparing text, and only the other
        rows are looked up (a hash lookup of every row costs several times more).
        """
        if visitor_codes is not None and pa.types.is_string(given.type):
            codes = self._by_visitor(given, visitor_codes)
        else:
            codes = codes_in(given, self.ids)
        if not codes.flags.writeable:  # a view of Arrow memory
            codes = codes.copy()
        ids = self.ids
        blank = pc.is_null(given)
        odd = pc.and_(pc.invert(blank), pa.array(codes < 0))
        if any_true(odd):  # an account id nobody else knows: keep it
            strays = arrow_text(pc.filter(given, odd))
            new = arrow_text(pc.unique(strays))
            codes[odd.to_numpy(zero_copy_only=False)] = len(ids) + codes_in(strays, new)
            ids = pa.concat_arrays([ids, new])
        rows = blank.to_numpy(zero_copy_only=False) if given.null_count else None
        return AccountLookup(codes, ids, rows)

    def resolve(
        self, visitor_codes: np.ndarray, given: AccountLookup | pa.ChunkedArray | None
    ) -> tuple[np.ndarray, pd.CategoricalDtype]:
        """Codes of each row's account: the row's own, else its visitor's."""
        if given is None:
            return self._of(visitor_codes), category_dtype(self.ids)
        if not isinstance(given, AccountLookup):
            given = self.lookup(given)
        codes = given.codes
        if given.blank is not None:
            codes[given.blank] = self._of(visitor_codes[given.blank])
        return codes, category_dtype(given.ids)

    def _by_visitor(self, given: pa.ChunkedArray, visitor_codes: np.ndarray) -> np.ndarray:
        expected = self._of(visitor_codes)
        codes = np.full(len(given), -1, dtype=np.int32)
        step = LOOKUP_PIECE_ROWS
        for start in range(0, len(given), step):
            part = expected[start : start + step]
            text = self.ids.take(pa.array(np.maximum(part, 0), mask=part < 0))
            same = pc.fill_null(pc.equal(given.slice(start, step), text), False)
            same_np = (
                same.to_numpy(zero_copy_only=False)
                if isinstance(same, pa.Array)
                else np.asarray(same)
            )
            codes[start : start + step] = np.where(same_np, part, -1)
        other = codes < 0
        if other.any():
            rows = np.flatnonzero(other)
            codes[rows] = codes_in(given.take(pa.array(rows)), self.ids)
        return codes

    def _of(self, visitor_codes: np.ndarray) -> np.ndarray:
        out = self.of_visitor[np.maximum(visitor_codes, 0)]
        out[visitor_codes < 0] = -1
        return out
