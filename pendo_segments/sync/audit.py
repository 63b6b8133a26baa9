"""The sync audit log: one JSON object per line, appended and fsynced line by line.

Each line: ``time`` (UTC), ``plan`` (plan id), ``action``, ``target``,
``counts``, ``result`` and optional details. Appending a whole line with one
``write`` on an ``O_APPEND`` file keeps lines intact even if the process is
killed; a torn last line (power loss) is skipped when reading.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any


class AuditLog:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def write(
        self,
        action: str,
        target: str,
        *,
        result: str,
        plan: str = "",
        counts: dict[str, Any] | None = None,
        **detail: Any,
    ) -> dict[str, Any]:
        entry = {
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "plan": plan,
            "action": action,
            "target": target,
            "counts": counts or {},
            "result": result,
            **{k: v for k, v in detail.items() if v is not None},
        }
        line = (json.dumps(entry, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        return entry

    def entries(self, plan: str | None = None) -> list[dict[str, Any]]:
        """Every readable line (of one plan when given), oldest first."""
        if not self.path.is_file():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict) and (plan is None or entry.get("plan") == plan):
                out.append(entry)
        return out
