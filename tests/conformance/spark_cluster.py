"""A real Spark deployment on 127.0.0.1: a standalone master and worker, a Spark Connect server.

Started from the pyspark package's own folder (``bin/spark-class … Master`` /
``… Worker``, ``sbin/start-connect-server.sh``; the Connect server's jar ships in
the pyspark wheel), on free ports, logs in a temporary folder, each in its own
process group so teardown stops exactly what was started. A driver started from
``Cluster.env`` reads ``log4j2.properties`` from its ``SPARK_CONF_DIR``: errors only,
so a fresh driver JVM prints no start-up lines (log4j profile, log level,
native-hadoop) on the stderr a test compares with pandas'.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    env: dict[str, str]  # what a driver process on this machine needs (SPARK_LOCAL_IP, quiet log4j)
    logs: Path


#: the driver JVM's logging: errors only, on stderr (Spark's default profile logs WARN
#: and announces itself); the daemons keep that default in their log files
DRIVER_LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
# pyspark's driver is a shell to Spark: its entry class's logger at the root's level,
# or Spark sets WARN and says so ('Setting default log level to "WARN"')
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = error
"""

#: what the JVM itself prints on stderr (Spark's launcher adds --add-modules=jdk.incubator.vector;
#: Java has no switch to silence it), so no log4j setting removes it
JVM_INCUBATOR_LINE = "WARNING: Using incubator modules: jdk.incubator.vector"


def driver_conf_dir(tmp: Path) -> Path:
    """A SPARK_CONF_DIR holding only the driver's quiet log4j2.properties."""
    conf = tmp / "driver-conf"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "log4j2.properties").write_text(DRIVER_LOG4J2)
    return conf


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


def _kill_group(process: subprocess.Popen[str]) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


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
        driver_env = {**env, "SPARK_CONF_DIR": str(driver_conf_dir(tmp))}
        yield Cluster(master, f"sc://127.0.0.1:{connect}", driver_env, logs)
    finally:
        for process in reversed(started):
            _stop(process)


def cli_command() -> list[str]:
    """``pendo-segments`` as installed next to this Python (the console script)."""
    script = Path(sys.executable).with_name("pendo-segments")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from pendo_segments.cli import main; main()"]


def run_driver(
    cluster: Cluster, args: list[Any], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """``pendo-segments ARGS`` as a child process: a driver of its own (one SparkContext or
    Connect session per process, whatever this one holds), in its own process group so a
    timeout stops its JVM too."""
    with subprocess.Popen(
        [*cli_command(), *(str(a) for a in args)],
        env=cluster.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            out, err = process.communicate(timeout=timeout)
        finally:
            _kill_group(process)  # nothing it started outlives it
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)
