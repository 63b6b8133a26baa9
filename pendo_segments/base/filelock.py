"""An exclusive ``flock`` on a lock file that names its holder: one run at a time.

The kernel drops the lock when its process dies, so ``kill -9`` never leaves a
stale lock; the holder line (pid, host, start time) is only there to tell a
second run who is busy. It protects runs on one machine (``flock`` over NFS is
unreliable; in CI use a concurrency group). ``sync apply`` and the campaign's
sending runs each hold one.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from pendo_segments.errors import PendoSegmentsError


class HolderLock:
    """``with HolderLock(path, busy=...):``; ``busy(holder)`` builds the error for a held lock."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy: Callable[[str], PendoSegmentsError],
        wait: float = 0.0,
    ) -> None:
        self.path = Path(path)
        self.wait = wait
        self._busy = busy
        self._fh: IO[str] | None = None

    def __enter__(self) -> HolderLock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            raise PendoSegmentsError("file locks need a POSIX system (fcntl)") from None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until __exit__
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    fh.seek(0)
                    holder = fh.read().strip() or "another process"
                    fh.close()
                    raise self._busy(holder) from None
                time.sleep(0.05)
        fh.seek(0)
        fh.truncate()
        started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        fh.write(f"pid {os.getpid()} on {socket.gethostname()} since {started}\n")
        fh.flush()
        self._fh = fh
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._fh is not None:
            self._fh.close()  # closing the descriptor releases the flock
            self._fh = None
