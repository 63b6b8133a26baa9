"""Where the shipped, user-editable folders live (segment_defs/, guide_templates/).

They are real files users edit in their own checkout, not package data. A
command looks in the current folder first; otherwise it falls back to the
copy next to the package (an editable install or a checkout) or the one
installed under ``<prefix>/share/pendo-segments``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pendo_segments.errors import ConfigError

FOLDERS = ("segment_defs", "guide_templates")


def shipped_path(name: str, *, prefer_cwd: bool = True) -> Path:
    if name not in FOLDERS:
        raise ValueError(name)
    candidates = [
        Path.cwd() / name if prefer_cwd else None,
        Path(__file__).resolve().parent.parent / name,
        Path(sys.prefix) / "share" / "pendo-segments" / name,
    ]
    for path in candidates:
        if path is not None and path.is_dir():
            return path
    raise ConfigError(f"cannot find the shipped '{name}' folder; run from a checkout or pass it")
