"""Shared pytest fixtures (each helper adds its own below; keep them small)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_pendo import FakePendo  # tests/ is on sys.path (rootdir conftest, no __init__.py)


@pytest.fixture
def fake_pendo(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePendo]:
    """A started fake Pendo server on 127.0.0.1 (``.url``, ``.key``), stopped after the test."""
    # A developer's HTTP(S)_PROXY must not swallow requests to the local fake.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with FakePendo() as fake:
        yield fake
