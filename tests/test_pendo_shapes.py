"""Each wire shape of pendo/api_shapes.py, pinned to the public source it comes from.

The expected bodies are copied by hand from the sources named in docs/pendo-api.md
(Pendo's Engage API Postman collection, segmentio/action-destinations, tap-pendo,
pendo-ETL-API-calls), not produced by the code under test.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from pendo_segments.pendo import api_shapes as shapes

ROOT = Path(__file__).resolve().parents[1]
SHAPES_SOURCE = (ROOT / "pendo_segments" / "pendo" / "api_shapes.py").read_text()
DOC = (ROOT / "docs" / "pendo-api.md").read_text()

#: (what, built by the code, expected as the source shows it, source named beside it)
CASES: list[tuple[str, Any, Any, str]] = [
    (
        "upload",
        shapes.segment_upload_body("EnterYourSegmentName", ["visitor1", "visitor2", "visitor3"]),
        {"name": "EnterYourSegmentName", "visitors": ["visitor1", "visitor2", "visitor3"]},
        "Engage API Postman collection",
    ),
    (
        "replace",
        shapes.segment_replace_body("[ps] x", ["v1"]),
        {"name": "[ps] x", "visitors": ["v1"]},
        "Engage API Postman collection",
    ),
    (
        "patch",
        shapes.segment_patch_body(["a"], ["b"]),
        {
            "patch": [
                {"op": "add", "path": "/visitors", "value": ["a"]},
                {"op": "remove", "path": "/visitors", "value": ["b"]},
            ]
        },
        "Engage API Postman collection",
    ),
    (
        "upload answer",
        shapes.uploaded_segment_id({"segmentId": "abc"}),
        "abc",
        "segmentio/action-destinations",
    ),
    (
        "aggregation envelope",
        shapes.aggregation_body([{"source": {"visitors": None}}]),
        {
            "response": {"mimeType": "application/json"},
            "request": {"pipeline": [{"source": {"visitors": None}}]},
        },
        "pendo-ETL-API-calls",
    ),
    (
        "metadata path",
        shapes.metadata_value_path("account", "custom"),
        "/api/v1/metadata/account/custom/value",
        "insights-host-inventory",
    ),
    (
        "schema path",
        shapes.metadata_schema_path("account"),
        "/api/v1/metadata/schema/account",
        "tap-pendo",
    ),
    ("status path", shapes.segment_status_path("s1"), "/api/v1/segment/s1/status", "collection"),
    (
        "patch path",
        shapes.segment_visitors_patch_path("s1"),
        "/api/v1/segment/s1/visitor",
        "collection",
    ),
]


@pytest.mark.parametrize("what,built,expected,source", CASES, ids=[c[0] for c in CASES])
def test_shape_matches_its_source(what: str, built: Any, expected: Any, source: str) -> None:
    assert built == expected
    assert source in SHAPES_SOURCE, f"api_shapes.py does not name {source} for {what}"


def test_object_visitor_lists_and_empty_lists_are_never_built() -> None:
    assert shapes.visitor_list(["v1", "v1", 7]) == ["v1", "7"]  # type: ignore[list-item]
    with pytest.raises(ValueError, match="at least one visitor"):
        shapes.segment_upload_body("x", [])
    with pytest.raises(ValueError):
        shapes.segment_patch_body([], [])


def test_multistatus_failures_are_read() -> None:
    body = {
        "multistatus": [
            {"status": 200, "operation": "add"},
            {"status": 400, "message": "bad id", "operation": "remove"},
        ]
    }
    assert shapes.patch_failures(body) == ["remove: bad id"]


@pytest.mark.parametrize(
    "body,state",
    [
        ({"status": "processing"}, "pending"),
        ({"status": "complete"}, "done"),
        ({"state": "FAILED"}, "failed"),
        ({"status": "in_progress"}, "pending"),
        # what we cannot read is never a finished build (it used to count as one)
        ({"status": "mystery"}, "unknown"),
        ({}, "unknown"),
        (None, "unknown"),
    ],
)
def test_status_words(body: Any, state: str) -> None:
    assert shapes.read_segment_status(body) == state


def test_409_is_waited_out_and_counts_as_not_processed() -> None:
    assert 409 in shapes.RETRY_STATUSES and 409 in shapes.NOT_PROCESSED_STATUSES


def test_sources_are_public_never_local_paths() -> None:
    for text in (SHAPES_SOURCE, DOC):
        assert not re.search(r"/work/|shared/|CONTRACT\.md|DESIGN\.md", text)
    for name in (
        "engageapi.pendo.io",
        "segmentio/action-destinations",
        "singer-io/tap-pendo",
        "pendo-io/pendo-ETL-API-calls",
    ):
        assert name in DOC
    assert "No public endpoint creates or edits a rule (builder) segment" in SHAPES_SOURCE


def test_patch_batches_are_bounded_as_segments_destination_sends_them() -> None:
    # segmentio/action-destinations pendo-audiences syncAudience/fields.ts: batch_size
    # "Must be between 1 and 1000" ("up to 1000 visitors per request"); the collection
    # names the request "Add/remove small batches of visitors to a segment".
    assert shapes.MAX_PATCH_IDS == 1000
    assert 1 <= shapes.DEFAULT_PATCH_IDS < shapes.MAX_PATCH_IDS
    assert "small batches" in SHAPES_SOURCE and "small" in DOC and "fields.ts" in DOC


def test_segment_list_items_are_read_by_id_not_root_version_id() -> None:
    assert shapes.segment_list_problem([{"id": "s1", "rootVersionId": "r1"}]) == ""
    assert shapes.segment_list_problem([{"id": "s1"}, {"rootVersionId": "r1"}]) == (
        "item 1 of the array has no 'id'"
    )
    words = " ".join(DOC.split())
    assert "Get All Shared (Everyone) Segments" in words and "rootVersionId" in words


def test_the_doc_does_not_cite_tap_pendo_guides_for_what_it_lacks() -> None:
    # tap-pendo schemas/guides.json: audience steps are source / select / identified only,
    # and there is no audienceUiHint property (read in singer-io/tap-pendo).
    words = " ".join(DOC.split())
    assert not re.search(r"audienceUiHint[^.;]*\(tap-pendo `schemas/guides\.json`\)", words)
    assert "holds **no** `segment` step and no `audienceUiHint`" in words


def test_the_doc_notes_the_unofficial_field_creation_and_a_read_only_check() -> None:
    words = " ".join(DOC.split())
    assert "POST /api/v1/metadata/schema/{kind}/{group}" in words
    assert "`pendo check` stays read-only" in words
