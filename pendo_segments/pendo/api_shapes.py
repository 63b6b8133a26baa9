"""Wire shapes of Pendo's v1 API: request bodies we build and responses we read.

Everything the client assumes about Pendo's JSON lives here, so when Pendo
turns out to differ the fix is one line in this file. Confidence follows
/work/shared/pendo-api.md; the parts marked **UNCONFIRMED** are guesses from
disagreeing client code and are the first place to look when a live call fails.
"""

from __future__ import annotations

import base64
import email.utils
import time
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["visitor", "account"]
KINDS: tuple[str, ...] = ("visitor", "account")

# --- headers and paths (confirmed) -------------------------------------------------
KEY_HEADER = "x-pendo-integration-key"
BASE64_PARAMS_HEADER = "x-pendo-base64-encoded-params"

AGGREGATION_PATH = "/api/v1/aggregation"
SEGMENTS_PATH = "/api/v1/segment"
GUIDES_PATH = "/api/v1/guide"


def segment_path(segment_id: str) -> str:
    return f"{SEGMENTS_PATH}/{_quote(segment_id)}"


def metadata_value_path(kind: Kind, group: str) -> str:
    return f"/api/v1/metadata/{kind}/{_quote(group)}/value"


def metadata_schema_path(kind: Kind) -> str:
    return f"/api/v1/metadata/schema/{kind}"


def record_path(kind: Kind, record_id: str) -> str:
    """``/api/v1/account/<id>`` with the id base64-url-encoded (send BASE64_PARAMS_HEADER)."""
    return f"/api/v1/{kind}/{encode_path_id(record_id)}"


# UNCONFIRMED: padding. Pendo documents "base64-url-encoded" ids without saying whether
# the trailing '=' is kept; Python's urlsafe form keeps it and the fake accepts both.
BASE64_KEEP_PADDING = True


def encode_path_id(record_id: str) -> str:
    encoded = base64.urlsafe_b64encode(record_id.encode("utf-8")).decode("ascii")
    return encoded if BASE64_KEEP_PADDING else encoded.rstrip("=")


def _quote(part: str) -> str:
    from urllib.parse import quote

    return quote(str(part), safe="")


# --- aggregation (confirmed) -------------------------------------------------------
def aggregation_body(
    pipeline: list[dict[str, Any]], request_id: str | None = None
) -> dict[str, Any]:
    request: dict[str, Any] = {"pipeline": pipeline}
    if request_id:
        request["requestId"] = request_id
    return {"response": {"mimeType": "application/json"}, "request": request}


def aggregation_results(body: Any) -> list[dict[str, Any]] | None:
    """The ``results`` rows, or None when the body is not an aggregation answer."""
    if isinstance(body, dict) and isinstance(body.get("results"), list):
        return body["results"]
    return None


# --- visitor-list segments ---------------------------------------------------------
SEGMENT_UPLOAD_PATH = "/api/v1/segment/upload"
# Method and path that replace an API-created list segment's members (one client only).
SEGMENT_REPLACE_METHOD = "PUT"


def visitor_list(visitor_ids: list[str]) -> list[Any]:
    """UNCONFIRMED element type: one client sends objects, another plain strings.

    pendo-api.md says use the object form; switch to ``list(visitor_ids)`` if Pendo
    rejects it.
    """
    return [{"visitorId": str(v)} for v in visitor_ids]


def segment_upload_body(name: str, visitor_ids: list[str]) -> dict[str, Any]:
    return {"name": name, "visitors": visitor_list(visitor_ids)}


def segment_replace_body(visitor_ids: list[str]) -> dict[str, Any]:
    return {"visitors": visitor_list(visitor_ids)}


# UNCONFIRMED: the field of the upload response that holds the status URL to poll.
STATUS_URL_FIELDS: tuple[str, ...] = ("statusUrl", "trackingUrl", "statusURL", "url")
# UNCONFIRMED: how a status body says done / failed, and where the new segment id is.
STATUS_FIELD = "status"
DONE_STATUSES = frozenset({"complete", "completed", "done", "success", "succeeded", "finished"})
FAILED_STATUSES = frozenset({"failed", "failure", "error", "errored"})
SEGMENT_ID_FIELDS: tuple[str, ...] = ("segmentId", "id")


def status_url(body: Any) -> str | None:
    if isinstance(body, dict):
        for name in STATUS_URL_FIELDS:
            if isinstance(body.get(name), str) and body[name]:
                return body[name]
    return None


@dataclass(frozen=True)
class UploadStatus:
    """One reading of an asynchronous upload: finished?, failed?, and the segment id."""

    state: Literal["pending", "done", "failed"]
    segment_id: str | None


def read_upload_status(body: Any) -> UploadStatus:
    """Interpret an upload / status body; a body with an id and no status counts as done."""
    if not isinstance(body, dict):
        return UploadStatus("pending", None)
    segment_id = next((str(body[f]) for f in SEGMENT_ID_FIELDS if body.get(f)), None)
    raw = str(body.get(STATUS_FIELD, "")).strip().lower()
    if raw in FAILED_STATUSES:
        return UploadStatus("failed", segment_id)
    if raw in DONE_STATUSES or (not raw and segment_id and not status_url(body)):
        return UploadStatus("done", segment_id)
    return UploadStatus("pending", segment_id)


# --- rule segments (UNVERIFIED: only an API catalog lists these endpoints) ---------
# ``sync`` creates native segments as rule segments with these calls. If Pendo
# rejects them, set ``[sync] rule_segments = false`` (everything is then uploaded
# as visitor lists, the confirmed path) or fix the method / path / body here.
RULE_SEGMENT_CREATE_METHOD = "POST"
RULE_SEGMENT_CREATE_PATH = SEGMENTS_PATH
RULE_SEGMENT_UPDATE_METHOD = "PUT"  # on segment_path(id)
RULE_SEGMENTS_UNVERIFIED = (
    "rule segments are created with POST /api/v1/segment and updated with "
    "PUT /api/v1/segment/{id}, endpoints that are UNVERIFIED (listed only in an API "
    "catalog); set [sync] rule_segments = false to upload visitor lists instead"
)


def rule_segment_body(
    name: str, definition: dict[str, Any], description: str = ""
) -> dict[str, Any]:
    """UNVERIFIED body: the builder ``definition`` as ``GET /segment/{id}`` returns it."""
    return {"name": name, "description": description, "definition": definition, "shared": True}


def created_segment_id(body: Any) -> str | None:
    """The id of a segment in a create / update answer (``id`` or ``segmentId``)."""
    if isinstance(body, dict):
        for name in ("id", *SEGMENT_ID_FIELDS):
            if body.get(name):
                return str(body[name])
    return None


# --- metadata (confirmed: three independent clients) -------------------------------
def id_field(kind: Kind) -> str:
    return f"{kind}Id"


@dataclass
class MetadataBatchResult:
    total: int
    updated: int
    failed: int
    missing: list[str]
    errors: list[Any]


def read_metadata_result(body: Any, sent: int) -> MetadataBatchResult:
    """``{"total","updated","failed","missing","errors"}``; Go clients spell them capitalised."""
    body = body if isinstance(body, dict) else {}
    get = lambda name, default: body.get(name, body.get(name.capitalize(), default))  # noqa: E731
    return MetadataBatchResult(
        total=int(get("total", sent) or 0),
        updated=int(get("updated", 0) or 0),
        failed=int(get("failed", 0) or 0),
        missing=[str(m) for m in (get("missing", []) or [])],
        errors=list(get("errors", []) or []),
    )


# --- retries and rate limits (low-medium confidence; see pendo-api.md §4) -----------
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Statuses where Pendo cannot have acted on the request, so even a non-idempotent
# POST (segment upload) is safe to send again.
NOT_PROCESSED_STATUSES = frozenset({429, 503})
DEFAULT_RATE_LIMIT_PER_SECOND = 5.0
RETRY_AFTER_CAP_SECONDS = 600.0  # tap-pendo's ceiling; Retry-After is not documented by Pendo


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), capped."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return min(max(seconds, 0.0), RETRY_AFTER_CAP_SECONDS)
