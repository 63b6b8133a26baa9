"""Run the compiled segment SQL on Apache Spark: the engine for data bigger than one machine.

The SQL target (``compile/sql.py``) is transpiled to Spark SQL by sqlglot
and every requested segment runs in one Spark job over the temp views of
:mod:`pendo_segments.evaluate.spark_data`. The session is local
(``local[*]``), a cluster master (``spark://…``, ``yarn``, ``k8s://…``) or a
Spark Connect server (``sc://host:15002``). Answers are those of the pandas
engine (docs/semantics.md §2); the test suite checks it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

import pandas as pd

from pendo_segments.definitions.loader import DefinitionSet
from pendo_segments.definitions.models import Segment
from pendo_segments.errors import EvaluationError

DEFAULT_MASTER = "local[*]"
MEMBERSHIP_COLUMNS = ["segment", "subject", "subject_id"]
_TABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){1,2}$")
_SESSIONS: dict[str, Any] = {}


def spark_session(master: str | None = None, conf: dict[str, str] | None = None) -> Any:
    """A SparkSession for ``master`` (``sc://…`` is Spark Connect); one per master per process."""
    master = master or DEFAULT_MASTER
    if master in _SESSIONS:  # settings of the SQL layer still apply to a running session
        session = _SESSIONS[master]
        for key, value in (conf or {}).items():
            if key.startswith("spark.sql."):
                session.conf.set(key, value)
        return session
    import warnings

    # pyspark warns about pandas versions it has not been tested with; results are checked here
    warnings.filterwarnings(
        "ignore", message="PySpark does not yet fully support", category=FutureWarning
    )
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EvaluationError(
            "the spark engine needs pyspark (and Java 17): pip install 'pendo-segments[spark]'"
        ) from None
    builder = SparkSession.builder.appName("pendo-segments")
    builder = builder.remote(master) if master.startswith("sc://") else builder.master(master)
    # ANSI mode (Spark 4's default) turns a bad cast into an error; checks want NULL.
    # Inner CTEs (a referenced segment's ``params``) shadow outer ones, as in DuckDB.
    settings = {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.ansi.enabled": "false",
        "spark.sql.legacy.ctePrecedencePolicy": "CORRECTED",
        # members come back to the driver as Arrow batches, not pickled rows
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    }
    if not master.startswith("sc://"):  # a driver here: no "[Stage …]" bar on the CLI's stderr
        settings["spark.ui.showConsoleProgress"] = "false"
        # pyspark 4 records the Python call site of every DataFrame call for error
        # messages: three JVM round trips in four (the CLI words its own errors)
        settings["spark.python.sql.dataFrameDebugging.enabled"] = "false"
    if master.startswith("local"):
        settings |= local_settings(master, conf)
    for key, value in (settings | (conf or {})).items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as err:  # no Java, master unreachable, Connect server down
        raise EvaluationError(
            f"spark: cannot start a session on {master} ({error_line(err)})"
        ) from None
    for key in (
        "spark.sql.session.timeZone",
        "spark.sql.ansi.enabled",
        "spark.sql.legacy.ctePrecedencePolicy",
    ):  # getOrCreate may return an existing session
        session.conf.set(key, settings[key])
    if master.startswith("local"):
        session.sparkContext.setLogLevel("ERROR")
    _SESSIONS[master] = session
    return session


def local_settings(master: str, given: dict[str, str] | None = None) -> dict[str, str]:
    """Local mode tuned for one machine: no UI, few shuffle partitions, adaptive plans.

    Spark's default of 200 shuffle partitions is meant for a cluster; on a
    few cores it makes every shuffle 200 tiny tasks. Adaptive execution
    coalesces partitions and turns joins with a small side into broadcast
    joins once it sees the real sizes. The broadcast threshold stays Spark's
    10 MB: at 1M visitors a 64 MB one ran the driver out of memory next to
    the cached tables (benchmarks/RESULTS-spark.md). The driver's heap is half
    the machine's memory unless ``given`` (``--spark-conf``, the session's conf)
    sets it (``budget.spark_driver_memory``).
    """
    from pendo_segments.evaluate.budget import spark_driver_memory

    cores = _local_cores(master)
    return spark_driver_memory(given or {}) | {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": str(max(2, 4 * cores)),
        "spark.default.parallelism": str(max(2, 2 * cores)),
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.adaptive.coalescePartitions.enabled": "true",
    }


def _local_cores(master: str) -> int:
    """N of ``local[N]`` / ``local[N,F]``; the machine's cores for ``local[*]``; 1 for ``local``."""
    import os

    match = re.match(r"^local(?:\[(\d+|\*)(?:,\s*\d+)?\])?$", master)
    if not match or match.group(1) is None:
        return 1
    if match.group(1) == "*":
        return os.cpu_count() or 1
    return max(1, int(match.group(1)))


def error_line(err: Exception) -> str:
    text = " ".join(str(err).split())
    return text[:300] or type(err).__name__


def spark_text(raw: str, *, ordered: bool = True, inline: bool = False) -> str:
    """A query of the SQL target (DuckDB dialect) in the Spark dialect (sqlglot).

    Nested WITH clauses stay where the SQL target put them (see ``writer_for``).
    Without ``ordered`` no part of it sorts: a member set needs no order, and
    in Spark every ORDER BY is a global sort with a sampling job of its own
    (the engine sorts the collected members once). With ``inline`` the top
    WITH clause's tables become subqueries where they are read (see
    :func:`_inline_ctes`).
    """
    import sqlglot
    from sqlglot import exp

    from pendo_segments.compile.sql import writer_for

    tree = sqlglot.parse_one(raw.rstrip().rstrip(";"), read="duckdb")
    if not ordered:
        for select in tree.find_all(exp.Select):
            if select.args.get("order") is not None and select.args.get("limit") is None:
                select.set("order", None)
    if inline:
        _inline_ctes(tree)
    return str(tree.sql(dialect=writer_for("spark")))


def _inline_ctes(tree: Any) -> None:
    """The top WITH clause's tables as subqueries in place (a metric table's ``params``).

    Spark serves a cached frame to a later query only if the frame's plan is found
    in that query's plan; a frame made by a query WITH ``params`` is not found in a
    segment query that has a ``params`` of its own, so every segment computed its
    metric tables again from the usage (benchmarks/RESULTS-spark.md).
    """

    with_ = tree.args.get("with_")
    if with_ is None:
        return
    tree.set("with_", None)
    ctes: dict[str, Any] = {}
    for cte in with_.expressions:  # a table may read an earlier one
        body = cte.this.copy()
        _replace_tables(body, ctes)
        ctes[cte.alias] = body
    _replace_tables(tree, ctes)


def _replace_tables(tree: Any, ctes: dict[str, Any]) -> None:
    from sqlglot import exp

    for table in list(tree.find_all(exp.Table)):
        if table.name in ctes and not table.db:
            alias = exp.TableAlias(this=exp.to_identifier(table.alias or table.name))
            table.replace(exp.Subquery(this=ctes[table.name].copy(), alias=alias))


def shared_queries(
    data: Any, defs: DefinitionSet, names: Sequence[str], as_of: dt.date
) -> dict[str, str]:
    """The segments' queries over shared metric tables, which are cached in Spark now.

    Each usage table is scanned once per (subject, window) for all segments
    (``SharedMetricSQL``, as the DuckDB folder engine does), where one query
    per segment made Spark scan and shuffle the 36M cached usage rows again
    for every metric of every segment (benchmarks/RESULTS-spark.md). The
    metric tables are small (one row per subject) and stay cached until
    :meth:`SparkData.drop_metrics`.
    """
    from pendo_segments.compile.sql import SharedMetricSQL
    from pendo_segments.evaluate.spark_data import job_description, storage_level
    from pendo_segments.semantics.catalogue import row_account_tables

    gen = SharedMetricSQL(
        defs,
        as_of=as_of,
        pretty=False,
        has_first_visit="first_visit" in data.columns("visitors"),
        has_last_visit="last_visit" in data.columns("visitors"),  # docs/semantics.md §2
        has_created="created" in data.columns("accounts"),  # §2b
        has_churn_date="churn_date" in data.columns("outcomes"),
        row_account=row_account_tables(lambda t, c: c in data.columns(t)),  # §1
        subject_tables=True,  # who exists: one cached table, not a join per segment
    )
    shared = gen.compile_shared([defs.get(n) for n in names])
    data.drop_metrics()
    for table, select in shared.tables.items():  # in order: a table may read an earlier one
        try:
            text = spark_text(select, ordered=False, inline=True)
            frame = data.spark.sql(text).persist(storage_level())
            frame.createOrReplaceTempView(table)
            data.metrics[table] = frame
            with job_description(data.spark, f"pendo-segments: metric table {table}"):
                frame.count()  # filled once, before the segments read it
        except Exception as err:
            raise EvaluationError(
                f"spark: metric table {table} failed ({error_line(err)})"
            ) from None
    return {n: spark_text(q, ordered=False) for n, q in shared.queries.items()}


def segment_frames(
    data: Any, defs: DefinitionSet, names: Sequence[str], as_of: dt.date
) -> list[Any]:
    """One lazy Spark DataFrame of ``subject_id`` text per name of ``names``, over the
    metric tables :func:`shared_queries` fills."""
    from pyspark.sql import functions as F

    queries = shared_queries(data, defs, names, as_of) if names else {}
    out = []
    for name in names:
        try:
            frame = data.spark.sql(queries[name])
        except Exception as err:
            raise EvaluationError(
                f"{defs.get(name).source}: {name}: Spark cannot run it ({error_line(err)})"
            ) from None
        out.append(frame.select(F.col("subject_id").cast("string").alias("subject_id")))
    return out


def members_frame(data: Any, defs: DefinitionSet, names: Sequence[str], as_of: dt.date) -> Any:
    """One Spark DataFrame ``segment, subject, subject_id`` for all ``names`` (lazy)."""
    from pyspark.sql import functions as F

    parts = [
        frame.select(
            F.lit(name).alias("segment"), F.lit(defs.get(name).subject).alias("subject"), "*"
        )
        for name, frame in zip(names, segment_frames(data, defs, names, as_of), strict=True)
    ]
    if not parts:
        return data.spark.createDataFrame([], "segment string, subject string, subject_id string")
    return reduce(lambda a, b: a.unionByName(b), parts)


def collect_members(frames: Sequence[Any], segments: dict[str, Segment]) -> pd.DataFrame:
    """The members of ``frames`` (one per segment, in the order of ``segments``) as the
    membership frame, sorted by segment and id.

    One Spark job brings each member as its segment's number and its id, as Arrow
    batches; the names are put back and the rows sorted here in Arrow. Shipping the
    segment and subject text with every row and converting rows to pandas took a fifth
    of a 1M-visitor evaluation (benchmarks/RESULTS-spark.md).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyspark.sql import functions as F

    names = list(segments)
    coded = [f.select(F.lit(i).alias("_segment"), "subject_id") for i, f in enumerate(frames)]
    if coded:
        table = reduce(lambda a, b: a.unionByName(b), coded).toArrow()
    else:
        table = pa.table(
            {"_segment": pa.array([], pa.int32()), "subject_id": pa.array([], pa.string())}
        )
    by_name = sorted(names)  # the segments' order in the membership frame
    rank = {n: r for r, n in enumerate(by_name)}
    ranks = pc.take(pa.array([rank[n] for n in names], pa.int32()), table.column("_segment"))
    ids = table.column("subject_id")
    order = pc.sort_indices(
        pa.table({"rank": ranks, "subject_id": ids}),
        sort_keys=[("rank", "ascending"), ("subject_id", "ascending")],
    )
    ranks = pc.take(ranks, order)
    subjects = [segments[n].subject for n in by_name]
    return pd.DataFrame(
        {
            "segment": pc.take(pa.array(by_name, pa.string()), ranks).to_pandas(),
            "subject": pc.take(pa.array(subjects, pa.string()), ranks).to_pandas(),
            "subject_id": pc.take(ids, order).to_pandas(),
        }
    )


@dataclass
class SparkEvaluation:
    """Members computed by Spark, shaped like the pandas engine's ``Evaluation``."""

    as_of: dt.date
    segments: dict[str, Segment]
    frame: pd.DataFrame | None = None  # docs/semantics.md §4 membership, sorted
    written: dict[str, int] = field(default_factory=dict)  # counts when written to a table
    table: str | None = None

    def counts(self) -> dict[str, int]:
        if self.frame is None:
            return {n: int(self.written.get(n, 0)) for n in self.segments}
        sizes = self.frame.groupby("segment").size()
        return {n: int(sizes.get(n, 0)) for n in self.segments}

    def members(self, name: str) -> pd.Index:
        frame = self.membership()
        return pd.Index(frame.loc[frame["segment"] == name, "subject_id"])

    def membership_batches(self, names: Sequence[str] | None = None) -> Iterator[Any]:
        """The collected members as one Arrow table (already sorted), like the other engines."""
        import pyarrow as pa

        yield pa.Table.from_pandas(self.membership(names), preserve_index=False)

    def membership(self, names: Sequence[str] | None = None) -> pd.DataFrame:
        if self.frame is None:
            raise EvaluationError(f"members were written to {self.table}, not collected")
        if names is None:
            return self.frame
        return self.frame[self.frame["segment"].isin(list(names))].reset_index(drop=True)


def evaluate_spark(
    defs: DefinitionSet,
    data: Any,
    *,
    as_of: dt.date | None = None,
    names: Sequence[str] | None = None,
    output_table: str | None = None,
) -> SparkEvaluation:
    """Members of the named segments (all by default), computed in Spark.

    With ``output_table`` the members are written there (one row per member,
    columns ``segment,subject,subject_id``, replacing the table) and only the
    counts come back to the driver.
    """
    from pendo_segments.definitions.features import spark_catalogue
    from pendo_segments.evaluate.fields import field_columns
    from pendo_segments.evaluate.spark_data import fill_optional

    day = as_of or data.default_as_of()
    data.at(day)  # the fields of D−1 (history files, docs/semantics.md §2b)
    wanted = [s.name for s in defs.select(names)]
    features = spark_catalogue(data.frames["features"])
    defs.use_features(features, EvaluationError, check=wanted)  # feature names → ids
    segments = {n: defs.get(n) for n in wanted}
    fill_optional(data, field_columns(defs, wanted))  # optional columns the data lacks: blank
    if output_table:
        if not _TABLE_RE.match(output_table):
            raise EvaluationError(f"--output-table {output_table!r}: expected DATABASE.TABLE")
        frame = members_frame(data, defs, wanted, day)
        try:
            frame.write.mode("overwrite").saveAsTable(output_table)
            counts = data.spark.table(output_table).groupBy("segment").count().collect()
        except Exception as err:
            raise EvaluationError(
                f"spark: cannot write {output_table} ({error_line(err)})"
            ) from None
        finally:
            data.drop_metrics()
        return SparkEvaluation(
            as_of=day, segments=segments, written={r[0]: r[1] for r in counts}, table=output_table
        )
    from pendo_segments.evaluate.spark_data import job_description

    frames = segment_frames(data, defs, wanted, day)
    try:
        with job_description(data.spark, f"pendo-segments: {len(wanted)} segments"):
            members = collect_members(frames, segments)
    except Exception as err:
        raise EvaluationError(f"spark: the segment job failed ({error_line(err)})") from None
    finally:
        data.drop_metrics()
    return SparkEvaluation(as_of=day, segments=segments, frame=members)


def check_spark_source(data_spec: str) -> None:
    """Spark reads files and catalog tables; the live Pendo source is for the local engines."""
    if data_spec.startswith("pendo:"):
        raise EvaluationError("--engine spark reads a data folder or spark:DATABASE, not pendo:")
