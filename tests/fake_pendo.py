"""The fake Pendo lives in the package (``pendo-segments pendo fake-server`` serves it to
newcomers); tests import it from here as before."""

from __future__ import annotations

from pendo_segments.pendo.fake import FakePendo, LoggedRequest, day_ms

__all__ = ["FakePendo", "LoggedRequest", "day_ms"]
