"""Live usage data from Pendo (``--data pendo:``), as the same frames as a CSV folder.

Accounts, visitors and features come from the Aggregation API's record
sources; usage from ``events`` / ``featureEvents`` pulls of at most 30 days
per call (Pendo asks for that, docs/pendo-api.md §2), each paged by keyset (sort +
``filter key > last`` + ``limit``, no cursor exists). The rows then go
through :func:`~pendo_segments.data.loaders.dataset_from_frames`, so types and
checks are exactly those of a CSV folder.

Two things make the numbers Pendo's own (docs/pendo-api.md §0): every event
source names its apps (``appId``; without it Pendo counts only the default
app), and days are the subscription's time-zone days (``[pendo] timezone``):
windows start at local midnights and every epoch-ms date is read as a local
date. ``first_visit`` / ``last_visit`` come from ``metadata.auto.firstvisit`` /
``lastvisit`` (all history), so a visitor who left before the pulled window
still has a last visit; an account's ``created`` from its own
``metadata.auto.firstvisit``.

A pull is many small calls (one ``featureEvents`` call per feature and window):
the client ``pull`` builds is paced (``[pendo] pull_requests_per_second``, about
one a second; a 429's ``Retry-After`` is waited out by the transport), and
:func:`estimate_pull` counts the calls and their time before they are sent.

Spec options after the colon, comma separated::

    pendo:                       90 days of usage before the as-of day
    pendo:days=30,page_size=5000

Mapping (one place to change, below): a record's standard columns are read
where :data:`pendo_segments.base.pendo_fields.STANDARD` says they live; every
other ``agent`` / ``custom`` metadata field becomes an extra column under its
own name. Usage rows are per visitor, account and day: Pendo's event rows carry
the account the events happened in (``accountId``), and a visitor may be in
several accounts (``metadata.auto.accountids``), so ``usage_daily`` /
``feature_usage`` keep it as ``account_id`` and roll-ups use it
(docs/semantics.md §2). ``nps``, ``tickets`` and ``outcomes`` are not Pendo data
and stay absent.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from typing import Any
from zoneinfo import ZoneInfo

from pendo_segments.base.pendo_fields import DAY_MS, ID_FIELDS, STANDARD, epoch_ms
from pendo_segments.data.dataset import Dataset
from pendo_segments.errors import DataError

Warn = Callable[[str], None]
Progress = Callable[[str], None]
Rows = list[dict[str, Any]]
Sent = Callable[[], None]  # called after each request of a pull

# -- Pendo names (pendo-api.md §2-3); the unconfirmed ones are marked --------------
MAX_DAYS_PER_CALL = 30  # Pendo's request for event pulls
#: Every app of the subscription (tap-pendo's default; without ``appId`` only the default app).
EVERY_APP = 'expandAppIds("*")'
FEATURE_EVENTS = "featureEvents"
#: Columns read from Pendo's own visit dates (all history, epoch ms), per record kind: an
#: account's ``metadata.auto.firstvisit`` (tap-pendo ``schemas/accounts.json``,
#: ``metadata_auto.firstvisit``) is the day it was first seen, its ``created`` (§2b).
VISIT_COLUMNS = {
    "visitor": {"first_visit": ("auto", "firstvisit"), "last_visit": ("auto", "lastvisit")},
    "account": {"created": ("auto", "firstvisit")},
}
#: Metadata groups read into extra columns, in order of precedence.
EXTRA_GROUPS = ("agent", "custom")
#: Visitor's account when ``metadata.auto.accountid`` is missing (first of the list).
ACCOUNT_IDS = ("auto", "accountids")
#: UNCONFIRMED: which feature field marks a key (core) feature.
FEATURE_KEY_FIELDS = ("key", "isCoreEvent")
#: Schema types of metadata fields holding epoch-ms dates.
TIME_TYPES = frozenset({"time", "date", "datetime"})


@dataclass(frozen=True)
class PendoSpec:
    """Options of a ``pendo:`` data spec."""

    days: int = 90
    page_size: int = 50_000

    @classmethod
    def parse(cls, spec: str) -> PendoSpec:
        text = spec.strip()
        if not text.startswith("pendo:"):
            raise DataError(
                f"{spec!r}: a live Pendo source is written 'pendo:' "
                "(options: pendo:days=90,page_size=50000)"
            )
        options: dict[str, int] = {}
        known = [f.name for f in fields(cls)]
        for part in filter(None, (p.strip() for p in text[len("pendo:") :].split(","))):
            name, eq, value = part.partition("=")
            name = name.strip()
            if name not in known or not eq:
                raise DataError(
                    f"{spec!r}: unknown option {part!r} (known: "
                    f"{', '.join(k + '=N' for k in known)})"
                )
            try:
                number = int(value)
            except ValueError:
                number = 0
            if number < 1:
                raise DataError(f"{spec!r}: {name} must be a whole number >= 1, got {value!r}")
            options[name] = number
        return cls(**options)


@dataclass(frozen=True)
class PullEstimate:
    """How many requests a pull sends, and how long that takes at its pace.

    Per pull: the account and visitor schemas, the accounts, visitors and features
    lists, then per window of at most 30 days one ``events`` call and one
    ``featureEvents`` call per feature (:meth:`PendoPuller.frames`). Each call is
    counted as one page; an answer of a whole ``page_size`` rows takes another.
    """

    windows: int
    features: int | None = None  # unknown until Pendo's feature list is read
    rate: float | None = None  # requests per second; None: not paced

    @property
    def fixed(self) -> int:
        return 5 + self.windows

    @property
    def per_feature(self) -> int:
        return self.windows

    @property
    def requests(self) -> int | None:
        return None if self.features is None else self.fixed + self.per_feature * self.features

    def text(self) -> str:
        """One line: the requests, then the time at the pace."""
        if self.requests is None:
            count = f"about {self.fixed:,} requests + {self.per_feature} per feature in Pendo"
            time = (
                f"about {_duration(self.fixed / self.rate)} + "
                f"{_duration(self.per_feature / self.rate)} per feature"
                if self.rate
                else ""
            )
        else:
            count = f"{self.features:,} features: about {self.requests:,} requests"
            time = f"about {_duration(self.requests / self.rate)}" if self.rate else ""
        pace = f"{time} at {_per_second(self.rate)}" if self.rate else "not paced"
        return f"{count}; {pace}"


def estimate_pull(
    days: int, features: int | None = None, rate: float | None = None
) -> PullEstimate:
    """The request count (and time at ``rate``) of pulling ``days`` days of usage."""
    return PullEstimate(windows=-(-days // MAX_DAYS_PER_CALL), features=features, rate=rate)


def _per_second(rate: float) -> str:
    shown = f"{rate:g}"
    return f"{shown} request per second" if shown == "1" else f"{shown} requests per second"


def _duration(seconds: float) -> str:
    """``0.4 s``, ``45 s``, ``2 min 11 s``, ``1 h 5 min``: rounded to what a person plans
    with."""
    if seconds < 9.95:
        return f"{seconds:.1f}".rstrip("0").rstrip(".") + " s"
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    if total < 3600:
        minutes, rest = divmod(total, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(round(total / 60), 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


@dataclass
class LiveDataset(Dataset):
    """A dataset pulled from Pendo: its default as-of day is the day it was pulled for."""

    pulled_as_of: dt.date | None = None

    def default_as_of(self) -> dt.date:
        return self.pulled_as_of or super().default_as_of()


def load_from_pendo(
    spec: str = "pendo:",
    *,
    as_of: dt.date | None = None,
    warn: Warn | None = None,
    client: Any,
    progress: Progress | None = None,
    app_ids: tuple[str, ...] | None = None,
    timezone: str | None = None,
    sent: Sent | None = None,
    estimate: Callable[[PullEstimate], None] | None = None,
    rate: float | None = None,
) -> LiveDataset:
    """Pull accounts, visitors, features and usage before ``as_of`` (default: today in
    the subscription's time zone).

    ``client`` is a :class:`~pendo_segments.pendo.client.PendoClient` (the data
    layer sits below ``pendo`` and does not build one;
    :func:`pendo_segments.sources.open_dataset` does). ``app_ids`` and ``timezone``
    default to the configured ``[pendo]`` settings. Usage rows of visitors Pendo
    does not list are dropped with a warning. ``sent`` is called after each request,
    ``estimate`` once Pendo's feature list is read (the rest is then known), with the
    pace ``rate`` of ``client`` (requests per second) for its time.
    """
    from pendo_segments.data.loaders import dataset_from_frames

    options = PendoSpec.parse(spec)
    if app_ids is None or timezone is None:
        from pendo_segments.config import load_config

        config = load_config()
        app_ids = config.pendo.app_ids if app_ids is None else app_ids
        timezone = config.pendo.timezone if timezone is None else timezone
    day = as_of or dt.datetime.now(ZoneInfo(timezone)).date()
    puller = PendoPuller(
        client,
        page_size=options.page_size,
        progress=progress,
        app_ids=app_ids,
        timezone=timezone,
        sent=sent,
        estimate=estimate,
        rate=rate,
    )
    frames = puller.frames(as_of=day, days=options.days)
    ds = dataset_from_frames(frames, source="pendo", lenient=True, warn=warn)
    return LiveDataset(**{f.name: getattr(ds, f.name) for f in fields(Dataset)}, pulled_as_of=day)


class PendoPuller:
    """Runs the record and usage pulls against one client and shapes the rows."""

    def __init__(
        self,
        client: Any,
        *,
        page_size: int = 50_000,
        progress: Progress | None = None,
        app_ids: tuple[str, ...] = ("*",),
        timezone: str = "UTC",
        sent: Sent | None = None,
        estimate: Callable[[PullEstimate], None] | None = None,
        rate: float | None = None,
    ) -> None:
        self.client = client
        self.page_size = page_size
        self.progress = progress or (lambda _msg: None)
        self.sent = sent or (lambda: None)
        self.estimate = estimate or (lambda _e: None)
        self.rate = rate
        self.app_id = app_id_param(app_ids)
        self.timezone = timezone

    def frames(self, *, as_of: dt.date, days: int) -> dict[str, Any]:
        """docs/semantics.md §1 tables as Arrow tables (``dataset_from_frames`` input)."""
        tables: dict[str, Any] = {}
        tz = self.timezone
        for kind, name in (("account", "accounts"), ("visitor", "visitors")):
            self.progress(name)
            times = self.time_fields(kind)
            records = self.paged([{"source": {f"{kind}s": None}}], [ID_FIELDS[kind][1]])
            tables[name] = _table(record_rows(kind, records, times, tz), REQUIRED[name])
            links = link_rows(records) if kind == "visitor" else []
            if links:  # visitors in several accounts (none: no file)
                tables["visitor_accounts"] = _table(links, LINK_COLUMNS)
        self.progress("features")
        features = feature_rows(self.paged(features_pipeline(self.app_id), ["id"]))
        tables["features"] = _table(features, REQUIRED["features"])
        feature_ids = sorted(str(f["feature_id"]) for f in features)
        self.estimate(estimate_pull(days, len(feature_ids), self.rate))
        usage: Rows = []
        clicks: Rows = []
        for first, count in day_chunks(as_of, days, tz):
            self.progress(f"usage from {_date(first, tz)} ({count} days)")
            pipeline = events_pipeline(first, count, self.app_id)
            usage += usage_rows(self.paged(pipeline, USAGE_KEYS), tz)
            for feature in feature_ids:
                pipeline = feature_events_pipeline(feature, first, count, self.app_id)
                clicks += click_rows(feature, self.paged(pipeline, USAGE_KEYS), tz)
        tables["usage_daily"] = _table(usage, USAGE_COLUMNS)
        tables["feature_usage"] = _table(clicks, CLICK_COLUMNS)
        return tables

    def time_fields(self, kind: str) -> set[tuple[str, str]]:
        """(group, field) pairs whose schema type is a date (epoch ms)."""
        schema = self.client.metadata_schema(kind)
        self.sent()
        return {
            (group, name)
            for group, entries in schema.items()
            if isinstance(entries, dict)
            for name, info in entries.items()
            if isinstance(info, dict) and str(info.get("Type", "")).lower() in TIME_TYPES
        }

    def paged(self, pipeline: list[dict[str, Any]], keys: list[str]) -> Rows:
        """Every row of ``pipeline``, ``page_size`` at a time, by keyset on ``keys``."""
        return list(self._pages(pipeline, keys))

    def _pages(self, pipeline: list[dict[str, Any]], keys: list[str]) -> Iterator[dict[str, Any]]:
        last: dict[str, Any] | None = None
        while True:
            steps = list(pipeline)
            if last is not None:
                steps.append({"filter": after(keys, last)})
            steps += [{"sort": list(keys)}, {"limit": self.page_size}]
            rows = self.client.aggregate(steps)
            self.sent()
            yield from rows
            if len(rows) < self.page_size:
                return
            last = rows[-1]
            if any(last.get(k) is None for k in keys):
                raise DataError(f"pendo: cannot page past a row without {', '.join(keys)}")


# -- pipelines ------------------------------------------------------------------------
REQUIRED = {
    "accounts": ["account_id", "arr", "plan"],
    "visitors": ["visitor_id", "account_id"],
    "features": ["feature_id", "name"],
}
#: One row per visitor, account and day: the event's own account (a visitor in two accounts
#: has a row for each); all three are the keyset for paging.
USAGE_KEYS = ["visitorId", "accountId", "day"]
USAGE_COLUMNS = ["date", "visitor_id", "minutes", "events"]
LINK_COLUMNS = ["visitor_id", "account_id"]
CLICK_COLUMNS = ["date", "visitor_id", "feature_id", "clicks"]
DAY_SUMS = {"numEvents": {"sum": "numEvents"}, "numMinutes": {"sum": "numMinutes"}}


def local_midnight_ms(day: dt.date, timezone: str = "UTC") -> int:
    """Epoch ms of ``day``'s midnight in the subscription's time zone (Pendo's day start)."""
    if timezone == "UTC":
        return epoch_ms(day)
    return int(dt.datetime.combine(day, dt.time(), ZoneInfo(timezone)).timestamp() * 1000)


def day_chunks(as_of: dt.date, days: int, timezone: str = "UTC") -> list[tuple[int, int]]:
    """(first ms, count) windows of ≤ 30 days covering the ``days`` days before as-of;
    each ``first`` is a local midnight (a DST change does not shift a window)."""
    day = as_of - dt.timedelta(days=days)
    out = []
    remaining = days
    while remaining > 0:
        count = min(MAX_DAYS_PER_CALL, remaining)
        out.append((local_midnight_ms(day, timezone), count))
        day += dt.timedelta(days=count)
        remaining -= count
    return out


def app_id_param(app_ids: tuple[str, ...] | list[str]) -> Any:
    """``appId`` of an event source: ``expandAppIds("*")`` for every app (tap-pendo's
    default), else the list of configured ids (the same rule as the aggregation target)."""
    ids = [str(a).strip() for a in app_ids if str(a).strip()]
    if not ids or "*" in ids:
        return EVERY_APP
    return ids


def _time_series(first: int, count: int) -> dict[str, Any]:
    return {"period": "dayRange", "first": first, "count": count}


def features_pipeline(app_id: Any = None) -> list[dict[str, Any]]:
    """The feature catalogue (``features.csv``): every feature of the pulled apps with
    its opaque ``id`` and the ``name`` Pendo shows, as tap-pendo reads it (its
    ``Features`` stream: source ``features`` with ``appId``; rows as its
    ``schemas/features.json``: ``id``, ``name``, ``appId``, ``kind``, …)."""
    return [{"source": {"features": {"appId": EVERY_APP if app_id is None else app_id}}}]


def events_pipeline(first: int, count: int, app_id: Any = None) -> list[dict[str, Any]]:
    source = {"appId": EVERY_APP if app_id is None else app_id}
    return [
        {"source": {"events": source, "timeSeries": _time_series(first, count)}},
        {"identified": "visitorId"},
        {"group": {"group": USAGE_KEYS, "fields": DAY_SUMS}},
    ]


def feature_events_pipeline(
    feature_id: str, first: int, count: int, app_id: Any = None
) -> list[dict[str, Any]]:
    return [
        {
            "source": {
                FEATURE_EVENTS: {
                    "featureId": feature_id,
                    "appId": EVERY_APP if app_id is None else app_id,
                },
                "timeSeries": _time_series(first, count),
            }
        },
        {"identified": "visitorId"},
        {"group": {"group": USAGE_KEYS, "fields": {"numEvents": {"sum": "numEvents"}}}},
    ]


def after(keys: list[str], last: dict[str, Any]) -> str:
    """Keyset filter: rows sorting strictly after ``last`` on ``keys`` (lexicographic)."""
    value = lambda k: json.dumps(last[k], ensure_ascii=False)  # noqa: E731
    terms = []
    for i, key in enumerate(keys):
        equal = [f"{k} == {value(k)}" for k in keys[:i]]
        terms.append(" && ".join([*equal, f"{key} > {value(key)}"]))
    return " || ".join(f"({t})" if "&&" in t and len(terms) > 1 else t for t in terms)


# -- rows -------------------------------------------------------------------------------
def record_rows(
    kind: str, records: Rows, times: set[tuple[str, str]], timezone: str = "UTC"
) -> Rows:
    """Pendo account / visitor records → docs/semantics.md §1 columns (standard first, then
    extras); epoch-ms dates become dates in ``timezone``."""
    id_column, id_field = ID_FIELDS[kind]
    standard = {(group, name): column for column, (group, name, _schema) in STANDARD[kind].items()}
    time_standard = {(g, n) for (g, n, schema) in STANDARD[kind].values() if schema == "time"}
    out = []
    for record in records:
        metadata = record.get("metadata") or {}
        row: dict[str, Any] = {id_column: _text(record.get(id_field))}
        for (group, name), column in standard.items():
            value = (metadata.get(group) or {}).get(name)
            row[column] = _date(value, timezone) if (group, name) in time_standard else value
        if kind == "visitor" and row.get("account_id") is None:
            ids = (metadata.get(ACCOUNT_IDS[0]) or {}).get(ACCOUNT_IDS[1]) or []
            row["account_id"] = ids[0] if isinstance(ids, list) and ids else None
        row["account_id"] = _text(row.get("account_id"))
        for column, (group, name) in VISIT_COLUMNS[kind].items():
            row[column] = _date((metadata.get(group) or {}).get(name), timezone)
        for group in EXTRA_GROUPS:
            for name, value in (metadata.get(group) or {}).items():
                if row.get(name) is not None or (group, name) in standard:
                    continue
                row[name] = _date(value, timezone) if (group, name) in times else _scalar(value)
        out.append(row)
    return out


def link_rows(records: Rows) -> Rows:
    """A visitor's accounts besides its own (``visitors.account_id``), from Pendo's
    ``metadata.auto.accountids`` (tap-pendo ``schemas/visitors.json``,
    ``metadata_auto.accountids``): the ``visitor_accounts`` table, each pair once."""
    out: Rows = []
    for record in records:
        visitor = _text(record.get(ID_FIELDS["visitor"][1]))
        auto = (record.get("metadata") or {}).get(ACCOUNT_IDS[0]) or {}
        ids = auto.get(ACCOUNT_IDS[1])
        own = _text(auto.get("accountid"))  # visitors.account_id, as record_rows reads it
        if own is None and isinstance(ids, list) and ids:
            own = _text(ids[0])  # record_rows takes the first as its account
        seen = {own}
        for account in ids if isinstance(ids, list) else []:
            if account is not None and _text(account) not in seen:
                seen.add(_text(account))
                out.append({"visitor_id": visitor, "account_id": _text(account)})
    return out


def feature_rows(records: Rows) -> Rows:
    out = []
    for record in records:
        key = next((record[f] for f in FEATURE_KEY_FIELDS if record.get(f) is not None), None)
        out.append(
            {
                "feature_id": _text(record.get("id")),
                "name": record.get("name"),
                "key": bool(key) if key is not None else None,
                "app_id": _text(record.get("appId")),
            }
        )
    return out


def usage_rows(rows: Rows, timezone: str = "UTC") -> Rows:
    return [
        {
            "date": _date(r.get("day"), timezone),
            "visitor_id": _text(r.get("visitorId")),
            "account_id": _text(r.get("accountId")),
            "minutes": float(r.get("numMinutes") or 0.0),
            "events": int(r.get("numEvents") or 0),
        }
        for r in rows
    ]


def click_rows(feature_id: str, rows: Rows, timezone: str = "UTC") -> Rows:
    return [
        {
            "date": _date(r.get("day"), timezone),
            "visitor_id": _text(r.get("visitorId")),
            "account_id": _text(r.get("accountId")),
            "feature_id": feature_id,
            "clicks": int(r.get("numEvents") or 0),
        }
        for r in rows
    ]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _date(value: Any, timezone: str = "UTC") -> Any:
    """Epoch ms → the date it falls on in ``timezone``; anything else unchanged (ISO text
    is parsed later)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if timezone == "UTC":
        return dt.date(1970, 1, 1) + dt.timedelta(days=int(value // DAY_MS))
    return dt.datetime.fromtimestamp(value / 1000, ZoneInfo(timezone)).date()


def _table(rows: Rows, required: list[str]) -> Any:
    """Rows → Arrow table with ``required`` columns first; optional columns that are
    blank everywhere are left out; a column of mixed types falls back to text."""
    import pyarrow as pa

    names = list(dict.fromkeys([*required, *(k for r in rows for k in r)]))
    arrays = {}
    for name in names:
        values = [r.get(name) for r in rows]
        if name not in required and all(v is None for v in values):
            continue
        try:
            arrays[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrays[name] = pa.array(
                [None if v is None else str(v) for v in values], type=pa.string()
            )
        if arrays[name].type == pa.null():
            arrays[name] = arrays[name].cast(pa.string())
    return pa.table(arrays)


def _scalar(value: Any) -> Any:
    """Lists and objects (multi-value metadata) as JSON text: a column holds scalars."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value
