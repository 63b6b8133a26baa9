"""Local Spark is sized for the machine (issue 28 #4).

Spark's default 1g driver heap ran out of memory at 1M visitors; local mode
now gives the driver half the machine's memory (1 to 16 GiB, whole GiB) and
says so on stderr, unless ``--spark-conf spark.driver.memory=…`` (or the
session's conf) sets it. No JVM is started here: the settings are the ones
``spark_session`` hands the builder before the JVM starts.
"""

from __future__ import annotations

import pytest

from pendo_segments.evaluate import budget
from pendo_segments.evaluate.spark_engine import local_settings

GIB = 2**30


@pytest.mark.parametrize(
    ("ram", "heap"),
    [(24 * GIB, "12g"), (23.5 * GIB, "11g"), (8 * GIB, "4g"), (64 * GIB, "16g"), (GIB, "1g")],
)
def test_driver_gets_half_the_machine(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], ram: float, heap: str
) -> None:
    monkeypatch.setattr(budget, "machine_memory", lambda: ram)
    assert local_settings("local[2]")["spark.driver.memory"] == heap
    err = capsys.readouterr().err
    assert err.startswith(f"spark: local mode with spark.driver.memory={heap} (half of")
    assert err.count("\n") == 1


def test_given_driver_memory_wins_silently(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(budget, "machine_memory", lambda: 24 * GIB)
    assert "spark.driver.memory" not in local_settings("local[2]", {"spark.driver.memory": "3g"})
    assert capsys.readouterr().err == ""
    # spark_session applies --spark-conf after the local settings: 6g reaches the builder
    given = {"spark.driver.memory": "6g"}
    assert (local_settings("local[2]", given) | given)["spark.driver.memory"] == "6g"
