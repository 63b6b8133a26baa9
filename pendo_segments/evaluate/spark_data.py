"""The usage data of docs/semantics.md §1 as Spark temp views, checked like the loader does.

Spark reads the tables itself (a data folder, a ``scheme://`` folder on shared
storage, or ``spark:DB`` tables of a catalog), so data bigger than one machine
never passes through the driver. The checks follow the same table specs as
the pandas loader (``data/schema.py``) in one aggregate pass per table:
required columns and blanks, numbers, integers, dates, true/false, minimum /
maximum, unique ids, usage rows of unknown visitors or features.

When a check fails on a local folder, the project's loader reads that folder
to produce the message, so every engine reports the very same one-line
``FILE: row N, column 'C': …`` error; other sources get a message naming
the table, the column and an example value.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import reduce
from pathlib import Path
from typing import Any

from pendo_segments.base.words import plural
from pendo_segments.data.columns import DATE_RE, FALSE_WORDS, INFER_NUMBER_RE, NUMBER_RE, TRUE_WORDS
from pendo_segments.data.schema import TABLES, Col, TableSpec
from pendo_segments.errors import DataError

Warn = Callable[[str], None]
CATALOG_PREFIX = "spark:"
#: big tables are read splittable (no quoted line breaks), the small ones in full CSV syntax
BIG_TABLES = ("usage_daily", "feature_usage")
#: up to this many visitors, their ids are broadcast to the checks of the big tables
#: (a hash table of every id in the driver and in each executor)
BROADCAST_VISITORS = 2_000_000


@dataclass
class SparkData:
    """Typed Spark DataFrames per table, registered as temp views of the same name."""

    spark: Any
    source: str
    frames: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        """Free the cached tables (the session may go on with other data)."""
        self.drop_metrics()
        for frame in self.cached:
            frame.unpersist()
        self.cached = []

    def drop_metrics(self) -> None:
        """Free the cached metric tables of the last evaluation, then their view names.

        Every frame is unpersisted before any view goes: on Spark Connect a frame is
        its SQL text, analysed again by ``unpersist``, and a later table reads earlier
        views (the first-seen table).
        """
        for frame in self.metrics.values():
            frame.unpersist()
        for table in self.metrics:
            self.spark.catalog.dropTempView(table)
        self.metrics.clear()

    def has(self, table: str) -> bool:
        return table in self.frames

    def columns(self, table: str) -> list[str]:
        return list(self.frames[table].columns) if table in self.frames else []

    #: measures taken during the check pass: latest usage date, feature counts
    stats: dict[str, Any] = field(default_factory=dict)
    #: the kind each extra (inferred) column got: float, date, bool or str
    kinds: dict[str, dict[str, str]] = field(default_factory=dict)
    cached: list[Any] = field(default_factory=list)  # the tables as read, kept by Spark
    #: an evaluation's shared metric tables by view name (evaluate/spark_engine.py)
    metrics: dict[str, Any] = field(default_factory=dict)
    #: attribute history (docs/semantics.md §2b) by tracked table, checked by data/history.py
    history: dict[str, Any] = field(default_factory=dict)
    #: today's ``accounts`` / ``visitors`` of the tables with history (views at a day take the names)
    today: dict[str, Any] = field(default_factory=dict)

    def at(self, day: dt.date) -> None:
        """``accounts`` / ``visitors`` as they stood for an evaluation at ``day`` (D): the
        history row covering D−1 applied, as a view of the same name; no history, no change."""
        from pendo_segments.data.history import view_sql

        for table, rows in self.history.items():
            columns = list(self.today[table].columns)
            self.frames[table] = self.spark.sql(view_sql(rows, columns, day, "spark"))
            self.frames[table].createOrReplaceTempView(table)

    def default_as_of(self) -> dt.date:
        """The day after the latest usage date (the pandas engine's default)."""
        from pyspark.sql import functions as F

        if "latest" in self.stats:
            latest = self.stats["latest"]
        else:
            latest = self.frames["usage_daily"].agg(F.max("date")).first()[0]
        if latest is None:
            raise DataError(
                f"{self.source or 'usage_daily'}: usage_daily has no rows, "
                "so there is no default as-of day; pass --as-of YYYY-MM-DD"
            )
        return _as_date(latest) + dt.timedelta(days=1)

    def feature_count(self, key_only: bool = False) -> int:
        """How many (key) features the catalogue lists."""
        stat = "key_features" if key_only else "features"
        if stat not in self.stats:
            frame = self.frames["features"]
            if key_only:
                if "key" not in frame.columns:
                    return 0
                frame = frame.where("`key` = TRUE")
            self.stats[stat] = frame.count()
        return int(self.stats[stat])


#: Spark SQL types of the canonical column kinds (data/schema.py)
SPARK_TYPES = {"bool": "boolean", "int": "bigint", "float": "double", "date": "date"}


def fill_optional(data: SparkData, columns: Iterable[tuple[str, str]]) -> None:
    """Optional columns the rules read and the data lacks, added blank (as ``evaluate/fields.py``).

    A rule on them is then unknown (false), as on blank values, and said once;
    a column the contract does not list stays missing for the query to report.
    """
    import logging

    from pyspark.sql import functions as F

    from pendo_segments.data.schema import absent_column_warning, optional_column

    for table, column in columns:
        col = optional_column(table, column)
        if col is None or table not in data.frames or column in data.columns(table):
            continue
        blank = F.lit(None).cast(SPARK_TYPES.get(col.kind, "string"))
        data.frames[table] = data.frames[table].withColumn(column, blank)
        data.frames[table].createOrReplaceTempView(table)
        logging.getLogger("pendo_segments.evaluate").warning(absent_column_warning(table, column))


def subject_rows(data: SparkData, subject: str, subject_id: str) -> dict[str, Any]:
    """The rows that decide ``subject_id``'s segments, as Arrow tables for the local loader.

    A subject's counts depend on its account alone (docs/semantics.md §2): the
    account row, the account's visitors and their usage rows; a visitor
    segment reaches its account's fields and segments; the account's outcomes
    rows decide whether it exists at the as-of day (``churn_date``, §2b). So
    Spark picks those rows and only they reach the driver. An id that is not
    a ``subject`` brings the rows the local messages need: the account of an
    id of the other kind, else the first 50,000 ids for the closest-name
    suggestion.
    """
    from pyspark.sql import functions as F

    accounts, visitors = data.frames["accounts"], data.frames["visitors"]
    own, key = (accounts, "account_id") if subject == "account" else (visitors, "visitor_id")
    other, other_key = (
        (visitors, "visitor_id") if subject == "account" else (accounts, "account_id")
    )
    hit = own.where(F.col(key) == subject_id).select("account_id").limit(1).collect()
    if not hit:
        hit = other.where(F.col(other_key) == subject_id).select("account_id").limit(1).collect()
    if not hit:
        out = {n: data.frames[n].limit(0) for n in ("accounts", "visitors", *BIG_TABLES)}
        out[subject + "s"] = own.limit(50_000)
        if data.has("outcomes"):
            out["outcomes"] = data.frames["outcomes"].limit(0)
    else:
        account = hit[0][0]
        if account is None:  # a visitor without an account
            theirs = visitors.where(F.col("visitor_id") == subject_id)
        else:
            theirs = visitors.where(F.col("account_id") == account)
        ids = F.broadcast(theirs.select(F.col("visitor_id").alias("_v")))
        out = {
            "accounts": accounts.where(F.col("account_id") == account),
            "visitors": theirs,
            **{
                n: data.frames[n].join(ids, F.col("visitor_id") == F.col("_v"), "left_semi")
                for n in BIG_TABLES
            },
        }
        if data.has("outcomes"):  # churned before the as-of day: not a subject (§2b)
            out["outcomes"] = data.frames["outcomes"].where(F.col("account_id") == account)
    out["features"] = data.frames["features"]
    return {n: frame.toArrow() for n, frame in out.items()}


def keep_text(data: SparkData, ds: Any, tables: dict[str, Any]) -> None:
    """Extra columns Spark found to be text stay text in a slice that happens to look numeric."""
    from pendo_segments.data.columns import text_series

    for name, kinds in data.kinds.items():
        frame = getattr(ds, name, None)
        for c, kind in kinds.items():
            if kind == "str" and frame is not None and c in frame.columns:
                frame[c] = text_series(tables[name].column(c)).set_axis(frame.index)


@contextlib.contextmanager
def job_description(spark: Any, text: str) -> Iterator[None]:
    """Name the Spark jobs of a step (Spark UI, event logs); Spark Connect has no such call."""
    try:
        context = spark.sparkContext
    except Exception:  # Spark Connect
        context = None
    if context is not None:
        context.setJobDescription(text)
    try:
        yield
    finally:
        if context is not None:
            context.setJobDescription(None)


def _as_date(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def open_spark_data(
    spark: Any, spec: str, *, lenient: bool = False, warn: Warn | None = None
) -> SparkData:
    """Read, check and register the tables of ``spec`` (folder, URI, ``sample`` or ``spark:DB``)."""
    import logging

    warn = warn or logging.getLogger(__name__).warning
    if spec.startswith(CATALOG_PREFIX):
        found, label = _catalog_tables(spark, spec[len(CATALOG_PREFIX) :]), spec
        folder = None
    else:
        if spec == "sample":
            from pendo_segments.data.loaders import bundled_sample_path

            spec = str(bundled_sample_path())
        folder = None if "://" in spec else Path(spec)
        found = _folder_tables(spark, folder) if folder else _uri_tables(spark, spec)
        label = spec
    data = SparkData(spark, "sample" if spec.endswith("sample_data") else label)
    # text is parsed once: the check pass fills the cache that every segment and the health
    # score read. Parquet is not cached: a scan of its columns costs less than filling and
    # reading Spark's cache of them (benchmarks/RESULTS-spark.md)
    data.cached = [frame.persist(storage_level()) for _w, frame, text in found.values() if text]
    raw = {name: (where, frame) for name, (where, frame, _text) in found.items()}
    try:
        _check_all(data, raw, lenient, warn)
    except _Problem as problem:
        data.close()
        if folder is not None:
            from pendo_segments.data.loaders import load_dataset

            load_dataset(folder, lenient=lenient, warn=lambda _m: None)  # raises the same error
        raise DataError(str(problem)) from None
    for name, frame in data.frames.items():
        frame.createOrReplaceTempView(name)
    _attach_history(data, spec, folder, warn)
    return data


def _read_history(data: SparkData, spec: str, folder: Path | None, table: str, warn: Warn) -> Any:
    """``table``'s history, checked by data/history.py: a local folder's files as the pandas
    loader reads them (same messages); on storage or in a catalog as Spark reads it."""
    import pandas as pd

    from pendo_segments.data import history

    name = history.TRACKED[table][0]
    columns = data.columns(table)
    if folder is not None:
        return history.load_history(folder, pd.DataFrame(columns=columns), table, warn, stray=False)
    if spec.startswith(CATALOG_PREFIX):
        full = f"{spec[len(CATALOG_PREFIX) :]}.{name}"
        found = [(f"spark:{full}", data.spark.table(full))] if _exists(data.spark, full) else []
    else:
        found = []
        for ext in ("parquet", "csv"):
            path = f"{spec.rstrip('/')}/{name}.{ext}"
            try:
                frame = (
                    _read_parquet(data.spark, path, path)
                    if ext == "parquet"
                    else _read_csv(data.spark, path, name)
                )
            except DataError:
                continue
            except Exception as err:  # AnalysisException: no such file (history is optional)
                if "PATH_NOT_FOUND" in str(err) or "does not exist" in str(err):
                    continue
                raise DataError(f"{path}: cannot be read ({_first_line(err)})") from None
            found = [(path, frame)]
            break
    if not found:
        return None
    label, frame = found[0]
    return history.history_from_table(table, label, frame.toArrow(), columns, warn)


def _exists(spark: Any, table: str) -> bool:
    try:
        return bool(spark.catalog.tableExists(table))
    except Exception:
        return False


def _attach_history(data: SparkData, spec: str, folder: Path | None, warn: Warn) -> None:
    """The history tables as Spark views beside today's tables; :meth:`SparkData.at`
    applies them to a day."""
    import pyarrow as pa
    from pyspark.sql import functions as F

    from pendo_segments.data import history

    for table, (_name, id_column) in history.TRACKED.items():
        rows = _read_history(data, spec, folder, table, warn)
        if rows is None or not rows.columns:
            continue
        arrow = pa.Table.from_pandas(rows.frame, preserve_index=False)
        for edge in history.VALIDITY:
            arrow = arrow.set_column(
                arrow.column_names.index(edge), edge, arrow.column(edge).cast(pa.date32())
            )
        frame = data.spark.createDataFrame(arrow)
        types = dict(data.frames[table].dtypes)
        frame = frame.select(
            *[
                F.col(f"`{c}`").cast(types[c]).alias(c) if c in types else F.col(f"`{c}`")
                for c in frame.columns
            ]
        )
        known = data.frames[table].select(F.col(id_column).alias("_known"))
        stray = frame.join(known, F.col(id_column) == F.col("_known"), "left_anti").count()
        if stray:
            warn(history.stray_warning(rows.label, table, int(stray)))
        data.history[table] = rows
        data.today[table] = data.frames[table]
        data.today[table].createOrReplaceTempView(history.today_name(table))
        frame.createOrReplaceTempView(history.history_name(table))


def storage_level() -> Any:
    """Memory first, spilling to local disk: a table bigger than memory still runs."""
    from pyspark import StorageLevel

    return StorageLevel.MEMORY_AND_DISK


class _Problem(Exception):
    """A check failed; the message names table, column and an example value."""


# -- sources ----------------------------------------------------------------------


def _folder_tables(spark: Any, folder: Path) -> dict[str, tuple[str, Any, bool]]:
    """``name → (label, DataFrame, read from text)`` for a local folder: the loader's files.

    Every layout of ``data/layout.py`` (a file, a folder of part files, Hive
    partitions) is read from the very files the other engines read.
    """
    from pendo_segments.data.layout import open_table

    if not folder.is_dir():
        raise DataError(f"{folder}: data folder not found")
    found = {name: open_table(folder, name, spec.mandatory) for name, spec in TABLES.items()}
    out = {}
    for name, table in found.items():
        if table is None:
            continue
        files = [str(f.resolve()) for f in table.files]
        base = str(table.path.resolve()) if table.folder else None
        if table.fmt == "csv":
            from pendo_segments.data.files import read_header

            header = read_header(table.files[0], table.file_label(table.files[0]))
            out[name] = (table.label, _read_csv(spark, files, name, header, base), True)
        else:
            out[name] = (table.label, _read_parquet(spark, files, table.label, base), False)
    return out


def _uri_tables(spark: Any, base: str) -> dict[str, tuple[str, Any, bool]]:
    """A folder on storage Spark reaches (``s3a://``, ``hdfs://``, ``abfss://``, …)."""
    base = base.rstrip("/")
    out = {}
    for name, spec in TABLES.items():
        for ext in ("parquet", "csv"):
            path = f"{base}/{name}.{ext}"
            try:
                frame = (
                    _read_parquet(spark, path, path)
                    if ext == "parquet"
                    else _read_csv(spark, path, name)
                )
                frame.schema  # noqa: B018 - resolves the path now
            except DataError:
                continue
            except Exception as err:  # AnalysisException: path does not exist
                if "PATH_NOT_FOUND" in str(err) or "does not exist" in str(err):
                    continue
                raise DataError(f"{path}: cannot be read ({_first_line(err)})") from None
            out[name] = (path, frame, ext == "csv")
            break
        else:
            if spec.mandatory:
                raise DataError(f"{base}: missing {name}.csv (or {name}.parquet)")
    return out


def _catalog_tables(spark: Any, database: str) -> dict[str, tuple[str, Any, bool]]:
    """Catalog tables are cached as before: their format is the catalog's."""
    if not database:
        raise DataError("spark:: name a catalog database, e.g. --data spark:usage")
    out = {}
    for name, spec in TABLES.items():
        table = f"{database}.{name}"
        try:
            exists = spark.catalog.tableExists(table)
        except Exception as err:
            raise DataError(
                f"spark:{database}: catalog cannot be read ({_first_line(err)})"
            ) from None
        if exists:
            out[name] = (f"spark:{table}", spark.table(table), True)
        elif spec.mandatory:
            raise DataError(f"spark:{database}: missing table {name}")
    return out


def _read_csv(
    spark: Any,
    path: str | list[str],
    name: str,
    header: list[str] | None = None,
    base: str | None = None,
) -> Any:
    """Every column as text like the pandas loader (ids such as 00123 stay intact).

    A known header becomes the schema, which saves Spark a job per file.
    ``base``: the table's folder, whose Hive ``name=value`` folders become
    text columns.
    """
    reader = spark.read.option("header", True).option("inferSchema", False)
    if header is not None:
        from pyspark.sql import types as T

        reader = reader.schema(T.StructType([T.StructField(c, T.StringType()) for c in header]))
    reader = reader.option("escape", '"').option("encoding", "UTF-8").option("mode", "FAILFAST")
    if name not in BIG_TABLES:
        reader = reader.option("multiLine", True)
    with _text_partitions(spark):
        frame = (reader.option("basePath", base) if base else reader).csv(path)
        frame.schema  # noqa: B018 - the partitions are found now, as text
    first = frame.columns[0] if frame.columns else ""
    if first.startswith("\ufeff"):
        frame = frame.withColumnRenamed(first, first[1:])
    return frame


def _read_parquet(spark: Any, path: str | list[str], label: str, base: str | None = None) -> Any:
    try:
        with _text_partitions(spark):
            reader = spark.read.option("basePath", base) if base else spark.read
            frame = reader.parquet(*([path] if isinstance(path, str) else path))
            frame.schema  # noqa: B018
            return frame
    except Exception as err:
        raise DataError(f"{label}: not a readable Parquet file ({_first_line(err)})") from None


@contextlib.contextmanager
def _text_partitions(spark: Any) -> Iterator[None]:
    """Hive partition values as text, as the other engines read them (then typed and checked).

    Spark would otherwise guess types from the folder names: ``account_id=00123``
    would become the number 123.
    """
    key = "spark.sql.sources.partitionColumnTypeInference.enabled"
    before = spark.conf.get(key, "true")
    spark.conf.set(key, "false")
    try:
        yield
    finally:
        spark.conf.set(key, before)


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


# -- checks and types -------------------------------------------------------------


@dataclass
class _Table:
    """One table's checks, built lazily; all tables are checked in one Spark job."""

    name: str
    label: str
    frame: Any
    #: (column, problem, bad-row condition, value shown in the message)
    checks: list[tuple[str, str, Any, Any]] = field(default_factory=list)
    infer: list[str] = field(default_factory=list)
    links: list[tuple[str, str, str]] = field(default_factory=list)  # column, table, what
    joined: Any = None  # the frame with the catalogue ids joined (for the rare recounts)

    @property
    def spec(self) -> TableSpec:
        return TABLES[self.name]


def _check_all(data: SparkData, raw: dict[str, tuple[str, Any]], lenient: bool, warn: Warn) -> None:
    """Check every table in one Spark job, then define the typed frames (the loader's order)."""
    plans = {name: _plan(name, *raw[name]) for name in TABLES if name in raw}
    broadcast = "visitors" in plans and _visitor_rows(data, plans) <= BROADCAST_VISITORS
    aggs = [_aggregates(plan, plans, broadcast) for plan in plans.values()]
    try:
        with job_description(data.spark, f"pendo-segments: read and check {data.source}"):
            row = reduce(lambda a, b: a.crossJoin(b), aggs).first().asDict()
    except Exception as err:  # e.g. a CSV row with more cells than the header (FAILFAST)
        raise _Problem(
            f"{data.source}: Spark cannot read the tables ({_first_line(err)})"
        ) from None
    references: list[str] = [n for n in ("accounts", "visitors", "features") if n in plans]
    for name in references:  # the loader's order: reference tables and their warnings first
        data.frames[name] = _typed(data, plans[name], row, plans, lenient, warn)
    if data.source != "sample" and {"accounts", "visitors"} <= set(plans):
        _warn_orphans(data, plans, row, warn)  # (the sample's trial-account visitors are meant)
    for table in plans:
        if table not in references:
            data.frames[table] = _typed(data, plans[table], row, plans, lenient, warn)
    data.frames = {name: data.frames[name] for name in plans}
    data.stats = {"latest": row["usage_daily__latest"], "features": row["features__rows"]}
    data.stats["earliest"] = row.get("usage_daily__earliest")
    data.stats["key_features"] = row.get("features__keys") or 0


def _visitor_rows(data: SparkData, plans: dict[str, _Table]) -> int:
    """How many rows the visitors table has (Parquet: from the file footers)."""
    with job_description(data.spark, f"pendo-segments: count visitors of {data.source}"):
        return int(plans["visitors"].frame.count())


def _plan(name: str, label: str, frame: Any) -> _Table:
    from pyspark.sql import functions as F

    plan = _Table(name, label, frame)
    spec = plan.spec
    names = list(frame.columns)
    for dup in names:
        if names.count(dup) > 1:
            raise _Problem(f"{label}: column '{dup}' appears twice")
    for column in spec.required:
        if column not in names:
            raise _Problem(f"{label}: missing required column '{column}'")
    text = _text_columns(frame)
    for c in names:
        col = spec.column(c)
        if col.kind == "infer":
            if c in text:
                plan.infer.append(c)
            continue
        _value, bad, problem = _convert(frame, c, col, col.kind)
        if bad is not None:
            plan.checks.append((c, problem, bad, F.col(f"`{c}`")))
        if col.required:
            plan.checks.append((c, "required value is blank", _blank(frame, c), F.lit("")))
    if name in ("usage_daily", "feature_usage", "nps", "visitor_accounts"):
        plan.links.append(("visitor_id", "visitors", "visitor"))
        if name == "feature_usage":
            plan.links.append(("feature_id", "features", "feature"))
        if name == "visitor_accounts":  # links of known visitors to known accounts (§1)
            plan.links.append(("account_id", "accounts", "account"))
    return plan


def _text_columns(frame: Any) -> set[str]:
    from pyspark.sql import types as T

    return {f.name for f in frame.schema.fields if isinstance(f.dataType, T.StringType)}


def _blank(frame: Any, c: str) -> Any:
    from pyspark.sql import functions as F

    v = F.col(f"`{c}`")
    return v.isNull() | (v == "") if c in _text_columns(frame) else v.isNull()


def _ids(frame: Any, c: str) -> Any:
    """An id column as text, blank as NULL."""
    from pyspark.sql import functions as F

    v = F.col(f"`{c}`").cast("string")
    return F.when(v == "", None).otherwise(v)


def _known(plan: _Table, c: str) -> Any:
    """The distinct ids of ``plan`` (column ``_k_c``) with a marker column ``_ok_c``.

    The table's own key needs no DISTINCT (a shuffle of every id): a repeated key
    stops the load before any count this join gives is read (:func:`_typed`).
    """
    from pyspark.sql import functions as F

    ids = plan.frame.select(_ids(plan.frame, c).alias(f"_k_{c}"))
    if c != plan.spec.key:
        ids = ids.distinct()
    return ids.withColumn(f"_ok_{c}", F.lit(True))


def _unknown(frame: Any, c: str) -> Any:
    from pyspark.sql import functions as F

    return F.col(f"_ok_{c}").isNull() & _ids(frame, c).isNotNull()


def _aggregates(plan: _Table, plans: dict[str, _Table], broadcast: bool) -> Any:
    """A one-row frame with the counts and an example of every problem of ``plan``.

    Plain aggregates only (no Python UDF, no DISTINCT over a big table, so no
    row expansion). With ``broadcast`` (at most :data:`BROADCAST_VISITORS`
    visitors) a usage table meets the visitor ids row by row in a broadcast hash
    join, so its checks need no shuffle; otherwise a table that names visitors is
    first aggregated per visitor id (map-side, before any shuffle) and only those
    per-visitor rows meet the ids. The feature catalogue is small and is broadcast
    to every task.
    """
    from pyspark.sql import functions as F

    p = f"{plan.name}__"
    source = plan.frame
    for c, other, _what in plan.links:
        if other != "visitors":
            known = F.broadcast(_known(plans[other], c))
            source = source.join(known, _ids(source, c) == F.col(f"_k_{c}"), "left")
    if plan.name == "visitors" and "accounts" in plans:  # visitors of unknown accounts warn
        known = _known(plans["accounts"], "account_id")
        source = source.join(known, _ids(source, "account_id") == F.col("_k_account_id"), "left")
    first = lambda c: F.first(c, ignorenulls=True)  # noqa: E731
    by_visitor = any(other == "visitors" for _c, other, _w in plan.links)
    row_wise = by_visitor and broadcast and plan.name in BIG_TABLES
    if row_wise:
        known = F.broadcast(_known(plans["visitors"], "visitor_id"))
        source = source.join(known, _ids(source, "visitor_id") == F.col("_k_visitor_id"), "left")
    plan.joined = source
    ok = F.col("_ok_visitor_id").isNotNull() if by_visitor else F.lit(True)
    # (name, aggregate over rows, how the per-visitor aggregates combine)
    parts: list[tuple[str, Any, Any]] = [(f"{p}rows", F.count(F.lit(1)), F.sum)]
    if plan.name == "usage_daily":  # the default as-of day, over rows that stay
        day = _convert(plan.frame, "date", plan.spec.column("date"), "date")[0]
        if row_wise:
            parts.append((f"{p}latest", F.max(F.when(ok, day)), None))
            parts.append((f"{p}earliest", F.min(F.when(ok, day)), None))
        else:
            parts.append((f"{p}latest", F.max(day), lambda v: F.max(F.when(ok, v))))
            parts.append((f"{p}earliest", F.min(day), lambda v: F.min(F.when(ok, v))))
    if plan.name == "features" and "key" in plan.frame.columns:
        key = _convert(plan.frame, "key", plan.spec.column("key"), "bool")[0]
        parts.append((f"{p}keys", F.sum(F.when(key, 1).otherwise(0)), F.sum))
    for i, (_c, _p, bad, _shown) in enumerate(plan.checks):  # an example: _example, on failure
        parts.append((f"{p}n{i}", F.sum(F.when(bad, 1).otherwise(0)), F.sum))
    for c in plan.infer:
        v = F.when(F.col(f"`{c}`") == "", None).otherwise(F.col(f"`{c}`"))
        for tag, good in (
            ("num", v.rlike(INFER_NUMBER_RE)),
            ("date", v.rlike(DATE_RE) & F.to_date(v, "yyyy-MM-dd").isNotNull()),
            ("bool", F.lower(v).isin("true", "false")),
        ):
            parts.append(
                (f"{p}{tag}:{c}", F.sum(F.when(v.isNotNull() & ~good, 1).otherwise(0)), F.sum)
            )
        parts.append((f"{p}any:{c}", F.count(v), F.sum))
    for i, (c, other, _w) in enumerate(plan.links):
        if other != "visitors" or row_wise:  # distinct unknown ids: counted when there are any
            unknown = _unknown(source, c)
            parts.append((f"{p}u{i}", F.sum(F.when(unknown, 1).otherwise(0)), F.sum))
    if plan.name == "visitors" and "accounts" in plans:
        stray = F.when(_unknown(source, "account_id"), 1).otherwise(0)
        parts.append((f"{p}orphans", F.sum(stray), F.sum))
    if plan.name == "visitor_accounts":  # a pair given twice (per visitor: a small table)
        accounts = _ids(source, "account_id")
        parts.append((f"{p}pairs", F.count(accounts) - F.countDistinct(accounts), F.sum))
    if not by_visitor or row_wise:
        key = plan.spec.key
        if key:
            dup = F.count(_ids(source, key)) - F.countDistinct(_ids(source, key))
            parts.append((f"{p}dup", dup, None))
        return source.agg(*[agg.alias(name) for name, agg, _combine in parts])
    grouped = source.groupBy(_ids(source, "visitor_id").alias("_vid"))
    grouped = grouped.agg(*[agg.alias(name) for name, agg, _combine in parts])
    known = _known(plans["visitors"], "visitor_id")
    grouped = grouped.join(known, F.col("_vid") == F.col("_k_visitor_id"), "left")
    unknown = F.col("_ok_visitor_id").isNull() & F.col("_vid").isNotNull()
    i = next(i for i, (_c, other, _w) in enumerate(plan.links) if other == "visitors")
    return grouped.agg(
        *[combine(F.col(f"`{name}`")).alias(name) for name, _agg, combine in parts],
        F.sum(F.when(unknown, F.col(f"`{p}rows`")).otherwise(0)).alias(f"{p}u{i}"),
        F.count(F.when(unknown, 1)).alias(f"{p}d{i}"),
        first(F.when(unknown, F.col("_vid"))).alias(f"{p}x{i}"),
    )


def _typed(
    data: SparkData,
    plan: _Table,
    row: dict[str, Any],
    plans: dict[str, _Table],
    lenient: bool,
    warn: Warn,
) -> Any:
    """The table with canonical types, after its checks passed (or its unknown ids dropped)."""
    p, label, spec = f"{plan.name}__", plan.label, plan.spec
    failed = [check for i, check in enumerate(plan.checks) if row[f"{p}n{i}"]]
    if failed:  # the first failed check, as the loader reports it
        c, problem, bad, shown = failed[0]
        raise _Problem(f"{label}: column '{c}': {_example(plan.frame, bad, shown)!r} {problem}")
    if spec.key and row.get(f"{p}dup"):
        raise _Problem(f"{label}: column '{spec.key}': {plural(row[f'{p}dup'], 'duplicate id')}")
    if row.get(f"{p}pairs"):
        raise _Problem(f"{label}: {plural(row[f'{p}pairs'], 'repeated visitor and account pair')}")
    kinds = {c: _inferred(row, p, c) for c in plan.infer}
    data.kinds[plan.name] = kinds
    columns = []
    for c in plan.frame.columns:
        col = spec.column(c)
        value, _bad, _problem = _convert(plan.frame, c, col, kinds.get(c, col.kind))
        columns.append(value.alias(c))
    out = plan.frame.select(*columns)
    for i, (c, other, what) in enumerate(plan.links):
        if not row[f"{p}u{i}"]:
            continue
        ids = row.get(f"{p}d{i}")
        if ids is None:  # rare: count the distinct unknown ids now
            joined = plan.joined
            ids = joined.where(_unknown(joined, c)).select(_ids(joined, c)).distinct().count()
        counts = f"{plural(row[f'{p}u{i}'], 'row')} of {plural(ids, 'unknown ' + what)}"
        if not lenient:
            raise _Problem(
                f"{label}: column '{c}': unknown {what} {_unknown_example(plan, row, i)!r} ({counts}; "
                "--lenient drops them)"
            )
        warn(f"{label}: dropped {counts}")
        out = out.join(data.frames[other].select(c), c, "left_semi")
    return out


def _example(frame: Any, bad: Any, shown: Any) -> str | None:
    """A value of a row that fails a check, asked only once the check pass found one:
    an example in the pass itself (a ``first`` per check over every row) took as long
    as the checks (benchmarks/RESULTS-spark.md)."""
    found = frame.where(bad).select(shown.cast("string").alias("v")).first()
    return None if found is None else found["v"]


def _unknown_example(plan: _Table, row: dict[str, Any], i: int) -> str | None:
    """An unknown id of link ``i``: from the per-visitor pass when it gave one, else
    looked up now in the joined rows (see :func:`_example`)."""
    if f"{plan.name}__x{i}" in row:
        return row[f"{plan.name}__x{i}"]
    c = plan.links[i][0]
    return _example(plan.joined, _unknown(plan.joined, c), _ids(plan.joined, c))


def _warn_orphans(
    data: SparkData, plans: dict[str, _Table], row: dict[str, Any], warn: Warn
) -> None:
    """The loader's warnings about account data that leaves results empty or partial."""
    from pyspark.sql import functions as F

    accounts, visitors = plans["accounts"], plans["visitors"]
    if not row["accounts__rows"]:
        warn(
            f"{accounts.label}: no accounts (header only): account segments, "
            "health and tiers will be empty"
        )
        return
    n_visitors = row.get("visitors__orphans") or 0
    if not n_visitors:
        return
    theirs = visitors.frame.select(  # file order, for the first ids shown
        _ids(visitors.frame, "account_id").alias("account_id"),
        F.monotonically_increasing_id().alias("_pos"),
    )
    known = accounts.frame.select(_ids(accounts.frame, "account_id").alias("account_id"))
    stray = theirs.where("account_id IS NOT NULL").join(known, "account_id", "left_anti")
    stray = stray.groupBy("account_id").agg(F.min("_pos").alias("_pos")).cache()
    n_ids = stray.count()
    ids = [r[0] for r in stray.orderBy("_pos").limit(3).collect()]
    stray.unpersist()
    shown = ", ".join(repr(v) for v in ids) + (", …" if n_ids > 3 else "")
    warn(
        f"{visitors.label}: {plural(n_visitors, 'visitor')} of {plural(n_ids, 'account')} "
        f"not in {accounts.label} ({shown}); their account fields are blank"
    )


def _inferred(row: dict[str, Any], p: str, c: str) -> str:
    """The kind the loader infers for an extra text column: number, date, true/false, text."""
    if not row[f"{p}any:{c}"]:
        return "str"
    for tag, kind in (("num", "float"), ("date", "date"), ("bool", "bool")):
        if not row[f"{p}{tag}:{c}"]:
            return kind
    return "str"


def _convert(frame: Any, name: str, col: Col, kind: str) -> tuple[Any, Any, str]:
    """(typed value, bad-row condition or None, problem text) for one column."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    v = F.col(f"`{name}`")
    dtype = frame.schema[name].dataType
    text = isinstance(dtype, T.StringType)
    if text:
        v = F.when(v == "", None).otherwise(v)
    if kind in ("str", "cat", "infer"):
        return (v if text else v.cast("string") if kind != "infer" else v), None, ""
    if kind == "bool":
        if not text:
            return v.cast("boolean"), None, ""
        low = F.lower(v)
        yes, no = low.isin(*TRUE_WORDS), low.isin(*FALSE_WORDS)
        return F.when(yes, True).when(no, False), v.isNotNull() & ~(yes | no), "is not true/false"
    if kind == "date":
        if isinstance(dtype, T.DateType | T.TimestampType | T.TimestampNTZType):
            return F.to_date(v), None, ""
        parsed = F.to_date(v.cast("string"), "yyyy-MM-dd")
        ok = v.cast("string").rlike(DATE_RE) & parsed.isNotNull()
        return parsed, v.isNotNull() & ~ok, "is not a date (YYYY-MM-DD)"
    # numbers
    problem = _number_problem(col)
    if not text and not isinstance(dtype, T.NumericType):  # true/false, dates: not numbers
        value = F.lit(None).cast("long" if kind == "int" else "double")
        return value, v.isNotNull(), problem
    num = v.cast("double")
    tests = []
    if not isinstance(dtype, T.IntegralType):  # integers are whole and finite already
        tests.append(v.isNotNull() & (num.isNull() | F.isnan(num) | (F.abs(num) == float("inf"))))
        if kind == "int":
            tests.append(F.floor(num) != num)
    if text:
        tests.append(v.isNotNull() & ~v.rlike(NUMBER_RE))
    if col.min is not None:
        tests.append(num < col.min)
        if kind == "float":
            problem = "is negative" if col.min == 0 else f"is below {col.min:g}"
    if col.max is not None:
        tests.append(num > col.max)
    value = num.cast("long") if kind == "int" else num
    return value, reduce(lambda a, b: a | b, tests) if tests else None, problem


def _number_problem(col: Col) -> str:
    from pendo_segments.data.columns import _number_problem as loader_problem

    return loader_problem(col)
