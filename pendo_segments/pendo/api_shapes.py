"""Wire shapes of Pendo's v1 API: request bodies we build and responses we read.

Everything the client assumes about Pendo's JSON lives here, so when Pendo
turns out to differ the fix is one line in this file. Each shape names its
public source (docs/pendo-api.md lists them with links); the parts marked
**UNCONFIRMED** are not shown by any public source and are the first place to
look when a live call fails.
"""

from __future__ import annotations

import base64
import email.utils
import math
import time
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["visitor", "account"]
KINDS: tuple[str, ...] = ("visitor", "account")

# --- headers and paths ---------------------------------------------------------------
# Key header: singer-io/tap-pendo (tap_pendo/streams.py) and pendo-io/pendo-ETL-API-calls
# (README). Base64 ids: the ``x-pendo-base64-encoded-params`` header, DataGrail's Pendo
# API docs ("Base64-encoded Visitor ID").
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


# --- aggregation ---------------------------------------------------------------------
# Envelope and ``results``: pendo-io/pendo-ETL-API-calls (every file, e.g. Events/Events.json)
# and singer-io/tap-pendo (streams ``results.item``).
def aggregation_body(
    pipeline: list[dict[str, Any]], request_id: str | None = None
) -> dict[str, Any]:
    request: dict[str, Any] = {"pipeline": pipeline}
    if request_id:
        request["requestId"] = request_id
    return {"response": {"mimeType": "application/json"}, "request": request}


def aggregation_results(body: Any) -> list[dict[str, Any]]:
    """The ``results`` rows; ValueError saying what is wrong when the body is not an
    aggregation answer (the client names the endpoint)."""
    rows = body.get("results") if isinstance(body, dict) else None
    if not isinstance(rows, list):
        raise ValueError("no 'results' list")
    bad = next((i for i, row in enumerate(rows) if not isinstance(row, dict)), None)
    if bad is not None:
        raise ValueError(f"results[{bad}] is not a JSON object")
    return rows


# --- visitor-list segments (the documented write path) ------------------------------
# Source: Pendo's Engage API Postman collection, folder "Segment" (published at
# https://engageapi.pendo.io; mirrored in the public repo api-evangelist/pendoio,
# collections/pendoio-segment-api.postman_collection.json), and Segment's production
# Pendo destination (segmentio/action-destinations, ``visitors: string[]``).
SEGMENT_UPLOAD_PATH = "/api/v1/segment/upload"


def segment_status_path(segment_id: str) -> str:
    """``GET`` here says whether an upload / replace / patch has been built (collection)."""
    return f"{segment_path(segment_id)}/status"


def segment_visitors_patch_path(segment_id: str) -> str:
    """``PATCH`` here with an add / remove diff (collection: "Update visitors")."""
    return f"{segment_path(segment_id)}/visitor"


def visitor_list(visitor_ids: list[str]) -> list[str]:
    """Plain id strings, never objects (collection body; action-destinations ``string[]``).

    An empty list is refused before it is sent: "Pendo requires at least one
    visitor to create a segment" (segmentio/action-destinations).
    """
    ids = [str(v) for v in dict.fromkeys(visitor_ids)]
    if not ids:
        raise ValueError("Pendo needs at least one visitor in a visitor-list segment")
    return ids


def segment_upload_body(name: str, visitor_ids: list[str]) -> dict[str, Any]:
    """``POST /api/v1/segment/upload`` "Create a segment" (collection)."""
    return {"name": name, "visitors": visitor_list(visitor_ids)}


def segment_replace_body(name: str, visitor_ids: list[str]) -> dict[str, Any]:
    """``PUT /api/v1/segment/{id}`` "Update a segment": the whole list, ``name`` included."""
    return {"name": name, "visitors": visitor_list(visitor_ids)}


# PATCH batches. The collection names this call "Add/remove small batches of visitors to a
# segment" (operation addRemoveSmallBatchesOfVisitorsToASegment) and gives no number;
# Segment's production destination sends "up to 1000 visitors per request" (its
# batch_size, 1 to 1000, default 1000: action-destinations pendo-audiences/syncAudience/
# fields.ts). We send at most MAX_PATCH_IDS ids per PATCH, by default half of that.
MAX_PATCH_IDS = 1000
DEFAULT_PATCH_IDS = 500


def segment_patch_batches(
    add: list[str], remove: list[str], size: int = DEFAULT_PATCH_IDS
) -> list[tuple[list[str], list[str]]]:
    """(add, remove) per PATCH, at most ``size`` ids each: every add before any remove,
    so the list never passes through empty (Pendo refuses an empty list)."""
    if not 1 <= size <= MAX_PATCH_IDS:
        raise ValueError(f"a PATCH batch holds 1 to {MAX_PATCH_IDS} ids, not {size}")
    ops = [("add", str(v)) for v in add] + [("remove", str(v)) for v in remove]
    return [
        (
            [v for op, v in ops[i : i + size] if op == "add"],
            [v for op, v in ops[i : i + size] if op == "remove"],
        )
        for i in range(0, len(ops), size)
    ]


def segment_patch_body(add: list[str], remove: list[str]) -> dict[str, Any]:
    """``PATCH /api/v1/segment/{id}/visitor``: JSON-patch style add / remove (collection)."""
    ops = [
        {"op": op, "path": "/visitors", "value": [str(v) for v in ids]}
        for op, ids in (("add", add), ("remove", remove))
        if ids
    ]
    if not ops:
        raise ValueError("a visitor patch needs something to add or remove")
    return {"patch": ops}


def patch_failures(body: Any) -> list[str]:
    """Operations of a ``{"multistatus": [{"status", "message", "operation"}]}`` answer
    that did not succeed (status outside 2xx)."""
    items = body.get("multistatus") if isinstance(body, dict) else None
    out = []
    for item in items if isinstance(items, list) else []:
        status = item.get("status") if isinstance(item, dict) else None
        if not (isinstance(status, int) and 200 <= status < 300):
            out.append(f"{item.get('operation', '?')}: {item.get('message', status)}")
    return out


# The segment list. The collection names GET /api/v1/segment "Get All Shared (Everyone)
# Segments": it holds the segments shared with Everyone (the builder's Visibility:
# Everyone), so a segment someone made private is missing from it although it exists
# (GET /api/v1/segment/{id} still finds it). No public source shows a visibility field
# in the items, so none is read. Items are read by ``id`` only: Pendo's versioned objects
# also carry ``rootVersionId`` (guides: tap-pendo schemas/guides.json root_version_id,
# DefinitelyTyped pendo-io-browser ``Guide.rootVersionId``), and no public source says
# how it relates to a segment's ``id``, so it is never used as one.
ROOT_VERSION_FIELD = "rootVersionId"


def segment_list_problem(items: list[dict[str, Any]]) -> str:
    """Why a segment list cannot be used ("" when it can): every item needs an ``id``."""
    for index, item in enumerate(items):
        sid = item.get("id")
        if isinstance(sid, bool) or not isinstance(sid, str | int) or not str(sid).strip():
            return f"item {index} of the array has no 'id'"
    return ""


def uploaded_segment_id(body: Any) -> str | None:
    """The new segment's id: ``{"segmentId": "..."}`` (action-destinations' tests read it)."""
    if isinstance(body, dict) and body.get("segmentId"):
        return str(body["segmentId"])
    return None


# UNCONFIRMED: the body of GET …/status is not shown in any public source. We read a
# ``status`` (or ``state``) word; the fake answers "processing" then "complete". A word in
# none of these sets (or no word at all) is "unknown": never taken for a finished build,
# so a list Pendo may not have built is never reported as applied.
STATUS_FIELDS: tuple[str, ...] = ("status", "state")
DONE_STATUSES = frozenset({"complete", "completed", "done", "success", "succeeded", "finished"})
FAILED_STATUSES = frozenset({"failed", "failure", "error", "errored"})
PENDING_STATUSES = frozenset(
    {"processing", "pending", "queued", "running", "building", "in progress", "inprogress"}
)
BuildState = Literal["pending", "done", "failed", "unknown"]


def segment_status_word(body: Any) -> str:
    """The status word of a status answer, as Pendo wrote it ("" when there is none)."""
    if not isinstance(body, dict):
        return ""
    return next((str(body[f]).strip() for f in STATUS_FIELDS if body.get(f) is not None), "")


def read_segment_status(body: Any) -> BuildState:
    """Built, failed, still building, or an answer we cannot read (unknown)."""
    word = segment_status_word(body).lower().replace("_", " ")
    if word in FAILED_STATUSES:
        return "failed"
    if word in DONE_STATUSES:
        return "done"
    if word in PENDING_STATUSES:
        return "pending"
    return "unknown"


# Pendo answers 409 "Operation in progress" while another write to the same segment is
# being processed (segmentio/action-destinations): wait and send it again.
CONFLICT_STATUS = 409

# No public endpoint creates or edits a rule (builder) segment: POST /api/v1/segment with
# a ``definition`` is in no client and not in the collection. Rule segments are built by
# people in Pendo's segment builder; ``sync plan`` only reads their ``definition`` (GET).


# --- metadata --------------------------------------------------------------------------
# POST /api/v1/metadata/{kind}/{group}/value and its answer: RedHatInsights/
# insights-host-inventory (jobs/pendo_syncher.py), podengo-project/idmsvc-backend (Go
# client tests); schema GET /api/v1/metadata/schema/{kind}: singer-io/tap-pendo.
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
    """``{"total","updated","failed","missing","errors"}``; Go clients spell them capitalised.

    Raises ValueError saying which field is malformed (the client names the endpoint).
    """
    body = body if isinstance(body, dict) else {}

    def get(name: str, default: Any) -> Any:
        value = body.get(name, body.get(name.capitalize(), default))
        return default if value is None else value

    def count(name: str, default: int) -> int:
        value = get(name, default)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name!r} is not a whole number")
        return value

    def items(name: str) -> list[Any]:
        value = get(name, [])
        if not isinstance(value, list):
            raise ValueError(f"{name!r} is not a list")
        return value

    return MetadataBatchResult(
        total=count("total", sent),
        updated=count("updated", 0),
        failed=count("failed", 0),
        missing=[str(m) for m in items("missing")],
        errors=items("errors"),
    )


# --- retries and rate limits ---------------------------------------------------------
# 429 leaky bucket: DataGrail's Pendo docs; 429/5xx backoff: singer-io/tap-pendo. 409:
# segmentio/action-destinations (another write to the segment is in progress).
RETRY_STATUSES = frozenset({CONFLICT_STATUS, 429, 500, 502, 503, 504})
# Statuses where Pendo cannot have acted on the request, so even a non-idempotent
# POST (segment upload) is safe to send again.
NOT_PROCESSED_STATUSES = frozenset({CONFLICT_STATUS, 429, 503})
DEFAULT_RATE_LIMIT_PER_SECOND = 5.0
RETRY_AFTER_CAP_SECONDS = 600.0  # tap-pendo's ceiling; Retry-After is not documented by Pendo


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), capped."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
        if not math.isfinite(seconds):  # "nan" / "inf" parse as floats but say nothing
            return None
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return min(max(seconds, 0.0), RETRY_AFTER_CAP_SECONDS)
