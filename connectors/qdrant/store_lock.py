"""Whether an embedded store's lock file is held: both engines lock their directory."""

from __future__ import annotations

import os

import portalocker

__all__ = ["lock_held"]


def lock_held(lock_file: str) -> bool:
    """True if a process (this one or another) holds ``lock_file`` now."""
    if not os.path.exists(lock_file):
        return False
    with open(lock_file, "r+") as f:
        try:
            portalocker.lock(
                f, portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING
            )
        except portalocker.exceptions.LockException:
            return True
        portalocker.unlock(f)
        return False
