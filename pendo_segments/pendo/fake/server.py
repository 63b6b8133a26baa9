"""A fake Pendo: a real HTTP server on 127.0.0.1 with the v1 endpoints the toolkit uses.

Used by the client tests, to record cassettes, by any test that needs "Pendo"
without the network, and by ``pendo-segments pendo fake-server`` (sample data,
so a newcomer can try sync without a key). It keeps state in memory, checks the integration
key, and can be told to misbehave::

    with FakePendo() as fake:                      # or the ``fake_pendo`` fixture
        fake.add_account("acme", agent={"plan": "Growth"})
        fake.fail_next(2, status=429, retry_after=1)
        client = PendoClient(fake.url, fake.key, sleep=lambda s: None)
        fake.calls("POST", "/api/v1/metadata/account/custom/value")

It answers only the documented shapes (docs/pendo-api.md): visitor lists are
``{"name", "visitors": [id strings]}`` (objects, a missing name and empty lists
are refused with 400), ``POST /api/v1/segment`` (a rule segment) does not exist
(405), a list is built asynchronously (``GET /api/v1/segment/{id}/status`` says
``processing`` for ``upload_polls`` reads or ``build_seconds``, then
``complete``; the body of that answer is not documented, this is the fake's
choice) and a write to a segment that is still building answers 409
"Operation in progress" (also injectable: ``conflict_next``). Event sources
count only the default app unless ``appId`` names apps (``expandAppIds("*")``:
all); days are the subscription's ``timezone`` days; ``bulkExpand`` puts a
record's groups directly under its name (``account.agent.plan``).

Aggregation: a small interpreter for ``source`` (events, featureEvents,
visitors, accounts, features; ``timeSeries`` dayRange with ``first`` as epoch ms
or an expression such as ``"now()"`` / ``"now() - 30*24*60*60*1000"`` /
``dateAdd(startOfPeriod("daily", now()), -30, "days")``, negative
``count`` walks backwards), ``identified``, ``filter``, ``select``, ``eval``,
``group`` / ``reduce`` (sum, count, max, min, avg), ``sort``, ``limit``,
``unwind``, ``segment`` and ``bulkExpand``. ``count`` counts *distinct* non-null
values (``{"count": null}`` counts rows), which is how Pendo's own
``uniqueAccounts`` example reads. Anything else answers 400, so a compiler test
learns that the fake (not necessarily Pendo) cannot run it.

Loading data (``load_rows``, ``load_dataset``) lives in
:mod:`pendo_segments.pendo.fake.data`, the interpreter in
:mod:`pendo_segments.pendo.fake.aggregation`.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

from pendo_segments.pendo.fake.aggregation import (
    DAY_MS,
    OPERATORS,
    Expr,
    ExprError,
    local_day_ms,
)
from pendo_segments.pendo.fake.aggregation import HTTPError as _HTTPError
from pendo_segments.pendo.fake.data import DatasetLoading

DEFAULT_APP_ID = -323232


def day_ms(day: dt.date | dt.datetime | str) -> int:
    """Epoch milliseconds of a UTC day's midnight (``"2026-10-01"`` or a date)."""
    if isinstance(day, str):
        day = dt.date.fromisoformat(day)
    if isinstance(day, dt.datetime):
        day = day.date()
    return (day - dt.date(1970, 1, 1)).days * DAY_MS


@dataclass
class LoggedRequest:
    """One request as the fake saw it (the integration key itself is never stored)."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]
    auth: str  # "ok" | "missing" | "wrong"


@dataclass
class _Fault:
    kind: str  # "fail" | "slow" | "drop"
    status: int = 500
    retry_after: float | None = None
    seconds: float = 0.0
    body: str | None = None


class FakePendo(DatasetLoading):
    """In-memory Pendo subscription served over HTTP on an ephemeral 127.0.0.1 port."""

    def __init__(
        self,
        key: str | None = None,
        *,
        upload_polls: int = 2,
        build_seconds: float = 2.0,
        strict_fields: bool = False,
        timezone: str = "UTC",
        port: int = 0,
    ) -> None:
        self.key = key or f"fake-{secrets.token_hex(12)}"
        self.upload_polls = upload_polls  # status reads that still say "processing"
        self.build_seconds = build_seconds  # ... or until this much time has passed
        # The status word a build ends with: "complete", "failed", or any other word (what
        # an undocumented answer looks like). Fixed when the build starts, as in Pendo: a
        # failed build stays failed until the list is written again.
        self.build_outcome = "complete"
        self.conflict_while_building = True  # a write during a build answers 409
        self.strict_fields = strict_fields
        self.timezone = timezone  # the subscription's time zone: Pendo's days are local days
        self.port = port
        self.log: list[LoggedRequest] = []
        self.errors: list[str] = []  # bugs inside the fake (answered with 500)
        self.accounts: dict[str, dict[str, Any]] = {}
        self.visitors: dict[str, dict[str, Any]] = {}
        self.features: dict[str, dict[str, Any]] = {}
        self.segments: dict[str, dict[str, Any]] = {}
        # Segments not shared with Everyone: GET /api/v1/segment ("Get All Shared (Everyone)
        # Segments" in the collection) leaves them out; GET /api/v1/segment/{id} finds them.
        self.private: set[str] = set()
        self.guides: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.feature_events: list[dict[str, Any]] = []
        self.schema: dict[str, dict[str, dict[str, Any]]] = {
            "visitor": {"auto": _auto_schema("visitor"), "agent": {}, "custom": {}},
            "account": {"auto": _auto_schema("account"), "agent": {}, "custom": {}},
        }
        self._members: dict[str, list[str]] = {}
        self._building: dict[str, tuple[int, float]] = {}
        self._outcomes: dict[str, str] = {}
        self._conflicts = 0
        self._late: dict[tuple[str, str], float] = {}
        self._faults: list[_Fault] = []
        self._now_ms: int | None = None
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> FakePendo:
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name="fake-pendo",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakePendo:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if not self._server:
            raise RuntimeError("FakePendo is not started")
        return f"http://127.0.0.1:{self._server.server_port}"

    # -- fault switches -------------------------------------------------------------
    def fail_next(
        self, n: int, status: int = 429, retry_after: float | None = None, body: str | None = None
    ) -> None:
        """Answer the next ``n`` requests with ``status`` (and a Retry-After header if given)."""
        self._add_faults(n, _Fault("fail", status=status, retry_after=retry_after, body=body))

    def slow_next(self, n: int, seconds: float) -> None:
        """Wait ``seconds`` before answering each of the next ``n`` requests."""
        self._add_faults(n, _Fault("slow", seconds=seconds))

    def drop_next(self, n: int) -> None:
        """Close the connection without any response for the next ``n`` requests."""
        self._add_faults(n, _Fault("drop"))

    def answer_late(self, method: str, path: str, seconds: float) -> None:
        """Carry out the next ``method path`` request, then wait ``seconds`` before answering
        (a client that gave up meanwhile never learns that it worked)."""
        with self._lock:
            self._late[(method, path)] = seconds

    def conflict_next(self, n: int = 1) -> None:
        """Answer the next ``n`` writes to a segment with 409 "Operation in progress"."""
        with self._lock:
            self._conflicts += n

    def _add_faults(self, n: int, fault: _Fault) -> None:
        with self._lock:
            self._faults.extend(copy.copy(fault) for _ in range(n))

    # -- request log ----------------------------------------------------------------
    def calls(
        self, method: str | None = None, path: str | None = None, *, prefix: bool = False
    ) -> list[LoggedRequest]:
        """Logged requests, optionally only one method and path (or path prefix)."""
        with self._lock:
            return [
                r
                for r in self.log
                if (method is None or r.method == method)
                and (path is None or (r.path.startswith(path) if prefix else r.path == path))
            ]

    def clear_log(self) -> None:
        with self._lock:
            self.log.clear()

    # -- clock ----------------------------------------------------------------------
    def set_now(self, value: dt.date | dt.datetime | int | str | None) -> None:
        """Fix ``now()`` for timeSeries (a day means its UTC midnight); None = real time."""
        if value is None or isinstance(value, int):
            self._now_ms = value
        elif isinstance(value, dt.datetime):
            aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
            self._now_ms = int(aware.timestamp() * 1000)
        else:
            self._now_ms = day_ms(value)

    @property
    def now_ms(self) -> int:
        if self._now_ms is not None:
            return self._now_ms
        return int(dt.datetime.now(dt.UTC).timestamp() * 1000)

    # -- state builders -------------------------------------------------------------
    def add_account(
        self,
        account_id: str,
        *,
        auto: dict[str, Any] | None = None,
        agent: dict[str, Any] | None = None,
        custom: dict[str, Any] | None = None,
        **groups: dict[str, Any],
    ) -> dict[str, Any]:
        record: dict[str, Any] = {
            "accountId": account_id,
            "metadata": {
                "auto": {"id": account_id, "lastupdated": self.now_ms, **(auto or {})},
                "agent": dict(agent or {}),
                "custom": dict(custom or {}),
                **{g: dict(v) for g, v in groups.items()},
            },
        }
        with self._lock:
            self.accounts[account_id] = record
            self._register_fields("account", record["metadata"])
        return record

    def add_visitor(
        self,
        visitor_id: str,
        account_id: str | None = None,
        *,
        auto: dict[str, Any] | None = None,
        agent: dict[str, Any] | None = None,
        custom: dict[str, Any] | None = None,
        **groups: dict[str, Any],
    ) -> dict[str, Any]:
        base_auto: dict[str, Any] = {"id": visitor_id, "lastupdated": self.now_ms}
        if account_id is not None:
            base_auto.update(accountid=account_id, accountids=[account_id])
        record: dict[str, Any] = {
            "visitorId": visitor_id,
            "accountId": account_id,
            "metadata": {
                "auto": {**base_auto, **(auto or {})},
                "agent": dict(agent or {}),
                "custom": dict(custom or {}),
                **{g: dict(v) for g, v in groups.items()},
            },
        }
        with self._lock:
            self.visitors[visitor_id] = record
            self._register_fields("visitor", record["metadata"])
        return record

    def add_feature(self, feature_id: str, name: str | None = None, **fields: Any) -> None:
        with self._lock:
            self.features[feature_id] = {
                "id": feature_id,
                "kind": "Feature",
                "name": name or feature_id,
                "appId": DEFAULT_APP_ID,
                **fields,
            }

    def add_events(self, rows: Iterable[dict[str, Any]]) -> None:
        """Rows of the ``events`` source: visitorId, accountId, day (ms or ISO date), numEvents,
        numMinutes. Like Pendo's, every row carries an account: without ``accountId`` the
        visitor's (``metadata.auto.accountid``)."""
        with self._lock:
            self.events.extend(self._own_account(_event_row(r, self.timezone)) for r in rows)

    def add_feature_events(self, rows: Iterable[dict[str, Any]]) -> None:
        """Rows of the ``featureEvents`` source: as events plus featureId."""
        with self._lock:
            self.feature_events.extend(
                self._own_account(_event_row(r, self.timezone)) for r in rows
            )

    def _own_account(self, row: dict[str, Any]) -> dict[str, Any]:
        if row.get("accountId") is None:
            visitor = self.visitors.get(str(row.get("visitorId")))
            row["accountId"] = visitor.get("accountId") if visitor else None
        return row

    def add_metadata_field(self, kind: str, group: str, name: str, type_: str = "string") -> None:
        """Declare a field in Data Mappings (needed for writes when ``strict_fields``)."""
        with self._lock:
            self.schema[kind].setdefault(group, {})[name] = _field_schema(name, type_)

    def add_segment(
        self,
        name: str,
        *,
        visitors: list[str] | None = None,
        definition: dict[str, Any] | None = None,
        pipeline: list[dict[str, Any]] | None = None,
        created_by_api: bool = False,
        segment_id: str | None = None,
    ) -> str:
        """A rule segment (``definition`` / ``pipeline``) or a visitor-list segment."""
        with self._lock:
            sid = segment_id or self._new_id("seg")
            now = self.now_ms
            self.segments[sid] = {
                "kind": "Segment",
                "id": sid,
                "rootVersionId": sid,
                "name": name,
                "createdByApi": created_by_api,
                "createdByUser": {"username": "api" if created_by_api else "cs-ops@example.com"},
                "createdAt": now,
                "lastUpdatedByUser": {"username": "api"},
                "lastUpdatedAt": now,
                "definition": definition,
                "pipeline": pipeline,
                "dependentMetadata": [],
                "isFocusGroup": False,
            }
            if visitors is not None:
                self._members[sid] = [str(v) for v in visitors]
            return sid

    def segment_visitors(self, segment_id: str) -> list[str]:
        """Members of a list segment (Pendo does not return them in GET /segment)."""
        with self._lock:
            return list(self._members[segment_id])

    def add_guide(
        self,
        name: str,
        *,
        segment_id: str | None = None,
        state: str = "public",
        guide_id: str | None = None,
        **fields: Any,
    ) -> str:
        audience: list[dict[str, Any]] = [
            {"source": {"visitors": None}},
            {"identified": "visitorId"},
        ]
        filters: list[dict[str, Any]] = []
        if segment_id:
            audience.append({"segment": {"id": segment_id}})
            filters.append({"kind": "segment", "segmentId": segment_id})
        audience.append({"select": {"visitorId": "visitorId"}})
        with self._lock:
            gid = guide_id or self._new_id("guide")
            self.guides[gid] = {
                "id": gid,
                "name": name,
                "state": state,
                "kind": "lightbox",
                "launchMethod": "auto",
                "isMultiStep": False,
                "appIds": [DEFAULT_APP_ID],
                "audience": audience,
                "audienceUiHint": {"filters": filters},
                "steps": [{"id": f"{gid}-step1", "guideId": gid, "type": "lightbox"}],
                "createdAt": self.now_ms,
                "lastUpdatedAt": self.now_ms,
                **fields,
            }
            return gid

    def _register_fields(self, kind: str, metadata: dict[str, dict[str, Any]]) -> None:
        for group, values in metadata.items():
            if group == "auto":
                continue
            fields = self.schema[kind].setdefault(group, {})
            for name, value in values.items():
                fields.setdefault(name, _field_schema(name, _type_of(value)))

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):05d}{secrets.token_hex(3)}"

    # -- HTTP dispatch --------------------------------------------------------------
    def _handle(self, handler: _Handler, method: str) -> None:
        parts = urlsplit(handler.path)
        path = parts.path
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        raw = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        try:
            body: Any = json.loads(raw) if raw.strip() else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        given = handler.headers.get("x-pendo-integration-key")
        auth = "missing" if given is None else ("ok" if given == self.key else "wrong")
        headers = {
            k.lower(): v
            for k, v in handler.headers.items()
            if k.lower() != "x-pendo-integration-key"
        }
        with self._lock:
            self.log.append(LoggedRequest(method, path, query, body, headers, auth))
            fault = self._faults.pop(0) if self._faults else None
        if fault and fault.kind == "drop":
            handler.close_connection = True
            return
        if fault and fault.kind == "fail":
            default = "Too Many Requests" if fault.status == 429 else "Unexpected error occurred"
            extra = (
                {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
            )
            _respond(handler, fault.status, fault.body or default, extra)
            return
        if fault and fault.kind == "slow" and self._stopping.wait(fault.seconds):
            return
        if auth == "missing":
            _respond(handler, 401, "Missing x-pendo-integration-key header")
            return
        if auth == "wrong":
            # Echo what was sent, as a careless server might: the client must scrub it.
            _respond(handler, 403, f"Forbidden: integration key '{given}' is not valid")
            return
        try:
            with self._lock:
                status, answer = self._route(method, path, query, body, headers)
        except _HTTPError as err:
            status, answer = err.status, err.message
        except Exception as err:  # a bug in the fake: answer like Pendo, keep it for the test
            self.errors.append(f"{method} {path}: {type(err).__name__}: {err}")
            status, answer = 500, "Unexpected error occurred"
        with self._lock:
            late = self._late.pop((method, path), 0.0)
        if late and self._stopping.wait(late):
            return
        _respond(handler, status, answer)

    def _route(
        self, method: str, path: str, query: dict[str, str], body: Any, headers: dict[str, str]
    ) -> tuple[int, Any]:
        for verb, pattern, name in _ROUTES:
            match = re.fullmatch(pattern, path)
            if match and verb == method:
                return getattr(self, name)(*match.groups(), query=query, body=body, headers=headers)
        if any(re.fullmatch(p, path) for _, p, _ in _ROUTES):
            raise _HTTPError(405, f"Method {method} not allowed on {path}")
        raise _HTTPError(404, f"Not found: {path}")

    # -- endpoints ------------------------------------------------------------------
    def _aggregation(self, **req: Any) -> tuple[int, Any]:
        envelope = req["body"]
        request = envelope.get("request") if isinstance(envelope, dict) else None
        if not isinstance(request, dict) or not isinstance(request.get("pipeline"), list):
            raise _HTTPError(400, "request.pipeline must be an array")
        rows = self._run_pipeline(request["pipeline"], depth=0)
        result: dict[str, Any] = {"results": rows, "startTime": self.now_ms}
        if request.get("requestId"):
            result["requestId"] = request["requestId"]
        return 200, result

    def _list_segments(self, **req: Any) -> tuple[int, Any]:
        only = req["query"].get("createdByApi", "false").lower() == "true"
        return 200, [
            copy.deepcopy(s)
            for s in self.segments.values()
            if (not only or s.get("createdByApi")) and s.get("id") not in self.private
        ]

    def _get_segment(self, segment_id: str, **req: Any) -> tuple[int, Any]:
        return 200, copy.deepcopy(self._segment(unquote(segment_id)))

    def _upload_segment(self, **req: Any) -> tuple[int, Any]:
        """``POST /segment/upload {"name", "visitors": [ids]}`` -> ``{"segmentId"}`` (built
        asynchronously: the status endpoint says when)."""
        name, visitors = _named_list(req["body"])
        sid = self.add_segment(name, visitors=visitors, created_by_api=True)
        self._start_build(sid)
        return 200, {"segmentId": sid}

    def _segment_status(self, segment_id: str, **req: Any) -> tuple[int, Any]:
        sid = self._segment(unquote(segment_id))["id"]
        if self._is_building(sid):
            left, started = self._building[sid]
            self._building[sid] = (left - 1, started)
            return 200, {"segmentId": sid, "status": "processing"}
        self._building.pop(sid, None)
        return 200, {"segmentId": sid, "status": self._outcomes.get(sid, "complete")}

    def _replace_segment(self, segment_id: str, **req: Any) -> tuple[int, Any]:
        """``PUT /segment/{id} {"name", "visitors": [ids]}``: the whole list, name included."""
        segment = self._writable(segment_id)
        name, visitors = _named_list(req["body"])
        self._members[segment["id"]] = visitors
        segment.update(name=name, lastUpdatedAt=self.now_ms)
        self._start_build(segment["id"])
        return 200, {"segmentId": segment["id"]}

    def _patch_segment(self, segment_id: str, **req: Any) -> tuple[int, Any]:
        """``PATCH /segment/{id}/visitor {"patch": [{"op", "path": "/visitors", "value"}]}``."""
        segment = self._writable(segment_id)
        body = req["body"]
        ops = body.get("patch") if isinstance(body, dict) else None
        if not isinstance(ops, list) or not ops:
            raise _HTTPError(400, "patch must be a non-empty array of operations")
        members = list(self._members[segment["id"]])
        status = []
        for op in ops:
            kind = op.get("op") if isinstance(op, dict) else None
            if kind not in ("add", "remove") or op.get("path") != "/visitors":
                raise _HTTPError(
                    400, 'each operation is {"op": "add"|"remove", "path": "/visitors"}'
                )
            ids = _id_strings(op.get("value"))
            if kind == "add":
                members += [v for v in ids if v not in members]
            else:
                gone = set(ids)
                members = [v for v in members if v not in gone]
            status.append({"status": 200, "message": f"{len(ids)} visitors", "operation": kind})
        if not members:
            raise _HTTPError(400, "a segment needs at least one visitor")
        self._members[segment["id"]] = members
        segment["lastUpdatedAt"] = self.now_ms
        self._start_build(segment["id"])
        return 200, {"multistatus": status}

    def _put_visitor(self, segment_id: str, visitor_id: str, **req: Any) -> tuple[int, Any]:
        segment = self._writable(segment_id)
        members = self._members[segment["id"]]
        if unquote(visitor_id) not in members:
            members.append(unquote(visitor_id))
        return 200, {"segmentId": segment["id"]}

    def _delete_visitor(self, segment_id: str, visitor_id: str, **req: Any) -> tuple[int, Any]:
        segment = self._writable(segment_id)
        members = [v for v in self._members[segment["id"]] if v != unquote(visitor_id)]
        if not members:
            raise _HTTPError(400, "a segment needs at least one visitor")
        self._members[segment["id"]] = members
        return 200, {"segmentId": segment["id"]}

    def _delete_segment(self, segment_id: str, **req: Any) -> tuple[int, Any]:
        segment = self._writable(segment_id)
        del self.segments[segment["id"]]
        self.private.discard(segment["id"])
        self._members.pop(segment["id"], None)
        self._building.pop(segment["id"], None)
        self._outcomes.pop(segment["id"], None)
        return 200, {"segmentId": segment["id"]}

    def _writable(self, raw_id: str) -> dict[str, Any]:
        """An API-made list segment that no other write is busy with (else 409)."""
        segment = self._segment(unquote(raw_id))
        if not segment["createdByApi"] or segment["id"] not in self._members:
            raise _HTTPError(400, "Only visitor-list segments created by the API can be changed")
        if self._conflicts > 0:
            self._conflicts -= 1
            raise _HTTPError(409, "Operation in progress")
        if self.conflict_while_building and self._is_building(segment["id"]):
            raise _HTTPError(409, "Operation in progress")
        return segment

    def _start_build(self, segment_id: str) -> None:
        self._building[segment_id] = (self.upload_polls, time.monotonic())
        self._outcomes[segment_id] = self.build_outcome

    def _is_building(self, segment_id: str) -> bool:
        """Busy until ``upload_polls`` status reads or ``build_seconds`` have passed."""
        if segment_id not in self._building:
            return False
        left, started = self._building[segment_id]
        return left > 0 and time.monotonic() - started < self.build_seconds

    def _metadata_schema(self, kind: str, **req: Any) -> tuple[int, Any]:
        if kind not in self.schema:
            raise _HTTPError(404, f"Unknown metadata kind {kind}")
        return 200, copy.deepcopy(self.schema[kind])

    def _set_metadata(self, kind: str, group: str, **req: Any) -> tuple[int, Any]:
        records = {"account": self.accounts, "visitor": self.visitors}.get(kind)
        if records is None:
            raise _HTTPError(404, f"Unknown metadata kind {kind}")
        if group == "auto":
            raise _HTTPError(400, "The auto metadata group is read-only")
        items = req["body"]
        if not isinstance(items, list):
            raise _HTTPError(400, "Body must be a JSON array")
        fields = self.schema[kind].setdefault(group, {})
        missing: list[str] = []
        errors: list[str] = []
        updated = 0
        for index, item in enumerate(items):
            rid = item.get(f"{kind}Id") if isinstance(item, dict) else None
            values = item.get("values") if isinstance(item, dict) else None
            if not rid or not isinstance(values, dict):
                errors.append(f"item {index}: needs {kind}Id and values")
            elif str(rid) not in records:
                missing.append(str(rid))
            elif self.strict_fields and (unknown := sorted(set(values) - set(fields))):
                errors.append(f"{rid}: unknown field(s) {', '.join(unknown)} in group {group}")
            else:
                for name, value in values.items():
                    fields.setdefault(name, _field_schema(name, _type_of(value)))
                record = records[str(rid)]["metadata"]
                record.setdefault(group, {}).update(values)
                record["auto"]["lastupdated"] = self.now_ms
                updated += 1
        return 200, {
            "kind": kind,
            "total": len(items),
            "updated": updated,
            "failed": len(items) - updated,
            "missing": missing,
            "errors": errors,
        }

    def _get_record(self, kind: str, raw_id: str, **req: Any) -> tuple[int, Any]:
        if req["headers"].get("x-pendo-base64-encoded-params", "").lower() == "true":
            try:
                rid = base64.urlsafe_b64decode(raw_id + "=" * (-len(raw_id) % 4)).decode("utf-8")
            except ValueError:
                raise _HTTPError(400, f"{kind} id is not base64-url: {raw_id}") from None
        else:
            rid = unquote(raw_id)
        records = self.accounts if kind == "account" else self.visitors
        if rid not in records:
            raise _HTTPError(404, f"{kind.capitalize()} not found")
        return 200, copy.deepcopy(records[rid])

    def _get_account(self, raw_id: str, **req: Any) -> tuple[int, Any]:
        return self._get_record("account", raw_id, **req)

    def _get_visitor(self, raw_id: str, **req: Any) -> tuple[int, Any]:
        return self._get_record("visitor", raw_id, **req)

    def _list_guides(self, **req: Any) -> tuple[int, Any]:
        state = req["query"].get("state")
        return 200, [
            copy.deepcopy(g) for g in self.guides.values() if state is None or g["state"] == state
        ]

    def _get_guide(self, guide_id: str, **req: Any) -> tuple[int, Any]:
        guide = self.guides.get(unquote(guide_id))
        if guide is None:
            raise _HTTPError(404, "Guide not found")
        return 200, copy.deepcopy(guide)

    def _segment(self, segment_id: str) -> dict[str, Any]:
        if segment_id not in self.segments:
            raise _HTTPError(404, "Segment not found")
        return self.segments[segment_id]

    # -- aggregation interpreter ------------------------------------------------------
    def _run_pipeline(self, pipeline: list[Any], *, depth: int) -> list[dict[str, Any]]:
        if depth > 5:
            raise _HTTPError(400, "segment references nest too deeply")
        if not pipeline or not isinstance(pipeline[0], dict) or "source" not in pipeline[0]:
            raise _HTTPError(400, "the first pipeline step must be a source")
        rows = self._source(pipeline[0]["source"])
        for index, step in enumerate(pipeline[1:], 1):
            if not isinstance(step, dict) or len(step) != 1:
                raise _HTTPError(400, f"pipeline[{index}]: a step has exactly one operator")
            ((op, arg),) = step.items()
            handler = OPERATORS.get(op)
            if handler is None:
                raise _HTTPError(400, f"pipeline[{index}]: unsupported operator '{op}'")
            try:
                rows = handler(self, rows, arg, depth)
            except ExprError as err:
                raise _HTTPError(400, f"pipeline[{index}] {op}: {err}") from None
        return rows

    def _source(self, spec: Any) -> list[dict[str, Any]]:
        if not isinstance(spec, dict):
            raise _HTTPError(400, "source must be an object")
        names = [k for k in spec if k != "timeSeries"]
        if len(names) != 1:
            raise _HTTPError(400, "source names exactly one data source")
        name, params = names[0], spec[names[0]] or {}
        if name in ("events", "featureEvents"):
            if "timeSeries" not in spec:
                raise _HTTPError(400, f"source {name} needs a timeSeries")
            lo, hi = self._day_range(spec["timeSeries"])
            rows = self.events if name == "events" else self.feature_events
            wanted = params.get("featureId") if name == "featureEvents" else None
            apps = _app_filter(params.get("appId"))
            return [
                dict(r)
                for r in rows
                if lo <= r["day"] < hi
                and (wanted is None or r["featureId"] == wanted)
                and (apps is None or str(r["appId"]) in apps)
            ]
        tables = {"visitors": self.visitors, "accounts": self.accounts, "features": self.features}
        if name not in tables:
            raise _HTTPError(400, f"unsupported source '{name}' in the fake")
        if name == "features":  # a feature belongs to an app: the source names its apps
            apps = _app_filter(params.get("appId"))
            return [
                copy.deepcopy(r)
                for r in self.features.values()
                if apps is None or str(r.get("appId")) in apps
            ]
        return [copy.deepcopy(r) for r in tables[name].values()]

    def _day_range(self, series: Any) -> tuple[int, int]:
        if not isinstance(series, dict) or series.get("period") != "dayRange":
            raise _HTTPError(400, "timeSeries.period must be 'dayRange' in the fake")
        first = series.get("first")
        if isinstance(first, str):
            try:
                first = Expr(first).evaluate({}, self.now_ms, self.timezone)
            except ExprError as err:
                raise _HTTPError(400, f"timeSeries.first: {err}") from None
        count = series.get("count")
        if not isinstance(first, int | float) or not isinstance(count, int) or count == 0:
            raise _HTTPError(400, "timeSeries needs numeric first and a non-zero integer count")
        # Days are the subscription's local days: floor to local midnight, count dates.
        zone = ZoneInfo(self.timezone)
        day = dt.datetime.fromtimestamp(first / 1000, zone).date()
        start = local_day_ms(day, self.timezone)
        other = local_day_ms(day + dt.timedelta(days=count), self.timezone)
        return min(start, other), max(start, other)

    def _segment_members(self, segment_id: str, depth: int) -> set[str]:
        if segment_id not in self.segments:
            raise _HTTPError(400, f"unknown segment id '{segment_id}'")
        if segment_id in self._members:
            return set(self._members[segment_id])
        pipeline = self.segments[segment_id].get("pipeline")
        if not pipeline:
            raise _HTTPError(400, f"segment '{segment_id}' has neither members nor a pipeline")
        return {
            str(r["visitorId"])
            for r in self._run_pipeline(pipeline, depth=depth + 1)
            if r.get("visitorId") is not None
        }


def _named_list(body: Any) -> tuple[str, list[str]]:
    """``{"name": str, "visitors": [id strings]}`` as Pendo's collection documents it."""
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"]:
        raise _HTTPError(400, "name is required")
    return body["name"], _id_strings(body.get("visitors"))


def _id_strings(items: Any) -> list[str]:
    """A non-empty array of visitor id strings; objects are refused (not Pendo's shape)."""
    if not isinstance(items, list):
        raise _HTTPError(400, "visitors must be an array of visitor id strings")
    if not items:
        raise _HTTPError(400, "at least one visitor is required")
    for item in items:
        if not isinstance(item, str) or not item:
            raise _HTTPError(400, f"invalid visitor id {item!r}: expected a non-empty string")
    return list(dict.fromkeys(items))


def _app_filter(app_id: Any) -> set[str] | None:
    """Which apps an event source counts: none named means Pendo's default app only."""
    if app_id is None:
        return {str(DEFAULT_APP_ID)}
    if isinstance(app_id, str) and app_id.replace(" ", "").startswith("expandAppIds("):
        inner = app_id.strip()[len("expandAppIds(") : -1].strip().strip("\"'")
        return None if inner == "*" else {inner}
    if isinstance(app_id, list):
        return {str(a) for a in app_id}
    return {str(app_id)}


def _event_row(row: dict[str, Any], tz: str = "UTC") -> dict[str, Any]:
    out = dict(row)
    if not isinstance(out.get("day"), int):
        day = out["day"]
        day = dt.date.fromisoformat(day) if isinstance(day, str) else day
        out["day"] = local_day_ms(day, tz)
    out.setdefault("appId", DEFAULT_APP_ID)
    out.setdefault("numEvents", 0)
    out.setdefault("numMinutes", 0.0)
    return out


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "list"
    return "string"


def _field_schema(name: str, type_: str) -> dict[str, Any]:
    return {
        "Type": type_,
        "DisplayName": name,
        "ElementType": "",
        "isHidden": False,
        "isDeleted": False,
        "isCalculated": False,
        "isPerApp": False,
        "neverIndex": False,
    }


def _auto_schema(kind: str) -> dict[str, Any]:
    names = {"id": "string", "firstvisit": "time", "lastvisit": "time", "lastupdated": "time"}
    if kind == "visitor":
        names.update(accountid="string", accountids="list")
    return {n: _field_schema(n, t) for n, t in names.items()}


def _respond(
    handler: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None
) -> None:
    is_text = isinstance(body, str)
    data = (body if is_text else json.dumps(body)).encode("utf-8")
    try:
        handler.send_response(status)
        handler.send_header(
            "Content-Type", "text/plain; charset=utf-8" if is_text else "application/json"
        )
        handler.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)
    except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
        pass


_ID = r"([^/]+)"
_ROUTES: list[tuple[str, str, str]] = [
    ("POST", r"/api/v1/aggregation", "_aggregation"),
    ("GET", r"/api/v1/segment", "_list_segments"),
    ("POST", r"/api/v1/segment/upload", "_upload_segment"),
    ("GET", r"/api/v1/segment/" + _ID + "/status", "_segment_status"),
    ("PATCH", r"/api/v1/segment/" + _ID + "/visitor", "_patch_segment"),
    ("PUT", r"/api/v1/segment/" + _ID + "/visitor/" + _ID, "_put_visitor"),
    ("DELETE", r"/api/v1/segment/" + _ID + "/visitor/" + _ID, "_delete_visitor"),
    ("GET", r"/api/v1/segment/" + _ID, "_get_segment"),
    ("PUT", r"/api/v1/segment/" + _ID, "_replace_segment"),
    ("DELETE", r"/api/v1/segment/" + _ID, "_delete_segment"),
    ("GET", r"/api/v1/metadata/schema/" + _ID, "_metadata_schema"),
    ("POST", r"/api/v1/metadata/" + _ID + "/" + _ID + "/value", "_set_metadata"),
    ("GET", r"/api/v1/account/" + _ID, "_get_account"),
    ("GET", r"/api/v1/visitor/" + _ID, "_get_visitor"),
    ("GET", r"/api/v1/guide", "_list_guides"),
    ("GET", r"/api/v1/guide/" + _ID, "_get_guide"),
]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakePendo

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        self.fake.errors.append(f"unhandled: {sys.exc_info()[1]!r}")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # one request per connection: drop_next stays simple
    timeout = 10

    def _dispatch(self) -> None:
        self.server.fake._handle(self, self.command)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass


__all__ = ["FakePendo", "LoggedRequest", "day_ms"]
