"""How a delivery waits out a retry backoff, on each of the two threads that write.

On the task thread the wait keeps polling with every partition paused, so the group
keeps the task however long the destination is down (Kafka Connect does the same);
what a poll still returns is carried to the next turn. On a pipelined writer's write
thread the wait only sleeps — the consumer is the task thread's — and ends early when
that one write is cancelled. Either way a stop or restart request ends the wait, and
the task's status says why it is waiting until the write succeeds.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from offramp.task.pipeline import WriteCancelled

if TYPE_CHECKING:
    from offramp.task.contracts import RunView

__all__ = ["StopRequested", "TaskThreadWaits", "WriteThreadWaits"]


class StopRequested(Exception):
    """Unwinds a wait when the task is asked to stop or restart."""


class TaskThreadWaits:
    def __init__(self, run: RunView) -> None:
        self._run = run

    def sleep(self, seconds: float) -> None:
        run = self._run
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if run.exit_requested():
                raise StopRequested()
            run.carry.extend(run.poll(100, min(0.2, left)))

    def retrying(self, message: str) -> None:
        self._run.pausing.add("retry")
        self._run.task.show_waiting(message)

    def recovered(self) -> None:
        self._run.pausing.discard("retry")
        self._run.task.show_waiting(None)


class WriteThreadWaits:
    def __init__(self, run: RunView, cancel: threading.Event) -> None:
        self._run = run
        self._cancel = cancel

    def sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self._cancel.is_set():
                raise WriteCancelled()
            if self._run.exit_requested():
                raise StopRequested()
            self._cancel.wait(min(0.05, left))

    def retrying(self, message: str) -> None:
        self._run.task.show_waiting(message)  # the task thread pauses once it waits on us

    def recovered(self) -> None:
        self._run.task.show_waiting(None)
