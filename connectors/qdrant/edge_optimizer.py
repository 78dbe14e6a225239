"""Run one Qdrant Edge shard's optimizers in a process of its own.

``EdgeClient.optimize`` closes the shard, runs this file as a script with the shard's
directory and its own pid, and opens the shard again when it ends. Edge's ``optimize()``
holds the GIL for its whole run (seconds per 20 000 384-d points), so run in the worker
it stopped every task of every connector; here it stops only the writes that wait for
this collection. Run by path, not as a module, so it imports nothing but Qdrant Edge.

It must never outlive the worker: a worker killed with ``kill -9`` and started again at
once would find the shard's log locked by an optimizer still running. So the kernel is
asked to kill it when the thread that started it ends (``PR_SET_PDEATHSIG``), which
holds through the GIL hold where no Python-level watchdog could run.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the worker ended before the request took hold
        sys.exit(3)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: edge_optimizer.py SHARD_DIR PARENT_PID", file=sys.stderr)
        return 2
    shard_dir, parent = argv[1], int(argv[2])
    _die_with(parent)
    import qdrant_edge as qe  # after the death signal is armed: loading may take a while

    try:
        shard = qe.EdgeShard.load(shard_dir)
        try:
            shard.optimize()
            shard.flush()
        finally:
            shard.close()
    except Exception as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
