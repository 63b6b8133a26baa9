"""One way to read a table of the TOML config file: a typed pydantic model per section.

Every section (``[pendo]``, ``[sync]``, ``[campaign]``, ``[campaign.no_login]``,
``[smtp]``, ``[notify]``, ``[salesforce]`` and ``[salesforce.fields]``) is a
:class:`Section` model. :func:`read_section` lays the
section's environment overrides over the file's table, validates, and turns the
first problem into one line in one format::

    FILE: [section].key: message (did you mean 'other_key'?)
    ENV_VARIABLE: message                      (when the value came from the environment)

The field types below carry the messages, so every section words a bad whole
number, list or string the same way. Values from the environment are text;
the number types parse them, while a number written as text in the file stays
an error (a TOML file can say what it means).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, ValidationInfo

from pendo_segments.errors import ConfigError

S = TypeVar("S", bound="Section")


class Section(BaseModel):
    """The keys one TOML table may hold; unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: key -> environment variable whose (non-blank) value wins over the file.
    ENV: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def keys(cls) -> list[str]:
        """The names a user writes in the file (aliases such as ``from`` included)."""
        return [f.alias or name for name, f in cls.model_fields.items()]


def read_section(
    model: type[S],
    table: Mapping[str, Any],
    *,
    where: str,
    section: str,
    env: Mapping[str, str] | None = None,
) -> S:
    """``table`` with ``model.ENV`` overrides from ``env``, validated; ConfigError on a problem."""
    values = dict(table)
    from_env: dict[str, str] = {}
    for key, variable in model.ENV.items():
        text = (env or {}).get(variable, "")
        if text.strip():
            values[key] = text.strip()
            from_env[key] = variable
    try:
        return model.model_validate(values, context={"env": from_env})
    except ValidationError as err:
        raise ConfigError(_first_problem(err, model, where, section, from_env)) from None


def problem(where: str, section: str, key: str, message: str) -> str:
    """The one format of a settings problem found after validation (cross-key checks)."""
    return f"{where}: [{section}].{key}: {message}"


def unknown_key(key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return "unknown key" + (f" (did you mean '{close[0]}'?)" if close else "")


def _first_problem(
    err: ValidationError, model: type[Section], where: str, section: str, from_env: dict[str, str]
) -> str:
    # A misspelt key first: its value falling back to a default would hide it.
    errors = sorted(err.errors(include_url=False), key=lambda e: e["type"] != "extra_forbidden")
    first = errors[0]
    key = str(first["loc"][0]) if first["loc"] else ""
    if first["type"] == "extra_forbidden":
        return problem(where, section, key, unknown_key(key, model.keys()))
    error = (first.get("ctx") or {}).get("error")
    message = str(error) if error is not None else first["msg"]
    if key in from_env:
        return f"{from_env[key]}: {message}"
    return problem(where, section, key, message)


# -- field types: one wording for every section -----------------------------------------


def _got(value: Any) -> str:
    return f", got {value!r}"


def _env_text(value: Any, info: ValidationInfo) -> bool:
    env = (info.context or {}).get("env", {})
    return isinstance(value, str) and info.field_name is not None and info.field_name in env


def _check_text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string" + _got(value))
    return value


def _check_non_empty(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string" + _got(value))
    return value.strip()


def _check_text_list(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError("must be a list of strings" + _got(value))
    return [v.strip() for v in value]


def _number_from(value: Any, info: ValidationInfo, kind: type) -> Any:
    """The number ``value`` holds, or None when it is not one (bool and NaN are not)."""
    if _env_text(value, info):
        try:
            value = kind(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return value


def whole(minimum: int, maximum: int | None = None) -> Callable[[Any, ValidationInfo], int]:
    """A whole number in ``[minimum, maximum]`` (``500.0`` counts as whole)."""
    words = (
        f"a whole number >= {minimum}"
        if maximum is None
        else f"a whole number from {minimum} to {maximum}"
    )

    def check(value: Any, info: ValidationInfo) -> int:
        number = _number_from(value, info, int)
        if (
            number is None
            or not float(number).is_integer()
            or number < minimum
            or (maximum is not None and number > maximum)
        ):
            raise ValueError(f"must be {words}" + _got(value))
        return int(number)

    return check


def number(
    *,
    minimum: float | None = None,
    above: float | None = None,
    maximum: float | None = None,
    zero: bool = False,
    note: str = "",
) -> Callable[[Any, ValidationInfo], float]:
    """A number, optionally ``>= minimum`` or ``> above`` and ``<= maximum``; ``note``
    explains a special value. ``zero`` also allows 0 outside the range ("0 = no limit").

    A ``maximum`` keeps a wait or a rate inside what a socket or ``sleep`` can take:
    ``inf`` or ``1e-300`` requests per second overflow them.
    """

    def check(value: Any, info: ValidationInfo) -> float:
        parsed = _number_from(value, info, float)
        if parsed is None:
            raise ValueError("must be a number" + _got(value))
        if zero and parsed == 0:
            return 0.0
        if maximum is not None:
            if (
                parsed > maximum
                or (minimum is not None and parsed < minimum)
                or (above is not None and parsed <= above)
            ):
                span = (
                    f"from {minimum:g} to {maximum:g}"
                    if minimum is not None
                    else f"greater than {above:g} and at most {maximum:g}"
                    if above is not None
                    else f"<= {maximum:g}"
                )
                head = f"0{note} or a number" if zero else "a number"
                raise ValueError(f"must be {head} {span}" + _got(value))
            return float(parsed)
        if above is not None and parsed <= above:
            raise ValueError(f"must be greater than {above:g}" + _got(value))
        if minimum is not None and parsed < minimum:
            raise ValueError(f"must be a number >= {minimum:g}{note}" + _got(value))
        return float(parsed)

    return check


def one_of(choices: Iterable[str]) -> Callable[[Any], str]:
    """One of ``choices`` (case-insensitive, returned lower-case)."""
    names = tuple(choices)

    def check(value: Any) -> str:
        text = value.strip().lower() if isinstance(value, str) else None
        if text not in names:
            raise ValueError(f"must be one of {', '.join(names)}" + _got(value))
        return text

    return check


Text = Annotated[str, BeforeValidator(_check_text)]
NonEmptyText = Annotated[str, BeforeValidator(_check_non_empty)]
TextList = Annotated[list[str], BeforeValidator(_check_text_list)]
