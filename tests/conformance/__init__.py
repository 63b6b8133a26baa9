"""One conformance suite over the engines (pandas, DuckDB, Spark).

Ibis's ``backends/tests`` is the model: every test takes the ``engine`` fixture
and runs on each engine; a command an engine does not run yet is marked
``@pytest.mark.notimpl([...], reason=...)``, a strict xfail, so the marker must go
as soon as it passes. Outputs are compared with the pandas engine's bytes and, on
the hand-made boundary sets (tests/handmade.py, tests/health_handmade.py,
tests/test_subjects.py), with expectations worked out by hand. The shared data
lives in ``conformance/data.py``.
"""
