"""A local Salesforce org on https://127.0.0.1: the REST endpoints pendo-segments calls.

Shapes follow Salesforce's public REST API Developer Guide and Bulk API 2.0
Developer Guide (only what the client reads is modelled):

* ``GET /services/data/vXX.X/query?q=`` — "Execute a SOQL Query": ``{"totalSize",
  "done", "records": [{"attributes": {"type", "url"}, "Id", …}], "nextRecordsUrl"}``,
  pages of ``page_size`` records ("Retrieve the Remaining SOQL Query Results");
  a URI over 16,384 bytes answers 414 (REST API limits).
* ``GET /services/data/vXX.X/sobjects/{Account,Task}/describe`` — "sObject Describe":
  ``{"name", "createable", "updateable", "fields": [{"name", "type", "scale",
  "updateable", "createable"}]}``.
* ``PATCH /services/data/vXX.X/composite/sobjects`` — "Update Records Using sObject
  Collections": body ``{"allOrNone", "records": [{"attributes": {"type"}, "id", …}]}``,
  answer: one SaveResult per record in order, ``{"id", "success": true, "errors": []}``
  or ``{"success": false, "errors": [{"statusCode", "message", "fields"}]}``.
* ``POST /services/data/vXX.X/sobjects/Task`` — "Create a Record": 201
  ``{"id", "success": true, "errors": []}``; 400 ``[{"message", "errorCode", "fields"}]``.
* Bulk API 2.0 ingest — "Create a Job" (``POST /jobs/ingest``: ``{"id", "state": "Open",
  "contentUrl", …}``), "Upload Job Data" (``PUT /jobs/ingest/ID/batches``, CSV, 201),
  "Close or Abort a Job" (``PATCH /jobs/ingest/ID {"state": "UploadComplete"}``),
  "Get Job Info" (``numberRecordsProcessed`` counts failed rows too,
  ``numberRecordsFailed``), "Get Job Failed Record Results" (CSV ``sf__Id``,
  ``sf__Error``, then the uploaded columns), "Get Job Unprocessed Record Results".
  In the CSV an empty cell leaves a field alone and ``#N/A`` sets it to null
  ("Valid CSV Record Rows").
* Errors — "Status Codes and Error Responses": ``[{"message", "errorCode"}]``; an
  expired session is 401 ``INVALID_SESSION_ID``.

Sources (developer.salesforce.com/docs/atlas.en-us.*): api_rest.meta/api_rest/
resources_composite_sobjects_collections_update.htm, api_rest.meta/api_rest/
errorcodes.htm, api_asynch.meta/api_asynch/get_job_failed_results.htm,
api_asynch.meta/api_asynch/datafiles_csv_valid_record_rows.htm; the 16,384-byte URI
limit: Salesforce Help article 000386264 ("Maximum number of rows returned by SOQL
queries over the REST API").

Faults: :meth:`StandIn.fail_next` (5xx), :meth:`StandIn.expire_session` (401),
``row_errors`` (a per-record error), ``lose_task_answers`` (a Task created, the
answer a 503), ``task_gate`` (hold a Task POST, before or
after creating it, so a test can kill the client mid-request).

Run ``python tests/salesforce_standin.py record`` to record cassettes/salesforce_*.yaml
(see cassettes/README.md).
"""

from __future__ import annotations

import csv
import io
import json
import re
import ssl
import threading
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parents[1]
CASSETTES = ROOT / "cassettes"
API = "59.0"
SESSION_ID = "00Dstandin!AQ0AQFakeSessionToken.recorded-never.7d41c2"
STABLE_URL = "https://sf.test"
URI_LIMIT = 16_384

ACCOUNT_FIELDS = [
    # name, type, scale (describe "type" values of the SOAP / REST describe)
    ("Id", "id", 0),
    ("Name", "string", 0),
    ("Pendo_Health_Score__c", "double", 1),
    ("Pendo_Tier__c", "picklist", 0),
    ("Pendo_Last_Login__c", "date", 0),
    ("Pendo_Feature_Adoption_Rate__c", "percent", 1),
    ("Pendo_Session_Count_30d__c", "double", 0),
    ("Pendo_NPS_Score__c", "double", 1),
    ("Pendo_At_Risk__c", "boolean", 0),
]
TASK_FIELDS = ["Subject", "WhatId", "OwnerId", "Description", "Priority", "ActivityDate", "Status"]


def full_id(short: str) -> str:
    """An 18-character id for a 15-character one (the suffix stands in for the checksum)."""
    return short if len(short) == 18 else short + "AAA"


@dataclass
class Job:
    id: str
    sobject: str
    operation: str
    state: str = "Open"
    data: str = ""
    ok: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    header: list[str] = field(default_factory=list)


class StandIn:
    """One org: Accounts, Tasks, Users; start() serves it over TLS on 127.0.0.1."""

    def __init__(self, *, page_size: int = 2000) -> None:
        self.session_id = SESSION_ID
        self.page_size = page_size
        self.fields = {n: {"type": t, "scale": s} for n, t, s in ACCOUNT_FIELDS}
        self.read_only_fields: set[str] = set()
        self.accounts: dict[str, dict[str, Any]] = {}
        self.tasks: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.task_createable = True
        self.row_errors: dict[str, dict[str, Any]] = {}  # 15-char id -> error
        self.log: list[tuple[str, str]] = []  # (method, path) of every request
        self.queries: list[str] = []
        self.jobs: dict[str, Job] = {}
        self._fail: list[tuple[int, str]] = []  # (status, path fragment)
        self._cursors: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._ids = 0
        # Task POST gate: "before" holds it without creating, "after" creates then holds.
        self.task_gate: str | None = None
        self.lose_task_answers = 0  # Task POSTs that create the Task, then answer 503
        self.task_arrived = threading.Event()
        self.task_release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""
        self.ca_file: Path | None = None

    # -- data --------------------------------------------------------------------------
    def add_account(self, short_id: str, name: str, **values: Any) -> str:
        record_id = full_id(short_id)
        self.accounts[record_id] = {"Id": record_id, "Name": name, **values}
        return record_id

    def add_user(self, user_id: str, active: bool = True) -> None:
        self.users[full_id(user_id)] = {"Id": full_id(user_id), "IsActive": active}

    def fail_next(self, count: int, status: int = 503, path: str = "") -> None:
        self._fail.extend([(status, path)] * count)

    def expire_session(self) -> None:
        self.session_id = "expired-" + self.session_id

    def _new_id(self, prefix: str) -> str:
        with self._lock:
            self._ids += 1
            return full_id(f"{prefix}5e00000{self._ids:05d}")

    # -- server ------------------------------------------------------------------------
    def start(self, folder: Path) -> str:
        import trustme

        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        self.ca_file = Path(folder) / "standin-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(context)
        org = self

        class Handler(_Handler):
            standin = org

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        # shutdown() waits for the loop's next poll: 0.5 s each test by default
        poll = {"poll_interval": 0.01}
        threading.Thread(target=server.serve_forever, kwargs=poll, daemon=True).start()
        self.url = f"https://127.0.0.1:{server.server_address[1]}"
        return self.url

    def stop(self) -> None:
        self.task_release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- request handling ----------------------------------------------------------------
    def handle(self, method: str, target: str, headers: Any, body: bytes) -> tuple[int, Any, str]:
        """(status, body, content type) for one request."""
        path = urlsplit(target).path
        self.log.append((method, path))
        if len(target) > URI_LIMIT:
            return 414, [{"errorCode": "URI_TOO_LONG", "message": "URI Too Long"}], ""
        with self._lock:
            for i, (status, fragment) in enumerate(self._fail):
                if fragment in path:
                    del self._fail[i]
                    return status, [{"errorCode": "SERVER_UNAVAILABLE", "message": "try later"}], ""
        if headers.get("Authorization") != f"Bearer {self.session_id}":
            return (
                401,
                [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
                "",
            )
        prefix = f"/services/data/v{API}/"
        if not path.startswith(prefix):
            return (
                404,
                [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}],
                "",
            )
        rest = path[len(prefix) :].rstrip("/")
        if method == "GET" and rest == "query":
            return self._query(parse_qs(urlsplit(target).query)["q"][0])
        if method == "GET" and rest.startswith("query/"):
            return self._more(rest.split("/", 1)[1])
        if method == "GET" and rest in ("sobjects/Account/describe", "sobjects/Task/describe"):
            return 200, self._describe(rest.split("/")[1]), ""
        if method == "PATCH" and rest == "composite/sobjects":
            return 200, self._collection(json.loads(body)), ""
        if method == "POST" and rest == "sobjects/Task":
            return self._create_task(json.loads(body))
        if rest.startswith("jobs/ingest"):
            return self._bulk(method, rest, body)
        return 404, [{"errorCode": "NOT_FOUND", "message": f"{method} {rest}"}], ""

    def _describe(self, sobject: str) -> dict[str, Any]:
        if sobject == "Task":
            fields = [
                {"name": n, "type": "string", "createable": True, "updateable": True}
                for n in TASK_FIELDS
            ]
            return {"name": "Task", "createable": self.task_createable, "fields": fields}
        fields = [
            {
                "name": n,
                "type": f["type"],
                "scale": f["scale"],
                "updateable": n not in ("Id", *self.read_only_fields),
                "createable": n != "Id",
            }
            for n, f in self.fields.items()
        ]
        return {"name": "Account", "createable": True, "updateable": True, "fields": fields}

    _SOQL = re.compile(
        r"^SELECT (?P<cols>.+?) FROM (?P<obj>\w+) WHERE (?P<where>.+?)"
        r"(?: ORDER BY \w+)?(?: LIMIT (?P<limit>\d+))?$",
        re.S,
    )

    def _query(self, soql: str) -> tuple[int, Any, str]:
        self.queries.append(soql)
        match = self._SOQL.match(soql)
        if not match:
            return (
                400,
                [{"errorCode": "MALFORMED_QUERY", "message": f"unexpected: {soql[:80]}"}],
                "",
            )
        cols = [c.strip() for c in match["cols"].split(",")]
        table = {"Account": self.accounts, "Task": self.tasks, "User": self.users}[match["obj"]]
        known = set(self.fields) if match["obj"] == "Account" else None
        for col in cols:
            if known is not None and col not in known:
                message = f"No such column '{col}' on entity 'Account'."
                return 400, [{"errorCode": "INVALID_FIELD", "message": message}], ""
        rows = [r for r in table.values() if _where(match["where"], r)]
        if match["limit"]:
            rows = rows[: int(match["limit"])]
        records = [
            {
                "attributes": {
                    "type": match["obj"],
                    "url": f"/services/data/v{API}/sobjects/{match['obj']}/{r['Id']}",
                },
                **{c: r.get(c) for c in cols},
            }
            for r in rows
        ]
        return 200, self._page("q", records, len(records)), ""

    def _page(self, cursor: str, records: list[dict[str, Any]], total: int) -> dict[str, Any]:
        page, rest = records[: self.page_size], records[self.page_size :]
        body: dict[str, Any] = {"totalSize": total, "done": not rest, "records": page}
        if rest:
            key = f"01gstandin{len(self._cursors)}-{self.page_size}"
            self._cursors[key] = rest
            body["nextRecordsUrl"] = f"/services/data/v{API}/query/{key}"
        return body

    def _more(self, key: str) -> tuple[int, Any, str]:
        rest = self._cursors.pop(key, None)
        if rest is None:
            return (
                400,
                [{"errorCode": "INVALID_QUERY_LOCATOR", "message": "invalid query locator"}],
                "",
            )
        return 200, self._page(key, rest, len(rest)), ""

    def _store(self, record: dict[str, Any], values: dict[str, Any]) -> str | None:
        """Save values as Salesforce does (numbers rounded to the field's scale); an error
        code when a field is unknown or read-only."""
        for name, value in values.items():
            spec = self.fields.get(name)
            if spec is None or name in self.read_only_fields:
                return name
            if value is not None and spec["type"] in ("double", "percent"):
                step = Decimal(1).scaleb(-spec["scale"])  # Salesforce rounds half up
                value = float(Decimal(str(value)).quantize(step, rounding=ROUND_HALF_UP))
            record[name] = value
        return None

    def _collection(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for item in body["records"]:
            values = {k: v for k, v in item.items() if k not in ("attributes", "id")}
            out.append(self._update_one(str(item["id"]), values))
        return out

    def _update_one(self, record_id: str, values: dict[str, Any]) -> dict[str, Any]:
        error = self.row_errors.get(record_id[:15])
        if error is not None:
            return {"success": False, "errors": [error]}
        record = next((r for k, r in self.accounts.items() if k[:15] == record_id[:15]), None)
        if record is None:
            return {
                "success": False,
                "errors": [
                    {
                        "statusCode": "ENTITY_IS_DELETED",
                        "message": "entity is deleted",
                        "fields": [],
                    }
                ],
            }
        bad = self._store(record, values)
        if bad is not None:
            return {
                "success": False,
                "errors": [
                    {
                        "statusCode": "INVALID_FIELD_FOR_INSERT_UPDATE",
                        "message": f"Unable to set {bad}",
                        "fields": [bad],
                    }
                ],
            }
        return {"id": record["Id"], "success": True, "errors": []}

    def _create_task(self, body: dict[str, Any]) -> tuple[int, Any, str]:
        owner_id = str(body.get("OwnerId", ""))[:15]
        owner = next((u for k, u in self.users.items() if k[:15] == owner_id), None)
        if owner is None or not owner["IsActive"]:
            return (
                400,
                [
                    {
                        "message": "Assigned To ID: owner cannot be blank",
                        "errorCode": "INVALID_CROSS_REFERENCE_KEY",
                        "fields": ["OwnerId"],
                    }
                ],
                "",
            )
        gate = self.task_gate
        task_id = None
        if gate != "before":
            task_id = self._new_id("00T")
            self.tasks[task_id] = {"Id": task_id, **body}
        if self.lose_task_answers and task_id is not None:
            self.lose_task_answers -= 1  # created, but the answer never arrives whole
            return 503, [{"errorCode": "SERVER_UNAVAILABLE", "message": "try later"}], ""
        if gate is not None:
            self.task_arrived.set()
            self.task_release.wait(timeout=60)
            return 503, [{"errorCode": "SERVER_UNAVAILABLE", "message": "held"}], ""
        return 201, {"id": task_id, "success": True, "errors": []}, ""

    # -- Bulk API 2.0 ----------------------------------------------------------------------
    def _bulk(self, method: str, rest: str, body: bytes) -> tuple[int, Any, str]:
        parts = rest.split("/")
        if method == "POST" and len(parts) == 2:
            spec = json.loads(body)
            job = Job(self._new_id("750"), spec["object"], spec["operation"])
            self.jobs[job.id] = job
            return 200, self._job_info(job), ""
        job = self.jobs.get(parts[2]) if len(parts) > 2 else None
        if job is None:
            return 404, [{"errorCode": "NOT_FOUND", "message": "no such job"}], ""
        tail = parts[3] if len(parts) > 3 else ""
        if method == "PUT" and tail == "batches":
            job.data += body.decode("utf-8")
            return 201, None, ""
        if method == "PATCH" and not tail:
            state = json.loads(body)["state"]
            if state == "UploadComplete":
                self._run_job(job)
            else:
                job.state = state
            return 200, self._job_info(job), ""
        if method == "GET" and not tail:
            return 200, self._job_info(job), ""
        if method == "GET" and tail == "failedResults":
            rows = [
                {"sf__Id": r["Id"], "sf__Error": r.pop("_error"), **r}
                for r in map(dict, job.failed)
            ]
            return 200, _csv(["sf__Id", "sf__Error", *job.header], rows), "text/csv"
        if method == "GET" and tail == "successfulResults":
            rows = [{"sf__Id": r["Id"], "sf__Created": "false", **r} for r in job.ok]
            return 200, _csv(["sf__Id", "sf__Created", *job.header], rows), "text/csv"
        if method == "GET" and tail == "unprocessedrecords":
            return 200, _csv(job.header, []), "text/csv"
        return 404, [{"errorCode": "NOT_FOUND", "message": rest}], ""

    def _run_job(self, job: Job) -> None:
        reader = csv.DictReader(io.StringIO(job.data))
        job.header = list(reader.fieldnames or [])
        for row in reader:
            values = {}
            for name, cell in row.items():
                if name == "Id" or cell == "":
                    continue  # an empty cell leaves the field alone
                values[name] = None if cell == "#N/A" else _typed(cell, self.fields.get(name, {}))
            answer = self._update_one(row["Id"], values)
            if answer["success"]:
                job.ok.append(dict(row))
            else:
                error = answer["errors"][0]
                fields = ",".join(error.get("fields") or [])
                job.failed.append(
                    {**row, "_error": f"{error['statusCode']}:{error['message']}:{fields}"}
                )
        job.state = "JobComplete"

    def _job_info(self, job: Job) -> dict[str, Any]:
        return {
            "id": job.id,
            "operation": job.operation,
            "object": job.sobject,
            "createdById": "0055e000000STANDIN",
            "state": job.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(API),
            "contentUrl": f"services/data/v{API}/jobs/ingest/{job.id}/batches",
            "lineEnding": "LF",
            "columnDelimiter": "COMMA",
            "numberRecordsProcessed": len(job.ok) + len(job.failed),
            "numberRecordsFailed": len(job.failed),
        }


def _typed(cell: str, spec: dict[str, Any]) -> Any:
    kind = spec.get("type")
    if kind in ("double", "percent"):
        return float(cell)
    if kind == "boolean":
        return cell.lower() == "true"
    return cell


def _csv(header: list[str], rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


_IN = re.compile(r"^(\w+) IN \((.*)\)$", re.S)
_EQ = re.compile(r"(\w+) = '((?:[^'\\]|\\.)*)'")


def _where(clause: str, row: dict[str, Any]) -> bool:
    """``Id IN ('a', …)`` (15 or 18 characters match) or ``A = 'x' AND B = 'y'``."""
    match = _IN.match(clause)
    if match:
        ids = {v.strip().strip("'")[:15] for v in match[2].split(",")}
        return str(row.get(match[1], ""))[:15] in ids
    for name, literal in _EQ.findall(clause):
        value = re.sub(
            r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m[1], m[1]), literal
        )
        if name.endswith("Id"):
            if str(row.get(name, ""))[:15] != value[:15]:
                return False
        elif str(row.get(name, "")) != value:
            return False
    return True


class _Handler(BaseHTTPRequestHandler):
    standin: StandIn

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, payload, kind = self.standin.handle(self.command, self.path, self.headers, body)
        if payload is None:
            data = b""
        elif kind == "text/csv":
            data = str(payload).encode("utf-8")
        else:
            data = json.dumps(payload).encode("utf-8")
            kind = "application/json;charset=UTF-8"
        self.send_response(status)
        if data:
            self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve


# -- the hand-made world the tests share ------------------------------------------------
#: The data is tests/health_handmade.py (as of 2026-11-01) plus csm_owner. Desired values,
#: worked out there and in tests/test_export_salesforce.py / tests/test_alerts.py:
#:   A1 38.9 Neighborhood 2026-10-05 25.0 % 2 sessions NPS 7.5 at risk
#:   A2 22.1 P2 2026-10-12 0.0 % 3 — at risk;  A3 0.0 P1 — 0.0 % 0 — at risk
#:   A4 1.5 P2 2026-10-02 0.0 % 1 — at risk;   A5 97.8 P2 2026-10-17 75.0 % 16 — not at risk
#: High alerts: escalation A2, A3, A4; renewal_risk A1, A2.
JANE, SAM = "0055e000001JANE", "0055e000001SAMO"
CSMS = ["Jane Doe", "Jane Doe", "Sam Ortiz", "Neighborhood team", "Sam Ortiz"]
AS_OF = "2026-11-01"
IDS = {  # account -> the Account Id the stand-in holds (15-character crm_ids get "AAA")
    "A1": "0015e00000AAAAAAAA",
    "A2": "0015e00000BBBBBQAZ",
    "A3": "0015e00000CCCCCAAA",
    "A4": "0015e00000DDDDDAAA",
    "A5": "0015e00000EEEEEAAA",
}


def seed(org: StandIn) -> None:
    """A1 differs in tier only, A2 is blank, A3 and A5 already match, A4 has a stale NPS."""
    org.add_user(JANE)
    org.add_user(SAM)
    same_a1 = {
        "Pendo_Health_Score__c": 38.9,
        "Pendo_Last_Login__c": "2026-10-05",
        "Pendo_Feature_Adoption_Rate__c": 25.0,
        "Pendo_Session_Count_30d__c": 2.0,
        "Pendo_NPS_Score__c": 7.5,
        "Pendo_At_Risk__c": True,
    }
    org.add_account("0015e00000AAAAA", "Alpha", Pendo_Tier__c="P3", **same_a1)
    org.add_account("0015e00000BBBBBQAZ", "Beta")
    org.add_account(
        "0015e00000CCCCC",
        "Gamma",
        Pendo_Health_Score__c=0.0,
        Pendo_Tier__c="P1",
        Pendo_Feature_Adoption_Rate__c=0.0,
        Pendo_Session_Count_30d__c=0.0,
        Pendo_At_Risk__c=True,
    )
    org.add_account(
        "0015e00000DDDDD",
        "Delta",
        Pendo_Health_Score__c=1.5,
        Pendo_Tier__c="P2",
        Pendo_Last_Login__c="2026-10-02",
        Pendo_Feature_Adoption_Rate__c=0.0,
        Pendo_Session_Count_30d__c=1.0,
        Pendo_NPS_Score__c=8.0,
        Pendo_At_Risk__c=True,
    )
    org.add_account(
        "0015e00000EEEEE",
        "Epsilon",
        Pendo_Health_Score__c=97.8,
        Pendo_Tier__c="P2",
        Pendo_Last_Login__c="2026-10-17",
        Pendo_Feature_Adoption_Rate__c=75.0,
        Pendo_Session_Count_30d__c=16.0,
        Pendo_At_Risk__c=False,
    )


def write_data(folder: Path) -> Path:
    """The hand-made data folder with a csm_owner column."""
    import pandas as pd
    from health_handmade import dataset, write_folder

    ds = dataset()
    ds.accounts["csm_owner"] = pd.array(CSMS, dtype="string")
    return write_folder(ds, folder)


def config_text(state: Path, extra: str = "") -> str:
    """Fast settings (no waits), the two CSMs' User Ids; ``extra`` lines go under [salesforce]."""
    return (
        "[salesforce]\nmax_retries = 2\nretry_backoff = 0\nbulk_poll_interval = 0\n"
        f'state_file = "{state.as_posix()}"\n{extra}\n'
        f'[salesforce.owners]\n"Jane Doe" = "{JANE}"\n"Sam Ortiz" = "{SAM}"\n'
    )


def environment(org: StandIn, config: Path) -> dict[str, str]:
    """The variables a CLI run against ``org`` needs (the CA file trusts its certificate)."""
    return {
        "REQUESTS_CA_BUNDLE": str(org.ca_file),
        "SALESFORCE_SESSION_ID": SESSION_ID,
        "SALESFORCE_INSTANCE_URL": org.url,
        "PENDO_SEGMENTS_CONFIG": str(config),
    }


def plan_args(data: Path, *extra: str) -> list[str]:
    return [
        "salesforce",
        "plan",
        str(ROOT / "segment_defs"),
        "--data",
        str(data),
        "--as-of",
        AS_OF,
        *extra,
    ]


# -- cassettes: record against the stand-in, replay in tests/test_salesforce_cassettes.py ----
SESSION = ("salesforce_check", "salesforce_plan", "salesforce_apply", "salesforce_plan_after")
PLAN_FILE = CASSETTES / "salesforce_plan.json"
AUTH_HEADER = "authorization"  # "Bearer <session id>": filtered out of every recording


def make_vcr(record_mode: str = "none", base_url: str | None = None) -> Any:
    """The project's one vcrpy configuration (scripts/record_cassettes.py), for Salesforce."""
    import importlib.util
    import sys

    recorder = sys.modules.get("record_cassettes")
    if recorder is None:
        spec = importlib.util.spec_from_file_location(
            "record_cassettes", ROOT / "scripts" / "record_cassettes.py"
        )
        assert spec and spec.loader
        recorder = importlib.util.module_from_spec(spec)
        sys.modules["record_cassettes"] = recorder
        spec.loader.exec_module(recorder)
    return recorder.make_vcr(
        record_mode, base_url, stable_url=STABLE_URL, secret_header=AUTH_HEADER, library=CASSETTES
    )


def commands(plan_file: Path) -> dict[str, list[str]]:
    """The CLI calls of the recorded session (run in a folder holding ``data/``)."""
    plan = ["salesforce", "plan", str(ROOT / "segment_defs"), "--data", "data", "--as-of", AS_OF]
    return {
        "salesforce_check": ["salesforce", "check", "--format", "csv"],
        "salesforce_plan": [*plan, "--out", str(plan_file), "--format", "json"],
        "salesforce_apply": ["salesforce", "apply", "--plan", str(plan_file), "--format", "json"],
        "salesforce_plan_after": [*plan, "--format", "json"],
    }


EXIT_CODES = {
    "salesforce_check": 0,
    "salesforce_plan": 3,
    "salesforce_apply": 0,
    "salesforce_plan_after": 0,
}


def record() -> None:
    """Record the four cassettes and cassettes/salesforce_plan.json against the stand-in."""
    import os
    import sys
    import tempfile

    from click.testing import CliRunner

    sys.path.insert(0, str(ROOT / "tests"))
    from pendo_segments.cli import main
    from pendo_segments.salesforce.plan import Plan

    old_cwd, old_env = Path.cwd(), dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        org = StandIn()
        org.start(folder)
        seed(org)
        write_data(folder / "data")
        config = folder / "pendo-segments.toml"
        config.write_text(config_text(folder / "state.sqlite"))
        os.environ.update(environment(org, config))
        os.chdir(folder)
        org.fail_next(1, 503, "/composite/sobjects")  # the apply cassette shows a retry
        plan_file = folder / "plan.json"
        try:
            for name, args in commands(plan_file).items():
                (CASSETTES / f"{name}.yaml").unlink(missing_ok=True)
                with make_vcr("all", base_url=org.url).use_cassette(f"{name}.yaml"):
                    result = CliRunner().invoke(main, args)
                if result.exit_code != EXIT_CODES[name]:
                    raise SystemExit(f"{name}: exit {result.exit_code}\n{result.output}")
                print(f"recorded {name}.yaml")
        finally:
            os.chdir(old_cwd)
            os.environ.clear()
            os.environ.update(old_env)
            org.stop()
        raw = json.loads(plan_file.read_text().replace(org.url, STABLE_URL))
        raw["created_at"] = ""
        plan = Plan(**_plain(raw))
        plan.plan_id = plan.identity()  # the id covers the instance URL just rewritten
        PLAN_FILE.write_text(plan.to_json(), encoding="utf-8")
        print(f"wrote {PLAN_FILE.name}")


def _plain(raw: dict[str, Any]) -> dict[str, Any]:
    from pendo_segments.salesforce.plan import AccountUpdate, TaskItem

    return {
        **raw,
        "updates": [AccountUpdate(**u) for u in raw["updates"]],
        "tasks": [TaskItem(**t) for t in raw["tasks"]],
    }


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["record"]:
        raise SystemExit("usage: python tests/salesforce_standin.py record")
    record()
