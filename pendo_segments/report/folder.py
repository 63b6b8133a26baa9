"""Write the report folder in one step, and never delete what the tool did not write.

The new report is built in a sibling temp folder and renamed into place.
An existing folder is replaced only when it is empty or is an earlier report
holding nothing but the files its marker lists; anything else is refused,
so a typo in ``--out`` cannot wipe someone's folder.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pendo_segments.errors import ConfigError

MARKER = ".pendo-segments-report.json"


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def check_replaceable(target: Path) -> None:
    """Raise unless ``target`` is absent, empty, or a report holding only its own files."""
    if not target.exists():
        return
    if not target.is_dir():
        raise ConfigError(f"{target}: exists and is not a folder")
    present = _files(target)
    if not present and not any(target.iterdir()):
        return
    marker = target / MARKER
    if not marker.is_file():
        raise ConfigError(
            f"{target}: folder is not empty and was not written by pendo-segments report; "
            "choose a new or empty folder"
        )
    try:
        listed = set(json.loads(marker.read_text(encoding="utf-8")).get("files", []))
    except (ValueError, AttributeError):
        raise ConfigError(
            f"{target}/{MARKER}: unreadable marker; remove the folder by hand"
        ) from None
    foreign = sorted(present - listed - {MARKER})
    if foreign:
        raise ConfigError(
            f"{target}: holds files the report did not write ({', '.join(foreign[:3])}); "
            "move them or choose another folder"
        )


@contextlib.contextmanager
def report_folder(target: Path) -> Iterator[Path]:
    """Yield a temp folder to fill; on success it becomes ``target`` (with a marker)."""
    check_replaceable(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
        files = sorted(_files(tmp))
        (tmp / MARKER).write_text(
            json.dumps({"tool": "pendo-segments report", "files": files}, indent=1) + "\n",
            encoding="utf-8",
        )
        tmp.chmod(0o755)
        if target.exists():
            check_replaceable(target)  # nothing appeared meanwhile
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            old.rmdir()
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old)
        else:
            tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
