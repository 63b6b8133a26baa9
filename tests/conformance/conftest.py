"""The ``engine`` fixture and the ``notimpl`` marker of the conformance suite."""

from __future__ import annotations

import pytest

#: every engine a command may run on; ``spark`` is the local[1] session of tests/conftest.py
ENGINES = ("pandas", "duckdb", "spark")


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """The engine under test; for ``spark`` this worker's one local session is started first
    (the CLI's ``--spark-master local[1]`` gets that very session)."""
    if request.param == "spark":
        request.getfixturevalue("spark")
    return request.param


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``@pytest.mark.notimpl(engines, reason=...)``: a strict xfail on those engines only,
    so a test that starts passing fails until its marker is removed."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        engine = callspec.params.get("engine") if callspec else None
        if engine is None:
            continue
        for mark in item.iter_markers("notimpl"):
            engines = mark.args[0] if mark.args else mark.kwargs["engines"]
            if engine in engines:
                reason = mark.kwargs.get("reason") or (mark.args[1] if len(mark.args) > 1 else "")
                item.add_marker(
                    pytest.mark.xfail(strict=True, reason=f"not on {engine} yet: {reason}")
                )
