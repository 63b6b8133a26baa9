"""One ``sync apply`` at a time: an exclusive ``flock`` on a lock file that names its holder.

Two applies of the same plan at once would both see "to do" and both create
(issue: 49 segments instead of 18). The kernel drops the lock when its process
dies, so ``kill -9`` never leaves a stale lock; the holder line (pid, host,
start time) is only there to tell the second run who is busy. It protects runs
on one machine (``flock`` over NFS is unreliable; in CI use a concurrency group).
"""

from __future__ import annotations

import os
from pathlib import Path

from pendo_segments.base.filelock import HolderLock
from pendo_segments.errors import SyncError


class ApplyLock(HolderLock):
    """``with ApplyLock(path, wait=2.0):`` or a SyncError naming who holds it."""

    def __init__(self, path: str | os.PathLike[str], *, wait: float = 0.0) -> None:
        def busy(holder: str) -> SyncError:
            return SyncError(
                f"{Path(path)}: another sync apply is running ({holder}); nothing "
                "was written: wait for it, then run sync plan again"
            )

        super().__init__(path, busy=busy, wait=wait)
