"""A real Spark deployment on 127.0.0.1: a standalone master and worker, a Spark Connect server.

Started from the pyspark package's own folder (``bin/spark-class … Master`` /
``… Worker``, ``sbin/start-connect-server.sh``; the Connect server's jar ships in
the pyspark wheel), on free ports, logs in a temporary folder, each in its own
process group so teardown stops exactly what was started.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

#: how long a JVM may take to open its port on a loaded 2-core machine
START_SECONDS = 240


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


@dataclass
class Cluster:
    master: str  # spark://127.0.0.1:PORT
    remote: str  # sc://127.0.0.1:PORT
    env: dict[str, str]  # what a driver process on this machine needs (SPARK_LOCAL_IP)
    logs: Path


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode}: {log.read_text()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise RuntimeError(f"port {port} not open after {START_SECONDS} s: {log.read_text()[-2000:]}")


def _wait_for_text(log: Path, text: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        time.sleep(0.5)
    raise RuntimeError(f"{text!r} not in {log} after {START_SECONDS} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group started for it, SIGKILL if it lingers."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


@contextmanager
def standalone_cluster(tmp: Path) -> Iterator[Cluster]:
    """Master + worker (2 cores, 1 GB) + Connect server (1 core of it), stopped on exit."""
    home = spark_home()
    logs = tmp / "logs"
    logs.mkdir(parents=True)
    env = {
        **os.environ,
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOG_DIR": str(logs),
        "SPARK_PID_DIR": str(tmp),
        "SPARK_DAEMON_MEMORY": "256m",
        # no REST submission server: it listens on the fixed port 6066
        "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false",
        "SPARK_NO_DAEMONIZE": "1",
    }
    started: list[subprocess.Popen[bytes]] = []

    def start(name: str, args: list[str], **more: str) -> tuple[subprocess.Popen[bytes], Path]:
        log = logs / f"{name}.out"
        with log.open("wb") as out:
            process = subprocess.Popen(
                args,
                env={**env, **more},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(process)
        return process, log

    port, connect = free_port(), free_port()
    master = f"spark://127.0.0.1:{port}"
    spark_class = str(home / "bin" / "spark-class")
    try:
        process, log = start(
            "master",
            [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
             "--port", str(port), "--webui-port", str(free_port())],
        )  # fmt: skip
        _wait_for_port(port, process, log)
        start(
            "worker",
            [spark_class, "org.apache.spark.deploy.worker.Worker", master, "--host", "127.0.0.1",
             "--port", str(free_port()), "--webui-port", str(free_port()), "--cores", "2",
             "--memory", "1g", "--work-dir", str(tmp / "work")],
        )  # fmt: skip
        _wait_for_text(log, "Registering worker")
        process, connect_log = start(
            "connect",
            [str(home / "sbin" / "start-connect-server.sh"), "--wait", "--master", master,
             "--executor-memory", "512m",
             "--conf", f"spark.connect.grpc.binding.port={connect}",
             "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
             "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.cores.max=1",
             "--conf", "spark.ui.enabled=false", "--conf", "spark.sql.shuffle.partitions=2"],
            SPARK_DAEMON_MEMORY="1g",  # the daemon script gives it -Xmx of this: the driver's heap
        )  # fmt: skip
        _wait_for_port(connect, process, connect_log)
        yield Cluster(master, f"sc://127.0.0.1:{connect}", env, logs)
    finally:
        for process in reversed(started):
            _stop(process)
