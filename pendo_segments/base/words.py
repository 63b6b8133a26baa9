"""Counted nouns for messages people read ("1 account", "3 accounts", never "account(s)")."""

from __future__ import annotations


def plural(n: int, word: str, many: str | None = None) -> str:
    """``n`` and ``word``, with ``many`` (default ``word + "s"``) unless ``n`` is 1."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def are(n: int) -> str:
    """The verb that agrees with ``n`` things."""
    return "is" if n == 1 else "are"


#: How sync treats every managed segment, said the same way by `compile`, `demo` and the docs:
#: no Pendo API writes rule segments, so recipes are for building a rule by hand.
PENDO_UPLOAD_NOTE = (
    "sync uploads every managed segment as a visitor list; "
    "recipes are for building the rule by hand in Pendo"
)
