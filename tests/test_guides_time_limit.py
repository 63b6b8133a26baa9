"""Issue 29: the template time limit never outlives its render.

A ``SIGALRM`` that fired inside the ``finally`` of the old ``time_limit`` left an
expired deadline behind, and every later render in that process (a whole
pytest-xdist worker) failed with "took longer than 5 s". These tests interrupt
a render at every step, run good templates after a hostile one, and check that
the budget is CPU time, so a slow or busy machine cannot fail a good template.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

import jinja2
import pytest

from pendo_segments.guides import environment
from pendo_segments.guides.environment import (
    GuideSandbox,
    TemplateError,
    collect,
    make_env,
    run_template,
)

ENVIRONMENT_FILE = environment.__file__


class Interrupted(BaseException):
    """What any signal handler may raise between two statements (not an ``Exception``)."""


def _burn(seconds: float) -> None:
    """Use ``seconds`` of this thread's CPU time in plain Python (no template code)."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "loop.j2").write_text(
        # Prints only for small n: a big n runs into the time limit, never the output cap.
        "{% for i in range(n) %}{% for j in range(n) %}{% if n < 3 %}{{ j.real }}{% endif %}"
        "{% endfor %}{% endfor %}ok\n",
        encoding="utf-8",
    )
    return tmp_path


def _render(root: Path, n: int = 2) -> str:
    env = make_env(root)
    return run_template(
        env, lambda: collect(env.get_template("loop.j2").generate(n=n)), root, "loop.j2"
    )


def _line_events_of_one_render(root: Path) -> int:
    count = 0

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line" and frame.f_code.co_filename == ENVIRONMENT_FILE:
            count += 1
        return tracer

    sys.settrace(tracer)
    try:
        _render(root)
    finally:
        sys.settrace(None)
    return count


def _render_interrupted_at(root: Path, step: int) -> bool:
    """Render once, raising :class:`Interrupted` at the ``step``-th line of environment.py."""
    seen = 0

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal seen
        if event == "line" and frame.f_code.co_filename == ENVIRONMENT_FILE:
            seen += 1
            if seen == step:
                raise Interrupted
        return tracer

    sys.settrace(tracer)
    try:
        _render(root)
    except Interrupted:
        return True
    finally:
        sys.settrace(None)
    return False


def test_an_interruption_at_any_step_of_a_render_leaves_nothing_behind(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(environment, "TIME_LIMIT", 0.02)
    _render(folder)  # compile and cache the template first
    steps = _line_events_of_one_render(folder)
    assert steps > 20  # the trace sees time_limit, the budget, the timer and run_template
    for step in range(1, steps + 1):
        assert _render_interrupted_at(folder, step), f"no interruption at step {step}"
        # A budget or timer left behind would stop this plain code, or the renders below.
        _burn(0.03)
        for _ in range(3):
            assert _render(folder) == "0101ok", f"a render failed after step {step}"
        assert getattr(environment._state, "budget", None) is None, f"left open at step {step}"


def test_a_hostile_template_does_not_fail_the_good_renders_after_it(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(environment, "TIME_LIMIT", 0.2)
    with pytest.raises(TemplateError) as caught:
        _render(folder, n=10_000)  # 10⁸ iterations: far past the limit
    assert (caught.value.rule, caught.value.line) == ("timeout", 1)
    assert "took longer than 0.2 s" in caught.value.message
    # The same template with small data, a thousand times, in the same process.
    assert [_render(folder, n=2) for _ in range(1000)] == ["0101ok"] * 1000


def test_the_budget_is_cpu_time_so_a_slow_machine_cannot_fail_a_good_template(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sleeping stands in for a render descheduled by a busy machine: no CPU is used."""
    monkeypatch.setattr(environment, "TIME_LIMIT", 0.1)
    env = GuideSandbox(loader=jinja2.DictLoader({"t.j2": "{{ nap(0.4) }}done"}))
    env.globals["nap"] = lambda seconds: time.sleep(seconds) or ""
    text = run_template(env, lambda: collect(env.get_template("t.j2").generate()), tmp_path, "t.j2")
    assert text == "done"


def test_busy_threads_beside_the_render_do_not_cut_it_short(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process CPU timer also counts other threads: the render keeps its own budget."""
    import threading

    import numpy as np

    monkeypatch.setattr(environment, "TIME_LIMIT", 0.3)
    stop = threading.Event()

    def busy() -> None:  # BLAS releases the GIL: process CPU time runs ahead of the render's
        a = np.ones((300, 300))
        while not stop.is_set():
            a @ a  # noqa: B018

    worker = threading.Thread(target=busy, daemon=True)
    worker.start()
    try:
        start = time.thread_time()
        text = _render(folder, n=150)  # ~22,500 iterations: well under 0.3 s of CPU
        used = time.thread_time() - start
    finally:
        stop.set()
        worker.join()
    assert used < 0.3
    assert text.endswith("ok")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_render_forked_mid_budget_starts_afresh_in_the_child(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(environment, "TIME_LIMIT", 0.2)
    _render(folder)
    with environment.time_limit():
        pid = os.fork()
        if pid == 0:  # the child: no budget of the parent's, and a render after 0.3 s of work
            try:
                _burn(0.3)
                ok = getattr(environment._state, "budget", None) is None
                ok = ok and _render(folder) == "0101ok"
            except BaseException:  # noqa: BLE001 - report through the exit code
                ok = False
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
