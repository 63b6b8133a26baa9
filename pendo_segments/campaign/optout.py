"""The opt-out list: people who asked not to get campaign emails.

Either a CSV with a header naming a ``visitor_id`` and/or ``email`` column, or
a plain list with one visitor id or email address per line (``#`` starts a
comment; an entry with ``@`` is an email). Emails match case-insensitively.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from pendo_segments.errors import ConfigError


@dataclass(frozen=True)
class OptOuts:
    visitor_ids: frozenset[str] = field(default_factory=frozenset)
    emails: frozenset[str] = field(default_factory=frozenset)

    def __contains__(self, who: tuple[str, str | None]) -> bool:
        visitor_id, email = who
        return visitor_id in self.visitor_ids or (
            email is not None and email.strip().lower() in self.emails
        )

    def __len__(self) -> int:
        return len(self.visitor_ids) + len(self.emails)


def load_opt_outs(path: Path | None) -> OptOuts:
    """Read the opt-out file; ``None`` means nobody opted out."""
    if path is None:
        return OptOuts()
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: opt-out file not found (campaign.no_login.opt_out_file)"
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the opt-out file: {err}") from None
    lines = text.splitlines()
    header = [h.strip().lower() for h in next(csv.reader(lines[:1]), [])]
    if {"visitor_id", "email"} & set(header):
        return _from_csv(lines, header, path)
    ids: set[str] = set()
    emails: set[str] = set()
    for line in lines:
        entry = line.split("#", 1)[0].strip()
        if entry:
            (emails if "@" in entry else ids).add(entry.lower() if "@" in entry else entry)
    return OptOuts(frozenset(ids), frozenset(emails))


def _from_csv(lines: list[str], header: list[str], path: Path) -> OptOuts:
    ids: set[str] = set()
    emails: set[str] = set()
    for number, row in enumerate(csv.reader(lines[1:]), start=1):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise ConfigError(
                f"{path}: row {number}: expected {len(header)} columns, got {len(row)}"
            )
        record = dict(zip(header, (c.strip() for c in row), strict=True))
        if record.get("visitor_id"):
            ids.add(record["visitor_id"])
        if record.get("email"):
            emails.add(record["email"].lower())
    return OptOuts(frozenset(ids), frozenset(emails))
