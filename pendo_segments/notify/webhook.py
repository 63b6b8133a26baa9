"""Posting one message to a Slack incoming webhook, and what each answer means.

Slack's answers (https://api.slack.com/messaging/webhooks, "Handling errors";
https://api.slack.com/docs/rate-limits): ``200`` with the body ``ok`` when the
message was posted; ``4xx`` with a plain-text reason — ``400 invalid_payload``
/ ``no_text`` / ``too_many_attachments`` (this message), ``403
action_prohibited`` / ``invalid_token`` / ``team_disabled``, ``404
channel_not_found`` / ``no_service``, ``410 channel_is_archived`` (the
webhook); ``429`` with ``Retry-After`` (seconds) when posting faster than
about one message a second; ``5xx`` when Slack itself failed.

Here:

* ``429`` waits ``Retry-After`` (no header: 1 s) and tries again, at most
  ``max_throttled`` times and never longer than ``max_retry_after`` for one
  wait; past either bound the message is left for the next run.
* ``5xx``, no answer within the timeout, a refused or dropped connection: the
  message counts as not posted (it is tried again by the next run) and this run
  posts nothing more to that webhook. (A read timeout could, rarely, hide a post
  Slack did make; the state trades that duplicate for never losing an alert.)
* ``4xx``: not posted; a ``400`` is this message's problem, the others stop the
  webhook for this run.

The URL is a secret: it never appears in a reason, and a body that quotes it
is scrubbed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import requests
import tenacity

from pendo_segments import __version__
from pendo_segments.notify.settings import Webhook
from pendo_segments.pendo.api_shapes import retry_after_seconds

DEFAULT_WAIT = 1.0  # Slack's pace for incoming webhooks: about one message a second
REDACTED = "[webhook URL]"


class NotPosted(Exception):
    """Slack did not take the message; ``stop``: post nothing more to this webhook now."""

    def __init__(self, reason: str, *, stop: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.stop = stop


class _Throttled(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__(f"HTTP 429, Retry-After {wait:g} s")
        self.wait = wait


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every webhook URL (and its secret path) replaced."""
    from urllib.parse import urlsplit

    for secret in secrets:
        if not secret:
            continue
        text = text.replace(secret, REDACTED)
        path = urlsplit(secret).path
        if len(path) > 1:
            text = text.replace(path, REDACTED)
    return text


class SlackPoster:
    """Posts JSON payloads to webhooks with one ``requests`` session."""

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        max_retry_after: float = 60.0,
        max_throttled: int = 3,
        sleep: Callable[[float], None] | None = None,
        session: requests.Session | None = None,
        secrets: Sequence[str] = (),
    ) -> None:
        import time

        self.timeout = timeout
        self.max_retry_after = max_retry_after
        self.max_throttled = max_throttled
        self.sleep = sleep or time.sleep
        self.session = session or requests.Session()
        self.secrets = list(secrets)

    def close(self) -> None:
        self.session.close()

    def post(self, webhook: Webhook, payload: dict[str, Any]) -> None:
        """Return when Slack answered 2xx; raise :class:`NotPosted` otherwise."""
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_throttled + 1),
            wait=_wait,
            retry=tenacity.retry_if_exception_type(_Throttled),
            sleep=self.sleep,
            reraise=True,
        )
        try:
            retrying(self._attempt, webhook, payload)
        except _Throttled:
            raise NotPosted(
                f"HTTP 429 (throttled) {self.max_throttled + 1} times; left for the next run",
                stop=True,
            ) from None

    def _attempt(self, webhook: Webhook, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        try:
            response = self.session.post(
                webhook.url.reveal(),
                data=body,
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "User-Agent": f"pendo-segments/{__version__}",
                },
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.ConnectTimeout:
            raise NotPosted(f"could not connect within {self.timeout:g} s", stop=True) from None
        except requests.Timeout:
            raise NotPosted(f"no answer within {self.timeout:g} s", stop=True) from None
        except requests.ConnectionError as err:
            refused = "refused" in str(err) or "NewConnectionError" in str(err)
            reason = "connection refused" if refused else "connection failed"
            raise NotPosted(reason, stop=True) from None
        except requests.RequestException as err:  # e.g. a malformed URL: never echo it
            raise NotPosted(f"request failed ({type(err).__name__})", stop=True) from None
        status = response.status_code
        if 200 <= status < 300:
            return
        if status == 429:
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            wait = DEFAULT_WAIT if wait is None else wait
            if wait > self.max_retry_after:
                raise NotPosted(
                    f"HTTP 429, Retry-After {wait:g} s is longer than max_retry_after "
                    f"({self.max_retry_after:g} s); left for the next run",
                    stop=True,
                )
            raise _Throttled(wait)
        reason = f"HTTP {status}{self._excerpt(response)}"
        raise NotPosted(reason, stop=status != 400)

    def _excerpt(self, response: requests.Response) -> str:
        """Slack's plain-text reason (``invalid_payload``), short and scrubbed."""
        try:
            text = response.text
        except (requests.RequestException, UnicodeDecodeError):
            return ""
        first = " ".join(text.split())[:120]
        return f" {scrub(first, self.secrets)}" if first else ""


def _wait(state: tenacity.RetryCallState) -> float:
    err = state.outcome.exception() if state.outcome else None
    return err.wait if isinstance(err, _Throttled) else DEFAULT_WAIT
