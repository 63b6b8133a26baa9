"""The jinja2 environment guide copy runs in, and how its errors are reported.

Copy is written by people outside engineering and rendered with customer
data, so the environment is locked down:

* ``ImmutableSandboxedEnvironment``: no ``__class__`` tricks, no mutating
  the context from a template;
* ``autoescape=True``: a visitor named ``<script>`` is text, not markup;
* ``StrictUndefined``: a typo such as ``{{ visitor.nmae }}`` is an error,
  never an empty string in front of a customer;
* ``finalize`` refuses to print ``None`` ("Hi None,") — guard optional
  values with ``{% if %}`` or ``| default("…", true)``.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from pendo_segments.errors import RenderError
from pendo_segments.guides import i18n
from pendo_segments.guides.manifest import display_path

T = TypeVar("T")


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
def _cached_env(root: str) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
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


def make_env(root: Path) -> ImmutableSandboxedEnvironment:
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
