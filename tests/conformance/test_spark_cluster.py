"""Spark for real: a standalone master + worker and a Spark Connect server on 127.0.0.1.

The hand-made folder (CSV: Spark reads every column as a string and the engine
types it) through Spark Connect (``--spark-master sc://…``, in-process) and through
the standalone master (``spark://…``, in a child process: this process may already
hold a local SparkContext, and there is one per process) gives pandas' output bytes.
Selected with ``-m spark_cluster``; without Java or pyspark they skip (fail in CI).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import require_spark
from health_handmade import AS_OF, dataset

from conformance.data import SHIPPED_DEFS, write_folder
from conformance.run import cli, run

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
    got = cli(*args, "--engine", "spark", "--spark-master", cluster.remote)
    assert want.exit_code == 0, want.output
    assert (got.exit_code, got.stdout) == (0, want.stdout), got.output
    assert got.stderr == want.stderr


def test_standalone_master_gives_the_pandas_output_and_no_progress_bar(
    cluster, folder: Path
) -> None:
    args = [*COMMANDS["evaluate"], "--data", folder, "--as-of", AS_OF]
    want = run("pandas", *args)
    words = [str(a) for a in args]
    driver = [
        sys.executable, "-c", "from pendo_segments.cli import main; main()", *words,
        "--engine", "spark", "--spark-master", cluster.master,
        "--spark-conf", "spark.cores.max=1", "--spark-conf", "spark.executor.memory=512m",
    ]  # fmt: skip
    got = subprocess.run(driver, env=cluster.env, capture_output=True, text=True, timeout=600)
    assert (got.returncode, got.stdout) == (0, want.stdout), got.stderr[-3000:]
    # the product's own lines alike; a fresh driver JVM prints its start-up log lines
    # (log4j profile, default log level, native-hadoop) before the session exists
    assert product_lines(got.stderr) == product_lines(want.stderr)
    assert "[Stage" not in got.stderr  # no console progress bar


def product_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith(("Warning:", "Note:", "Error:"))]
