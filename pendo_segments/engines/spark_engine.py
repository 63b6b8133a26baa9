"""The Spark engine: a SparkSession (local, a cluster or Spark Connect) reads and checks the data.

Session settings (``--spark-master``, ``--spark-conf``) travel in the engine
object; pyspark is imported only when the data is first opened.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pendo_segments.engines.base import DataShape, Engine, Memberships, Opener, Warn
from pendo_segments.errors import EvaluationError

if TYPE_CHECKING:
    import pandas as pd

    from pendo_segments.data.dataset import Dataset
    from pendo_segments.definitions.loader import DefinitionSet


class SparkEngine(Engine):
    name = "spark"
    dialect = "spark"

    def __init__(
        self,
        data: str,
        *,
        lenient: bool = False,
        warn: Warn | None = None,
        opener: Opener | None = None,
        master: str | None = None,
        conf: dict[str, str] | None = None,
    ) -> None:
        super().__init__(data, lenient=lenient, warn=warn, opener=opener)
        from pendo_segments.evaluate.spark_engine import check_spark_source

        check_spark_source(data)  # pendo: is for the local engines, said before Spark starts
        self.master = master
        self.conf = dict(conf or {})
        self._data: Any = None
        self._subjects: Dataset | None = None
        #: ``evaluate --output-table``: members written to this catalog table
        self.output_table: str | None = None

    @property
    def spark_data(self) -> Any:
        """The :class:`~pendo_segments.evaluate.spark_data.SparkData` (opened on first use)."""
        if self._data is None:
            from pendo_segments.evaluate.spark_data import open_spark_data
            from pendo_segments.evaluate.spark_engine import spark_session

            session = spark_session(self.master, self.conf)
            self._data = open_spark_data(session, self.data, lenient=self.lenient, warn=self.warn)
        return self._data

    def default_as_of(self) -> dt.date:
        return self.spark_data.default_as_of()

    def shape(self) -> DataShape:
        data = self.spark_data
        return DataShape(
            columns={name: tuple(data.columns(name)) for name in data.frames},
            features=data.feature_count(),
            key_features=data.feature_count(key_only=True),
        )

    def small_tables(self) -> Dataset:
        """accounts / visitors / features collected and typed by the pandas loader."""
        if self._subjects is None:
            from pendo_segments.data.loaders import dataset_from_frames
            from pendo_segments.evaluate.spark_data import keep_text

            data = self.spark_data
            tables: dict[str, Any] = {
                name: _collect(data, name) for name in ("accounts", "visitors", "features")
            }
            tables["usage_daily"] = _empty("usage_daily")
            tables["feature_usage"] = _empty("feature_usage")
            ds = dataset_from_frames(tables, source=data.source, warn=lambda _m: None)
            keep_text(data, ds, tables)
            self._subjects = ds
        return self._subjects

    def memberships(
        self,
        defs: DefinitionSet,
        *,
        names: Sequence[str] | None = None,
        as_of: dt.date | None = None,
        progress: Warn | None = None,
    ) -> Memberships:
        from pendo_segments.evaluate.spark_engine import evaluate_spark

        defs.select(names)  # unknown segment names fail before Spark starts
        result = evaluate_spark(
            defs, self.spark_data, as_of=as_of, names=names, output_table=self.output_table
        )
        return Memberships(result.as_of, result.segments, result)

    def query(self, sql: Any, *, at: dt.date | None = None) -> pd.DataFrame:
        from pendo_segments.evaluate.spark_engine import error_line

        text = self.render(sql)
        self.spark_data.at(self.day(at))  # the fields of D−1 (history files, §2b)
        try:
            frame = self.spark_data.spark.sql(text).toPandas()
        except Exception as err:
            raise EvaluationError(f"spark: the job failed ({error_line(err)})") from None
        frame.attrs.clear()  # Spark Connect's plan metrics: not ours, and Arrow warns on them
        return frame

    def fill_optional(self, columns: Iterable[tuple[str, str]]) -> None:
        """Blank columns in Spark's tables (one warning each) and in the collected copy
        the policy reads its column kinds from, which may predate them (features())."""
        from pendo_segments.evaluate.spark_data import fill_optional

        data = self.spark_data
        columns = list(columns)
        before = {t: set(data.columns(t)) for t, _c in columns}
        fill_optional(data, columns)
        if self._subjects is not None and any(
            set(data.columns(t)) != have for t, have in before.items()
        ):
            self._subjects = None  # collected again, with the blank columns

    def close(self) -> None:
        if self._data is not None:
            self._data.close()
            self._data = None


def _collect(data: Any, name: str) -> Any:
    """A small table as Arrow text columns, as the loader reads a file (and keep_text reads)."""
    from pyspark.sql import functions as F

    frame = data.frames[name]
    return frame.select([F.col(c).cast("string").alias(c) for c in frame.columns]).toArrow()


def _empty(name: str) -> Any:
    import pyarrow as pa

    from pendo_segments.data.schema import TABLES

    return pa.table({c: pa.array([], pa.string()) for c in TABLES[name].required})
