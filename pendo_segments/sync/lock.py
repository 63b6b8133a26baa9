"""One ``sync apply`` per Pendo subscription at a time: an exclusive ``flock`` on a lock
file in a per-user state folder, named after the subscription, that names its holder.

Two applies of the same plan at once would both see "to do" and both create
(issue: 49 segments instead of 18). The lock is keyed on the subscription (base
URL and a hash of the integration key, never the key), not on the audit log, so
two runs from two folders still exclude each other. It lives in
``$PENDO_SEGMENTS_STATE_DIR`` (tests), else ``$XDG_STATE_HOME/pendo-segments``,
else ``~/.local/state/pendo-segments``. The kernel drops the lock when its process
dies, so ``kill -9`` never leaves a stale lock; the holder line (pid, host, start
time) only tells the second run who is busy. It protects runs on one machine
(``flock`` over NFS is unreliable); runs on two machines are caught after the fact:
``sync apply`` looks the name up after each create and deletes a duplicate.
"""

from __future__ import annotations

import os
from pathlib import Path

from pendo_segments.base.filelock import HolderLock
from pendo_segments.errors import SyncError

STATE_DIR_ENV = "PENDO_SEGMENTS_STATE_DIR"


def state_dir(env: dict[str, str] | None = None) -> Path:
    """The per-user folder for locks (XDG base directory spec: a relative
    ``XDG_STATE_HOME`` is ignored)."""
    env = dict(os.environ) if env is None else env
    if env.get(STATE_DIR_ENV, "").strip():
        return Path(env[STATE_DIR_ENV].strip()).expanduser()
    xdg = env.get("XDG_STATE_HOME", "").strip()
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "pendo-segments"
    try:
        home = Path.home()
    except RuntimeError:  # no HOME and no password entry
        raise SyncError(
            f"no folder for the sync apply lock: set {STATE_DIR_ENV} or XDG_STATE_HOME"
        ) from None
    return home / ".local" / "state" / "pendo-segments"


def subscription_lock_path(subscription: str, env: dict[str, str] | None = None) -> Path:
    """The lock of one subscription (``PendoClient.subscription_id()``)."""
    return state_dir(env) / f"sync-apply-{subscription}.lock"


class ApplyLock(HolderLock):
    """``with ApplyLock(path, wait=2.0):`` or a SyncError naming who holds it."""

    def __init__(self, path: str | os.PathLike[str], *, wait: float = 0.0) -> None:
        def busy(holder: str) -> SyncError:
            return SyncError(
                f"{Path(path)}: another sync apply is running for this Pendo subscription "
                f"({holder}); nothing was written: wait for it, then run sync plan again"
            )

        super().__init__(path, busy=busy, wait=wait)

    def __enter__(self) -> ApplyLock:
        try:
            super().__enter__()
        except OSError as err:  # read-only or full state folder: one line, nothing written
            raise SyncError(
                f"{self.path}: cannot take the sync apply lock ({err.strerror or err}); "
                f"nothing was written: set {STATE_DIR_ENV} or XDG_STATE_HOME to a writable folder"
            ) from None
        return self
