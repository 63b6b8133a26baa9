"""One Salesforce org through ``simple-salesforce``: the few REST calls this layer makes.

Every call goes through :func:`calling`, which turns the library's and
``requests``' exceptions into one :class:`SalesforceError` line that names the
step and never the session id, password or token. The HTTP session retries
5xx answers and dropped connections (urllib3 ``Retry``) on reads and updates
(GET, PATCH, PUT): repeating them cannot do anything twice. A POST (a Task, a
Bulk job) is never repeated blindly: :mod:`.apply` looks for the Task first.

Endpoints (Salesforce REST API and Bulk API 2.0 Developer Guides):

* ``GET  /services/data/vXX.X/query?q=SOQL`` (and ``nextRecordsUrl`` pages)
* ``GET  /services/data/vXX.X/sobjects/{Account,Task}/describe``
* ``PATCH /services/data/vXX.X/composite/sobjects`` (sObject Collections, 200 a call)
* ``POST /services/data/vXX.X/sobjects/Task``
* ``POST /services/data/vXX.X/jobs/ingest``, ``PUT …/{id}/batches``, ``PATCH …/{id}``,
  ``GET …/{id}``, ``GET …/{id}/failedResults``, ``GET …/{id}/unprocessedrecords``
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from pendo_segments.errors import ConfigError
from pendo_segments.salesforce.errors import SalesforceError
from pendo_segments.salesforce.settings import ENV, SalesforceSettings

if TYPE_CHECKING:
    import requests

#: sObject Collections take at most 200 records a request.
COLLECTION_SIZE = 200
#: Longest URL-encoded SOQL sent in one GET. Salesforce allows 16,384 bytes of URI and
#: headers together (414 / 431 beyond): half of it leaves room for the path and the
#: Authorization header.
MAX_QUERY_URL = 8000
#: Longest Retry-After (seconds) honoured: a larger one would stall a scheduled run.
MAX_RETRY_AFTER = 120.0
RETRY_STATUS = (500, 502, 503, 504)
#: Methods that may be repeated after a 5xx or a dropped answer (never POST).
SAFE_METHODS = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE"})


class SessionRefused(SalesforceError):
    """Salesforce refused the session id or the login (HTTP 401): every later call would too."""


class TaskRefused(SalesforceError):
    """Salesforce answered a Task create with an error: it was certainly not created."""


def soql_string(text: str) -> str:
    """A SOQL string literal (quotes and backslashes escaped, SOQL Reference)."""
    escaped = (
        text.replace("\\", "\\\\")
        .replace("'", "\\'")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f"'{escaped}'"


def id_chunks(prefix: str, ids: Sequence[str], max_url: int = MAX_QUERY_URL) -> list[list[str]]:
    """Split ``ids`` so each ``prefix + "('id1','id2',…)"`` stays within ``max_url``
    characters once URL-encoded (as ``requests`` sends ``q=``)."""
    chunks: list[list[str]] = []
    size = len(quote_plus(prefix + "()"))
    current: list[str] = []
    used = size
    for record_id in ids:
        # each id adds 'id' (quotes: %27 each) and a comma (%2C) after the first
        cost = len(quote_plus(soql_string(record_id))) + (len(quote_plus(",")) if current else 0)
        if current and used + cost > max_url:
            chunks.append(current)
            current, used = [], size
            cost = len(quote_plus(soql_string(record_id)))
        if used + cost > max_url:
            raise SalesforceError(f"a SOQL query for one id is longer than {max_url} characters")
        current.append(record_id)
        used += cost
    if current:
        chunks.append(current)
    return chunks


def in_query(prefix: str, ids: Sequence[str]) -> str:
    return prefix + "(" + ",".join(soql_string(i) for i in ids) + ")"


def _detail(content: Any) -> str:
    """``ERROR_CODE: message`` from a REST error body (a list of {errorCode, message})."""
    if isinstance(content, bytes):
        content = content.decode("utf-8", "replace")
    if isinstance(content, str):
        with contextlib.suppress(ValueError):
            content = json.loads(content)
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        code = str(first.get("errorCode") or first.get("statusCode") or "")
        text = str(first.get("message") or "")
        return ": ".join(p for p in (code, text) if p)
    if isinstance(content, dict):
        return _detail([content])
    text = re.sub(r"\s+", " ", str(content or "")).strip()
    return text[:200]


@contextlib.contextmanager
def calling(what: str, where: str = "") -> Iterator[None]:
    """Salesforce / HTTP exceptions of one step as one SalesforceError line."""
    import requests
    from simple_salesforce import exceptions as sfx

    try:
        yield
    except sfx.SalesforceAuthenticationFailed as err:
        raise SessionRefused(
            f"Salesforce login failed for {where or 'the configured user'}: "
            f"{err.code or 'refused'}: {err.auth_message}".rstrip(": ")
        ) from None
    except sfx.SalesforceExpiredSession as err:
        detail = _detail(err.content)
        raise SessionRefused(
            f"Salesforce {what}: the session was refused (HTTP 401{': ' + detail if detail else ''}); "
            f"set a new {ENV['session_id']}, or log in with {ENV['username']}, "
            f"{ENV['password']} and {ENV['security_token']}"
        ) from None
    except sfx.SalesforceError as err:
        detail = _detail(err.content)
        raise SalesforceError(
            f"Salesforce {what} failed: HTTP {err.status}{': ' + detail if detail else ''}"
        ) from None
    except sfx.SalesforceOperationError as err:
        raise SalesforceError(f"Salesforce {what} failed: {_detail(str(err))}") from None
    except requests.RequestException as err:
        raise SalesforceError(
            f"Salesforce {what}: could not reach {where or 'Salesforce'} ({type(err).__name__})"
        ) from None


def http_session(settings: SalesforceSettings) -> requests.Session:
    """A ``requests`` session with a default timeout and retries on safe methods."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    class _Retry(Retry):
        def get_retry_after(self, response: Any) -> float | None:
            wait = super().get_retry_after(response)
            return None if wait is None else min(wait, MAX_RETRY_AFTER)

    class _Adapter(HTTPAdapter):
        def send(  # type: ignore[override]
            self, request: Any, stream: bool = False, timeout: Any = None, **kwargs: Any
        ) -> Any:
            return super().send(
                request,
                stream=stream,
                timeout=settings.timeout if timeout is None else timeout,
                **kwargs,
            )

    retry = _Retry(
        total=settings.max_retries,
        status_forcelist=RETRY_STATUS,
        allowed_methods=SAFE_METHODS,
        backoff_factor=settings.retry_backoff,
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    session = requests.Session()
    session.mount("https://", _Adapter(max_retries=retry))
    return session


class Org:
    """The calls plan, apply and check make; ``sf`` is a ``simple_salesforce.Salesforce``."""

    def __init__(self, sf: Any, settings: SalesforceSettings) -> None:
        self.sf = sf
        self.settings = settings
        self.instance_url = f"https://{sf.sf_instance}"

    # -- reads ------------------------------------------------------------------------
    def query_all(self, soql: str, what: str = "query") -> list[dict[str, Any]]:
        with calling(what, self.instance_url):
            records = self.sf.query_all(soql)["records"]
        return [dict(r) for r in records]

    def describe(self, sobject: str) -> dict[str, Any]:
        with calling(f"describe of {sobject}", self.instance_url):
            return dict(getattr(self.sf, sobject).describe())

    def records_by_id(
        self, sobject: str, ids: Sequence[str], fields: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """Current ``fields`` of the ``ids`` that exist, by their 15-character id."""
        prefix = f"SELECT {', '.join(['Id', *fields])} FROM {sobject} WHERE Id IN "
        found: dict[str, dict[str, Any]] = {}
        for chunk in id_chunks(prefix, sorted(set(ids)), MAX_QUERY_URL):
            for record in self.query_all(in_query(prefix, chunk), f"query of {sobject}"):
                record.pop("attributes", None)
                found[str(record["Id"])[:15]] = record
        return found

    def find_task(self, what_id: str, subject: str) -> str | None:
        """The Id of a Task on ``what_id`` with exactly this subject (None: none)."""
        soql = (
            f"SELECT Id FROM Task WHERE WhatId = {soql_string(what_id)} "
            f"AND Subject = {soql_string(subject)} ORDER BY CreatedDate LIMIT 1"
        )
        rows = self.query_all(soql, "query of Task")
        return str(rows[0]["Id"]) if rows else None

    # -- writes -----------------------------------------------------------------------
    def update_collection(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """PATCH up to 200 records (allOrNone false): one SaveResult per record, in order."""
        body = {"allOrNone": False, "records": records}
        with calling("update of Accounts (sObject Collections)", self.instance_url):
            results = self.sf.restful("composite/sobjects", method="PATCH", json=body)
        if not isinstance(results, list) or len(results) != len(records):
            raise SalesforceError(
                "Salesforce update of Accounts: the answer is not one result per record"
            )
        return [dict(r) for r in results]

    def bulk_update(self, sobject: str, csv_path: str) -> list[dict[str, Any]]:
        """One Bulk API 2.0 update job per file part; their counts and job ids."""
        with calling(f"Bulk API 2.0 update of {sobject}", self.instance_url):
            handler = getattr(self.sf.bulk2, sobject)
            return list(handler.update(csv_file=csv_path, wait=self.settings.bulk_poll_interval))

    def bulk_results(self, sobject: str, job_id: str, kind: str) -> str:
        """``failedResults`` / ``unprocessedrecords`` CSV of a Bulk API 2.0 job."""
        with calling(f"Bulk API 2.0 results of job {job_id}", self.instance_url):
            handler = getattr(self.sf.bulk2, sobject)
            if kind == "failed":
                return str(handler.get_failed_records(job_id))
            return str(handler.get_unprocessed_records(job_id))

    def create_task(self, fields: dict[str, Any]) -> str:
        """POST one Task; TaskRefused when Salesforce answered no (so it does not exist).

        Any other failure (5xx, timeout, dropped connection) is a SalesforceError: the
        Task may or may not exist, and the caller looks for it before trying again.
        """
        from simple_salesforce import exceptions as sfx

        with calling("create of a Task", self.instance_url):
            try:
                result = self.sf.Task.create(fields)
            except sfx.SalesforceError as err:
                if 400 <= int(err.status) < 500 and err.status not in (401, 408, 429):
                    raise TaskRefused(
                        f"HTTP {err.status}: {_detail(err.content) or 'refused'}"
                    ) from None
                raise
        if isinstance(result, dict) and result.get("id"):
            return str(result["id"])
        raise SalesforceError("Salesforce create of a Task: no id in the answer")


def connect(settings: SalesforceSettings) -> Org:
    """Log in (session id + instance URL, or username / password / token)."""
    login = settings.credentials()
    try:
        from simple_salesforce import Salesforce
    except ImportError:
        raise ConfigError(
            "the Salesforce commands need simple-salesforce: pip install 'pendo-segments[salesforce]'"
        ) from None

    session = http_session(settings)
    if login.kind == "session":
        assert login.session_id is not None
        sf = Salesforce(
            session_id=login.session_id.reveal(),
            instance_url=login.instance_url,
            version=settings.api_version,
            session=session,
        )
    else:
        assert login.password is not None and login.security_token is not None
        with calling("login", login.describe()):
            sf = Salesforce(
                username=login.username,
                password=login.password.reveal(),
                security_token=login.security_token.reveal(),
                domain=login.domain,
                version=settings.api_version,
                session=session,
            )
    return Org(sf, settings)
