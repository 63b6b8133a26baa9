"""A fake Pendo server on 127.0.0.1 for tests, the demo and recording cassettes.

It answers only request shapes with a public source (docs/pendo-api.md) and
keeps its own state: :mod:`.server` (the HTTP endpoints), :mod:`.data` (a
data set loaded as Pendo records and events), :mod:`.aggregation` (the
Aggregation API interpreter). Kept apart from the real client so nothing in
``pendo_segments.pendo`` depends on it.
"""

from pendo_segments.pendo.fake.server import FakePendo, LoggedRequest, day_ms

__all__ = ["FakePendo", "LoggedRequest", "day_ms"]
