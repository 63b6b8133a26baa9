"""One ``sync apply`` at a time: an exclusive ``flock`` on a lock file that names its holder.

Two applies of the same plan at once would both see "to do" and both create
(issue: 49 segments instead of 18). The kernel drops the lock when its process
dies, so ``kill -9`` never leaves a stale lock; the holder line (pid, host,
start time) is only there to tell the second run who is busy. It protects runs
on one machine (``flock`` over NFS is unreliable; in CI use a concurrency group).
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
from pathlib import Path
from typing import IO, Any

from pendo_segments.errors import SyncError


class ApplyLock:
    """``with ApplyLock(path, wait=2.0):`` or a SyncError naming who holds it."""

    def __init__(self, path: str | os.PathLike[str], *, wait: float = 0.0) -> None:
        self.path = Path(path)
        self.wait = wait
        self._fh: IO[str] | None = None

    def __enter__(self) -> ApplyLock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            raise SyncError("the sync lock needs a POSIX system (fcntl)") from None
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
                    raise SyncError(
                        f"{self.path}: another sync apply is running ({holder}); nothing "
                        "was written: wait for it, then run sync plan again"
                    ) from None
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
