"""What counts as one email address, and when two addresses are one mailbox.

A visitor's ``email`` must be exactly one mailbox: no display name
(``Emma <e@x>``), no list (``a@x, b@y``), no CR/LF (header injection), a
syntactically valid domain. email-validator decides, without DNS lookups
(a scheduled job must not depend on the resolver). Anything else is an
``invalid_address``: reported, never sent, never retried, and never in the
way of the other visitors.
"""

from __future__ import annotations

INVALID_ADDRESS = "invalid_address"


def check_address(text: str) -> tuple[str | None, str | None]:
    """``(normalised address, None)``, or ``(None, why)`` when ``text`` is not exactly
    one mailbox. The reason is one line (control characters are named, not printed)."""
    from email_validator import EmailNotValidError, validate_email

    try:
        checked = validate_email(text, check_deliverability=False, allow_display_name=False)
    except EmailNotValidError as err:
        return None, " ".join(str(err).split())
    return str(checked.normalized), None


def mailbox_key(address: str) -> str:
    """Addresses that reach one mailbox share this key: normalised, then case-folded
    (``Emma@Acme.example`` and ``emma@acme.EXAMPLE`` are one mailbox)."""
    normalised, _ = check_address(address)
    return (normalised or address.strip()).casefold()
