"""Run a CLI command on an engine and compare it with the pandas engine's output."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from typing import Any

import click
from click.testing import CliRunner, Result

from pendo_segments.cli import main

#: what ``--engine spark`` adds: the local session the ``spark`` fixture started
SPARK = ["--spark-master", "local[1]"]


@contextlib.contextmanager
def spark_over(ds: Any) -> Iterator[Any]:
    """The Spark engine (the ``spark`` fixture's local session) over the frames ``ds``,
    written to a folder as the CLI reads them (Spark reads files, not pandas frames)."""
    from pendo_segments.data.loaders import write_dataset
    from pendo_segments.engines import open_engine

    with tempfile.TemporaryDirectory(prefix="conformance-spark-") as folder:
        write_dataset(ds, folder)
        with open_engine("spark", folder, spark_master="local[1]") as engine:
            yield engine


def command(args: list[str]) -> click.Command:
    """The (sub)command ``args`` name, e.g. ``["campaign", "no-login", "run", ...]``."""
    cmd: click.Command = main
    for word in args:
        if not isinstance(cmd, click.Group) or word not in cmd.commands:
            break
        cmd = cmd.commands[word]
    return cmd


def engine_args(engine: str, args: list[str]) -> list[str]:
    """``--engine X`` (and the Spark master); nothing for pandas on a command without the
    option, so the pandas run works today while other engines fail until it exists."""
    has_option = any(p.name == "engine" for p in command(args).params)
    if engine == "pandas" and not has_option:
        return []
    return ["--engine", engine, *(SPARK if engine == "spark" else [])]


def cli(*args: Any) -> Result:
    """``pendo-segments ARGS`` in-process."""
    return CliRunner().invoke(main, [str(a) for a in args])


def run(engine: str, *args: Any) -> Result:
    """``pendo-segments ARGS --engine ENGINE`` in-process."""
    words = [str(a) for a in args]
    return cli(*words, *engine_args(engine, words))


def warnings_apart(text: str) -> tuple[list[str], list[str]]:
    """(warning lines, other lines) of stderr."""
    lines = text.splitlines()
    return [ln for ln in lines if ln.startswith("Warning:")], [
        ln for ln in lines if not ln.startswith("Warning:")
    ]


def same_as_pandas(engine: str, *args: Any, exit_code: int = 0) -> Result:
    """Run on ``engine`` and on pandas: the same exit code, stdout bytes and stderr.
    On pandas itself the one run is the reference (a second would be compared with itself)."""
    got = run(engine, *args)
    if engine == "pandas":
        assert got.exit_code == exit_code, got.output
        return got
    want = run("pandas", *args)
    assert want.exit_code == exit_code, want.output
    assert got.exit_code == exit_code, (engine, got.output, got.exception)
    assert got.stdout == want.stdout, engine
    assert got.stderr == want.stderr, engine
    return got


def skip_the_sample_on_spark(engine: str) -> None:
    """The whole sample through the CLI costs Spark a minute of jobs on two cores: Spark
    runs the same test on the small hand-made sets (and the Connect / standalone ones)."""
    if engine == "spark":
        import pytest

        pytest.skip("Spark reads the sample in test_health.py and test_tiers.py's leaf test")
