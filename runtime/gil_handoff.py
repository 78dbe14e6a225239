"""The interpreter's thread switch interval, for tasks that write on a thread of their own.

A pipelined write (``BatchWriter.pipelined``) goes back and forth with its target
several times per batch (the database: start a COPY, stream it, end it, a statement, a
commit), and after each round trip its thread needs the GIL back to go on. Meanwhile
the task thread reads, converts and prepares the next batch, holding the GIL, and
CPython only makes a running thread hand it over after the switch interval: 5 ms by
default. So every round trip could leave the target idle for up to 5 ms more, several
times per batch. Measured with ``bench/bench_sql.py`` (200,000 rows, one task, 5 runs
each): 0.74 of the raw loop at 5 ms, 0.86 at 0.5 ms.

A shorter interval costs a CPU-bound thread little: a switch takes microseconds, and
only happens when another thread is waiting for the GIL.
"""

from __future__ import annotations

import sys

__all__ = ["SWITCH_INTERVAL_S", "shorten_switch_interval"]

SWITCH_INTERVAL_S = 0.0005


def shorten_switch_interval() -> None:
    """Make the switch interval 0.5 ms, unless it is shorter already (an embedder's
    choice is never lengthened). Process-wide, and kept once set."""
    if sys.getswitchinterval() > SWITCH_INTERVAL_S:
        sys.setswitchinterval(SWITCH_INTERVAL_S)
