"""The jinja2 environment guide copy runs in, and how its errors are reported.

Copy is written by people outside engineering and rendered with customer
data, so the environment is locked down:

* ``ImmutableSandboxedEnvironment``: no ``__class__`` tricks, no mutating
  the context from a template;
* ``autoescape=True``: a visitor named ``<script>`` is text, not markup;
* ``StrictUndefined``: a typo such as ``{{ visitor.nmae }}`` is an error,
  never an empty string in front of a customer;
* ``finalize`` refuses to print ``None`` ("Hi None,") — guard optional
  values with ``{% if %}`` or ``| default("…", true)``;
* bounded: a template cannot build a string or list longer than
  :data:`MAX_SIZE` (``'x' * 10**9``, ``'x'.ljust(10**9)``, ``| center(10**9)``),
  a ``range`` longer than :data:`MAX_RANGE`, a power with more than
  :data:`MAX_POWER_BITS` bits, or more than :data:`MAX_OUTPUT` characters of
  output; and each template gets :data:`TIME_LIMIT` seconds of CPU time
  (nested loops).
  Each is reported as ``FILE:LINE`` like any template error.
"""

from __future__ import annotations

import functools
import os
import re
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from pendo_segments.errors import RenderError
from pendo_segments.guides import i18n
from pendo_segments.guides.manifest import display_path

T = TypeVar("T")

#: Longest string, list or tuple one template expression may build.
MAX_SIZE = 100_000
#: Longest ``range()`` a template may create.
MAX_RANGE = 10_000
#: Largest integer power (in bits) a template may compute.
MAX_POWER_BITS = 4_096
#: Most characters one template (or block) may output.
MAX_OUTPUT = 1_000_000
#: Seconds of CPU time one template (compile or render) may take.
TIME_LIMIT = 5.0

_SEQUENCES = (str, list, tuple)
#: str methods whose integer arguments set the size of the result.
_SIZING_METHODS = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs"})
_FORMAT_WIDTH = re.compile(r"(\d{6,})")
_state = threading.local()


class TemplateTimeout(Exception):  # noqa: N818 - reported as rule "timeout"
    """A template ran longer than :data:`TIME_LIMIT`."""


class _Budget:
    """The CPU time one render may use, in this thread.

    Time is the thread's CPU time (``time.thread_time``), not the wall clock, so
    a busy machine cannot fail a good template. A budget is *live* only while
    the frame that opened it is on the stack: a budget that an exception (any
    signal handler's, at any point) kept from being closed can never stop a
    later render or run past its own. ``close`` is idempotent; the ``with``
    exit and the timer's handler both call it, whichever comes first.
    """

    __slots__ = ("seconds", "deadline", "outer", "frame", "timer")

    def __init__(self, seconds: float, outer: _Budget | None, frame: FrameType | None) -> None:
        self.seconds = seconds
        self.outer = outer
        self.frame = frame
        self.timer: _Timer | None = None
        self.deadline = time.thread_time() + seconds
        if outer is not None:
            self.deadline = min(self.deadline, outer.deadline)

    def live(self, frame: FrameType | None) -> bool:
        """Is this budget open, and is ``frame`` (the running code) inside its ``with``?"""
        mine = self.frame
        while mine is not None and frame is not None:
            if frame is mine:
                return True
            frame = frame.f_back
        return False

    def timeout(self) -> TemplateTimeout:
        return TemplateTimeout(f"took longer than {self.seconds:g} s (a loop too large?)")

    def close(self) -> None:
        if self.frame is None:
            return
        self.frame = None
        try:
            if self.timer is not None:
                self.timer.stop()
        finally:
            if getattr(_state, "budget", None) is self:
                _state.budget = self.outer


class _Timer:
    """``ITIMER_PROF`` in the main thread: stops a template loop that calls nothing.

    Process CPU time includes other threads, so the handler compares the
    render's own thread CPU time and re-arms for what is left instead of
    stopping early. A previous ``SIGPROF`` handler and timer are restored.
    """

    def __init__(self, budget: _Budget) -> None:
        self.budget = budget
        self.started = time.monotonic()
        self.old_handler = signal.signal(signal.SIGPROF, self._on_signal)
        self.old_delay, self.old_interval = signal.setitimer(
            signal.ITIMER_PROF, max(budget.deadline - time.thread_time(), 0.001)
        )

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        budget = self.budget
        if not budget.live(frame):
            budget.close()  # its render is over (or was cut short): nothing to stop
            return
        left = budget.deadline - time.thread_time()
        if left > 0:
            signal.setitimer(signal.ITIMER_PROF, max(left, 0.001))
            return
        error = budget.timeout()
        _close_down_to(budget)
        raise error

    def stop(self) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, self.old_handler)
        if self.old_delay:
            spent = time.monotonic() - self.started
            signal.setitimer(
                signal.ITIMER_PROF, max(self.old_delay - spent, 0.001), self.old_interval
            )


def _close_down_to(last: _Budget) -> None:
    """Close this thread's budgets from the innermost one out to ``last``."""
    budget = getattr(_state, "budget", None)
    while budget is not None:
        outer = budget.outer
        budget.close()
        if budget is last:
            return
        budget = outer


def _forget_budgets() -> None:
    """A forked child renders on its own: the parent's budgets are not its own."""
    _state.__dict__.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_budgets)


def _check_deadline() -> None:
    budget: _Budget | None = getattr(_state, "budget", None)
    if budget is None or time.thread_time() <= budget.deadline:
        return
    if not budget.live(sys._getframe(1)):
        _close_down_to(budget)  # left behind by an interrupted render: not ours to enforce
        return
    error = budget.timeout()
    _close_down_to(budget)
    raise error


def _too_big(what: str, size: int, limit: int = MAX_SIZE) -> SecurityError:
    return SecurityError(f"{what} too large ({size:,} > {limit:,})")


def _check_size(value: Any, what: str) -> Any:
    if isinstance(value, _SEQUENCES) and len(value) > MAX_SIZE:
        raise _too_big(what, len(value))
    return value


def _check_format_widths(text: Any, what: str) -> None:
    """``'%1000000s' % x`` / ``'{:>1000000}'.format(x)``: a width or precision too large."""
    if isinstance(text, str):
        for digits in _FORMAT_WIDTH.findall(text):
            if int(digits) > MAX_SIZE:
                raise _too_big(f"{what} width", int(digits))


def _check_join(separator: Any, items: Any) -> Any:
    """``sep.join(items)`` / ``items | join(sep)``: refuse before building a giant string.

    Returns ``items``, read into a list when it was a one-shot iterator (counted
    on the way, so an endless one is refused too).
    """
    if not isinstance(separator, str) or not separator:
        return items
    if not hasattr(items, "__len__"):
        collected = []
        for item in items:
            collected.append(item)
            if len(separator) * len(collected) > MAX_SIZE:
                raise _too_big("join", len(separator) * len(collected))
        items = collected
    size = len(separator) * max(len(items) - 1, 0)
    if size > MAX_SIZE:
        raise _too_big("join", size)
    return items


class _CheckedRange:
    """``range`` for templates: at most MAX_RANGE long, and its loops watch the deadline."""

    def __init__(self, *args: int) -> None:
        self._range = range(*args)
        if len(self._range) > MAX_RANGE:
            raise _too_big("range", len(self._range), MAX_RANGE)

    def __len__(self) -> int:
        return len(self._range)

    def __getitem__(self, index: Any) -> Any:
        return self._range[index]

    def __contains__(self, value: object) -> bool:
        return value in self._range

    def __reversed__(self) -> Iterator[int]:
        return self._checked(reversed(self._range))

    def __iter__(self) -> Iterator[int]:
        return self._checked(iter(self._range))

    def __repr__(self) -> str:
        return repr(self._range)

    @staticmethod
    def _checked(numbers: Iterator[int]) -> Iterator[int]:
        for n, value in enumerate(numbers):
            if not n % 1024:
                _check_deadline()
            yield value


def _bounded_filter(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A built-in filter whose integer options cannot exceed MAX_SIZE, nor its result."""
    skip = 2 if getattr(fn, "jinja_pass_arg", None) else 1  # (context,) value, options…

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        for arg in (*args[skip:], *kwargs.values()):
            if isinstance(arg, int) and not isinstance(arg, bool) and arg > MAX_SIZE:
                raise _too_big(f"filter {fn.__name__} argument", arg)
        if fn.__name__ == "do_format" and len(args) > skip - 1:
            _check_format_widths(args[skip - 1], "format")
        if fn.__name__ == "do_join" and len(args) > skip - 1:
            separator = args[skip] if len(args) > skip else kwargs.get("d", "")
            items = _check_join(separator, args[skip - 1])
            args = (*args[: skip - 1], items, *args[skip:])
        return _check_size(fn(*args, **kwargs), f"result of filter {fn.__name__}")

    return wrapped


class GuideSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox plus size and time limits (see the module docstring)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.globals["range"] = _CheckedRange
        self.globals.pop("lipsum", None)  # lipsum(n=10**9): nothing copy needs
        for name in ("center", "indent", "format", "replace", "wordwrap", "tojson", "join"):
            if name in self.filters:
                self.filters[name] = _bounded_filter(self.filters[name])

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        _check_deadline()
        if operator_ == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, _SEQUENCES)
                    and isinstance(times, int)
                    and len(seq) * times > MAX_SIZE
                ):
                    raise _too_big("repetition", len(seq) * times)
        elif operator_ == "**" and isinstance(left, int) and isinstance(right, int):
            if abs(left) > 1 and right > 0 and left.bit_length() * right > MAX_POWER_BITS:
                raise _too_big("power (bits)", left.bit_length() * right, MAX_POWER_BITS)
        elif operator_ == "%":
            _check_format_widths(left, "% format")
        result = super().call_binop(context, operator_, left, right)
        return _check_size(result, f"result of {operator_}")

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _check_deadline()
        method = getattr(__obj, "__wrapped__", __obj)  # jinja wraps str.format
        owner = getattr(method, "__self__", None)
        name = getattr(method, "__name__", "")
        if isinstance(owner, str):
            if name in _SIZING_METHODS:
                for arg in (*args, *kwargs.values()):
                    if isinstance(arg, int) and arg > MAX_SIZE:
                        raise _too_big(f"str.{name} width", arg)
            elif name in ("format", "format_map"):
                _check_format_widths(owner, "format")
            elif name == "join" and args:
                args = (_check_join(owner, args[0]), *args[1:])
        result = super().call(__context, __obj, *args, **kwargs)
        return _check_size(result, f"result of {name or 'call'}")

    def getattr(self, obj: Any, attribute: str) -> Any:
        _check_deadline()
        return super().getattr(obj, attribute)


class time_limit:  # noqa: N801 - used like a function: ``with time_limit():``
    """Stop template code after ``seconds`` of CPU time (default :data:`TIME_LIMIT`).

    The sandbox's hooks (attribute access, calls, operators, ``range``) check
    the budget in any thread; in the main thread an ``ITIMER_PROF`` timer also
    interrupts a loop that calls nothing. A nested limit never outlives its
    outer one; only a live budget (see :class:`_Budget`) counts as outer.
    """

    def __init__(self, seconds: float | None = None) -> None:
        self.seconds = TIME_LIMIT if seconds is None else seconds
        self.budget: _Budget | None = None

    def __enter__(self) -> None:
        caller = sys._getframe(1)
        outer: _Budget | None = getattr(_state, "budget", None)
        if outer is not None and not outer.live(caller):
            outer.close()
            outer = getattr(_state, "budget", None)
            outer = outer if outer is not None and outer.live(caller) else None
        self.budget = budget = _Budget(self.seconds, outer, caller)
        _state.budget = budget
        if (
            outer is None
            and hasattr(signal, "setitimer")
            and threading.current_thread() is threading.main_thread()
        ):
            budget.timer = _Timer(budget)

    def __exit__(self, *exc: object) -> None:
        if self.budget is not None:
            self.budget.close()


def collect(chunks: Iterable[str]) -> str:
    """Join a template's output, refusing more than :data:`MAX_OUTPUT` characters."""
    parts: list[str] = []
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > MAX_OUTPUT:
            error = _too_big("template output", total, MAX_OUTPUT)
            throw = getattr(chunks, "throw", None)
            if throw is not None:  # raise it inside the template: the traceback has its line
                throw(error)
            raise error
        parts.append(chunk)
    return "".join(parts)


class TemplateError(RenderError):
    """A guide template failed: carries ``file``, ``line`` and a lint ``rule``."""

    def __init__(self, file: str, line: int, rule: str, message: str) -> None:
        self.file, self.line, self.rule, self.message = file, line, rule, message
        super().__init__(f"{file}:{line}: {message}")


def _finalize(value: Any) -> Any:
    if value is None:
        raise jinja2.UndefinedError(
            "printed an empty value (None); guard it with {% if %} or | default('…', true)"
        )
    return value


def _locale_filter(fn: Callable[..., str]) -> Callable[..., str]:
    """Wrap a formatter so it takes the rendering locale from the template context."""

    @jinja2.pass_context
    def wrapped(ctx: jinja2.runtime.Context, value: Any, *args: Any) -> str:
        if value is None or isinstance(value, jinja2.Undefined):
            raise jinja2.UndefinedError(f"{fn.__name__} of an empty value")
        return fn(value, ctx.get("locale") or i18n.DEFAULT_LOCALE, *args)

    wrapped.__name__ = fn.__name__
    return wrapped


FILTERS: dict[str, Callable[..., str]] = {
    "date": _locale_filter(i18n.format_date),
    "number": _locale_filter(i18n.format_number),
    "money": _locale_filter(i18n.format_money),
    "ordinal": _locale_filter(i18n.ordinal),
}


@lru_cache(maxsize=16)
def _cached_env(root: str) -> GuideSandbox:
    env = GuideSandbox(
        loader=jinja2.FileSystemLoader(root, encoding="utf-8"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=True,
    )
    env.filters.update(FILTERS)
    return env


def make_env(root: Path) -> GuideSandbox:
    """The sandboxed environment for templates under ``root`` (cached per root)."""
    return _cached_env(str(Path(root).resolve()))


def template_error(err: BaseException, root: Path, fallback_file: str) -> TemplateError:
    """Translate a jinja2 exception into a TemplateError pointing at FILE:LINE."""
    rule = "render"
    if isinstance(err, jinja2.TemplateSyntaxError):
        name = _name_in_root(err.filename, root) or err.name or fallback_file
        return TemplateError(
            _shown(root, name), err.lineno or 1, "syntax", f"template syntax error: {err.message}"
        )
    file, line = _template_frame(err, root)
    if isinstance(err, jinja2.UndefinedError):
        rule, message = "undefined", f"undefined variable: {err.message}"
    elif isinstance(err, jinja2.exceptions.SecurityError):
        rule, message = "unsafe-template", f"unsafe template code: {err}"
    elif isinstance(err, TemplateTimeout):
        rule, message = "timeout", f"template {err}"
    elif isinstance(err, (MemoryError, RecursionError)):
        rule, message = "unsafe-template", f"template too large ({type(err).__name__})"
    elif isinstance(err, jinja2.TemplateNotFound):
        rule, message = "missing-template", f"template not found: {err.name}"
    else:
        message = f"{type(err).__name__}: {err}"
    return TemplateError(_shown(root, file or fallback_file), line or 1, rule, message)


def run_template(env: jinja2.Environment, fn: Callable[[], T], root: Path, file: str) -> T:
    """Call ``fn`` (which renders template code); turn any failure into TemplateError.

    ``env.handle_exception`` rewrites the traceback so its frames point at the
    template files and lines rather than at generated Python.
    """
    try:
        try:
            with time_limit():
                return fn()
        except jinja2.TemplateSyntaxError:
            raise
        except Exception:
            env.handle_exception()
    except TemplateError:
        raise
    except Exception as err:  # noqa: BLE001 - every template failure is the copy's problem
        raise template_error(err, root, file) from None
    raise AssertionError("unreachable")  # pragma: no cover


def _template_frame(err: BaseException, root: Path) -> tuple[str | None, int | None]:
    """The innermost traceback frame that is a template under ``root``."""
    found: tuple[str | None, int | None] = (None, None)
    for frame, line in traceback.walk_tb(err.__traceback__):
        name = _name_in_root(frame.f_code.co_filename, root)
        if name:
            found = (name, line)
    return found


def _name_in_root(filename: str | None, root: Path) -> str | None:
    if not filename:
        return None
    try:
        return Path(filename).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return None


def _shown(root: Path, name: str) -> str:
    return display_path(Path(root) / name)
