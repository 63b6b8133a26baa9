"""Backtest days on a SQL engine (DuckDB, Spark): the usage never leaves the engine.

Each as-of day runs the compiled SQL of the segments (the SQL target's shared
metric tables, as ``evaluate --engine duckdb`` runs them) and the health query
of :mod:`pendo_segments.health.sql` at that day over the engine's views of the
data. Only account-sized answers come back: the members of each account
segment, each visitor segment's members counted per account, and the health
rows. Alerts then run on those, as on the pandas path. Who exists at a day
(docs/semantics.md §2b) is the SQL target's ``semantics.rules.Existence``;
account and visitor fields are today's (DuckDB and Spark refuse history files).

Days run one after the other (one set of metric tables alive at a time): a
query over every day at once would hold days × subjects rows of metrics.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pendo_segments.backtest.run import (
    Backtest,
    _alert_masks,
    _as_previous,
    _check_memory,
    _health_setup,
)

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset

Warn = Callable[[str], None]


@dataclass
class SqlData:
    """One engine's views of a data set, opened once for every as-of day.

    ``ref`` holds the small tables in pandas (accounts, outcomes, features,
    NPS, tickets: the alerts and catch rates read them); the usage tables are
    the engine's only. ``query`` runs SQL and returns its (small) result;
    ``materialise`` fills a named table the next queries read.
    """

    dialect: str
    ref: Dataset
    query: Callable[[str], pd.DataFrame]
    materialise: Callable[[str, str], None]
    close: Callable[[], None]
    #: the data's optional columns (SQL generator options, health Tables)
    columns: dict[str, list[str]] = field(default_factory=dict)
    first_usage: dt.date | None = None

    def has(self, table: str, column: str) -> bool:
        return column in self.columns.get(table, [])

    def options(self) -> dict[str, bool]:
        return {
            "has_first_visit": self.has("visitors", "first_visit"),
            "has_last_visit": self.has("visitors", "last_visit"),
            "has_created": self.has("accounts", "created"),
            "has_churn_date": self.has("outcomes", "churn_date"),
        }

    def health_tables(self) -> Any:
        from pendo_segments.health.sql import Tables

        ds = self.ref
        return Tables(
            key_features=len(ds.key_features()),
            features=len(ds.features),
            nps=ds.nps is not None,
            tickets=ds.tickets is not None,
            renewal_date=self.has("accounts", "renewal_date"),
            last_visit=self.has("visitors", "last_visit"),
            first_visit=self.has("visitors", "first_visit"),
            created=self.has("accounts", "created"),
            churn_date=self.has("outcomes", "churn_date"),
        )


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def segment_day(
    data: SqlData, defs: Any, segments: Sequence[Any], day: dt.date
) -> tuple[dict[str, pd.Series], dict[str, pd.DataFrame]]:
    """Members of ``segments`` at ``day``: account segments as their member ids, visitor
    segments as ``account_id, members`` rows (``account_id`` NULL: no account)."""
    from pendo_segments.compile.sql import SharedMetricSQL

    gen = SharedMetricSQL(defs, as_of=day, pretty=False, dialect=data.dialect, **data.options())
    shared = gen.compile_shared(list(segments))
    for table, select in shared.tables.items():
        data.materialise(table, select)
    accounts = [s for s in segments if s.subject == "account"]
    visitors = [s for s in segments if s.subject == "visitor"]
    out_a: dict[str, pd.Series] = {s.name: pd.Series([], dtype=object) for s in accounts}
    out_v: dict[str, pd.DataFrame] = {}
    if accounts:
        parts = [
            f"SELECT {_text(s.name)} AS segment, CAST(q.subject_id AS STRING) AS id "
            f"FROM ({_bare(shared.queries[s.name])}) q"
            for s in accounts
        ]
        rows = data.query(" UNION ALL ".join(parts))
        for name, group in rows.groupby("segment", sort=False):
            out_a[str(name)] = group["id"]
    if visitors:
        parts = [
            f"SELECT {_text(s.name)} AS segment, CAST(v.account_id AS STRING) AS account_id, "
            f"count(*) AS members FROM ({_bare(shared.queries[s.name])}) q "
            "JOIN visitors v ON CAST(v.visitor_id AS STRING) = CAST(q.subject_id AS STRING) "
            "GROUP BY 1, 2"
            for s in visitors
        ]
        rows = data.query(" UNION ALL ".join(parts))
        for s in visitors:
            out_v[s.name] = rows[rows["segment"] == s.name]
    return out_a, out_v


def _bare(sql: str) -> str:
    """A query as a subquery: no trailing semicolon."""
    return sql.strip().rstrip(";")


def health_day(data: SqlData, config: Any, day: dt.date, account_ids: pd.Index) -> Any:
    """The §5 health at ``day`` from the engine, aligned to ``account_ids`` as the pandas
    scorer aligns it (accounts that are not subjects keep their place with NaN)."""
    from pendo_segments.health.score import HealthResult
    from pendo_segments.health.sql import health_query, health_result

    tables = data.health_tables()
    got = health_result(
        data.query(health_query(config, tables, day, dialect=data.dialect)), config, tables, day
    )
    pos = account_ids.get_indexer(got.account_ids)
    n = len(account_ids)

    def put(values: np.ndarray) -> np.ndarray:
        out = np.full(n, np.nan)
        out[pos] = values
        return out

    subjects = np.zeros(n, dtype=bool)
    subjects[pos] = True
    return HealthResult(
        as_of=day,
        config=config,
        account_ids=account_ids,
        score=put(got.score),
        components={c: put(v) for c, v in got.components.items()},
        signals={s: put(v) for s, v in got.signals.items()},
        missing_everywhere=got.missing_everywhere,
        subjects=None if subjects.all() else subjects,
    )


def run_backtest_sql(
    defs: Any,
    data: SqlData,
    days: Sequence[dt.date],
    *,
    defs_path: Path | None = None,
    names: Sequence[str] | None = None,
    with_health: bool = True,
    with_alerts: bool = True,
    progress: Callable[[str], None] | None = None,
) -> Backtest:
    """:func:`~pendo_segments.backtest.run.run_backtest` with the engine doing the counting:
    the same :class:`Backtest`, value for value."""
    from pendo_segments.evaluate.metrics import positions
    from pendo_segments.health.rules import segment_names

    ds = data.ref
    account_ids = pd.Index(ds.accounts["account_id"].astype(str))
    n_acc = len(account_ids)
    wanted = [s.name for s in defs.select(names)]
    subjects = {n: defs.get(n).subject for n in wanted}
    config, rules, policy, skipped = _health_setup(defs_path, with_health, with_alerts)
    visitor_segments = sum(subject == "visitor" for subject in subjects.values())
    alerts_run = len(rules.alerts) if rules is not None else 0
    _check_memory(len(days), n_acc, len(wanted) - visitor_segments + alerts_run, visitor_segments)
    # the account segments alerts name are evaluated too (the pandas path has the closure's)
    mentioned = segment_names([a.when for a in rules.alerts]) if rules is not None else []
    extra = [n for n in mentioned if n in defs and n not in subjects]
    from pendo_segments.evaluate.engine import check_segments

    # the pandas engine's definition errors; feature names become ids (features.csv)
    check_segments(defs, ds, [*wanted, *extra], days[0] if days else dt.date.today())
    run = [defs.get(n) for n in [*wanted, *extra]]
    counts: dict[str, list[int]] = {n: [] for n in wanted}
    flags = {
        n: np.zeros((len(days), n_acc), dtype=bool) for n in wanted if subjects[n] == "account"
    }
    member_counts = {
        n: np.zeros((len(days), n_acc + 1), dtype=np.int32)
        for n in wanted
        if subjects[n] == "visitor"
    }
    scores = np.full((len(days), n_acc), np.nan) if with_health else None
    scored = np.ones((len(days), n_acc), dtype=bool) if with_health else None
    previous: dict[str, np.ndarray] | None = None
    for i, day in enumerate(days):
        if progress:
            progress(day.isoformat())
        members, per_account = segment_day(data, defs, run, day)
        masks: dict[str, np.ndarray] = {}
        for name, ids in members.items():
            mask = np.zeros(n_acc, dtype=bool)
            mask[positions(ids.astype(str), account_ids)] = True
            masks[name] = mask
            if name in flags:
                flags[name][i] = mask
                counts[name].append(int(mask.sum()))
        for name, rows in per_account.items():
            where = positions(rows["account_id"].astype(str), account_ids)
            where = np.where(rows["account_id"].isna().to_numpy() | (where < 0), n_acc, where)
            row = np.bincount(where, weights=rows["members"].to_numpy(), minlength=n_acc + 1)
            member_counts[name][i] = row.astype(np.int32)
            counts[name].append(int(row.sum()))
        if scores is None:
            continue
        health = health_day(data, config, day, account_ids)
        scores[i] = health.score
        assert scored is not None
        scored[i] = health.subject_mask()
        if rules is not None:
            found, why = _alert_masks(ds, defs, rules, policy, health, previous, masks)
            for name, mask in found.items():
                flags.setdefault(f"alert:{name}", np.zeros((len(days), n_acc), dtype=bool))[i] = (
                    mask
                )
            skipped = sorted(set(skipped) | set(why))
            previous = _as_previous(health)
    return Backtest(
        days=list(days),
        account_ids=account_ids,
        subjects=subjects,
        counts=counts,
        flags=flags,
        alerts=[k for k in flags if k.startswith("alert:")],
        member_counts=member_counts,
        scores=scores,
        scored=scored,
        skipped=skipped,
    )


# -- opening the data on an engine -----------------------------------------------------
def reference_dataset(folder: Path, lenient: bool, warn: Warn | None) -> Dataset:
    """Every table of ``folder`` but the usage, loaded and checked by the pandas loader
    (its messages and warnings); the usage tables are left empty."""
    import pyarrow as pa

    from pendo_segments.data.layout import open_table
    from pendo_segments.data.loaders import build_dataset, frame_reader, table_reader
    from pendo_segments.data.schema import TABLES
    from pendo_segments.errors import DataError

    if not folder.is_dir():
        raise DataError(f"{folder}: data folder not found")
    readers: dict[str, Any] = {}
    for name, spec in TABLES.items():
        if name in ("usage_daily", "feature_usage"):
            empty = pa.table({c: pa.array([], pa.string()) for c in spec.required})
            readers[name] = frame_reader(name, empty)
        else:
            found = open_table(folder, name, spec.mandatory, scan_gz=False)
            readers[name] = table_reader(found) if found is not None else None
    return build_dataset(readers, source=str(folder), lenient=lenient, warn=warn)


def _fill_optional(defs: Any, ds: Dataset) -> None:
    """Columns the segments read that the data lacks, as blank columns (as evaluate does)."""
    from pendo_segments.evaluate.fields import field_columns, fill_optional

    for table, column in field_columns(defs, None):
        fill_optional(getattr(ds, table), table, column)


def open_duckdb(
    defs: Any,
    spec: str,
    *,
    lenient: bool = False,
    warn: Warn | None = None,
    memory_limit: str | None = None,
    loaded: Dataset | None = None,
) -> SqlData:
    """DuckDB over ``spec``: a folder's usage files are read by DuckDB where they lie
    (spilling beyond ``memory_limit``); ``loaded`` (the sample, live Pendo data) is
    registered as it is."""
    from pendo_segments.evaluate.duckdb_folder import (
        USAGE_TABLES,
        _copy_in,
        _load_usage,
        connect_limited,
        duck_errors,
    )

    con, temp_dir = connect_limited(memory_limit)
    try:
        if loaded is not None:
            ds = loaded
            _fill_optional(defs, ds)
            for name, frame in ds.tables().items():
                con.register(name, frame)
        else:
            from pendo_segments.data.layout import open_table
            from pendo_segments.data.schema import TABLES

            root = Path(spec)
            ds = reference_dataset(root, lenient, warn)
            _fill_optional(defs, ds)
            with duck_errors():
                for name, frame in ds.tables().items():
                    if name not in USAGE_TABLES:
                        _copy_in(con, name, frame)
                for name in USAGE_TABLES:
                    table = open_table(root, name, TABLES[name].mandatory)
                    assert table is not None  # mandatory tables
                    _load_usage(con, root, table, lenient, warn)
        with duck_errors():
            first = con.execute("SELECT min(date) FROM usage_daily").fetchall()[0][0]
    except BaseException:
        con.close()
        import shutil

        shutil.rmtree(temp_dir, ignore_errors=True)
        raise

    def query(sql: str) -> pd.DataFrame:
        with duck_errors():
            return con.execute(sql).df()

    def materialise(name: str, sql: str) -> None:
        with duck_errors():
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")

    def close() -> None:
        import shutil

        con.close()
        shutil.rmtree(temp_dir, ignore_errors=True)

    return SqlData(
        dialect="duckdb",
        ref=ds,
        query=query,
        materialise=materialise,
        close=close,
        columns=_columns(ds),
        first_usage=_as_date(first),
    )


def open_spark_backtest(
    defs: Any,
    spec: str,
    *,
    lenient: bool = False,
    warn: Warn | None = None,
    master: str | None = None,
) -> SqlData:
    """Spark over ``spec`` (a folder, ``sample`` or ``spark:DB``): Spark reads and checks
    the data; the small tables are collected into pandas for the alerts."""
    from pendo_segments.errors import EvaluationError
    from pendo_segments.evaluate.fields import field_columns
    from pendo_segments.evaluate.spark_data import fill_optional
    from pendo_segments.evaluate.spark_engine import error_line, open_spark

    data = open_spark(spec, master, lenient=lenient, warn=warn)
    fill_optional(data, field_columns(defs, None))
    ds = _spark_reference(data, spec, lenient)
    views: list[Any] = []

    def query(sql: str) -> pd.DataFrame:
        try:
            return data.spark.sql(sql).toPandas()
        except Exception as err:
            raise EvaluationError(f"spark: the backtest job failed ({error_line(err)})") from None

    def materialise(name: str, sql: str) -> None:
        try:
            frame = data.spark.sql(sql).cache()
        except Exception as err:
            raise EvaluationError(f"spark: the backtest job failed ({error_line(err)})") from None
        frame.createOrReplaceTempView(name)
        views.append(frame)
        while len(views) > 32:  # the previous days' tables
            views.pop(0).unpersist()

    def close() -> None:
        for frame in views:
            frame.unpersist()
        data.close()

    first = data.frames["usage_daily"].agg({"date": "min"}).first()[0]
    return SqlData(
        dialect="spark",
        ref=ds,
        query=query,
        materialise=materialise,
        close=close,
        columns={t: data.columns(t) for t in ("accounts", "visitors", "outcomes")},
        first_usage=_as_date(first),
    )


def _spark_reference(data: Any, spec: str, lenient: bool) -> Dataset:
    """The small tables as the pandas loader types them (alerts, catch rates)."""
    from pendo_segments.data.loaders import bundled_sample_path

    if spec == "sample":
        return reference_dataset(bundled_sample_path(), lenient, lambda _m: None)
    if Path(spec).is_dir():
        return reference_dataset(Path(spec), lenient, lambda _m: None)
    from pendo_segments.data.loaders import dataset_from_frames

    frames = {
        name: data.frames[name].toPandas()
        for name in ("accounts", "visitors", "features", "nps", "tickets", "outcomes")
        if data.has(name)
    }
    for name in ("usage_daily", "feature_usage"):
        frames[name] = data.frames[name].limit(0).toPandas()
    return dataset_from_frames(frames, source=spec, lenient=lenient, warn=lambda _m: None)


def _columns(ds: Dataset) -> dict[str, list[str]]:
    outcomes = ds.outcomes
    return {
        "accounts": list(ds.accounts.columns),
        "visitors": list(ds.visitors.columns),
        "outcomes": list(outcomes.columns) if outcomes is not None else [],
    }


def _as_date(value: Any) -> dt.date | None:
    if value is None or (not isinstance(value, dt.date) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date()
    return value


def open_sql_data(
    engine: str,
    defs: Any,
    spec: str,
    *,
    lenient: bool = False,
    warn: Warn | None = None,
    memory_limit: str | None = None,
    master: str | None = None,
) -> SqlData:
    """``--engine duckdb|spark`` for a ``--data`` value: a folder is read by the engine; the
    sample and live Pendo data (DuckDB) are loaded, then handed to it."""
    _refuse_history(spec, "DuckDB" if engine == "duckdb" else "Spark")
    if engine == "spark":
        return open_spark_backtest(defs, spec, lenient=lenient, warn=warn, master=master)
    loaded = None
    if spec == "sample" or spec.startswith("pendo:"):
        from pendo_segments.sources import open_dataset

        loaded = open_dataset(spec, lenient=lenient, warn=warn)
    return open_duckdb(
        defs, spec, lenient=lenient, warn=warn, memory_limit=memory_limit, loaded=loaded
    )


def _refuse_history(spec: str, engine: str) -> None:
    """History files are read by the pandas backtest only: refused rather than today's
    fields used on past days."""
    from pendo_segments.data.history import HISTORY_NAMES
    from pendo_segments.data.layout import locate_table
    from pendo_segments.errors import DataError

    folder = Path(spec)
    if spec == "sample" or spec.startswith("pendo:") or not folder.is_dir():
        return
    for name in HISTORY_NAMES:
        if locate_table(folder, name, mandatory=False) is not None:
            raise DataError(
                f"{folder}: {name} is not read by the {engine} backtest (it would use "
                "today's fields on past days); use --engine pandas"
            )


def window_warning_sql(data: SqlData, first: dt.date, window: int = 30) -> str | None:
    """:func:`~pendo_segments.backtest.history.window_warning` from the engine's first date."""
    from pendo_segments.backtest.history import window_note

    full = data.first_usage + dt.timedelta(days=window) if data.first_usage else None
    return window_note(full, first, window)
