"""What a browser test counts as a broken page: console errors and warnings, and
uncaught page errors (the report, the QBR pages and the guide gallery alike)."""

from __future__ import annotations

from typing import Any


def watch(page: Any, problems: list[str]) -> None:
    """Append each console error / warning and uncaught error of ``page`` to ``problems``."""
    page.on(
        "console",
        lambda m: (
            problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning")
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
