"""The Pendo integration key as a value that cannot leak into output, logs or errors."""

from __future__ import annotations

from typing import Any

from pendo_segments.errors import ConfigError

MASK = "***"


class Secret:
    """A string that refuses to show itself; call :meth:`reveal` at the one place it is sent."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        self._value = str(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return MASK

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> Any:  # pickling keeps the value; printing never does
        return (Secret, (self._value,))


def key_problem(text: str) -> str | None:
    """What makes ``text`` unusable as an HTTP header value (None: nothing); never shows it.

    An HTTP header carries only Latin-1 without control characters: a stray
    newline (pasted key) or a non-Latin-1 character would otherwise fail deep in
    the HTTP library, with the key in the traceback.
    """
    bad = next((c for c in text if ord(c) < 0x20 or ord(c) == 0x7F), None)
    if bad is not None:
        return (
            f"the integration key contains a control character "
            f"(U+{ord(bad):04X}, e.g. a line break); copy it again without it"
        )
    if any(ord(c) > 0xFF for c in text):
        return (
            "the integration key contains characters an HTTP header cannot carry "
            "(outside Latin-1); copy it again from Pendo (Settings > Integrations)"
        )
    return None


def check_key(text: str, origin: str = "the Pendo integration key") -> str:
    """The key unchanged, or a one-line ConfigError (see :func:`key_problem`)."""
    message = key_problem(text)
    if message:
        raise ConfigError(f"{origin}: {message}")
    return text
