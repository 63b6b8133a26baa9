"""Spark for real: a standalone master + worker and a Spark Connect server on 127.0.0.1.

The hand-made folder (CSV: Spark reads every column as a string and the engine
types it) through Spark Connect (``--spark-master sc://…``) and through the
standalone master (``spark://…``) gives pandas' output bytes, stdout and stderr.
Each run is ``pendo-segments`` in a child process, as a user runs it: this process
may hold a local SparkSession, and a Connect session cannot be made next to it
(SESSION_ALREADY_EXIST), nor a second SparkContext. The driver's log4j is quiet
(``spark_cluster.DRIVER_LOG4J2``), so its stderr is the product's alone.
Selected with ``-m spark_cluster``; without Java or pyspark they skip (fail in CI).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import require_spark
from health_handmade import AS_OF, dataset

from conformance.data import SHIPPED_DEFS, write_folder
from conformance.run import run
from conformance.spark_cluster import JVM_INCUBATOR_LINE, run_driver

pytestmark = [
    pytest.mark.spark_cluster,
    pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning"),
    pytest.mark.timeout(900),  # three JVMs start on a loaded 2-core machine
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    require_spark()
    from conformance.spark_cluster import standalone_cluster

    with standalone_cluster(tmp_path_factory.mktemp("spark-cluster")) as running:
        yield running


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_folder(dataset(), tmp_path_factory.mktemp("usage"))


COMMANDS = {
    "evaluate": ["evaluate", SHIPPED_DEFS, "--format", "csv"],
    "health": ["health", "--format", "csv"],
    "tiers": ["tiers", SHIPPED_DEFS, "--format", "csv"],
    "explain": ["explain", "at_risk", "A1", "--defs", SHIPPED_DEFS, "--format", "csv"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_spark_connect_gives_the_pandas_output(cluster, folder: Path, command: str) -> None:
    args = [*COMMANDS[command], "--data", folder, "--as-of", AS_OF]
    want = run("pandas", *args)
    got = run_driver(cluster, [*args, "--engine", "spark", "--spark-master", cluster.remote])
    assert want.exit_code == 0, want.output
    assert (got.returncode, got.stdout) == (0, want.stdout), got.stderr[-3000:]
    assert got.stderr == want.stderr


def test_standalone_master_gives_the_pandas_output_and_no_progress_bar(
    cluster, folder: Path
) -> None:
    args = [*COMMANDS["evaluate"], "--data", folder, "--as-of", AS_OF]
    want = run("pandas", *args)
    got = run_driver(
        cluster,
        [*args, "--engine", "spark", "--spark-master", cluster.master,
         "--spark-conf", "spark.cores.max=1", "--spark-conf", "spark.executor.memory=512m"],
    )  # fmt: skip
    assert (got.returncode, got.stdout) == (0, want.stdout), got.stderr[-3000:]
    # all of it but the JVM's own line: no log4j start-up lines, no progress bar ("[Stage …")
    lines = got.stderr.splitlines(keepends=True)
    assert "".join(ln for ln in lines if ln != JVM_INCUBATOR_LINE + "\n") == want.stderr
