"""The one interface every engine implements, and the result types they share.

An engine opens a data set once (lazily: definition errors are found before
the big files are read) and answers generic questions about it: the
default as-of day, what the data holds (:class:`DataShape`), the small subject
tables, segment memberships at a day (:class:`Memberships`, the same type on
every engine) and "run this query of the semantic core and give me a frame".
It knows nothing of health, tiers or alerts: those modules build their
queries from the semantic core and hand them to the engine they are given.
"""

from __future__ import annotations

import datetime as dt
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pendo_segments.base.rendered import Rendered

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pendo_segments.data.dataset import Dataset
    from pendo_segments.definitions.loader import DefinitionSet
    from pendo_segments.definitions.models import Segment

Warn = Callable[[str], None]
#: how an engine that loads frames opens ``--data``: (spec, lenient=, warn=, as_of=,
#: narrow=) -> Dataset. The CLI passes :func:`pendo_segments.sources.open_dataset`
#: (which also pulls ``pendo:`` live data); the default opens folders and ``sample``.
Opener = Callable[..., "Dataset"]
MEMBERSHIP_COLUMNS = ("segment", "subject", "subject_id")


@dataclass(frozen=True)
class DataShape:
    """What the data holds, which decides the shape of queries (tables, columns, features)."""

    columns: dict[str, tuple[str, ...]]  # table -> columns, present tables only
    features: int = 0  # catalogued features
    key_features: int = 0  # key (core) features

    def has(self, table: str) -> bool:
        return table in self.columns

    def has_column(self, table: str, column: str) -> bool:
        return column in self.columns.get(table, ())


@dataclass
class Memberships:
    """Segment members at one as-of day, whichever engine computed them.

    ``result`` is the engine's own object; it must offer ``counts()`` and
    ``membership_batches(names)`` (Arrow, sorted by segment then subject id).
    """

    as_of: dt.date
    segments: dict[str, Segment]
    result: Any
    on_close: Callable[[], None] | None = None
    _members: dict[str, pd.Index] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return dict(self.result.counts())

    def membership_batches(self, names: Sequence[str] | None = None) -> Iterator[Any]:
        return iter(self.result.membership_batches(names))

    def members(self, name: str) -> pd.Index:
        """Ids of segment ``name``'s members, sorted."""
        import pandas as pd

        if name not in self._members:
            ids: list[str] = []
            for batch in self.membership_batches([name]):
                ids.extend(str(v) for v in batch.column("subject_id").to_pylist())
            self._members[name] = pd.Index(ids, dtype=object)
        return self._members[name]

    def mask(self, name: str, ids: pd.Index) -> np.ndarray:
        """Membership of segment ``name`` aligned with ``ids`` (True where a member)."""
        import numpy as np

        return np.asarray(ids.isin(self.members(name)), dtype=bool)

    def render(self, fmt: str, *, counts: bool = False) -> Rendered:
        """Members (segment,subject,subject_id, streamed), or per-segment counts when asked."""
        title = f"Segment members as of {self.as_of.isoformat()}"
        if counts:
            rows = [(name, self.segments[name].subject, n) for name, n in self.counts().items()]
            return Rendered(["segment", "subject", "members"], rows, title=title)
        return Rendered(list(MEMBERSHIP_COLUMNS), batches=self.membership_batches(), title=title)

    def close(self) -> None:
        if self.on_close is not None:
            self.on_close()
            self.on_close = None


class Engine(ABC):
    """Data opened once; generic questions answered by one backend (see module docstring)."""

    name: ClassVar[str]
    #: the sqlglot dialect :meth:`query` renders expressions in
    dialect: ClassVar[str] = "duckdb"

    def __init__(
        self,
        data: str,
        *,
        lenient: bool = False,
        warn: Warn | None = None,
        opener: Opener | None = None,
    ) -> None:
        self.data = data
        self.lenient = lenient
        self.warn: Warn = warn or (lambda _message: None)
        self.opener: Opener = opener or open_local
        self._said: set[str] = set()  # as-of warnings given (one line per command)
        self._peopled: set[dt.date] = set()  # days at which some subject exists

    def open_dataset(self, *, as_of: dt.date | None = None, narrow: bool = False) -> Dataset:
        """The whole data set as frames, through the opener the engine was given."""
        return self.opener(
            self.data, lenient=self.lenient, warn=self.warn, as_of=as_of, narrow=narrow
        )

    @property
    def in_memory(self) -> Dataset | None:
        """The loaded frames when this engine holds them (pandas), else None.

        Domain modules run their numpy reference over it; the SQL engines get
        the same meaning as queries of the semantic core.
        """
        return None

    def day(self, as_of: dt.date | None) -> dt.date:
        return as_of or self.default_as_of()

    def warn_as_of(self, defs: DefinitionSet, as_of: dt.date | None) -> None:
        """Warn once when a given ``as_of`` lies outside the usage (evaluate/as_of.py), worded
        from the usage's first and last day so every engine prints the pandas line."""
        if as_of is None:
            return
        from pendo_segments.engines.as_of import usage_span
        from pendo_segments.evaluate.as_of import outside_usage_message

        span = usage_span(self)
        message = span and outside_usage_message(*span, as_of, defs)
        if message and message not in self._said:
            self._said.add(message)
            logging.getLogger("pendo_segments.evaluate").warning(message)

    def check_day(self, defs: DefinitionSet, as_of: dt.date | None) -> dt.date:
        """The day segments are evaluated at, checked as the numpy evaluator checks it: the
        as-of warning, then an error when no account or visitor exists at it (§2b)."""
        self.warn_as_of(defs, as_of)
        day = self.day(as_of)
        if day not in self._peopled:
            from pendo_segments.engines.as_of import anybody_at
            from pendo_segments.evaluate.as_of import no_subjects_error

            if not anybody_at(self, day):
                raise no_subjects_error(day)
            self._peopled.add(day)
        return day

    @abstractmethod
    def default_as_of(self) -> dt.date:
        """The day after the latest usage date (docs/semantics.md §2)."""

    @abstractmethod
    def shape(self) -> DataShape: ...

    @abstractmethod
    def small_tables(self) -> Dataset:
        """Every table but the usage, as the pandas loader types them (accounts,
        visitors, features, outcomes, history); the pandas engine's whole data set."""

    def subjects(self, subject: str) -> pd.DataFrame:
        """The accounts or visitors table (small), as the pandas loader types it."""
        ds = self.small_tables()
        return ds.accounts if subject == "account" else ds.visitors

    def features(self) -> pd.DataFrame:
        """The feature catalogue (small): names in definitions resolve to its ids."""
        return self.small_tables().features

    def fields_at(self, subject: str, day: dt.date) -> pd.DataFrame:
        """The subject table with the fields in force at ``day`` (attribute history)."""
        from pendo_segments.data.history import fields_for

        ds = fields_for(self.small_tables(), day)
        return ds.accounts if subject == "account" else ds.visitors

    @abstractmethod
    def memberships(
        self,
        defs: DefinitionSet,
        *,
        names: Sequence[str] | None = None,
        as_of: dt.date | None = None,
        progress: Warn | None = None,
    ) -> Memberships:
        """Members of the named segments (all by default) at ``as_of``."""

    @abstractmethod
    def query(self, sql: Any, *, at: dt.date | None = None) -> pd.DataFrame:
        """Run a query (a sqlglot expression, rendered in :attr:`dialect`, or SQL text).

        ``accounts`` / ``visitors`` hold the fields in force for an evaluation at
        ``at`` (default: the default as-of day; attribute history, §2b).
        """

    @abstractmethod
    def fill_optional(self, columns: Iterable[tuple[str, str]]) -> None:
        """Optional columns the data lacks become blank, as the pandas loader reads them."""

    def close(self) -> None:  # noqa: B027 - the pandas engine holds nothing to free
        """Free what the engine holds (connections, temp folders, cached tables)."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def render(self, sql: Any) -> str:
        """SQL text of ``sql`` in this engine's dialect."""
        if isinstance(sql, str):
            return sql
        from pendo_segments.compile.sql import render

        return render(sql, self.dialect)


def open_local(
    spec: str,
    *,
    lenient: bool = False,
    warn: Warn | None = None,
    as_of: dt.date | None = None,
    narrow: bool = False,
) -> Dataset:
    """A data folder or the bundled ``sample``; ``pendo:`` needs an opener that can pull
    (engines sit below the Pendo client: the CLI hands in ``sources.open_dataset``)."""
    from pendo_segments.data.loaders import load_dataset, load_sample
    from pendo_segments.errors import DataError

    if spec.startswith("pendo:"):
        raise DataError(
            f"--data {spec}: live Pendo data needs open_engine(..., "
            "opener=pendo_segments.sources.open_dataset)"
        )
    if spec == "sample":
        return load_sample()
    return load_dataset(spec, lenient=lenient, warn=warn, narrow=narrow)
