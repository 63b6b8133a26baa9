"""Reading a JSON file a command wrote earlier (a saved plan), with one-line errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pendo_segments.errors import PendoSegmentsError


def read_json(path: str | Path, error: Callable[[str], PendoSegmentsError], what: str) -> Any:
    """The parsed file; a missing or unreadable one is ``error`` naming the file and ``what``."""
    file = Path(path)
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{file}: {what} file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise error(f"{file}: cannot read the {what} ({err})") from None
