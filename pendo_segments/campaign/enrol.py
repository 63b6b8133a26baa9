"""Enrolment in the welcome-back guide: the members of one Pendo visitor-list segment.

The guide targets a list segment (default ``[campaign] no-login welcome back``;
deliberately outside ``sync``'s managed ``[ps] `` prefix, so ``sync plan``
neither owns nor reports it) that holds every visitor contacted in the last
``enrol_days`` days. Each run sends the *whole* list (Pendo's PUT replaces a
list segment's members), so pushing twice is harmless and a failed or
interrupted push is simply repeated by the next run.

Without a Pendo integration key, the list is written to ``upload_file``
(one ``visitorId`` column) for a person to upload in Pendo.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Protocol

from pendo_segments.atomic import write_text
from pendo_segments.errors import CampaignError, PendoAPIError

SEGMENT_ID_KEY = "welcome_back_segment_id"


class Memory(Protocol):
    """Where an enroller keeps what it learnt (the state file's ``meta`` table)."""

    def meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...


class Enroller(Protocol):
    def push(self, visitor_ids: list[str], memory: Memory) -> str:
        """Make the segment hold exactly ``visitor_ids``; return a one-line description."""


def enroller_from_config(config: Any, settings: Any) -> Enroller:
    """Through the Pendo API when a key is configured, else the upload file."""
    if config is None or not config.pendo.integration_key:
        return FileEnroller(settings.upload_file)
    from pendo_segments.pendo.client import client_from_config
    from pendo_segments.sync.settings import load_sync_settings

    sync = load_sync_settings(config)  # the same upload polling as `sync apply`
    return PendoEnroller(
        client_from_config(config),
        settings.welcome_back_segment,
        settings.welcome_back_segment_id,
        poll_interval=sync.poll_interval,
        timeout=sync.upload_timeout,
    )


class PendoEnroller:
    """Updates the list segment through the Pendo API client.

    The segment id comes from settings, else the state file, else the API's
    list of API-created segments by name; only when none exists is it
    created (upload), and its id stored at once — an upload is not
    idempotent, the name lookup covers a crash before the id was stored.
    A remembered id that Pendo answers 404 for (the segment was deleted) is
    forgotten and the list made again.
    """

    def __init__(
        self,
        client: Any,
        name: str,
        segment_id: str | None = None,
        *,
        poll_interval: float = 2.0,
        timeout: float = 300.0,
    ) -> None:
        self.client = client
        self.name = name
        self.segment_id = segment_id
        self.wait = {"poll_interval": poll_interval, "timeout": timeout}

    def _find(self, memory: Memory) -> str | None:
        known = self.segment_id or memory.meta(SEGMENT_ID_KEY)
        if known:
            return known
        for segment in self.client.list_segments(created_by_api=True):
            if segment.get("name") == self.name and segment.get("id"):
                memory.set_meta(SEGMENT_ID_KEY, str(segment["id"]))
                return str(segment["id"])
        return None

    def push(self, visitor_ids: list[str], memory: Memory) -> str:
        segment_id = self._find(memory)
        if not segment_id:
            return self._create(visitor_ids, memory, "created")
        try:
            self.client.replace_segment_visitors(segment_id, visitor_ids, **self.wait)
        except PendoAPIError as err:
            if err.status != 404:
                raise
            return self._gone(segment_id, visitor_ids, memory)
        return f"Pendo segment '{self.name}' ({segment_id}) now has {len(visitor_ids)} visitors"

    def _gone(self, segment_id: str, visitor_ids: list[str], memory: Memory) -> str:
        """The segment was deleted in Pendo: forget its id and make (or find) the list again.

        A configured id is a person's choice: it is never replaced by another list.
        """
        if self.segment_id:
            raise CampaignError(
                f"[campaign.no_login] welcome_back_segment_id: Pendo has no segment "
                f"{segment_id} (HTTP 404); set the id of an API-made list segment, or "
                "remove the setting to let the campaign create one"
            )
        memory.set_meta(SEGMENT_ID_KEY, "")  # empty: not known (looked up by name next)
        gone = f"Pendo segment '{self.name}' ({segment_id}) was gone (HTTP 404); "
        found = self._find(memory)  # a list of that name made since (by hand or a run)
        if found:
            self.client.replace_segment_visitors(found, visitor_ids, **self.wait)
            return f"{gone}now using {found} with {len(visitor_ids)} visitors"
        return gone + self._create(visitor_ids, memory, "created it again")

    def _create(self, visitor_ids: list[str], memory: Memory, verb: str) -> str:
        result = self.client.upload_visitor_segment(self.name, visitor_ids, **self.wait)
        if result.get("segmentId"):
            memory.set_meta(SEGMENT_ID_KEY, str(result["segmentId"]))
        where = result.get("segmentId") or "pending"
        if verb == "created":
            return f"created Pendo segment '{self.name}' ({where}) with {len(visitor_ids)} visitors"
        return f"{verb} ({where}) with {len(visitor_ids)} visitors"


class FileEnroller:
    """No Pendo key: write the list for a manual upload (Segments → Upload CSV)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def push(self, visitor_ids: list[str], memory: Memory) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["visitorId"])
        writer.writerows([v] for v in visitor_ids)
        write_text(self.path, buf.getvalue())
        return (
            f"wrote {len(visitor_ids)} visitors to {self.path}; upload it as the "
            "welcome-back segment in Pendo (no PENDO_INTEGRATION_KEY set)"
        )
