"""A fake Pendo: a real HTTP server on 127.0.0.1 with the v1 endpoints the toolkit uses.

Used by the client tests, to record cassettes and by any test that needs
"Pendo" without the network. It keeps state in memory, checks the integration
key, and can be told to misbehave::

    with FakePendo() as fake:                      # or the ``fake_pendo`` fixture
        fake.add_account("acme", agent={"plan": "Growth"})
        fake.fail_next(2, status=429, retry_after=1)
        client = PendoClient(fake.url, fake.key, sleep=lambda s: None)
        fake.calls("POST", "/api/v1/metadata/account/custom/value")

Shapes follow /work/shared/pendo-api.md. Where that page is unsure the fake
picks one answer (upload status URL field ``statusUrl``, overridable with
``status_url_field``; status ``processing`` → ``complete`` + ``segmentId``).

Aggregation: a small interpreter for ``source`` (events, featureEvents,
visitors, accounts, features; ``timeSeries`` dayRange with ``first`` as epoch ms
or an expression such as ``"now()"`` / ``"now() - 30*24*60*60*1000"``, negative
``count`` walks backwards), ``identified``, ``filter``, ``select``, ``eval``,
``group`` / ``reduce`` (sum, count, max, min, avg), ``sort``, ``limit``,
``unwind``, ``segment`` and ``bulkExpand``. ``count`` counts *distinct* non-null
values (``{"count": null}`` counts rows), which is how Pendo's own
``uniqueAccounts`` example reads. Anything else answers 400, so a compiler test
learns that the fake (not necessarily Pendo) cannot run it.

Data from a ``pendo_segments.data.dataset.Dataset`` is mapped like this:
accounts / visitors columns → ``metadata.agent.<column>`` (dates as epoch ms),
``metadata.auto`` holds id, accountid(s), firstvisit, lastvisit, lastupdated;
``metadata.custom`` starts empty (that is where sync writes). usage_daily →
``events`` rows, feature_usage → ``featureEvents`` rows (clicks as numEvents).
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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

DAY_MS = 86_400_000
DEFAULT_APP_ID = -323232
ANONYMOUS_PREFIX = "_PENDO_T_"


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


class _HTTPError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class _Upload:
    name: str
    visitors: list[str]
    polls_left: int
    segment_id: str | None = None


class FakePendo:
    """In-memory Pendo subscription served over HTTP on an ephemeral 127.0.0.1 port."""

    def __init__(
        self,
        key: str | None = None,
        *,
        upload_polls: int = 2,
        status_url_field: str = "statusUrl",
        strict_fields: bool = False,
    ) -> None:
        self.key = key or f"fake-{secrets.token_hex(12)}"
        self.upload_polls = upload_polls
        self.upload_outcome = "complete"  # or "failed"
        self.status_url_field = status_url_field
        self.strict_fields = strict_fields
        self.log: list[LoggedRequest] = []
        self.errors: list[str] = []  # bugs inside the fake (answered with 500)
        self.accounts: dict[str, dict[str, Any]] = {}
        self.visitors: dict[str, dict[str, Any]] = {}
        self.features: dict[str, dict[str, Any]] = {}
        self.segments: dict[str, dict[str, Any]] = {}
        self.guides: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.feature_events: list[dict[str, Any]] = []
        self.schema: dict[str, dict[str, dict[str, Any]]] = {
            "visitor": {"auto": _auto_schema("visitor"), "agent": {}, "custom": {}},
            "account": {"auto": _auto_schema("account"), "agent": {}, "custom": {}},
        }
        self._members: dict[str, list[str]] = {}
        self._uploads: dict[str, _Upload] = {}
        self._faults: list[_Fault] = []
        self._now_ms: int | None = None
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> FakePendo:
        server = _Server(("127.0.0.1", 0), _Handler)
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
        numMinutes."""
        with self._lock:
            self.events.extend(_event_row(r) for r in rows)

    def add_feature_events(self, rows: Iterable[dict[str, Any]]) -> None:
        """Rows of the ``featureEvents`` source: as events plus featureId."""
        with self._lock:
            self.feature_events.extend(_event_row(r) for r in rows)

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
                "shared": True,
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

    def load_rows(
        self,
        *,
        accounts: Iterable[dict[str, Any]] = (),
        visitors: Iterable[dict[str, Any]] = (),
        events: Iterable[dict[str, Any]] = (),
        feature_events: Iterable[dict[str, Any]] = (),
        features: Iterable[dict[str, Any]] = (),
    ) -> None:
        """Load Pendo-shaped records: accounts ``{"accountId", "metadata": {group: {…}}}``,
        visitors ``{"visitorId", "accountId"?, "metadata"}``, features ``{"id", "name", …}``."""
        for a in accounts:
            self.add_account(a["accountId"], **a.get("metadata", {}))
        for v in visitors:
            self.add_visitor(v["visitorId"], v.get("accountId"), **v.get("metadata", {}))
        for f in features:
            self.add_feature(**{k if k != "id" else "feature_id": val for k, val in f.items()})
        self.add_events(events)
        self.add_feature_events(feature_events)

    def load_dataset(self, ds: Any) -> None:
        """Load a ``pendo_segments.data.dataset.Dataset`` (see the module docstring)."""
        usage = _frame_records(ds.usage_daily)
        clicks = _frame_records(ds.feature_usage)
        first: dict[str, int] = {}
        last: dict[str, int] = {}
        for row in usage:
            if (row.get("events") or 0) > 0 or (row.get("minutes") or 0) > 0:
                vid, day = str(row["visitor_id"]), row["date"]
                first[vid] = min(first.get(vid, day), day)
                last[vid] = max(last.get(vid, day), day)
        visitors = _frame_records(ds.visitors)
        account_days: dict[str, list[int]] = {}
        for v in visitors:
            vid, aid = str(v.pop("visitor_id")), v.pop("account_id", None)
            auto: dict[str, Any] = {
                "firstvisit": v.get("first_visit") or first.get(vid),
                "lastvisit": last.get(vid),
            }
            self.add_visitor(
                vid,
                None if aid is None else str(aid),
                auto=auto,
                agent={k: val for k, val in v.items() if val is not None},
            )
            if aid is not None:
                account_days.setdefault(str(aid), []).extend(
                    d for d in (auto["firstvisit"], auto["lastvisit"]) if d is not None
                )
        for a in _frame_records(ds.accounts):
            aid = str(a.pop("account_id"))
            days = account_days.get(aid, [])
            self.add_account(
                aid,
                auto={"firstvisit": min(days, default=None), "lastvisit": max(days, default=None)},
                agent={k: val for k, val in a.items() if val is not None},
            )
        for f in _frame_records(ds.features):
            fid = str(f.pop("feature_id"))
            app = f.pop("app_id", None)
            self.add_feature(
                fid, f.pop("name", None), **({"appId": app} if app is not None else {}), **f
            )
        self.add_events(
            {
                "visitorId": str(r["visitor_id"]),
                "accountId": _str(r.get("account_id")),
                "day": r["date"],
                "numEvents": int(r.get("events") or 0),
                "numMinutes": float(r.get("minutes") or 0.0),
            }
            for r in usage
        )
        self.add_feature_events(
            {
                "visitorId": str(r["visitor_id"]),
                "accountId": _str(r.get("account_id")),
                "day": r["date"],
                "featureId": str(r["feature_id"]),
                "numEvents": int(r.get("clicks") or 0),
                "numMinutes": 0.0,
            }
            for r in clicks
        )

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
            copy.deepcopy(s) for s in self.segments.values() if not only or s["createdByApi"]
        ]

    def _get_segment(self, segment_id: str, **req: Any) -> tuple[int, Any]:
        return 200, copy.deepcopy(self._segment(unquote(segment_id)))

    def _upload_segment(self, **req: Any) -> tuple[int, Any]:
        body = req["body"]
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"]:
            raise _HTTPError(400, "name is required")
        token = secrets.token_hex(8)
        self._uploads[token] = _Upload(
            body["name"], _visitor_ids(body.get("visitors")), polls_left=self.upload_polls
        )
        return 202, {
            self.status_url_field: f"{self.url}/api/v1/segment/upload/status/{token}",
            "status": "processing",
        }

    def _upload_status(self, token: str, **req: Any) -> tuple[int, Any]:
        upload = self._uploads.get(token)
        if upload is None:
            raise _HTTPError(404, "Unknown upload")
        upload.polls_left -= 1
        if upload.polls_left > 0:
            return 200, {"status": "processing"}
        if self.upload_outcome == "failed":
            return 200, {"status": "failed", "errors": ["upload could not be processed"]}
        if upload.segment_id is None:
            upload.segment_id = self.add_segment(
                upload.name, visitors=upload.visitors, created_by_api=True
            )
        return 200, {"status": "complete", "segmentId": upload.segment_id}

    def _create_rule_segment(self, **req: Any) -> tuple[int, Any]:
        """UNVERIFIED in Pendo (catalog only): a rule segment from a builder definition."""
        body = req["body"]
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"]:
            raise _HTTPError(400, "name is required")
        if not isinstance(body.get("definition"), dict):
            raise _HTTPError(400, "definition must be an object")
        sid = self.add_segment(body["name"], definition=body["definition"], created_by_api=True)
        self.segments[sid]["description"] = str(body.get("description") or "")
        return 200, copy.deepcopy(self.segments[sid])

    def _replace_segment(self, segment_id: str, **req: Any) -> tuple[int, Any]:
        segment = self._segment(unquote(segment_id))
        rule = req["body"].get("definition") if isinstance(req["body"], dict) else None
        is_list = segment["id"] in self._members
        if isinstance(rule, dict) and segment["createdByApi"] and not is_list:
            segment.update(
                definition=rule,
                lastUpdatedAt=self.now_ms,
                name=req["body"].get("name") or segment["name"],
            )
            return 200, copy.deepcopy(segment)
        if not segment["createdByApi"] or segment["id"] not in self._members:
            raise _HTTPError(400, "Only visitor-list segments created by the API can be updated")
        body = req["body"]
        if not isinstance(body, dict):
            raise _HTTPError(400, "body must be an object with 'visitors'")
        self._members[segment["id"]] = _visitor_ids(body.get("visitors"))
        segment["lastUpdatedAt"] = self.now_ms
        return 200, {"segmentId": segment["id"], "status": "complete"}

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
            handler = _OPERATORS.get(op)
            if handler is None:
                raise _HTTPError(400, f"pipeline[{index}]: unsupported operator '{op}'")
            try:
                rows = handler(self, rows, arg, depth)
            except _ExprError as err:
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
            return [
                dict(r)
                for r in rows
                if lo <= r["day"] < hi and (wanted is None or r["featureId"] == wanted)
            ]
        tables = {"visitors": self.visitors, "accounts": self.accounts, "features": self.features}
        if name not in tables:
            raise _HTTPError(400, f"unsupported source '{name}' in the fake")
        return [copy.deepcopy(r) for r in tables[name].values()]

    def _day_range(self, series: Any) -> tuple[int, int]:
        if not isinstance(series, dict) or series.get("period") != "dayRange":
            raise _HTTPError(400, "timeSeries.period must be 'dayRange' in the fake")
        first = series.get("first")
        if isinstance(first, str):
            try:
                first = _Expr(first).evaluate({}, self.now_ms)
            except _ExprError as err:
                raise _HTTPError(400, f"timeSeries.first: {err}") from None
        count = series.get("count")
        if not isinstance(first, int | float) or not isinstance(count, int) or count == 0:
            raise _HTTPError(400, "timeSeries needs numeric first and a non-zero integer count")
        start = int(first) // DAY_MS * DAY_MS
        other = start + count * DAY_MS
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


# --- pipeline operators ----------------------------------------------------------------
Rows = list[dict[str, Any]]


def _op_identified(fake: FakePendo, rows: Rows, arg: Any, depth: int) -> Rows:
    return [
        r
        for r in rows
        if (v := _get(r, str(arg))) not in (None, "") and not str(v).startswith(ANONYMOUS_PREFIX)
    ]


def _op_filter(fake: FakePendo, rows: Rows, arg: Any, depth: int) -> Rows:
    expr = _Expr(str(arg))
    return [r for r in rows if bool(expr.evaluate(r, fake.now_ms))]


def _op_select(fake: FakePendo, rows: Rows, arg: Any, depth: int) -> Rows:
    exprs = {out: _Expr(str(src)) for out, src in _mapping(arg, "select").items()}
    return [{out: e.evaluate(r, fake.now_ms) for out, e in exprs.items()} for r in rows]


def _op_eval(fake: FakePendo, rows: Rows, arg: Any, depth: int) -> Rows:
    exprs = {out: _Expr(str(src)) for out, src in _mapping(arg, "eval").items()}
    return [{**r, **{out: e.evaluate(r, fake.now_ms) for out, e in exprs.items()}} for r in rows]


def _op_group(fake: FakePendo, rows: Rows, arg: Any, depth: int) -> Rows:
    spec = _mapping(arg, "group")
    keys = spec.get("group") or []
    keys = [keys] if isinstance(keys, str) else list(keys)
    return _aggregate(rows, keys, spec.get("fields") or {})


def _op_reduce(fake: FakePendo, rows: Rows, arg: Any, depth: int) -> Rows:
    return _aggregate(rows, [], arg, keep_empty=True)


def _op_sort(fake: FakePendo, rows: Rows, arg: Any, depth: int) -> Rows:
    fields = [arg] if isinstance(arg, str) else list(arg)
    out = list(rows)
    for name in reversed(fields):  # stable sorts, last key first
        path = name.lstrip("-+")

        def key(row: dict[str, Any], path: str = path) -> tuple[int, Any]:
            return _sort_key(_get(row, path))

        out.sort(key=key, reverse=name.startswith("-"))
    return out


def _op_limit(fake: FakePendo, rows: Rows, arg: Any, depth: int) -> Rows:
    if not isinstance(arg, int) or arg < 0:
        raise _HTTPError(400, "limit must be a non-negative integer")
    return rows[:arg]


def _op_unwind(fake: FakePendo, rows: Rows, arg: Any, depth: int) -> Rows:
    spec = _mapping(arg, "unwind")
    name, keep = str(spec.get("field")), bool(spec.get("keepEmpty"))
    out: Rows = []
    for r in rows:
        values = r.get(name)
        values = values if isinstance(values, list) else ([] if values is None else [values])
        if not values and keep:
            out.append({**r, name: None})
        out.extend({**r, name: v} for v in values)
    return out


def _op_segment(fake: FakePendo, rows: Rows, arg: Any, depth: int) -> Rows:
    members = fake._segment_members(str(_mapping(arg, "segment").get("id")), depth)
    return [r for r in rows if str(r.get("visitorId")) in members]


def _op_bulk_expand(fake: FakePendo, rows: Rows, arg: Any, depth: int) -> Rows:
    out = [dict(r) for r in rows]
    for target, how in _mapping(arg, "bulkExpand").items():
        ((kind, id_path),) = _mapping(how, "bulkExpand").items()
        table = {"account": fake.accounts, "visitor": fake.visitors}.get(kind)
        if table is None:
            raise _HTTPError(400, f"bulkExpand kind '{kind}' is not supported by the fake")
        for r in out:
            rid = _get(r, id_path)
            r[target] = copy.deepcopy(table.get(str(rid))) if rid is not None else None
    return out


_OPERATORS: dict[str, Callable[[FakePendo, Rows, Any, int], Rows]] = {
    "identified": _op_identified,
    "filter": _op_filter,
    "select": _op_select,
    "eval": _op_eval,
    "group": _op_group,
    "reduce": _op_reduce,
    "sort": _op_sort,
    "limit": _op_limit,
    "unwind": _op_unwind,
    "segment": _op_segment,
    "bulkExpand": _op_bulk_expand,
}


def _aggregate(rows: Rows, keys: list[str], fields: Any, *, keep_empty: bool = False) -> Rows:
    if isinstance(fields, list):  # [{"out": {"sum": "x"}}, …] is accepted too
        fields = {k: v for item in fields for k, v in _mapping(item, "fields").items()}
    specs: list[tuple[str, str, str | None]] = []
    for out, spec in _mapping(fields, "fields").items():
        ((fn, src),) = _mapping(spec, "field").items()
        if fn not in ("sum", "count", "max", "min", "avg"):
            raise _HTTPError(400, f"unsupported aggregation '{fn}' in the fake")
        specs.append((out, fn, src))
    groups: dict[tuple[Any, ...], Rows] = {}
    for r in rows:
        groups.setdefault(tuple(_hashable(_get(r, k)) for k in keys), []).append(r)
    if not groups and keep_empty:
        groups[()] = []
    out_rows: Rows = []
    for members in groups.values():
        result = {k: _get(members[0], k) if members else None for k in keys}
        for out, fn, src in specs:
            present = [v for v in (_get(m, src) for m in members) if v is not None] if src else []
            if fn == "count":
                result[out] = len(members) if src is None else len({_hashable(v) for v in present})
            elif fn == "sum":
                result[out] = sum(present) if present else 0
            elif fn == "avg":
                result[out] = sum(present) / len(present) if present else None
            else:
                result[out] = (max if fn == "max" else min)(present) if present else None
        out_rows.append(result)
    return out_rows


# --- filter / eval expressions ----------------------------------------------------------
class _ExprError(ValueError):
    pass


_TOKEN = re.compile(
    r"""\s*(?:
    (?P<num>\d+(?:\.\d+)?)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>==|!=|>=|<=|&&|\|\||[<>!()+\-*/,])
  | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
)""",
    re.VERBOSE,
)


class _Expr:
    """``metadata.auto.lastupdated >= 1 && (plan == "Growth" || arr > 1000)``, ``now() - 3``.

    Comparisons with a missing (null) value are false except ``== null`` / ``!= null``.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = self._tokenise(text)
        self.pos = 0
        self.tree = self._or()
        if self.pos != len(self.tokens):
            raise _ExprError(f"unexpected {self.tokens[self.pos][1]!r} in {text!r}")

    def evaluate(self, row: dict[str, Any], now_ms: int) -> Any:
        return _eval_node(self.tree, row, now_ms)

    @staticmethod
    def _tokenise(text: str) -> list[tuple[str, str]]:
        tokens, pos = [], 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            match = _TOKEN.match(text, pos)
            if not match or match.end() == pos:
                raise _ExprError(f"cannot read {text[pos:]!r} in {text!r}")
            kind = match.lastgroup or "op"
            tokens.append((kind, match.group(kind)))
            pos = match.end()
        return tokens

    def _peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise _ExprError(f"unexpected end of {self.text!r}")
        token = self.tokens[self.pos]
        if expected is not None and token[1] != expected:
            raise _ExprError(f"expected {expected!r}, got {token[1]!r} in {self.text!r}")
        self.pos += 1
        return token

    def _binary(self, ops: tuple[str, ...], lower: Callable[[], Any]) -> Any:
        node = lower()
        while self._peek() in ops and self.tokens[self.pos][0] == "op":
            op = self._take()[1]
            node = ("bin", op, node, lower())
        return node

    def _or(self) -> Any:
        return self._binary(("||",), self._and)

    def _and(self) -> Any:
        return self._binary(("&&",), self._cmp)

    def _cmp(self) -> Any:
        return self._binary(("==", "!=", ">=", "<=", ">", "<"), self._add)

    def _add(self) -> Any:
        return self._binary(("+", "-"), self._mul)

    def _mul(self) -> Any:
        return self._binary(("*", "/"), self._unary)

    def _unary(self) -> Any:
        if self._peek() in ("!", "-") and self.tokens[self.pos][0] == "op":
            return ("un", self._take()[1], self._unary())
        return self._primary()

    def _primary(self) -> Any:
        kind, text = self._take()
        if kind == "num":
            return ("lit", float(text) if "." in text else int(text))
        if kind == "str":
            return ("lit", json.loads(text) if text[0] == '"' else text[1:-1])
        if kind == "op" and text == "(":
            node = self._or()
            self._take(")")
            return node
        if kind == "name":
            if text in ("true", "false", "null"):
                return ("lit", {"true": True, "false": False, "null": None}[text])
            if self._peek() == "(":
                self._take("(")
                args = []
                while self._peek() != ")":
                    args.append(self._or())
                    if self._peek() == ",":
                        self._take(",")
                self._take(")")
                return ("call", text, args)
            return ("field", text)
        raise _ExprError(f"unexpected {text!r} in {self.text!r}")


def _eval_node(node: Any, row: dict[str, Any], now_ms: int) -> Any:
    tag = node[0]
    if tag == "lit":
        return node[1]
    if tag == "field":
        return _get(row, node[1])
    if tag == "call":
        args = [_eval_node(a, row, now_ms) for a in node[2]]
        if node[1] == "now" and not args:
            return now_ms
        if node[1] == "isNull" and len(args) == 1:
            return args[0] is None
        if node[1] == "contains" and len(args) == 2:
            return args[0] is not None and args[1] in args[0]
        raise _ExprError(f"unsupported function {node[1]}() in the fake")
    if tag == "un":
        value = _eval_node(node[2], row, now_ms)
        if node[1] == "!":
            return not value
        return -value if isinstance(value, int | float) else None
    op, left, right = node[1], _eval_node(node[2], row, now_ms), _eval_node(node[3], row, now_ms)
    if op == "&&":
        return bool(left) and bool(right)
    if op == "||":
        return bool(left) or bool(right)
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    if left is None or right is None:
        return False if op in ("<", "<=", ">", ">=") else None
    try:
        return {
            "<": lambda: left < right,
            "<=": lambda: left <= right,
            ">": lambda: left > right,
            ">=": lambda: left >= right,
            "+": lambda: left + right,
            "-": lambda: left - right,
            "*": lambda: left * right,
            "/": lambda: left / right,
        }[op]()
    except (TypeError, ZeroDivisionError):
        return False if op in ("<", "<=", ">", ">=") else None


# --- small helpers ------------------------------------------------------------------------
def _get(row: Any, path: str) -> Any:
    value = row
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _HTTPError(400, f"{what} must be an object")
    return value


def _hashable(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else value


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, bool | int | float):
        return (1, value)
    return (2, str(value))


def _visitor_ids(items: Any) -> list[str]:
    if not isinstance(items, list):
        raise _HTTPError(400, "visitors must be an array")
    ids = []
    for item in items:
        vid = item.get("visitorId") if isinstance(item, dict) else item
        if not isinstance(vid, str | int) or vid == "":
            raise _HTTPError(400, f"invalid visitor entry {item!r}")
        ids.append(str(vid))
    return ids


def _event_row(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    if not isinstance(out.get("day"), int):
        out["day"] = day_ms(out["day"])
    out.setdefault("appId", DEFAULT_APP_ID)
    out.setdefault("numEvents", 0)
    out.setdefault("numMinutes", 0.0)
    return out


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


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


def _frame_records(frame: Any) -> list[dict[str, Any]]:
    """DataFrame rows as plain Python dicts: dates → epoch ms, NA → None, numpy → Python.

    Column-wise (vectorised) so loading the bundled sample stays well under a second.
    """
    import pandas as pd

    if frame is None:
        return []
    columns: dict[str, list[Any]] = {}
    for name in frame.columns:
        series = frame[name]
        missing = series.isna()
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        if pd.api.types.is_datetime64_any_dtype(series):
            series = series.astype("datetime64[ms]").astype("int64")
        # object Series hold Python scalars (int, float, bool, str), NA replaced by None
        columns[str(name)] = series.astype(object).where(~missing, None).tolist()
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


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
    ("POST", r"/api/v1/segment", "_create_rule_segment"),
    ("POST", r"/api/v1/segment/upload", "_upload_segment"),
    ("GET", r"/api/v1/segment/upload/status/" + _ID, "_upload_status"),
    ("GET", r"/api/v1/segment/" + _ID, "_get_segment"),
    ("PUT", r"/api/v1/segment/" + _ID, "_replace_segment"),
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
