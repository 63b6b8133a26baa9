"""Shared pytest fixtures (each helper adds its own below; keep them small)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Keep compiled modules even under PYTHONDONTWRITEBYTECODE=1: without them every xdist
# worker rewrites the asserts of every test module again (about 4 CPU s of its start) and
# each CLI subprocess compiles the package's modules again. Loaded before any test module.
sys.dont_write_bytecode = False

from fake_pendo import FakePendo  # noqa: E402 - tests/ is on sys.path (rootdir conftest)

# Tests name the shipped folders (segment_defs, README.md, examples/) the way a user
# types them, relative to the project root; start there whatever folder pytest ran from.
os.chdir(Path(__file__).resolve().parent.parent)


@pytest.fixture(autouse=True)
def _state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Per-user state (the sync apply lock) in a temporary folder, never the user's home;
    child processes inherit it through the environment."""
    folder = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("PENDO_SEGMENTS_STATE_DIR", str(folder))
    return folder


def assert_same_health(got: Any, expected: Any) -> None:
    """Same accounts; every score and component equal to 0.05, missing where the other's is."""
    import math

    from pendo_segments.health import COMPONENTS

    g, e = got.frame(), expected.frame()
    assert list(g["account_id"]) == list(e["account_id"])
    for column in ["health_score", *COMPONENTS]:
        for a, b in zip(g[column], e[column], strict=True):
            assert math.isnan(a) == math.isnan(b), column
            if not math.isnan(b):
                assert abs(a - b) <= 0.05, (column, a, b)
    assert got.notes() == expected.notes()


def need(condition: bool, why: str) -> None:
    """Skip when a real part (Chromium, playwright) is missing; in CI that is a failure."""
    if not condition:
        if os.environ.get("CI"):
            pytest.fail(f"{why} (required when CI is set)")
        pytest.skip(why)


@pytest.fixture
def fake_pendo(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePendo]:
    """A started fake Pendo server on 127.0.0.1 (``.url``, ``.key``), stopped after the test."""
    # A developer's HTTP(S)_PROXY must not swallow requests to the local fake.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with FakePendo() as fake:
        yield fake


# -- sync / pull (live Pendo data) --------------------------------------------------------
@pytest.fixture
def pendo_env(
    fake_pendo: FakePendo, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Environment pointing CLI commands at ``fake_pendo``, with a fast config file.

    No client-side rate limit, one retry, no upload polling delay, the audit log
    in a temporary folder. Returns the variables set (key, base URL, config path).
    """
    folder = tmp_path_factory.mktemp("pendo-env")
    config = folder / "pendo-segments.toml"
    config.write_text(
        "[pendo]\nrate_limit_per_second = 0\npull_requests_per_second = 0\nmax_retries = 1\n"
        "timeout = 5\n"
        f'[sync]\npoll_interval = 0.0\naudit_log = "{(folder / "audit.jsonl").as_posix()}"\n'
        'metadata_fields = ["plan"]\n',
        encoding="utf-8",
    )
    env = {
        "PENDO_INTEGRATION_KEY": fake_pendo.key,
        "PENDO_BASE_URL": fake_pendo.url,
        "PENDO_SEGMENTS_CONFIG": str(config),
        "PENDO_TIMEZONE": fake_pendo.timezone,  # live work needs the zone set (config.py)
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PENDO_REGION", raising=False)
    return env


@pytest.fixture
def handmade_pendo(fake_pendo: FakePendo) -> FakePendo:
    """``fake_pendo`` holding the hand-made data set of tests/handmade.py."""
    from handmade import frames

    from pendo_segments.data.loaders import dataset_from_frames

    fake_pendo.load_dataset(dataset_from_frames(frames()))
    return fake_pendo


# -- campaign: a real SMTP server on 127.0.0.1 -----------------------------------------
class SmtpRecorder:
    """aiosmtpd handler keeping every accepted message; switches to misbehave:
    ``refuse[address] = "550 …"`` (RCPT), ``fail_data = n`` (the next n DATA get 451),
    ``drop_after_data = n`` (keep the message, then cut the connection before the 250),
    ``data_delay`` seconds, ``on_mail`` (callback when MAIL FROM arrives)."""

    def __init__(self) -> None:
        import threading

        self.messages: list = []
        self.refuse: dict[str, str] = {}
        self.fail_data = 0
        self.drop_after_data = 0
        self.data_delay = 0.0
        self.on_mail = None
        self.lock = threading.Lock()

    async def handle_MAIL(self, server, session, envelope, address, options):  # noqa: ANN001
        if self.on_mail:
            self.on_mail()
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: ANN001
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001
        import asyncio
        import email
        from email import policy

        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if self.fail_data:
            self.fail_data -= 1
            return "451 4.3.0 try again later"
        with self.lock:
            message = email.message_from_bytes(envelope.content, policy=policy.default)
            self.messages.append((list(envelope.rcpt_tos), message))
        if self.drop_after_data:
            self.drop_after_data -= 1
            server.transport.close()
        return "250 2.0.0 accepted"

    def to(self) -> list[str]:
        """Recipients of every accepted message, in order."""
        return [rcpt for rcpts, _ in self.messages for rcpt in rcpts]


@pytest.fixture
def smtp_server() -> Iterator[tuple[SmtpRecorder, int]]:
    """(recorder, port) of a started aiosmtpd server on 127.0.0.1, stopped after the test."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    recorder = SmtpRecorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield recorder, port
    finally:
        controller.stop()


@pytest.fixture
def org(tmp_path: Path) -> Iterator[Any]:
    """A Salesforce stand-in (tests/salesforce_standin.py) on 127.0.0.1 with the seeded
    Accounts, Users and Task, stopped after the test."""
    from salesforce_standin import StandIn, seed

    standin = StandIn()
    standin.start(tmp_path)
    seed(standin)
    yield standin
    standin.stop()


@pytest.fixture
def sync_world(handmade_pendo: FakePendo, tmp_path_factory: pytest.TempPathFactory) -> object:
    """Everything a sync test needs: ``fake`` (hand-made data), ``defs`` (shipped),
    ``ds`` (typed hand-made data), ``client`` (no rate limit, one retry, no sleeps),
    ``settings`` (metadata field ``plan`` only, no poll delay), ``audit`` and ``as_of``."""
    from types import SimpleNamespace

    from handmade import AS_OF, frames

    from pendo_segments.data.loaders import dataset_from_frames
    from pendo_segments.definitions import load_definitions
    from pendo_segments.pendo.client import PendoClient
    from pendo_segments.shipped import shipped_path
    from pendo_segments.sync import AuditLog, SyncSettings

    folder = tmp_path_factory.mktemp("sync")
    return SimpleNamespace(
        fake=handmade_pendo,
        defs=load_definitions(shipped_path("segment_defs", prefer_cwd=False)),
        ds=dataset_from_frames(frames()),
        client=PendoClient(
            handmade_pendo.url,
            handmade_pendo.key,
            rate_limit_per_second=None,
            max_retries=1,
            timeout=5.0,
            sleep=lambda _s: None,
        ),
        settings=SyncSettings(
            metadata_fields=("plan",), poll_interval=0.0, audit_log=folder / "audit.jsonl"
        ),
        audit=AuditLog(folder / "audit.jsonl"),
        as_of=AS_OF,
    )


# -- Spark: one session per test process, Spark work first on both xdist workers ---------
#: whole modules that use the ``spark`` fixture (checked at collection); tests/conformance
#: tests run on Spark through the ``engine`` fixture's ``spark`` parameter instead
SPARK_MODULES = (
    "test_spark_engine.py",
    "test_engines_backtest.py",
    "test_multi_account.py",
    "test_engines_campaign.py",
)
#: local[1] on tiny data: two shuffle partitions, no UI, no code generation, a small heap
SPARK_CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "1",
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    "spark.sql.adaptive.enabled": "false",
    "spark.driver.memory": "512m",
    # tiny jobs: the JIT's optimising tier costs more than it saves (a fifth of the JVM's
    # CPU over a health + evaluate run; the JVM starts in half the time)
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1",
}


def on_spark(nodeid: str) -> bool:
    """A test id with a parameter ``spark`` (``[spark]``, ``[spark-...]``, ``[...-spark]``).

    The parameters are everything after the test name's first ``[``: an expected message
    among them may hold brackets of its own (``rules[0]``)."""
    params = nodeid.split("::", 1)[-1].partition("[")[2].removesuffix("]")
    return "spark" in params.split("-")


def spark_unit(nodeid: str) -> str | None:
    """The xdist work unit of a test that runs Spark (``spark:FILE``), else None.

    A conformance test's Spark parameter is its own unit, apart from the pandas and
    DuckDB ones of the same file, so in ``-m spark_matrix`` both workers start one JVM
    each and share the Spark work (the long pole) while the rest fills in around it.
    """
    path = nodeid.split("::", 1)[0]
    name = Path(path).name
    if name in SPARK_MODULES or name == "test_spark_cluster.py" or on_spark(nodeid):
        return f"spark:{path}"
    return None


def require_spark() -> None:
    """Skip without pyspark or Java; in CI that is a failure instead."""
    import shutil

    why = None
    try:
        import pyspark  # noqa: F401
    except ImportError:
        why = "pyspark is not installed (pip install -e '.[spark]')"
    if why is None and not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        why = "Java (17+) is not installed"
    if why:
        if os.environ.get("CI") or os.environ.get("PENDO_SEGMENTS_REQUIRE_SPARK"):
            pytest.fail(f"{why} (required in CI)")
        pytest.skip(why)


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The local Spark session of this test process (local[1], SPARK_CONF).

    The CLI's ``--engine spark --spark-master local[1]`` runs in-process and gets
    this very session (the engine keeps one per master). Tests that read the
    catalog or temp views set them up themselves: other modules use the session too.
    """
    import warnings

    require_spark()
    from pendo_segments.evaluate.spark_engine import spark_session

    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    conf = {**SPARK_CONF, "spark.sql.warehouse.dir": str(warehouse)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyspark's pandas version notice
        return spark_session("local[1]", conf)


#: the Spark cases the README's command runs: members, health, tiers, explain, alerts,
#: the as-of lines, a broken folder, the campaign and who belongs to an account at D, on
#: the small hand-made sets (each Spark case costs 5-30 s of jobs even on tiny data).
#: Every other Spark case is ``spark_matrix``, run by CI as a step of its own
#: (``-m spark_matrix``): the backtest, reading Spark's folders, sync plan, history, ...
SPARK_SMOKE = (
    "conformance/test_members.py::test_handmade_members_are_the_hand_worked_ones[spark]",
    "conformance/test_health.py::test_handmade_scores_are_the_hand_worked_ones[spark-full]",
    "conformance/test_tiers.py::test_handmade_cli_tiers_with_previous_and_overrides[spark]",
    "conformance/test_explain.py::test_explanation_is_the_hand_worked_one[spark-at_risk-A1]",
    "conformance/test_alerts_backtest.py::test_handmade_alerts_are_the_hand_worked_ones[spark]",
    "conformance/test_as_of.py::test_as_of_lines_are_the_pandas_lines[spark-after-alerts]",
    "conformance/test_reading.py::test_a_broken_folder_gives_the_same_one_line_error[spark-evaluate-negative minutes]",
    "conformance/test_sql_text.py::test_health_query_transpiles_to_warehouse_dialects[spark]",
    "test_compile_sql.py::test_spark_family_sql_keeps_nested_ctes_so_names_never_repeat[spark]",
    "test_engines_campaign.py::test_spark_dry_run_same_bytes",
    "test_spark_engine.py::test_a_visitors_account_at_d_on_spark",
)


def mark_spark_matrix(items: list[pytest.Item]) -> None:
    """Mark the Spark cases outside :data:`SPARK_SMOKE` ``spark_matrix``; a smoke id that
    names no collected test of a collected file is a usage error (renamed, not dropped)."""
    found: set[str] = set()
    files = {item.nodeid.split("::", 1)[0] for item in items}
    for item in items:
        spark_case = on_spark(item.nodeid) or (
            item.path.name in SPARK_MODULES and "spark" in getattr(item, "fixturenames", ())
        )
        smoke = [s for s in SPARK_SMOKE if item.nodeid.endswith(s)]
        found.update(smoke)
        if spark_case and not smoke:
            item.add_marker(pytest.mark.spark_matrix)
    for smoke in SPARK_SMOKE:
        if f"tests/{smoke.split('::', 1)[0]}" in files and smoke not in found:
            raise pytest.UsageError(f"SPARK_SMOKE names no collected test: {smoke}")


@pytest.hookimpl(tryfirst=True)  # before -m deselects by the markers added here
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test using ``spark`` outside a Spark unit would start a JVM on a worker that may
    run nothing else on Spark; Spark tests get a long timeout (a JVM's first job on a
    loaded 2-core machine can pass the suite's 300 s)."""
    mark_spark_matrix(items)
    for item in items:
        if spark_unit(item.nodeid) is None:
            if "spark" in getattr(item, "fixturenames", ()):
                raise pytest.UsageError(
                    f"{item.nodeid} uses the spark fixture: add {item.path.name!r} to "
                    "SPARK_MODULES in tests/conftest.py, or take the engine fixture"
                )
        elif item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(1200))


def work_unit(nodeid: str) -> str | None:
    """The xdist work unit of a Spark test: ``spark:smoke`` for the SPARK_SMOKE cases, so
    the README's command starts one JVM (on one worker, about 90 s of Spark work in all:
    a second JVM cost more than the share it took), else :func:`spark_unit`."""
    if any(nodeid.endswith(smoke) for smoke in SPARK_SMOKE):
        return "spark:smoke"
    return spark_unit(nodeid)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadfile`` with each Spark unit apart, the Spark units handed out first."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SparkFirst(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid) or super()._split_scope(nodeid)

        def _assign_work_unit(self, node: Any) -> None:
            # the Spark units first, longest (most tests) first: the others fill around them
            spark = sorted(
                (u for u in self.workqueue if u.startswith("spark:")),
                key=lambda u: len(self.workqueue[u]),
            )
            for unit in spark:
                self.workqueue.move_to_end(unit, last=False)
            super()._assign_work_unit(node)

    return SparkFirst(config, log)
