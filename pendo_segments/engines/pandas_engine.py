"""The pandas/numpy engine: the whole data set in memory, the reference every engine matches."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pendo_segments.engines.base import DataShape, Engine, Memberships, Opener, Warn

if TYPE_CHECKING:
    import pandas as pd

    from pendo_segments.data.dataset import Dataset
    from pendo_segments.definitions.loader import DefinitionSet


class PandasEngine(Engine):
    """Loads the data set once (narrow usage tables); segments run vectorised in memory."""

    name = "pandas"

    def __init__(
        self,
        data: str,
        *,
        lenient: bool = False,
        warn: Warn | None = None,
        opener: Opener | None = None,
        as_of: dt.date | None = None,
        dataset: Dataset | None = None,
    ) -> None:
        super().__init__(data, lenient=lenient, warn=warn, opener=opener)
        self._as_of = as_of  # the Pendo source pulls up to it
        self._ds = dataset

    @property
    def dataset(self) -> Dataset:
        if self._ds is None:
            self._ds = self.open_dataset(as_of=self._as_of, narrow=True)
        return self._ds

    @property
    def in_memory(self) -> Dataset:
        return self.dataset

    def default_as_of(self) -> dt.date:
        return self.dataset.default_as_of()

    def warn_as_of(self, defs: DefinitionSet, as_of: dt.date | None) -> None:
        """Nothing here: the numpy evaluator warns as it evaluates (evaluate/as_of.py)."""

    def check_day(self, defs: DefinitionSet, as_of: dt.date | None) -> dt.date:
        """The day alone: the numpy evaluator checks it as it evaluates (evaluate/as_of.py)."""
        return self.day(as_of)

    def shape(self) -> DataShape:
        return dataset_shape(self.dataset)

    def small_tables(self) -> Dataset:
        return self.dataset

    def memberships(
        self,
        defs: DefinitionSet,
        *,
        names: Sequence[str] | None = None,
        as_of: dt.date | None = None,
        progress: Warn | None = None,
    ) -> Memberships:
        from pendo_segments.evaluate import evaluate

        result = evaluate(defs, self.dataset, as_of=as_of, names=names, progress=progress)
        result.metrics.release()  # members are read from ids and masks alone
        return Memberships(result.as_of, result.segments, result)

    def query(self, sql: Any, *, at: dt.date | None = None) -> pd.DataFrame:
        """The query on an in-memory DuckDB over the loaded frames."""
        from pendo_segments.evaluate.duckdb_engine import connect
        from pendo_segments.evaluate.duckdb_folder import duck_errors

        con = connect(self.dataset, self.day(at))
        try:
            with duck_errors():
                return con.execute(self.render(sql)).df()
        finally:
            con.close()

    def fill_optional(self, columns: Iterable[tuple[str, str]]) -> None:
        fill_frames(self.dataset, columns)


def fill_frames(ds: Any, columns: Iterable[tuple[str, str]]) -> None:
    """Blank optional columns of the loaded frames (evaluate/fields.py's rule)."""
    from pendo_segments.evaluate.fields import fill_optional

    for table, column in columns:
        frame = getattr(ds, table, None)
        if frame is not None:
            fill_optional(frame, table, column)


def dataset_shape(ds: Any) -> DataShape:
    """What a loaded :class:`Dataset` holds."""
    return DataShape(
        columns={name: tuple(map(str, frame.columns)) for name, frame in ds.tables().items()},
        features=len(ds.features),
        key_features=len(ds.key_features()),
    )
