"""HTTP plumbing under every Pendo call: auth header, timeout, rate limit, retries, errors.

Retries (tenacity) cover 429, 500/502/503/504, dropped connections and read
timeouts. ``Retry-After`` is honoured when Pendo sends it (it is not
documented, so usually we back off exponentially with jitter). Requests that
are not safe to repeat (creating a segment) are retried only when Pendo cannot
have acted on them. Every error message names method, path and status and is
scrubbed of the integration key.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
import tenacity

from pendo_segments import __version__
from pendo_segments.base.secret import Secret, check_key
from pendo_segments.errors import PendoAPIError
from pendo_segments.pendo import api_shapes as shapes
from pendo_segments.pendo.ratelimit import TokenBucket

log = logging.getLogger("pendo_segments.pendo")

EXCERPT_CHARS = 200
AUTH_HINT = " (check the integration key, its region and that it allows write access)"


class _Retryable(Exception):
    """One failed attempt that may succeed if sent again."""

    def __init__(
        self,
        reason: str,
        *,
        status: int | None = None,
        excerpt: str = "",
        retry_after: float | None = None,
        safe_to_repeat: bool = True,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.excerpt = excerpt
        self.retry_after = retry_after
        self.safe_to_repeat = safe_to_repeat


class PendoUnreachable(PendoAPIError):
    """No HTTP answer at all (refused, unknown host, timeout, dropped): the key was not judged."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class Transport:
    """A ``requests.Session`` that speaks Pendo's auth, limits and failure modes."""

    def __init__(
        self,
        base_url: str,
        integration_key: Secret | str,
        *,
        timeout: float = 30.0,
        max_retries: int = 5,
        rate_limit_per_second: float | None = 5.0,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = (
            integration_key if isinstance(integration_key, Secret) else Secret(integration_key)
        )
        check_key(self._key.reveal())
        self.timeout = timeout
        self.max_retries = max_retries
        self.sleep = sleep
        self.clock = clock
        self._backoff = tenacity.wait_exponential_jitter(
            initial=backoff_base, max=backoff_cap, jitter=backoff_base
        )
        self._limiter = (
            TokenBucket(rate_limit_per_second, clock=clock, sleep=sleep)
            if rate_limit_per_second
            else None
        )
        self.session = session or requests.Session()
        self.session.headers.update(
            {
                shapes.KEY_HEADER: self._key.reveal(),
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": f"pendo-segments/{__version__}",
            }
        )

    def close(self) -> None:
        self.session.close()

    def subscription_id(self) -> str:
        """A short hash of the base URL and the integration key: the same for every run
        against one subscription, and reveals neither (names the apply lock)."""
        text = f"pendo-segments subscription\n{self.base_url.lower()}\n{self._key.reveal()}"
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]

    # -- the one request path -------------------------------------------------------
    def request(
        self,
        method: str,
        target: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        idempotent: bool = True,
    ) -> Any:
        """Send, retry what is worth retrying, return the decoded JSON body (None if empty)."""
        url = self._url(target)
        label = f"{method} {urlsplit(url).path}"
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_retries + 1),
            wait=self._wait,
            retry=tenacity.retry_if_exception(
                lambda e: isinstance(e, _Retryable) and (idempotent or e.safe_to_repeat)
            ),
            sleep=self.sleep,
            before_sleep=lambda state: self._log_retry(label, state),
            reraise=True,
        )
        try:
            response = retrying(self._attempt, method, url, label, json, params, headers)
        except _Retryable as err:
            attempts = retrying.statistics.get("attempt_number", 1)
            after = f" after {attempts} attempts" if attempts > 1 else ""
            message = f"Pendo API {label} failed{after}: {err.reason}{_suffix(err.excerpt)}"
            if err.status is None:
                raise PendoUnreachable(message, reason=err.reason) from None
            raise PendoAPIError(message, status=err.status) from None
        return self._decode(response, label)

    def _attempt(
        self,
        method: str,
        url: str,
        label: str,
        json: Any,
        params: dict[str, Any] | None,
        headers: dict[str, str] | None,
    ) -> requests.Response:
        if self._limiter:
            self._limiter.acquire()
        started = self.clock()
        try:
            response = self.session.request(
                method, url, json=json, params=params, headers=headers, timeout=self.timeout
            )
        except requests.ConnectTimeout:
            raise _Retryable(f"could not connect within {self.timeout:g} s") from None
        except requests.Timeout:
            raise _Retryable(
                f"no response within {self.timeout:g} s", safe_to_repeat=False
            ) from None
        except requests.exceptions.ChunkedEncodingError:
            raise _Retryable("response cut off", safe_to_repeat=False) from None
        except requests.ConnectionError as err:
            reason, never_sent = _connection_reason(err)
            raise _Retryable(reason, safe_to_repeat=never_sent) from None
        log.debug("%s -> HTTP %s in %.2f s", label, response.status_code, self.clock() - started)
        status = response.status_code
        if status in shapes.RETRY_STATUSES:
            raise _Retryable(
                f"HTTP {status}",
                status=status,
                excerpt=self.excerpt(response.text),
                retry_after=shapes.retry_after_seconds(response.headers.get("Retry-After")),
                safe_to_repeat=status in shapes.NOT_PROCESSED_STATUSES,
            )
        if status >= 400:
            hint = AUTH_HINT if status in (401, 403) else ""
            excerpt = _suffix(self.excerpt(response.text))
            raise PendoAPIError(
                f"Pendo API {label} failed: HTTP {status}{hint}{excerpt}", status=status
            )
        return response

    def _wait(self, state: tenacity.RetryCallState) -> float:
        err = state.outcome.exception() if state.outcome else None
        if isinstance(err, _Retryable) and err.retry_after is not None:
            return err.retry_after
        return self._backoff(state)

    def _log_retry(self, label: str, state: tenacity.RetryCallState) -> None:
        err = state.outcome.exception() if state.outcome else None
        seconds = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "%s: %s; retry %d of %d in %.1f s",
            label,
            getattr(err, "reason", err),
            state.attempt_number,
            self.max_retries,
            seconds,
        )

    # -- helpers ----------------------------------------------------------------------
    def _url(self, target: str) -> str:
        """A path under base_url, or an absolute URL Pendo gave us (status URLs)."""
        if not target.startswith(("http://", "https://")):
            return self.base_url + target
        base, other = urlsplit(self.base_url), urlsplit(target)
        pendo_host = other.scheme == "https" and (other.hostname or "").endswith(".pendo.io")
        if other.netloc != base.netloc and not pendo_host:
            # The key travels in a header: never send it to a host we were not configured for.
            raise PendoAPIError(
                f"Pendo API returned a URL on another host ({other.hostname}); not following it"
            )
        return target

    def _decode(self, response: requests.Response, label: str) -> Any:
        if not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError:
            raise PendoAPIError(
                f"Pendo API {label} returned invalid JSON (HTTP {response.status_code})"
                f"{_suffix(self.excerpt(response.text))}",
                status=response.status_code,
            ) from None

    def excerpt(self, text: str) -> str:
        """One line of at most EXCERPT_CHARS, with the key masked if the server echoed it."""
        text = self.scrub(re.sub(r"\s+", " ", text or "").strip())
        return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"

    def scrub(self, text: str) -> str:
        key = self._key.reveal()
        return text.replace(key, "***") if key else text


def _suffix(excerpt: str) -> str:
    return f": {excerpt}" if excerpt else ""


def _connection_reason(err: requests.ConnectionError) -> tuple[str, bool]:
    """A short reason, and whether the request certainly never reached Pendo."""
    text = str(err)
    if "NameResolutionError" in text or "Name or service not known" in text:
        return "host not found", True
    if "Connection refused" in text or "NewConnectionError" in text:
        return "connection refused", True
    if "RemoteDisconnected" in text or "Connection aborted" in text:
        return "connection closed without a response", False
    return "connection failed", False
