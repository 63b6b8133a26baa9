"""SQLite state files that remember what was sent: the campaign's emails, alerts' Slack
messages, Salesforce Tasks.

All three keep a row per thing to send and *claim* it (committed) before the
request goes out, so a re-run or a run after a crash never sends it twice. What
makes that hold is shared here: the file is created ``0600`` before SQLite opens
it (it holds names and addresses; the ``-wal`` / ``-journal`` files take its
mode), WAL with ``synchronous=FULL`` (a committed claim survives power loss),
``BEGIN IMMEDIATE`` transactions, a schema version that refuses a newer
program's or another program's file, dry runs that never write, a lock beside
the file (``STATE.lock``) so one sending run holds it at a time, and one-line
errors that name what is in the way of a bad path.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from pendo_segments.base.filelock import HolderLock
from pendo_segments.errors import PendoSegmentsError


def now_utc() -> str:
    """The state files' timestamps: UTC, to the second."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def in_the_way(path: Path, err: OSError) -> str:
    """Why ``path`` cannot be created, naming what is in the way: the path is a folder,
    or one of its parents is a file; else the system's reason (permission denied…)."""
    with contextlib.suppress(OSError):
        if path.is_dir():
            return "it is a folder"
        for parent in path.parents:
            if parent.exists():
                if not parent.is_dir():
                    return f"{parent} is not a folder"
                break
    reason = err.strerror or type(err).__name__
    return reason[:1].lower() + reason[1:]


def placeholders(values: tuple[str, ...]) -> str:
    """``?,?,…`` for an ``IN (…)`` over ``values``."""
    return ",".join("?" * len(values))


def connect(target: Path | str, *, uri: bool = False) -> sqlite3.Connection:
    """An autocommit connection (each change is its own committed transaction)."""
    conn = sqlite3.connect(target, uri=uri, isolation_level=None, timeout=30)
    conn.row_factory = sqlite3.Row
    return conn


@dataclass(frozen=True)
class StateFile:
    """One kind of state file: what errors call it, its schema and its version."""

    what: str  # "campaign state": "{path}: cannot open the campaign state (…)"
    error: Callable[[str], PendoSegmentsError]
    schema: str
    version: int
    #: tables beside ``meta`` that a file of this kind has: without them it is another
    #: program's file
    tables: tuple[str, ...]
    #: also tighten an existing file (and its companions) to 0600: the campaign's were
    #: written before that rule
    tighten: bool = False

    def open(self, path: Path) -> sqlite3.Connection:
        """Open for writing, creating the file (``0600``) and its folder; a new file gets
        the schema and its version."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            if self.tighten:
                _tighten(path)
        except OSError as err:
            raise self.error(
                f"{path}: cannot create the {self.what}: {in_the_way(path, err)}"
            ) from None
        try:
            conn = connect(path)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")  # a committed claim survives power loss
            conn.execute("PRAGMA foreign_keys = ON")
            version = self.check_version(conn, path)  # before the schema: never write into
            conn.executescript(self.schema)  # another program's file
            if version is None:
                conn.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(self.version),),
                )
        except sqlite3.DatabaseError as err:
            raise self.error(f"{path}: cannot open the {self.what} ({err})") from None
        return conn

    def open_read_only(self, path: Path) -> tuple[sqlite3.Connection, Path | None]:
        """A dry run's view of the file, which it cannot change: the file opened read-only,
        or (path None) an empty in-memory state when there is no file or it is empty."""
        self._not_a_folder(path)
        if not path.exists():
            return self.empty(), None
        try:
            conn = connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            if self.check_version(conn, path) is None and not _tables(conn):
                conn.close()
                return self.empty(), None
        except sqlite3.DatabaseError as err:
            raise self.error(f"{path}: cannot read the {self.what} ({err})") from None
        return conn, path

    def snapshot(self, path: Path) -> sqlite3.Connection:
        """An in-memory copy of the file (empty when there is none) with the schema: a dry
        run may plan in it exactly like a sending run and writes nothing."""
        self._not_a_folder(path)
        copy = connect(":memory:")
        if path.exists():
            try:
                src = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
                try:
                    src.backup(copy)
                finally:
                    src.close()
                self.check_version(copy, path)
            except sqlite3.DatabaseError as err:
                raise self.error(f"{path}: cannot read the {self.what} ({err})") from None
        copy.executescript(self.schema)
        return copy

    def empty(self) -> sqlite3.Connection:
        """A state with nothing in it, in memory."""
        conn = connect(":memory:")
        conn.executescript(self.schema)
        return conn

    def check_version(self, conn: sqlite3.Connection, path: Path) -> int | None:
        """The file's schema version (None: a new file); refuses another program's file
        and a newer version."""
        tables = _tables(conn)
        if not tables:
            return None
        if not {"meta", *self.tables} <= tables:
            raise self.error(f"{path}: not a pendo-segments {self.what} file")
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            return None
        version = int(row[0])
        if version > self.version:
            raise self.error(
                f"{path}: {self.what} schema version {version} is newer than this "
                f"pendo-segments understands ({self.version}); upgrade it"
            )
        return version

    def _not_a_folder(self, path: Path) -> None:
        if path.is_dir():
            raise self.error(f"{path}: cannot read the {self.what}: it is a folder")


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _tighten(path: Path) -> None:
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-journal"), Path(f"{path}-shm")):
        with contextlib.suppress(FileNotFoundError):
            if name.stat().st_mode & 0o077:
                os.chmod(name, 0o600)


class StateFileLock(HolderLock):
    """An exclusive lock on ``STATE.lock``: one sending run per state file at a time.

    ``busy`` is the message for a held lock (``{holder}`` names its holder); a path that
    cannot be a lock file is one line naming what is in the way.
    """

    def __init__(
        self,
        state_file: str | os.PathLike[str],
        *,
        error: Callable[[str], PendoSegmentsError],
        what: str,
        busy: str,
        wait: float = 0.0,
    ) -> None:
        path = Path(f"{state_file}.lock")
        self._error, self._what = error, what
        super().__init__(
            path, busy=lambda holder: error(f"{path}: {busy.format(holder=holder)}"), wait=wait
        )

    def check(self) -> None:
        """Refuse, creating nothing, a lock path that cannot be made: called before the data
        is read, so a bad ``--state`` fails at once and not after the evaluation."""
        if self.path.is_dir():
            raise self._error(f"{self.path}: cannot create the {self._what}: it is a folder")
        for parent in self.path.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise self._error(
                        f"{self.path}: cannot create the {self._what}: {parent} is not a folder"
                    )
                return

    def __enter__(self) -> Self:
        try:
            super().__enter__()
        except OSError as err:  # a file where its folder should be, a folder at STATE.lock
            raise self._error(
                f"{self.path}: cannot create the {self._what}: {in_the_way(self.path, err)}"
            ) from None
        return self


class SQLiteState:
    """A state file's connection (``path`` None: in memory) and its transactions."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None) -> None:
        self.conn = conn
        self.path = path

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``: the write lock is taken up front, so two
        writers never interleave inside one step."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")


class RunsState(SQLiteState):
    """A state with a ``runs`` table: one row per sending run, ``running`` → ``ok`` |
    ``failed``, or ``crashed`` when the next run finds it still running."""

    def run_scope(self) -> dict[str, str]:
        """Columns every ``runs`` row of this state carries (the campaign's name)."""
        return {}

    def start_run(self, as_of: dt.date) -> int:
        scope = self.run_scope()
        columns = ", ".join(["as_of", "started_at", "status", "pid", *scope])
        marks = ", ".join(["?", "?", "'running'", "?", *("?" for _ in scope)])
        with self.transaction() as db:
            cur = db.execute(
                f"INSERT INTO runs ({columns}) VALUES ({marks})",  # noqa: S608
                (as_of.isoformat(), now_utc(), os.getpid(), *scope.values()),
            )
            return int(cur.lastrowid)  # type: ignore[arg-type]

    def crash_runs(self, db: sqlite3.Connection) -> None:
        """Runs left ``running`` are ``crashed`` (call it holding the lock: none is live)."""
        scope = self.run_scope()
        where = "".join(f" AND {c} = ?" for c in scope)
        db.execute(
            "UPDATE runs SET status = 'crashed', finished_at = ?, "
            "message = 'the process stopped before the run finished' "
            f"WHERE status = 'running'{where}",  # noqa: S608
            (now_utc(), *scope.values()),
        )
