"""Backtest days on a SQL engine (DuckDB, Spark): the usage never leaves the engine.

Each as-of day is one query of every segment over the SQL target's shared
metric tables (as ``evaluate --engine duckdb`` computes them) and the health
query of the semantic core, run by the command's
:class:`~pendo_segments.engines.Engine` at that day. Only account-sized
answers come back: the members of each account segment, each visitor
segment's members counted per account, and the health rows. Alerts then run
on those, as on the pandas path. Who exists at a day (docs/semantics.md §2b)
is the SQL target's ``semantics.rules.Existence``; account and visitor fields
are those of D−1, as the engine applies the history files.

Days run one after the other (one day's metric tables alive at a time): one
query over every day would hold days × subjects rows of metrics at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pendo_segments.backtest.run import (
    Backtest,
    LastDay,
    _alert_masks,
    _as_previous,
    _check_memory,
    _health_setup,
)

if TYPE_CHECKING:
    from pendo_segments.backtest.saved import SavedBacktest

#: per-account results a backtest can hold for every day: account segments' and alerts'
#: flags, visitor segments' members per account, health scores
KEEP_ALL = ("flags", "members", "scores")


@dataclass
class AccountFields:
    """The accounts' fields at D (what the alerts' facts read of a data set)."""

    accounts: pd.DataFrame


@dataclass
class SqlDays:
    """What a SQL engine answers per as-of day, with the data's shape read once."""

    engine: Any  # an engines.Engine with the usage in it (DuckDB, Spark)
    shape: Any = None

    def __post_init__(self) -> None:
        self.shape = self.engine.shape()

    def options(self) -> dict[str, Any]:
        """The SQL generator's optional-column switches (docs/semantics.md §1, §2, §2b)."""
        from pendo_segments.semantics.catalogue import row_account_tables

        has = self.shape.has_column
        return {
            "has_first_visit": has("visitors", "first_visit"),
            "has_last_visit": has("visitors", "last_visit"),
            "has_created": has("accounts", "created"),
            "has_churn_date": has("outcomes", "churn_date"),
            "row_account": row_account_tables(has),  # usage rows' own accounts (§1)
            # Spark: who exists is one table, not a join per segment (compile/sql.py)
            "subject_tables": self.engine.dialect == "spark",
        }

    def first_usage(self) -> dt.date | None:
        rows = self.engine.query("SELECT min(date) AS first FROM usage_daily")
        return _as_date(rows["first"].iloc[0]) if len(rows) else None

    def outcomes(self) -> pd.DataFrame | None:
        if not self.shape.has("outcomes"):
            return None
        return self.engine.query("SELECT * FROM outcomes")


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def segment_day(
    days: SqlDays, defs: Any, segments: Sequence[Any], day: dt.date
) -> tuple[dict[str, pd.Series], dict[str, pd.DataFrame]]:
    """Members of ``segments`` at ``day`` in one query: account segments as their member
    ids, visitor segments as ``account_id, members`` rows (``account_id`` NULL: none).

    The SQL target's shared metric tables are the query's CTEs (materialised on
    DuckDB, so each usage scan runs once for every segment).
    """
    plan = day_plan(days, defs, segments, day)
    keep = " MATERIALIZED" if days.engine.dialect == "duckdb" else ""
    ctes = ", ".join(f"{n} AS{keep} ({_bare(t)})" for n, t in plan.tables.items())
    rows = days.engine.query(f"WITH {ctes} {plan.segments}", at=day)
    return _members(rows, segments)


@dataclass
class DayPlan:
    """One as-of day's queries: the shared metric tables (name -> SELECT, in order), the
    segments' union over them, and the health's (reading them too) when asked."""

    tables: dict[str, str]
    segments: str  # '' without segments
    health: Any = None  # a sqlglot tree, or its text (DayPlans)


def day_plan(
    days: SqlDays,
    defs: Any,
    segments: Sequence[Any],
    day: dt.date,
    config: Any = None,
    numbered: bool = False,
) -> DayPlan:
    """The day's queries. With the health ``config``, the tables also hold what the
    health counts (its window's active days and events, events over twice it, every
    catalogued feature's clicks, visitors' last visits), so it scans no usage of its
    own but for its visitor-days (``sessions``). ``numbered``: a row's ``segment`` is
    the segment's place in ``segments`` (an integer), not its name."""
    from pendo_segments.compile.sql import SharedMetricSQL
    from pendo_segments.health.engine import health_tree, shape_tables
    from pendo_segments.health.sql import SharedMetrics

    dialect = days.engine.dialect
    gen = SharedMetricSQL(defs, as_of=day, pretty=False, dialect=dialect, **days.options())
    health = None
    if config is not None:
        login, core, breadth = SharedMetrics.windows(config)
        ids = tuple(str(f) for f in days.engine.features()["feature_id"])
        usage, _ = gen.share("account", login, ("active_days", "events"))
        twice, _ = gen.share("account", 2 * login, ("events",))
        clicks = {w: gen.share("account", w, features=ids)[1] for w in (core, breadth)}
        last = gen.share_last_visit()
        shared = SharedMetrics(usage, twice, clicks if ids else {}, last, gen.EARLIEST)
        health = health_tree(config, shape_tables(days.shape), day, shared)
    compiled = gen.compile_shared(list(segments))
    parts = []
    for i, s in enumerate(segments):
        query = f"({_bare(compiled.queries[s.name])}) q"
        label = str(i) if numbered else _text(s.name)
        if s.subject == "account":
            parts.append(
                f"SELECT {label} AS segment, CAST(q.subject_id AS STRING) AS id, "
                f"1 AS members FROM {query}"
            )
        else:
            parts.append(
                f"SELECT {label} AS segment, CAST(v.account_id AS STRING) AS id, "
                f"count(*) AS members FROM {query} JOIN visitors v "
                "ON CAST(v.visitor_id AS STRING) = CAST(q.subject_id AS STRING) GROUP BY 1, 2"
            )
    return DayPlan(compiled.tables, " UNION ALL ".join(parts), health)


def _members(
    rows: pd.DataFrame, segments: Sequence[Any]
) -> tuple[dict[str, pd.Series], dict[str, pd.DataFrame]]:
    accounts: dict[str, pd.Series] = {}
    visitors: dict[str, pd.DataFrame] = {}
    for s in segments:
        mine = rows[rows["segment"] == s.name]
        if s.subject == "account":
            accounts[s.name] = mine["id"]
        else:
            visitors[s.name] = mine.rename(columns={"id": "account_id"})
    return accounts, visitors


class DuckDays:
    """Days on DuckDB: each day's shared metric tables become temp tables, read by the
    segments' query and by the health's, then dropped (one day's alive at a time). The
    visitors' earliest active days (over all history: the same every day) and the
    accounts' positions are made once where one connection serves every day (a folder;
    frames connect again per day).

    The segments' answers come back as integers streamed in batches (segment number,
    account position, members), never as id strings: at 10M visitors a day's rows are
    9M, 470 MiB as a frame of ids."""

    POSITIONS = "ps_account_positions"

    def __init__(self, days: SqlDays, account_ids: pd.Index) -> None:
        self.days = days
        self.account_ids = account_ids
        self.made: set[str] = set()  # tables kept across days
        self.keep = bool(getattr(days.engine, "folder", None))
        self.plans = DayPlans(days)

    def run(
        self, defs: Any, segments: Sequence[Any], day: dt.date, config: Any
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], pd.DataFrame | None]:
        from pendo_segments.compile.sql import SharedMetricSQL

        engine = self.days.engine
        plan = self.plans.at(defs, segments, day, config)
        daily: list[str] = []
        try:
            if self.POSITIONS not in self.made:
                ids = self.account_ids
                positions = pd.DataFrame({"account_id": ids, "pos": np.arange(len(ids))})
                engine.temp_table(self.POSITIONS, positions, at=day)
                (self.made.add if self.keep else daily.append)(self.POSITIONS)
            for name, select in plan.tables.items():
                if name in self.made:
                    continue
                engine.query(f"CREATE TEMP TABLE {name} AS {_bare(select)}", at=day)
                if name == SharedMetricSQL.EARLIEST and self.keep:
                    self.made.add(name)
                else:
                    daily.append(name)
            masks, per_account = self._answers(plan.segments, segments, day)
            health = engine.query(plan.health, at=day) if plan.health is not None else None
        finally:
            self._drop(daily, day)
        return masks, per_account, health

    def _answers(
        self, query: str, segments: Sequence[Any], day: dt.date
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Account segments' masks and visitor segments' members per account (the last
        place: members without an account) of the numbered segments' ``query``."""
        import pyarrow.compute as pc

        n = len(self.account_ids)
        masks = {s.name: np.zeros(n, dtype=bool) for s in segments if s.subject == "account"}
        per_account = {
            s.name: np.zeros(n + 1, dtype=np.int64) for s in segments if s.subject == "visitor"
        }
        if not query:
            return masks, per_account
        sql = (
            f"SELECT s.segment, p.pos, s.members FROM ({query}) s "
            f"LEFT JOIN {self.POSITIONS} p ON p.account_id = s.id"
        )
        for batch in self.days.engine.batches(sql, at=day):
            number = batch.column(0).to_numpy()
            where = pc.fill_null(batch.column(1), n).to_numpy().astype(np.int64)
            members = batch.column(2).to_numpy()
            for k in np.unique(number):
                rows = number == k
                _add(masks, per_account, segments[int(k)].name, where[rows], members[rows])
        return masks, per_account

    def close(self) -> None:
        self._drop(sorted(self.made))
        self.made.clear()

    def _drop(self, names: Sequence[str], day: dt.date | None = None) -> None:
        for name in names:
            self.days.engine.query(f"DROP TABLE IF EXISTS {name}", at=day)


class DayPlans:
    """:func:`day_plan` (numbered, as text) for each day of one backtest, compiled twice.

    The as-of day enters the SQL target as one literal (the ``params`` CTE,
    semantics/rules.py), so the third day on is the first day's text with its date
    written again; compiling 18 segments and the health with sqlglot was half of a
    day's CPU on small data. The second day checks that: its compiled text must be the
    first's with the date replaced, or every day is compiled (a definition's literal
    equal to the first day, say).
    """

    def __init__(self, days: SqlDays) -> None:
        self.days = days
        self.first: tuple[str, DayPlan] | None = None
        self.same: bool | None = None  # None: not checked yet

    def at(self, defs: Any, segments: Sequence[Any], day: dt.date, config: Any) -> DayPlan:
        if self.first is not None and self.same:
            return self._moved(day)
        plan = self._compiled(defs, segments, day, config)
        if self.first is None:
            self.first = (day.isoformat(), plan)
        elif self.same is None:
            self.same = plan == self._moved(day)
        return plan

    def _compiled(self, defs: Any, segments: Sequence[Any], day: dt.date, config: Any) -> DayPlan:
        plan = day_plan(self.days, defs, segments, day, config, numbered=True)
        health = self.days.engine.render(plan.health) if plan.health is not None else None
        return DayPlan(plan.tables, plan.segments, health)

    def _moved(self, day: dt.date) -> DayPlan:
        assert self.first is not None
        was, plan = self.first
        now = day.isoformat()

        def move(text: str) -> str:
            return text.replace(f"'{was}'", f"'{now}'")

        health = move(plan.health) if plan.health is not None else None
        return DayPlan({n: move(t) for n, t in plan.tables.items()}, move(plan.segments), health)


def _add(
    masks: dict[str, np.ndarray],
    per_account: dict[str, np.ndarray],
    name: str,
    where: np.ndarray,
    members: np.ndarray,
) -> None:
    """One segment's answer rows into the day's answers (``masks`` holds the account
    segments, ``per_account`` the visitor ones): ``where`` an account's position
    (``len(accounts)``: none or unknown), ``members`` its count (visitor segments)."""
    if name in masks:
        mask = masks[name]
        mask[where[where < len(mask)]] = True
    else:
        n = len(per_account[name])
        per_account[name] += np.bincount(where, weights=members, minlength=n).astype(np.int64)


def _answers(
    members: dict[str, pd.Series], per_account: dict[str, pd.DataFrame], account_ids: pd.Index
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """:meth:`DuckDays._answers` from :func:`segment_day`'s frames of ids (Spark)."""
    from pendo_segments.evaluate.metrics import positions

    n = len(account_ids)
    masks = {name: np.zeros(n, dtype=bool) for name in members}
    counts = {name: np.zeros(n + 1, dtype=np.int64) for name in per_account}
    frames = [(name, ids, None) for name, ids in members.items()]
    frames += [(name, rows["account_id"], rows["members"]) for name, rows in per_account.items()]
    for name, ids, many in frames:
        where = positions(ids.astype(str), account_ids).astype(np.int64)
        where = np.where(ids.isna().to_numpy() | (where < 0), n, where)
        ones = np.ones(len(ids)) if many is None else many.to_numpy()
        _add(masks, counts, name, where, ones)
    return masks, counts


def _bare(sql: str) -> str:
    """A query as a subquery: no trailing semicolon."""
    return sql.strip().rstrip(";")


def health_day(
    days: SqlDays, config: Any, day: dt.date, account_ids: pd.Index, frame: Any = None
) -> Any:
    """The §5 health at ``day`` from the engine (or its rows ``frame``, already queried),
    aligned to ``account_ids`` as the pandas scorer aligns it (accounts that are not
    subjects keep their place with NaN)."""
    from pendo_segments.health.engine import health_tree, shape_tables
    from pendo_segments.health.score import HealthResult
    from pendo_segments.health.sql import health_result

    tables = shape_tables(days.shape)
    if frame is None:
        frame = days.engine.query(health_tree(config, tables, day), at=day)
    got = health_result(frame, config, tables, day)
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
    engine: Any,
    days: Sequence[dt.date],
    *,
    defs_path: Path | None = None,
    names: Sequence[str] | None = None,
    with_health: bool = True,
    with_alerts: bool = True,
    progress: Callable[[str], None] | None = None,
    keep_last: bool = False,
    keep: Collection[str] = KEEP_ALL,
) -> Backtest:
    """:func:`~pendo_segments.backtest.run.run_backtest` with ``engine`` (an
    :class:`~pendo_segments.engines.Engine` holding the usage: DuckDB, Spark) doing the
    counting: the same :class:`Backtest`, value for value.

    ``keep``: which per-account results to hold for every day (of :data:`KEEP_ALL`;
    segment sizes always). Every day is still evaluated, scored and alerted; at 1M
    accounts the three take about 44 MiB a day, so ``backtest`` keeps only what its
    output reads (flags for the catch rates, scores for ``--scores``, all for ``--save``).
    """
    from pendo_segments.evaluate.engine import check_segments
    from pendo_segments.evaluate.fields import field_columns
    from pendo_segments.health.rules import segment_names

    sql = SqlDays(engine)
    account_ids = pd.Index(engine.subjects("account")["account_id"].astype(str))
    n_acc = len(account_ids)
    wanted = [s.name for s in defs.select(names)]
    subjects = {n: defs.get(n).subject for n in wanted}
    config, rules, policy, skipped = _health_setup(defs_path, with_health, with_alerts)
    visitor_segments = sum(subject == "visitor" for subject in subjects.values())
    alerts_run = len(rules.alerts) if rules is not None else 0
    _check_memory(
        len(days),
        n_acc,
        (len(wanted) - visitor_segments + alerts_run) * ("flags" in keep),
        visitor_segments * ("members" in keep),
        scores="scores" in keep,
    )
    # the account segments alerts name are evaluated too (the pandas path has the closure's)
    mentioned = segment_names([a.when for a in rules.alerts]) if rules is not None else []
    extra = [n for n in mentioned if n in defs and n not in subjects]
    # the pandas engine's definition errors; feature names become ids (features.csv). The
    # visitors' columns and types are what it reads: their rows stay in the engine
    small = SimpleNamespace(
        accounts=engine.subjects("account"),
        visitors=engine.small_tables().visitors,
        features=engine.query("SELECT * FROM features"),
    )
    check_segments(defs, small, [*wanted, *extra], days[0] if days else dt.date.today())
    run = [defs.get(n) for n in [*wanted, *extra]]
    engine.fill_optional(field_columns(defs, [s.name for s in run]))
    counts: dict[str, list[int]] = {n: [] for n in wanted}
    held = "flags" in keep
    flags = {
        n: np.zeros((len(days), n_acc), dtype=bool)
        for n in wanted
        if subjects[n] == "account" and held
    }
    member_counts = {
        n: np.zeros((len(days), n_acc + 1), dtype=np.int32)
        for n in wanted
        if subjects[n] == "visitor" and "members" in keep
    }
    with_scores = with_health and "scores" in keep
    scores = np.full((len(days), n_acc), np.nan) if with_scores else None
    scored = np.ones((len(days), n_acc), dtype=bool) if with_scores else None
    previous: dict[str, np.ndarray] | None = None
    last: LastDay | None = None
    # DuckDB: the health reads the day's metric tables (temp tables) instead of the usage
    duck = DuckDays(sql, account_ids) if engine.dialect == "duckdb" else None
    for i, day in enumerate(days):
        if progress:
            progress(day.isoformat())
        health_rows = None
        if duck is not None:
            masks, per_account, health_rows = duck.run(defs, run, day, config)
        else:
            masks, per_account = _answers(*segment_day(sql, defs, run, day), account_ids)
        for name, mask in masks.items():
            if name in counts:  # not the segments only the alerts name
                counts[name].append(int(mask.sum()))
                if name in flags:
                    flags[name][i] = mask
        for name, row in per_account.items():
            counts[name].append(int(row.sum()))
            if name in member_counts:
                member_counts[name][i] = row.astype(np.int32)
        if config is None:
            continue
        health = health_day(sql, config, day, account_ids, health_rows)
        if keep_last and i == len(days) - 1:  # the report's current view (no metrics)
            last = LastDay(day, masks=masks, metrics=None, health=health)
        if scores is not None and scored is not None:
            scores[i] = health.score
            scored[i] = health.subject_mask()
        if rules is not None:
            fields = engine.fields_at("account", day)  # of D−1 (history files, §2b)
            ds = AccountFields(fields.reset_index(drop=True))
            found, why = _alert_masks(ds, defs, rules, policy, health, previous, masks)
            for name, mask in found.items():
                if held:
                    alert = flags.setdefault(f"alert:{name}", np.zeros((len(days), n_acc), bool))
                    alert[i] = mask
            skipped = sorted(set(skipped) | set(why))
            previous = _as_previous(health)
    if duck is not None:
        duck.close()
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
        last=last,
    )


def report_backtest(
    defs: Any,
    engine: Any,
    as_of: dt.date,
    weeks: int,
    *,
    defs_path: Path,
    progress: Callable[[str], None] | None = None,
) -> tuple[SavedBacktest, list[str]]:
    """The report's weekly backtest and usage sums on ``engine``, in the form of a saved
    backtest (the report then reads only the small tables), and the note on its days."""
    from pendo_segments.backtest.saved import SavedBacktest
    from pendo_segments.backtest.usage_sql import engine_rollups

    first = SqlDays(engine).first_usage()
    full = first + dt.timedelta(days=30) if first else as_of
    days = sorted(d for d in (as_of - dt.timedelta(days=7 * k) for k in range(weeks + 1)))
    days = [d for d in days if d >= full] or [as_of]
    notes = []
    if len(days) < weeks + 1:
        notes.append(
            f"trends and the backtest start on {days[0].isoformat()} ({len(days)} weekly as-of "
            "days): earlier 30-day windows would reach before the first usage date"
        )
    bt = run_backtest_sql(
        defs, engine, days, defs_path=defs_path, progress=progress, keep_last=True
    )
    assert bt.last is not None
    if progress:
        progress("usage sums")
    rollups = engine_rollups(engine, as_of, weeks)
    return SavedBacktest(bt, bt.last.health, rollups, source=str(engine.data)), notes


def window_warning_sql(days: SqlDays, first: dt.date, window: int = 30) -> str | None:
    """:func:`~pendo_segments.backtest.history.window_warning` from the engine's first date."""
    from pendo_segments.backtest.history import window_note

    start = days.first_usage()
    return window_note(start + dt.timedelta(days=window) if start else None, first, window)


def has_history_files(spec: str) -> bool:
    """A data folder with accounts_history / visitors_history (read by every engine)."""
    from pendo_segments.data.history import HISTORY_NAMES
    from pendo_segments.data.layout import locate_table

    folder = Path(spec)
    if spec == "sample" or spec.startswith("pendo:") or not folder.is_dir():
        return False
    return any(locate_table(folder, n, mandatory=False) is not None for n in HISTORY_NAMES)


def _as_date(value: Any) -> dt.date | None:
    if value is None or (not isinstance(value, dt.date) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date()
    return value
