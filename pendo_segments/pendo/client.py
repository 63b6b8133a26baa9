"""Typed calls to Pendo's v1 API (the endpoints the toolkit uses, nothing more).

Bodies and response fields come from :mod:`pendo_segments.pendo.api_shapes`
(where the unconfirmed guesses live); retries, rate limiting and error
messages from :mod:`pendo_segments.pendo.transport`.

    >>> client = client_from_config(load_config())          # doctest: +SKIP
    >>> client.aggregate([{"source": {"accounts": None}}])   # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pendo_segments.base.secret import Secret
from pendo_segments.base.words import plural
from pendo_segments.errors import PendoAPIError
from pendo_segments.pendo import api_shapes as shapes
from pendo_segments.pendo.api_shapes import Kind
from pendo_segments.pendo.models import MetadataResult
from pendo_segments.pendo.transport import Transport

if TYPE_CHECKING:
    import requests

    from pendo_segments.config import Config

T = TypeVar("T")
Progress = Callable[[int, int], None]
#: Build states worth waiting on: still building, or a status word we do not know.
WAIT_STATES = frozenset({"pending", "unknown"})


@dataclass
class Build:
    """Where Pendo's build of one list stands (``state``) and the word it answered."""

    segment_id: str
    state: shapes.BuildState
    word: str
    polls: int = 1

    def problem(self, timeout: float, prefix: str = "") -> str:
        """Why the list does not count as built (empty when it does)."""
        if self.state == "done":
            return ""
        if self.state == "failed":
            return f"{prefix}Pendo reports that building it failed"
        checks = f"after {timeout:g} s ({plural(self.polls, 'status check')})"
        if self.state == "pending":
            return (
                f"{prefix}Pendo has not finished building it {checks}; "
                "run the same command again later"
            )
        return (
            f"{prefix}Pendo still answered build status {self.word!r} {checks}, a word "
            "pendo-segments does not know, so it is not counted as built; run the same "
            "command again later"
        )


class PendoClient:
    """One Pendo subscription, reached through ``base_url`` with one integration key."""

    def __init__(
        self,
        base_url: str,
        integration_key: Secret | str,
        *,
        timeout: float = 30.0,
        max_retries: int = 5,
        rate_limit_per_second: float | None = shapes.DEFAULT_RATE_LIMIT_PER_SECOND,
        metadata_group: str = "custom",
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        session: requests.Session | None = None,
    ) -> None:
        self.metadata_group = metadata_group
        self._http = Transport(
            base_url,
            integration_key,
            timeout=timeout,
            max_retries=max_retries,
            rate_limit_per_second=rate_limit_per_second,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            sleep=sleep,
            clock=clock,
            session=session,
        )

    @property
    def base_url(self) -> str:
        return self._http.base_url

    def __repr__(self) -> str:
        return f"PendoClient({self.base_url!r})"

    def subscription_id(self) -> str:
        """Names this subscription (base URL + key) in a hash that reveals neither."""
        return self._http.subscription_id()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PendoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- aggregation ------------------------------------------------------------------
    def aggregate(
        self, pipeline: list[dict[str, Any]], *, request_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Run an Aggregation API pipeline on Pendo's servers; returns the ``results`` rows."""
        body = self._http.request(
            "POST", shapes.AGGREGATION_PATH, json=shapes.aggregation_body(pipeline, request_id)
        )
        try:
            return shapes.aggregation_results(body)
        except ValueError as err:
            raise self._unexpected("POST", shapes.AGGREGATION_PATH, body, str(err)) from None

    # -- segments ---------------------------------------------------------------------
    def list_segments(self, created_by_api: bool | None = None) -> list[dict[str, Any]]:
        """The segments shared with Everyone (the collection's "Get All Shared (Everyone)
        Segments"), or only those created (or not) through the API; each has an ``id``."""
        params = None if created_by_api is None else {"createdByApi": str(created_by_api).lower()}
        body = self._http.request("GET", shapes.SEGMENTS_PATH, params=params)
        items = self._objects(body, "GET", shapes.SEGMENTS_PATH)
        problem = shapes.segment_list_problem(items)
        if problem:
            raise self._unexpected("GET", shapes.SEGMENTS_PATH, body, problem)
        return items

    def get_segment(self, segment_id: str) -> dict[str, Any]:
        path = shapes.segment_path(segment_id)
        return self._expect(dict, self._http.request("GET", path), "GET", path)

    def upload_visitor_segment(
        self,
        name: str,
        visitor_ids: list[str],
        *,
        wait: bool = True,
        poll_interval: float = 2.0,
        timeout: float = 300.0,
    ) -> dict[str, Any]:
        """Create a visitor-list segment (``POST /segment/upload``) and wait until it is built.

        Returns ``{"segmentId", "status" ("done" | "pending"), "polls"}``. Not
        retried after an ambiguous failure (dropped connection, 5xx, timeout): a
        blind retry could create the segment twice; look it up by name instead.
        """
        body = self._http.request(
            "POST",
            shapes.SEGMENT_UPLOAD_PATH,
            json=self._body(shapes.segment_upload_body, name, list(visitor_ids)),
            idempotent=False,
        )
        segment_id = shapes.uploaded_segment_id(body)
        if not segment_id:
            raise self._unexpected("POST", shapes.SEGMENT_UPLOAD_PATH, body, "no segmentId")
        return self._built(segment_id, wait, poll_interval, timeout)

    def replace_segment_visitors(
        self,
        segment_id: str,
        visitor_ids: list[str],
        *,
        name: str | None = None,
        wait: bool = True,
        poll_interval: float = 2.0,
        timeout: float = 300.0,
    ) -> dict[str, Any]:
        """Replace a list segment's members (``PUT /segment/{id}``, name included).

        Without ``name`` the segment's current name is read first (Pendo wants it
        in the body). Same result shape as :meth:`upload_visitor_segment`.
        """
        if name is None:
            name = str(self.get_segment(segment_id).get("name") or "")
        self._http.request(
            "PUT",
            shapes.segment_path(segment_id),
            json=self._body(shapes.segment_replace_body, name, list(visitor_ids)),
        )
        return self._built(segment_id, wait, poll_interval, timeout)

    def patch_segment_visitors(
        self,
        segment_id: str,
        add: list[str],
        remove: list[str],
        *,
        batch_size: int = shapes.DEFAULT_PATCH_IDS,
        wait: bool = True,
        poll_interval: float = 2.0,
        timeout: float = 300.0,
    ) -> dict[str, Any]:
        """Add / remove some members (``PATCH /segment/{id}/visitor``) without re-sending all,
        in batches of at most ``batch_size`` ids ("small batches", the collection says),
        every add before any remove. Each batch waits until Pendo has built the one before
        (a write during a build answers 409).

        Replaying it is harmless (adding a member twice or removing an absent one
        changes nothing), so it is retried like a read. Returns the result of
        :meth:`upload_visitor_segment` plus ``requests`` (PATCHes sent).
        """
        path = shapes.segment_visitors_patch_path(segment_id)
        try:
            batches = shapes.segment_patch_batches(list(add), list(remove), batch_size)
        except ValueError as err:
            raise PendoAPIError(str(err)) from None
        total = len(add) + len(remove)
        sent = 0
        result: dict[str, Any] = {}
        for number, (adds, removes) in enumerate(batches, 1):
            upto = sent + len(adds) + len(removes)
            where = (
                f" (PATCH {number} of {len(batches)}, ids {sent + 1}-{upto} of {total})"
                if len(batches) > 1
                else ""
            )
            try:
                body = self._http.request(
                    "PATCH", path, json=self._body(shapes.segment_patch_body, adds, removes)
                )
                failures = shapes.patch_failures(body)
                if failures:
                    raise PendoAPIError(
                        f"Pendo API PATCH {path}: {plural(len(failures), 'operation')} failed: "
                        + self._http.excerpt("; ".join(failures))
                    )
                last = number == len(batches)
                result = self._built(segment_id, wait or not last, poll_interval, timeout)
            except PendoAPIError as err:
                raise PendoAPIError(f"{err}{where}", status=err.status) from None
            sent = upto
        return {**result, "requests": len(batches)}

    def delete_segment(self, segment_id: str) -> None:
        """``DELETE /segment/{id}`` (collection: "Delete a segment")."""
        self._http.request("DELETE", shapes.segment_path(segment_id))

    def _status(self, segment_id: str) -> Build:
        body = self._http.request("GET", shapes.segment_status_path(segment_id))
        word = shapes.segment_status_word(body) or self._http.excerpt(_dump(body))
        return Build(segment_id, shapes.read_segment_status(body), word)

    def build_state(
        self, segment_id: str, *, poll_interval: float = 2.0, timeout: float = 300.0
    ) -> Build:
        """Where Pendo's build of a list stands, waiting while it is in progress or its
        status word is one we do not know (it may be a step on the way: only "done" is
        built), at most ``timeout`` s; never raises, the caller decides."""
        started, polls = self._http.clock(), 1
        build = self._status(segment_id)
        while build.state in WAIT_STATES and self._http.clock() - started < timeout:
            self._http.sleep(poll_interval)
            build, polls = self._status(segment_id), polls + 1
        build.polls = polls
        return build

    def wait_until_built(
        self, segment_id: str, *, poll_interval: float = 2.0, timeout: float = 300.0
    ) -> dict[str, Any]:
        """Poll ``GET /segment/{id}/status`` until Pendo has built the segment (bounded)."""
        return self._built(segment_id, True, poll_interval, timeout)

    def _built(
        self, segment_id: str, wait: bool, poll_interval: float, timeout: float
    ) -> dict[str, Any]:
        """Poll the status endpoint until the segment is built, at most ``timeout`` s;
        PendoAPIError unless Pendo says it is built."""
        if not wait:
            return {"segmentId": segment_id, "status": "pending", "polls": 0}
        build = self.build_state(segment_id, poll_interval=poll_interval, timeout=timeout)
        if build.state != "done":
            raise PendoAPIError(build.problem(timeout, prefix=f"segment {segment_id}: "))
        return {"segmentId": segment_id, "status": build.state, "polls": build.polls}

    @staticmethod
    def _body(build: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
        try:
            return build(*args)
        except ValueError as err:
            raise PendoAPIError(str(err)) from None

    # -- metadata ---------------------------------------------------------------------
    def metadata_schema(self, kind: Kind) -> dict[str, Any]:
        """Field definitions per metadata group (``{"custom": {"tier": {"Type": …}}}``)."""
        path = shapes.metadata_schema_path(_kind(kind))
        return self._expect(dict, self._http.request("GET", path), "GET", path)

    def set_metadata(
        self,
        kind: Kind,
        values: list[dict[str, Any]],
        *,
        group: str | None = None,
        batch_size: int = 500,
        progress: Progress | None = None,
    ) -> MetadataResult:
        """Write metadata values in batches; ``values`` items are Pendo-shaped::

            {"accountId": "acme", "values": {"tier": "P1", "health_score": 71.5}}

        Unknown ids come back in ``result.missing`` (Pendo does not create them).
        ``progress(sent, total)`` is called after each batch.
        """
        kind, group = _kind(kind), group or self.metadata_group
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        _check_values(kind, values)
        path = shapes.metadata_value_path(kind, group)
        result = MetadataResult(kind=kind, group=group)
        batches = range(0, len(values), batch_size)
        for number, start in enumerate(batches, 1):
            chunk = values[start : start + batch_size]
            try:
                body = self._http.request("POST", path, json=chunk)
            except PendoAPIError as err:
                raise PendoAPIError(
                    f"{err} (batch {number} of {len(batches)}, values {start + 1}-"
                    f"{start + len(chunk)} of {len(values)}; earlier batches were written)",
                    status=err.status,
                ) from None
            try:
                part = shapes.read_metadata_result(body, len(chunk))
            except ValueError as err:
                raise self._unexpected("POST", path, body, str(err)) from None
            result.total += part.total
            result.updated += part.updated
            result.failed += part.failed
            result.missing.extend(part.missing)
            result.errors.extend(part.errors)
            result.batches += 1
            if progress:
                progress(start + len(chunk), len(values))
        return result

    # -- records and guides -----------------------------------------------------------
    def get_account(self, account_id: str) -> dict[str, Any]:
        return self._get_record("account", account_id)

    def get_visitor(self, visitor_id: str) -> dict[str, Any]:
        return self._get_record("visitor", visitor_id)

    def _get_record(self, kind: Kind, record_id: str) -> dict[str, Any]:
        # ids may contain '/', '@', '?': send them base64-url-encoded, as Pendo allows.
        path = shapes.record_path(kind, record_id)
        body = self._http.request("GET", path, headers={shapes.BASE64_PARAMS_HEADER: "true"})
        return self._expect(dict, body, "GET", path)

    def list_guides(self, state: str | None = None) -> list[dict[str, Any]]:
        """Guides with their ``audience`` pipelines (which reference segment ids)."""
        body = self._http.request(
            "GET", shapes.GUIDES_PATH, params={"state": state} if state else None
        )
        return self._objects(body, "GET", shapes.GUIDES_PATH)

    # -- shape checks -----------------------------------------------------------------
    def _expect(self, kind: type[T], body: Any, method: str, path: str) -> T:
        if not isinstance(body, kind):
            raise self._unexpected(method, path, body, f"expected a JSON {_json_name(kind)}")
        return body

    def _objects(self, body: Any, method: str, path: str) -> list[dict[str, Any]]:
        """A JSON array of objects (segments, guides): anything else is named, not crashed on."""
        items = self._expect(list, body, method, path)
        bad = next((i for i, item in enumerate(items) if not isinstance(item, dict)), None)
        if bad is not None:
            why = f"item {bad} of the array is not a JSON object"
            raise self._unexpected(method, path, body, why)
        return items

    def _unexpected(self, method: str, path: str, body: Any, why: str) -> PendoAPIError:
        return PendoAPIError(
            f"Pendo API {method} {path} returned an unexpected body ({why}): "
            f"{self._http.excerpt(_dump(body))}"
        )


def client_from_config(config: Config, **overrides: Any) -> PendoClient:
    """A client for the configured subscription; ConfigError when no key is set."""
    settings = config.pendo
    options: dict[str, Any] = {
        "timeout": settings.timeout,
        "max_retries": settings.max_retries,
        "rate_limit_per_second": settings.rate_limit_per_second,
        "metadata_group": settings.metadata_group,
    }
    options.update(overrides)
    return PendoClient(settings.base_url, settings.require_key(), **options)


def pull_client_from_config(config: Config, **overrides: Any) -> PendoClient:
    """A client for ``pull`` and ``--data pendo:``: paced at ``[pendo]
    pull_requests_per_second`` (or ``rate_limit_per_second`` when that is slower)."""
    return client_from_config(
        config, **{"rate_limit_per_second": config.pendo.pull_rate, **overrides}
    )


def _kind(kind: str) -> Kind:
    if kind not in shapes.KINDS:
        raise ValueError(f"kind must be 'visitor' or 'account', not {kind!r}")
    return kind  # type: ignore[return-value]


def _check_values(kind: Kind, values: list[dict[str, Any]]) -> None:
    id_field = shapes.id_field(kind)
    for index, item in enumerate(values):
        if (
            not isinstance(item, dict)
            or not item.get(id_field)
            or not isinstance(item.get("values"), dict)
        ):
            raise ValueError(
                f"values[{index}] must look like {{{id_field!r}: ID, 'values': {{…}}}}"
            )


def _dump(body: Any) -> str:
    return body if isinstance(body, str) else json.dumps(body, default=str)


def _json_name(kind: type) -> str:
    return "array" if kind is list else "object"
