"""PendoClient against the real fake server: auth, retries, limits, batching, uploads.

Sleeps are injected (recorded, not slept) so the whole file runs in a few
seconds; only the timeout tests wait for real (0.2 s socket timeouts).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest
import requests
from fake_pendo import FakePendo, day_ms

from pendo_segments.config import load_config
from pendo_segments.errors import PendoAPIError
from pendo_segments.pendo import api_shapes
from pendo_segments.pendo.client import PendoClient, client_from_config
from pendo_segments.pendo.ratelimit import TokenBucket

SEGMENTS = "/api/v1/segment"
ACCOUNT_VALUES = "/api/v1/metadata/account/custom/value"


class FakeClock:
    """Simulated time: ``sleep`` advances ``clock`` and is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_client(fake: FakePendo, sleeps: list[float] | None = None, **options: Any) -> PendoClient:
    options.setdefault("rate_limit_per_second", None)
    options.setdefault("timeout", 5.0)
    recorded = sleeps if sleeps is not None else []
    return PendoClient(fake.url, fake.key, sleep=recorded.append, **options)


# --- auth and errors -----------------------------------------------------------------
def test_sends_key_and_json_headers(fake_pendo: FakePendo) -> None:
    make_client(fake_pendo).list_segments()
    (request,) = fake_pendo.calls("GET", SEGMENTS)
    assert request.auth == "ok"
    assert request.headers["content-type"] == "application/json"


def test_fake_rejects_missing_key_with_401(fake_pendo: FakePendo) -> None:
    assert requests.get(fake_pendo.url + SEGMENTS, timeout=5).status_code == 401


def test_wrong_key_is_403_and_never_echoed(fake_pendo: FakePendo) -> None:
    wrong = "0123456789abcdef-wrong-key"
    client = PendoClient(fake_pendo.url, wrong, rate_limit_per_second=None, sleep=lambda s: None)
    with pytest.raises(PendoAPIError) as err:
        client.list_segments()
    assert err.value.status == 403
    assert str(err.value) == (
        "Pendo API GET /api/v1/segment failed: HTTP 403 (check the integration key, its region "
        "and that it allows write access): Forbidden: integration key '***' is not valid"
    )
    assert len(fake_pendo.calls()) == 1  # auth errors are not retried


def test_not_found_is_not_retried(fake_pendo: FakePendo) -> None:
    with pytest.raises(PendoAPIError) as err:
        make_client(fake_pendo).get_segment("nope")
    assert err.value.status == 404
    assert str(err.value) == (
        "Pendo API GET /api/v1/segment/nope failed: HTTP 404: Segment not found"
    )
    assert len(fake_pendo.calls()) == 1


def test_error_body_excerpt_is_one_line_of_at_most_200_chars(fake_pendo: FakePendo) -> None:
    fake_pendo.fail_next(1, status=400, body="bad\n\n   pipeline " + "x" * 500)
    with pytest.raises(PendoAPIError) as err:
        make_client(fake_pendo).list_guides()
    prefix = "Pendo API GET /api/v1/guide failed: HTTP 400: "
    message = str(err.value)
    assert message.startswith(prefix + "bad pipeline xxx")
    excerpt = message[len(prefix) :]
    assert len(excerpt) == 200 and excerpt.endswith("…")


# --- retries ---------------------------------------------------------------------------
def test_429_honours_retry_after(fake_pendo: FakePendo) -> None:
    sleeps: list[float] = []
    fake_pendo.fail_next(2, status=429, retry_after=7)
    assert make_client(fake_pendo, sleeps).list_segments() == []
    assert sleeps == [7.0, 7.0]
    assert len(fake_pendo.calls("GET", SEGMENTS)) == 3


def test_429_without_retry_after_backs_off_exponentially(fake_pendo: FakePendo) -> None:
    sleeps: list[float] = []
    fake_pendo.fail_next(3, status=429)
    make_client(fake_pendo, sleeps, backoff_base=1.0, backoff_cap=60.0).list_segments()
    # attempt n waits base * 2**(n-1) plus up to `base` of jitter
    assert len(sleeps) == 3
    for n, seconds in enumerate(sleeps):
        assert 2**n <= seconds <= 2**n + 1


def test_backoff_is_capped(fake_pendo: FakePendo) -> None:
    sleeps: list[float] = []
    fake_pendo.fail_next(4, status=503)
    make_client(fake_pendo, sleeps, backoff_base=1.0, backoff_cap=2.5).list_segments()
    assert len(sleeps) == 4 and max(sleeps) <= 2.5
    assert sleeps[2:] == [2.5, 2.5]  # 4+j and 8+j are both over the cap


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_error_then_success(fake_pendo: FakePendo, status: int) -> None:
    fake_pendo.add_segment("Enterprise", pipeline=[{"source": {"visitors": None}}])
    fake_pendo.fail_next(1, status=status)
    segments = make_client(fake_pendo).list_segments()
    assert [s["name"] for s in segments] == ["Enterprise"]
    assert len(fake_pendo.calls("GET", SEGMENTS)) == 2


def test_server_error_until_give_up(fake_pendo: FakePendo) -> None:
    fake_pendo.fail_next(10, status=500)
    with pytest.raises(PendoAPIError) as err:
        make_client(fake_pendo, max_retries=2).list_segments()
    assert err.value.status == 500
    assert str(err.value) == (
        "Pendo API GET /api/v1/segment failed after 3 attempts: HTTP 500: Unexpected error occurred"
    )
    assert len(fake_pendo.calls()) == 3


def test_dropped_connection_is_retried(fake_pendo: FakePendo) -> None:
    sleeps: list[float] = []
    fake_pendo.drop_next(1)
    assert make_client(fake_pendo, sleeps).list_guides() == []
    assert len(fake_pendo.calls("GET", "/api/v1/guide")) == 2
    assert len(sleeps) == 1


def test_dropped_connection_until_give_up(fake_pendo: FakePendo) -> None:
    fake_pendo.drop_next(5)
    with pytest.raises(PendoAPIError) as err:
        make_client(fake_pendo, max_retries=1).list_guides()
    assert err.value.status is None
    assert str(err.value) == (
        "Pendo API GET /api/v1/guide failed after 2 attempts: connection closed without a response"
    )


def test_slow_response_times_out_then_succeeds(fake_pendo: FakePendo) -> None:
    fake_pendo.slow_next(1, 2.0)
    assert make_client(fake_pendo, timeout=0.2).list_guides() == []
    assert len(fake_pendo.calls("GET", "/api/v1/guide")) == 2


def test_slow_response_until_give_up(fake_pendo: FakePendo) -> None:
    fake_pendo.slow_next(2, 2.0)
    with pytest.raises(PendoAPIError) as err:
        make_client(fake_pendo, timeout=0.2, max_retries=1).list_guides()
    assert str(err.value) == (
        "Pendo API GET /api/v1/guide failed after 2 attempts: no response within 0.2 s"
    )


def test_upload_is_not_blindly_retried_after_a_500(fake_pendo: FakePendo) -> None:
    fake_pendo.fail_next(1, status=500)
    with pytest.raises(PendoAPIError) as err:
        make_client(fake_pendo).upload_visitor_segment("x", ["v1"])
    assert str(err.value) == (
        "Pendo API POST /api/v1/segment/upload failed: HTTP 500: Unexpected error occurred"
    )
    assert len(fake_pendo.calls("POST", "/api/v1/segment/upload")) == 1


def test_upload_is_retried_after_a_429(fake_pendo: FakePendo) -> None:
    fake_pendo.fail_next(1, status=429)
    result = make_client(fake_pendo).upload_visitor_segment("x", ["v1"], poll_interval=0)
    assert result["status"] == "done"
    assert len(fake_pendo.calls("POST", "/api/v1/segment/upload")) == 2
    assert len(fake_pendo.segments) == 1


def test_retry_after_header_forms() -> None:
    assert api_shapes.retry_after_seconds("12") == 12.0
    assert (
        api_shapes.retry_after_seconds(
            "Wed, 21 Oct 2026 07:28:00 GMT",
            now=dt.datetime(2026, 10, 21, 7, 27, 30, tzinfo=dt.UTC).timestamp(),
        )
        == 30.0
    )
    assert api_shapes.retry_after_seconds("99999") == 600.0
    assert api_shapes.retry_after_seconds("soon") is None
    assert api_shapes.retry_after_seconds(None) is None


# --- rate limit ------------------------------------------------------------------------
def test_token_bucket_allows_burst_then_rate() -> None:
    time = FakeClock()
    bucket = TokenBucket(5, clock=time.clock, sleep=time.sleep)
    for _ in range(15):
        bucket.acquire()
    # 5 tokens at start, then one every 0.2 s for the other 10
    assert time.now - 1000.0 == pytest.approx(2.0)
    assert time.sleeps == pytest.approx([0.2] * 10)
    time.now += 10  # idle: refills to capacity, not beyond
    for _ in range(5):
        bucket.acquire()
    assert len(time.sleeps) == 10
    bucket.acquire()
    assert time.sleeps[-1] == pytest.approx(0.2)


# --- metadata --------------------------------------------------------------------------
def test_10000_values_go_in_20_batches(fake_pendo: FakePendo) -> None:
    fake_pendo.load_rows(accounts=[{"accountId": f"acc-{i:05d}"} for i in range(9990)])
    values = [
        {"accountId": f"acc-{i:05d}", "values": {"tier": "P3", "health_score": i % 100}}
        for i in range(10000)
    ]  # the last 10 ids are unknown to Pendo
    time = FakeClock()
    progress: list[tuple[int, int]] = []
    client = PendoClient(
        fake_pendo.url, fake_pendo.key, rate_limit_per_second=5, sleep=time.sleep, clock=time.clock
    )
    result = client.set_metadata("account", values, progress=lambda *p: progress.append(p))

    posts = fake_pendo.calls("POST", ACCOUNT_VALUES)
    assert len(posts) == 20
    assert [len(p.body) for p in posts] == [500] * 20
    assert posts[0].body[0] == {
        "accountId": "acc-00000",
        "values": {"tier": "P3", "health_score": 0},
    }
    assert (result.total, result.updated, result.failed, result.batches) == (10000, 9990, 10, 20)
    assert result.missing == [f"acc-{i:05d}" for i in range(9990, 10000)]
    assert not result.ok
    assert progress[0] == (500, 10000) and progress[-1] == (10000, 10000) and len(progress) == 20
    assert fake_pendo.accounts["acc-09989"]["metadata"]["custom"] == {
        "tier": "P3",
        "health_score": 89,
    }
    assert "acc-09990" not in fake_pendo.accounts  # missing ids are not created
    # 5 requests/s with a burst of 5: the other 15 wait 0.2 s each
    assert sum(time.sleeps) == pytest.approx(3.0)


def test_visitor_metadata_with_group_and_missing_ids(fake_pendo: FakePendo) -> None:
    fake_pendo.add_visitor("v1", "a1")
    result = make_client(fake_pendo).set_metadata(
        "visitor",
        [
            {"visitorId": "v1", "values": {"lang": "ja"}},
            {"visitorId": "ghost", "values": {"lang": "en"}},
        ],
        group="ops",
    )
    assert (result.kind, result.group, result.updated, result.failed) == ("visitor", "ops", 1, 1)
    assert result.missing == ["ghost"]
    assert fake_pendo.calls("POST")[0].path == "/api/v1/metadata/visitor/ops/value"
    assert fake_pendo.visitors["v1"]["metadata"]["ops"] == {"lang": "ja"}


def test_unknown_fields_are_reported_as_errors_when_strict(fake_pendo: FakePendo) -> None:
    fake_pendo.strict_fields = True
    fake_pendo.add_account("a1")
    fake_pendo.add_metadata_field("account", "custom", "tier")
    result = make_client(fake_pendo).set_metadata(
        "account", [{"accountId": "a1", "values": {"tier": "P1", "mood": "happy"}}]
    )
    assert (result.updated, result.failed) == (0, 1)
    assert result.errors == ["a1: unknown field(s) mood in group custom"]


def test_failed_batch_names_its_position(fake_pendo: FakePendo) -> None:
    for i in range(5):
        fake_pendo.add_account(f"a{i}")
    values = [{"accountId": f"a{i}", "values": {"tier": "P2"}} for i in range(5)]
    client = make_client(fake_pendo, max_retries=0)
    with pytest.raises(PendoAPIError) as err:
        client.set_metadata(
            "account",
            values,
            batch_size=2,
            progress=lambda sent, total: fake_pendo.fail_next(1, status=500),
        )
    assert str(err.value) == (
        "Pendo API POST /api/v1/metadata/account/custom/value failed: HTTP 500: Unexpected error "
        "occurred (batch 2 of 3, values 3-4 of 5; earlier batches were written)"
    )
    assert err.value.status == 500
    assert fake_pendo.accounts["a1"]["metadata"]["custom"] == {"tier": "P2"}
    assert fake_pendo.accounts["a2"]["metadata"]["custom"] == {}


def test_set_metadata_rejects_malformed_values(fake_pendo: FakePendo) -> None:
    with pytest.raises(ValueError, match=r"values\[1\] must look like"):
        make_client(fake_pendo).set_metadata(
            "account", [{"accountId": "a", "values": {}}, {"visitorId": "v", "values": {}}]
        )
    assert fake_pendo.calls() == []


def test_metadata_schema(fake_pendo: FakePendo) -> None:
    fake_pendo.add_metadata_field("account", "custom", "health_score", "number")
    schema = make_client(fake_pendo).metadata_schema("account")
    assert schema["custom"]["health_score"]["Type"] == "number"
    assert "lastvisit" in schema["auto"]


# --- segments --------------------------------------------------------------------------
def test_upload_sends_id_strings_and_polls_the_status_endpoint(fake_pendo: FakePendo) -> None:
    fake_pendo.upload_polls = 3
    sleeps: list[float] = []
    result = make_client(fake_pendo, sleeps).upload_visitor_segment(
        "[ps] at_risk", ["v1", "v/2"], poll_interval=1.5
    )
    (upload,) = fake_pendo.calls("POST", "/api/v1/segment/upload")
    # Pendo's Engage API collection: {"name", "visitors": [plain id strings]}
    assert upload.body == {"name": "[ps] at_risk", "visitors": ["v1", "v/2"]}
    sid = result["segmentId"]
    polls = fake_pendo.calls("GET", f"/api/v1/segment/{sid}/status")
    assert len(polls) == 4 and all(p.auth == "ok" for p in polls)  # 3 x processing, complete
    assert sleeps == [1.5, 1.5, 1.5]
    assert (result["status"], result["polls"]) == ("done", 4)
    segment = fake_pendo.segments[sid]
    assert (segment["name"], segment["createdByApi"]) == ("[ps] at_risk", True)
    assert fake_pendo.segment_visitors(sid) == ["v1", "v/2"]


def test_upload_without_waiting(fake_pendo: FakePendo) -> None:
    result = make_client(fake_pendo).upload_visitor_segment("x", ["v1"], wait=False)
    assert (result["status"], result["polls"]) == ("pending", 0)
    assert result["segmentId"] in fake_pendo.segments
    assert len(fake_pendo.calls()) == 1


def test_an_empty_list_is_never_sent(fake_pendo: FakePendo) -> None:
    client = make_client(fake_pendo)
    with pytest.raises(PendoAPIError) as err:
        client.upload_visitor_segment("x", [])
    assert str(err.value) == "Pendo needs at least one visitor in a visitor-list segment"
    assert fake_pendo.calls() == []


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "visitors": [{"visitorId": "v1"}]},  # objects: not Pendo's shape
        {"visitors": ["v1"]},  # no name
        {"name": "x", "visitors": []},  # Pendo needs at least one visitor
    ],
)
def test_the_fake_refuses_undocumented_upload_bodies(fake_pendo: FakePendo, body: Any) -> None:
    with pytest.raises(PendoAPIError) as err:
        make_client(fake_pendo)._http.request("POST", "/api/v1/segment/upload", json=body)
    assert err.value.status == 400
    assert fake_pendo.segments == {}


def test_no_endpoint_creates_a_rule_segment(fake_pendo: FakePendo) -> None:
    with pytest.raises(PendoAPIError) as err:
        make_client(fake_pendo)._http.request(
            "POST", "/api/v1/segment", json={"name": "x", "definition": {"filters": []}}
        )
    assert err.value.status == 405 and fake_pendo.segments == {}


def test_build_failure_in_pendo(fake_pendo: FakePendo) -> None:
    fake_pendo.build_outcome = "failed"
    with pytest.raises(PendoAPIError) as err:
        make_client(fake_pendo).upload_visitor_segment("x", ["v1"], poll_interval=0)
    sid = next(iter(fake_pendo.segments))
    assert str(err.value) == f"segment {sid}: Pendo reports that building it failed"


def test_build_poll_timeout(fake_pendo: FakePendo) -> None:
    fake_pendo.upload_polls = 100
    fake_pendo.build_seconds = 600
    time = FakeClock()
    client = PendoClient(
        fake_pendo.url,
        fake_pendo.key,
        rate_limit_per_second=None,
        sleep=time.sleep,
        clock=time.clock,
    )
    with pytest.raises(PendoAPIError) as err:
        client.upload_visitor_segment("x", ["v1"], poll_interval=0.4, timeout=1.0)
    sid = next(iter(fake_pendo.segments))
    # checks at 0, 0.4, 0.8, 1.2 s; the fourth is past the 1 s deadline
    assert str(err.value) == (
        f"segment {sid}: Pendo has not finished building it after 1 s "
        "(4 status checks); run the same command again later"
    )


def test_replace_sends_name_and_id_strings(fake_pendo: FakePendo) -> None:
    sid = fake_pendo.add_segment("[ps] smb", visitors=["v1"], created_by_api=True)
    result = make_client(fake_pendo).replace_segment_visitors(sid, ["v2", "v3"], poll_interval=0)
    (put,) = fake_pendo.calls("PUT")
    assert put.path == f"/api/v1/segment/{sid}"
    assert put.body == {"name": "[ps] smb", "visitors": ["v2", "v3"]}  # name read first
    assert (result["segmentId"], result["status"]) == (sid, "done")
    assert fake_pendo.segment_visitors(sid) == ["v2", "v3"]


def test_patch_sends_an_add_remove_diff(fake_pendo: FakePendo) -> None:
    sid = fake_pendo.add_segment("[ps] smb", visitors=["v1", "v2"], created_by_api=True)
    make_client(fake_pendo).patch_segment_visitors(sid, ["v3"], ["v1"], poll_interval=0)
    (patch,) = fake_pendo.calls("PATCH")
    assert patch.path == f"/api/v1/segment/{sid}/visitor"
    assert patch.body == {
        "patch": [
            {"op": "add", "path": "/visitors", "value": ["v3"]},
            {"op": "remove", "path": "/visitors", "value": ["v1"]},
        ]
    }
    assert fake_pendo.segment_visitors(sid) == ["v2", "v3"]


def test_409_operation_in_progress_is_waited_out(fake_pendo: FakePendo) -> None:
    sid = fake_pendo.add_segment("[ps] smb", visitors=["v1"], created_by_api=True)
    fake_pendo.conflict_next(2)
    sleeps: list[float] = []
    make_client(fake_pendo, sleeps).patch_segment_visitors(sid, ["v2"], [], poll_interval=0)
    assert [c.method for c in fake_pendo.calls("PATCH")] == ["PATCH"] * 3
    # two back-offs before the third attempt got through (the zeros are status polls)
    assert [s > 0 for s in sleeps] == [True, True, False, False]
    assert fake_pendo.segment_visitors(sid) == ["v1", "v2"]


def test_409_until_give_up_names_the_conflict(fake_pendo: FakePendo) -> None:
    sid = fake_pendo.add_segment("[ps] smb", visitors=["v1"], created_by_api=True)
    fake_pendo.conflict_next(10)
    with pytest.raises(PendoAPIError) as err:
        make_client(fake_pendo, max_retries=2).delete_segment(sid)
    assert str(err.value) == (
        f"Pendo API DELETE /api/v1/segment/{sid} failed after 3 attempts: "
        "HTTP 409: Operation in progress"
    )
    assert sid in fake_pendo.segments


def test_write_during_a_build_is_a_409_in_the_fake(fake_pendo: FakePendo) -> None:
    fake_pendo.build_seconds = 600
    client = make_client(fake_pendo, max_retries=0)
    sid = client.upload_visitor_segment("x", ["v1"], wait=False)["segmentId"]
    with pytest.raises(PendoAPIError) as err:
        client.patch_segment_visitors(sid, ["v2"], [], wait=False)
    assert err.value.status == 409


def test_delete_segment(fake_pendo: FakePendo) -> None:
    sid = fake_pendo.add_segment("[ps] smb", visitors=["v1"], created_by_api=True)
    make_client(fake_pendo).delete_segment(sid)
    assert sid not in fake_pendo.segments


def test_replace_of_a_ui_segment_is_refused(fake_pendo: FakePendo) -> None:
    sid = fake_pendo.add_segment("Hand made", pipeline=[{"source": {"visitors": None}}])
    with pytest.raises(PendoAPIError) as err:
        make_client(fake_pendo).replace_segment_visitors(sid, ["v1"])
    assert err.value.status == 400


def test_list_and_get_segments(fake_pendo: FakePendo) -> None:
    ui = fake_pendo.add_segment(
        "Hand made", definition={"filters": []}, pipeline=[{"source": {"visitors": None}}]
    )
    api = fake_pendo.add_segment("[ps] x", visitors=["v1"], created_by_api=True)
    client = make_client(fake_pendo)
    assert {s["id"] for s in client.list_segments()} == {ui, api}
    assert [s["id"] for s in client.list_segments(created_by_api=True)] == [api]
    assert fake_pendo.calls()[-1].query == {"createdByApi": "true"}
    segment = client.get_segment(ui)
    assert (segment["name"], segment["createdByApi"], segment["definition"]) == (
        "Hand made",
        False,
        {"filters": []},
    )


# --- records and guides ------------------------------------------------------------------
def test_record_ids_travel_base64_url_encoded(fake_pendo: FakePendo) -> None:
    fake_pendo.add_visitor("?>?", "a/b@c", agent={"email": "x@example.com"})
    fake_pendo.add_account("a/b@c", agent={"plan": "Growth"})
    client = make_client(fake_pendo)
    assert client.get_visitor("?>?")["metadata"]["agent"] == {"email": "x@example.com"}
    assert client.get_account("a/b@c")["metadata"]["agent"] == {"plan": "Growth"}
    visitor, account = fake_pendo.calls()
    # hand-encoded: "?>?" = 3f 3e 3f -> Pz4/ (standard) -> Pz4_ (url-safe); "a/b@c" -> YS9iQGM=
    assert visitor.path == "/api/v1/visitor/Pz4_"
    assert account.path == "/api/v1/account/YS9iQGM="
    assert visitor.headers["x-pendo-base64-encoded-params"] == "true"


def test_unknown_record_is_404(fake_pendo: FakePendo) -> None:
    with pytest.raises(PendoAPIError) as err:
        make_client(fake_pendo).get_account("ghost")
    assert err.value.status == 404


def test_list_guides_with_state_and_audience(fake_pendo: FakePendo) -> None:
    sid = fake_pendo.add_segment("[ps] at_risk", visitors=["v1"], created_by_api=True)
    fake_pendo.add_guide("Welcome back", segment_id=sid)
    fake_pendo.add_guide("Draft tour", state="draft")
    client = make_client(fake_pendo)
    assert len(client.list_guides()) == 2
    (guide,) = client.list_guides(state="public")
    assert guide["name"] == "Welcome back"
    assert {"segment": {"id": sid}} in guide["audience"]
    assert guide["audienceUiHint"]["filters"][0]["segmentId"] == sid


# --- aggregation -------------------------------------------------------------------------
def events_pipeline(first: Any, count: int, *steps: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "source": {
                "events": None,
                "timeSeries": {"period": "dayRange", "first": first, "count": count},
            }
        },
        *steps,
    ]


@pytest.fixture
def usage(fake_pendo: FakePendo) -> FakePendo:
    """Two accounts, three visitors (one anonymous), activity on Oct 1-3 2026."""
    fake_pendo.add_account("acme", agent={"plan": "Enterprise", "arr": 120000})
    fake_pendo.add_account("tiny", agent={"plan": "Starter", "arr": 15000})
    fake_pendo.add_visitor("v1", "acme")
    fake_pendo.add_visitor("v2", "acme")
    fake_pendo.add_visitor("v3", "tiny")
    rows = [
        ("v1", "acme", "2026-10-01", 5, 3),
        ("v2", "acme", "2026-10-01", 1, 1),
        ("v1", "acme", "2026-10-02", 2, 4),
        ("v3", "tiny", "2026-10-03", 7, 9),
        ("_PENDO_T_abc", "", "2026-10-02", 9, 9),
    ]
    fake_pendo.add_events(
        {"visitorId": v, "accountId": a, "day": d, "numEvents": e, "numMinutes": m}
        for v, a, d, e, m in rows
    )
    fake_pendo.set_now(dt.datetime(2026, 10, 4, 15, 30, tzinfo=dt.UTC))
    return fake_pendo


def test_aggregate_sends_the_envelope(usage: FakePendo) -> None:
    pipeline = [
        {"source": {"accounts": None}},
        {"select": {"accountId": "accountId"}},
        {"sort": ["accountId"]},
    ]
    rows = make_client(usage).aggregate(pipeline, request_id="r-1")
    assert usage.calls("POST")[0].body == {
        "response": {"mimeType": "application/json"},
        "request": {"pipeline": pipeline, "requestId": "r-1"},
    }
    assert rows == [{"accountId": "acme"}, {"accountId": "tiny"}]


def test_active_days_and_minutes_per_account(usage: FakePendo) -> None:
    # The pendo-api.md "last 30 days" shape; by hand: acme active Oct 1 and 2 (4+4 = 8 min,
    # 8 events), tiny Oct 3 (9 min, 7 events); the anonymous row is dropped.
    rows = make_client(usage).aggregate(
        events_pipeline(
            "now() - 30*24*60*60*1000",
            30,
            {"identified": "visitorId"},
            {
                "group": {
                    "group": ["accountId", "day"],
                    "fields": {"minutes": {"sum": "numMinutes"}, "events": {"sum": "numEvents"}},
                }
            },
            {
                "group": {
                    "group": ["accountId"],
                    "fields": {
                        "activeDays": {"count": "day"},
                        "totalMinutes": {"sum": "minutes"},
                        "totalEvents": {"sum": "events"},
                    },
                }
            },
            {"sort": ["-totalMinutes"]},
        )
    )
    assert rows == [
        {"accountId": "tiny", "activeDays": 1, "totalMinutes": 9, "totalEvents": 7},
        {"accountId": "acme", "activeDays": 2, "totalMinutes": 8, "totalEvents": 8},
    ]


def test_time_series_window_edges(usage: FakePendo) -> None:
    client = make_client(usage)
    per_day = (
        {"identified": "visitorId"},
        {"group": {"group": ["day"], "fields": {"n": {"count": None}}}},
        {"sort": ["day"]},
    )
    # now() is Oct 4 15:30 -> its day is Oct 4; count -1 is yesterday (Oct 3) only
    assert client.aggregate(events_pipeline("now()", -1, *per_day)) == [
        {"day": day_ms("2026-10-03"), "n": 1}
    ]
    # first = Oct 2 (epoch ms), count 2 -> Oct 2 and Oct 3
    assert client.aggregate(events_pipeline(day_ms("2026-10-02"), 2, *per_day)) == [
        {"day": day_ms("2026-10-02"), "n": 1},
        {"day": day_ms("2026-10-03"), "n": 1},
    ]


def test_filter_eval_unwind_limit_and_distinct_count(usage: FakePendo) -> None:
    client = make_client(usage)
    rows = client.aggregate(
        [
            {"source": {"visitors": None}},
            {"eval": {"accountId": "metadata.auto.accountids"}},
            {"unwind": {"field": "accountId", "keepEmpty": True}},
            {"filter": 'accountId == "acme" || visitorId == "v3"'},
            {"sort": ["-visitorId"]},
            {"limit": 2},
            {"select": {"visitor": "visitorId", "account": "accountId"}},
        ]
    )
    assert rows == [{"visitor": "v3", "account": "tiny"}, {"visitor": "v2", "account": "acme"}]
    assert client.aggregate(
        events_pipeline(
            day_ms("2026-09-30"),
            10,
            {"identified": "accountId"},
            {"reduce": {"uniqueAccounts": {"count": "accountId"}, "rows": {"count": None}}},
        )
    ) == [{"uniqueAccounts": 2, "rows": 4}]
    big = client.aggregate(
        [
            {"source": {"accounts": None}},
            {"filter": 'metadata.agent.arr > 15000 && metadata.agent.plan != "x"'},
            {"select": {"id": "accountId"}},
        ]
    )
    assert big == [{"id": "acme"}]


def test_segment_step_and_bulk_expand(usage: FakePendo) -> None:
    sid = usage.add_segment("[ps] x", visitors=["v1", "v3"], created_by_api=True)
    rule = usage.add_segment(
        "acme people",
        pipeline=[{"source": {"visitors": None}}, {"filter": 'metadata.auto.accountid == "acme"'}],
    )
    client = make_client(usage)
    rows = client.aggregate(
        [
            {"source": {"visitors": None}},
            {"segment": {"id": sid}},
            {"bulkExpand": {"account": {"account": "accountId"}}},
            # after bulkExpand the groups sit under the name (docs/pendo-api.md §0)
            {"select": {"visitorId": "visitorId", "plan": "account.agent.plan"}},
            {"sort": ["visitorId"]},
        ]
    )
    assert rows == [
        {"visitorId": "v1", "plan": "Enterprise"},
        {"visitorId": "v3", "plan": "Starter"},
    ]
    ids = client.aggregate(
        [
            {"source": {"visitors": None}},
            {"segment": {"id": rule}},
            {"select": {"visitorId": "visitorId"}},
            {"sort": ["visitorId"]},
        ]
    )
    assert ids == [{"visitorId": "v1"}, {"visitorId": "v2"}]


def test_feature_events_source(usage: FakePendo) -> None:
    usage.add_feature("core_events", "Core events", key=True)
    usage.add_feature_events(
        [
            {
                "visitorId": "v1",
                "accountId": "acme",
                "day": "2026-10-02",
                "featureId": "core_events",
                "numEvents": 3,
            },
            {
                "visitorId": "v2",
                "accountId": "acme",
                "day": "2026-10-03",
                "featureId": "other",
                "numEvents": 4,
            },
        ]
    )
    rows = make_client(usage).aggregate(
        [
            {
                "source": {
                    "featureEvents": {"featureId": "core_events"},
                    "timeSeries": {"period": "dayRange", "first": "now()", "count": -30},
                }
            },
            {"group": {"group": ["visitorId"], "fields": {"clicks": {"sum": "numEvents"}}}},
        ]
    )
    assert rows == [{"visitorId": "v1", "clicks": 3}]


def test_unsupported_pipeline_is_a_400(usage: FakePendo) -> None:
    with pytest.raises(PendoAPIError) as err:
        make_client(usage).aggregate([{"source": {"visitors": None}}, {"fork": []}])
    assert err.value.status == 400
    assert str(err.value) == (
        "Pendo API POST /api/v1/aggregation failed: HTTP 400: "
        "pipeline[1]: unsupported operator 'fork'"
    )
    assert usage.errors == []


def test_load_dataset_maps_frames_to_pendo_records(fake_pendo: FakePendo) -> None:
    pytest.importorskip("pendo_segments.data.dataset")
    import pandas as pd

    from pendo_segments.data.dataset import Dataset

    ds = Dataset(
        accounts=pd.DataFrame(
            {
                "account_id": pd.Series(["00123"], dtype="string"),
                "arr": [15000.0],
                "plan": pd.Series(["Growth"], dtype="string"),
            }
        ),
        visitors=pd.DataFrame(
            {
                "visitor_id": pd.Series(["v1", "v2"], dtype="string"),
                "account_id": pd.Series(["00123", "00123"], dtype="string"),
                "first_visit": pd.to_datetime(["2026-01-05", None]),
            }
        ),
        usage_daily=pd.DataFrame(
            {
                "date": pd.to_datetime(["2026-10-01", "2026-10-03"]),
                "visitor_id": pd.Series(["v1", "v2"], dtype="category"),
                "account_id": pd.Series(["00123", "00123"], dtype="category"),
                "minutes": [1.5, 0.0],
                "events": [2, 0],
            }
        ),
        feature_usage=pd.DataFrame(
            {
                "date": pd.to_datetime(["2026-10-01"]),
                "visitor_id": pd.Series(["v1"], dtype="category"),
                "account_id": pd.Series(["00123"], dtype="category"),
                "feature_id": pd.Series(["core_events"], dtype="category"),
                "clicks": [4],
            }
        ),
        features=pd.DataFrame(
            {
                "feature_id": pd.Series(["core_events"], dtype="string"),
                "name": ["Core events"],
                "key": pd.array([True], dtype="boolean"),
            }
        ),
    )
    fake_pendo.load_dataset(ds)
    account = fake_pendo.accounts["00123"]["metadata"]
    assert account["agent"] == {"arr": 15000.0, "plan": "Growth"}
    assert account["auto"]["firstvisit"] == day_ms("2026-01-05")
    assert account["auto"]["lastvisit"] == day_ms("2026-10-01")  # v2's row is not active
    assert fake_pendo.visitors["v1"]["metadata"]["auto"]["accountids"] == ["00123"]
    assert fake_pendo.visitors["v2"]["metadata"]["auto"]["firstvisit"] is None
    assert fake_pendo.events[0] == {
        "visitorId": "v1",
        "accountId": "00123",
        "day": day_ms("2026-10-01"),
        "numEvents": 2,
        "numMinutes": 1.5,
        "appId": -323232,
    }
    assert fake_pendo.feature_events[0]["numEvents"] == 4
    assert fake_pendo.features["core_events"]["name"] == "Core events"
    assert fake_pendo.features["core_events"]["key"] is True


# --- the key never leaks -------------------------------------------------------------------
def test_key_never_in_errors_or_logs(
    fake_pendo: FakePendo, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(fake_pendo, max_retries=2)
    messages = [repr(client)]
    fake_pendo.fail_next(1, status=429, body=f"slow down {fake_pendo.key}")
    fake_pendo.drop_next(1)
    client.list_segments()
    for trigger in (
        lambda: fake_pendo.fail_next(3, status=500, body=f"boom {fake_pendo.key}"),
        lambda: fake_pendo.drop_next(3),
        lambda: fake_pendo.fail_next(1, status=400, body=f"key={fake_pendo.key}"),
    ):
        trigger()
        with pytest.raises(PendoAPIError) as err:
            client.list_guides()
        messages.append(str(err.value))
        messages.append(repr(err.value))
    assert "boom ***" in messages[1] and "key=***" in messages[5]
    assert caplog.records, "retries should have been logged"
    logged = "\n".join(r.getMessage() for r in caplog.records) + caplog.text
    for text in [*messages, logged]:
        assert fake_pendo.key not in text


def test_client_from_config_talks_to_the_fake(fake_pendo: FakePendo, tmp_path: Any) -> None:
    config = load_config(
        env={"PENDO_INTEGRATION_KEY": fake_pendo.key, "PENDO_BASE_URL": fake_pendo.url},
        cwd=tmp_path,
    )
    with client_from_config(config, rate_limit_per_second=None) as client:
        assert client.list_guides() == []
    assert fake_pendo.calls()[0].auth == "ok"


# --- the fake's Pendo fidelity: apps, local days, the UI's time functions ----------------
def test_fake_counts_the_default_app_unless_told(fake_pendo: FakePendo) -> None:
    fake_pendo.add_events(
        [
            {"visitorId": "v1", "day": "2026-10-01", "numEvents": 1},
            {"visitorId": "v1", "day": "2026-10-01", "numEvents": 5, "appId": 77},
        ]
    )
    client = make_client(fake_pendo)

    def events(params: Any) -> int:
        series = {"period": "dayRange", "first": day_ms("2026-10-01"), "count": 1}
        rows = client.aggregate(
            [
                {"source": {"events": params, "timeSeries": series}},
                {"reduce": {"n": {"sum": "numEvents"}}},
            ]
        )
        return int(rows[0]["n"])

    assert events(None) == 1  # Pendo's default app only
    assert events({"appId": 'expandAppIds("*")'}) == 6
    assert events({"appId": 77}) == 5


def test_fake_days_are_local_and_understand_the_ui_form() -> None:
    with FakePendo(timezone="America/New_York") as fake:
        # 2026-10-02 04:30Z is 00:30 in New York: day Oct 2 starts at 04:00Z
        fake.set_now(dt.datetime(2026, 10, 2, 4, 30, tzinfo=dt.UTC))
        fake.add_events([{"visitorId": "v1", "day": "2026-10-01", "numEvents": 1}])
        assert fake.events[0]["day"] == day_ms("2026-10-01") + 4 * 3_600_000
        client = make_client(fake)
        series = {
            "period": "dayRange",
            "first": 'dateAdd(startOfPeriod("daily", now()), -1, "days")',
            "count": 1,
        }
        rows = client.aggregate(
            [{"source": {"events": {"appId": 'expandAppIds("*")'}, "timeSeries": series}}]
        )
        assert [r["visitorId"] for r in rows] == ["v1"]  # "yesterday" in New York
