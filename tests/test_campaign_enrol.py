"""The welcome-back list segment through the Pendo API: a segment deleted in Pendo is
created again (its remembered id used to fail every later run with HTTP 404)."""

from __future__ import annotations

import pytest
from fake_pendo import FakePendo

from pendo_segments.campaign.enrol import SEGMENT_ID_KEY, PendoEnroller
from pendo_segments.errors import PendoSegmentsError
from pendo_segments.pendo.client import PendoClient

NAME = "[campaign] no-login welcome back"
UPLOAD = "/api/v1/segment/upload"


class Memory:
    """The state file's ``meta`` table, in memory."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def meta(self, key: str) -> str | None:
        return self.values.get(key)

    def set_meta(self, key: str, value: str) -> None:
        self.values[key] = value


def enroller(fake: FakePendo, segment_id: str | None = None) -> PendoEnroller:
    client = PendoClient(
        fake.url, fake.key, rate_limit_per_second=None, max_retries=0, sleep=lambda s: None
    )
    return PendoEnroller(client, NAME, segment_id, poll_interval=0.0)


def named(fake: FakePendo) -> list[str]:
    return [sid for sid, seg in fake.segments.items() if seg["name"] == NAME]


def test_a_deleted_segment_is_created_again_and_remembered(fake_pendo: FakePendo) -> None:
    memory, push = Memory(), enroller(fake_pendo)
    push.push(["v1"], memory)
    [first] = named(fake_pendo)
    assert memory.meta(SEGMENT_ID_KEY) == first
    del fake_pendo.segments[first]  # a person deletes it in Pendo

    said = push.push(["v1", "v2"], memory)

    [second] = named(fake_pendo)
    assert second != first
    assert fake_pendo.segment_visitors(second) == ["v1", "v2"]
    assert memory.meta(SEGMENT_ID_KEY) == second
    assert said == (
        f"Pendo segment '{NAME}' ({first}) was gone (HTTP 404); created it again "
        f"({second}) with 2 visitors"
    )
    fake_pendo.clear_log()
    push.push(["v2"], memory)  # and the next run writes to the new one
    assert len(fake_pendo.calls("PUT", f"/api/v1/segment/{second}")) == 1
    assert fake_pendo.calls("POST", UPLOAD) == []
    assert fake_pendo.segment_visitors(second) == ["v2"]


def test_a_list_of_that_name_made_meanwhile_is_used_not_duplicated(
    fake_pendo: FakePendo,
) -> None:
    memory, push = Memory(), enroller(fake_pendo)
    push.push(["v1"], memory)
    [first] = named(fake_pendo)
    del fake_pendo.segments[first]
    other = fake_pendo.add_segment(NAME, visitors=["v9"], created_by_api=True)
    push.push(["v1"], memory)
    assert named(fake_pendo) == [other] and memory.meta(SEGMENT_ID_KEY) == other
    assert fake_pendo.segment_visitors(other) == ["v1"]
    assert len(fake_pendo.calls("POST", UPLOAD)) == 1


def test_a_configured_id_that_pendo_does_not_know_is_one_line(fake_pendo: FakePendo) -> None:
    with pytest.raises(PendoSegmentsError) as err:
        enroller(fake_pendo, "seg-gone").push(["v1"], Memory())
    assert str(err.value) == (
        "[campaign.no_login] welcome_back_segment_id: Pendo has no segment seg-gone "
        "(HTTP 404); set the id of an API-made list segment, or remove the setting to "
        "let the campaign create one"
    )
    assert fake_pendo.calls("POST", UPLOAD) == []  # never a list the setting does not name
