"""The write thread of a ``pipelined`` writer: one batch in flight while the next is read.

A submitted batch is delivered on the write thread (retries there just sleep: only the
task thread touches the consumer). Its outcome is taken exactly once, by whoever needs
it first — the loop before the next batch, a commit, a rebalance callback, shutdown —
so a result can never be applied twice. Each write has its own cancel flag: cancelling
one (a rebalance that can't wait any longer) ends its retries at the next backoff and
hands the batch back to be written again; the next write starts clean.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass

from offramp.task.ingest import Batch

__all__ = ["Outcome", "WriteCancelled", "WritePipeline"]


class WriteCancelled(Exception):
    """A pipelined write was cancelled between attempts; its batch is to be redone."""


@dataclass
class Outcome:
    batch: Batch
    dead_letters: bool = False
    error: BaseException | None = None

    @property
    def cancelled(self) -> bool:
        return isinstance(self.error, WriteCancelled)


@dataclass
class _InFlight:
    batch: Batch
    future: Future[bool]
    cancel: threading.Event
    began: float


class WritePipeline:
    """One write thread; at most one batch in flight."""

    def __init__(self, name: str) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"write-{name}")
        self._in_flight: _InFlight | None = None

    @property
    def busy(self) -> bool:
        return self._in_flight is not None

    @property
    def in_flight_for(self) -> float:
        """Seconds the batch in flight has been on the write thread (0 when idle)."""
        return 0.0 if self._in_flight is None else time.monotonic() - self._in_flight.began

    def submit(self, batch: Batch, deliver: Callable[[Batch, threading.Event], bool]) -> None:
        """``deliver(batch, cancel)`` on the write thread; returns whether it dead-lettered."""
        assert self._in_flight is None, "one batch in flight at most"
        cancel = threading.Event()
        future = self._executor.submit(deliver, batch, cancel)
        self._in_flight = _InFlight(batch, future, cancel, time.monotonic())

    def wait(self, timeout: float | None) -> bool:
        """Wait up to ``timeout`` (None: for as long as it takes) for the write in
        flight; True when there is none left running (its outcome may still be waiting
        to be taken)."""
        in_flight = self._in_flight
        if in_flight is None:
            return True
        future = in_flight.future
        if future.done() or (timeout is not None and timeout <= 0):
            # The loop asks "still writing?" every turn: futures.wait() would build a
            # waiter, an Event and a Condition each time to answer it.
            return future.done()
        futures_wait([future], timeout=timeout)
        return future.done()

    def cancel(self) -> None:
        if self._in_flight is not None:
            self._in_flight.cancel.set()

    def take(self) -> Outcome | None:
        """The finished write's outcome, once; None if nothing is in flight. Blocks
        until the write ends (call ``wait`` or ``cancel`` first to bound it)."""
        in_flight = self._in_flight
        if in_flight is None:
            return None
        try:
            dead_letters = in_flight.future.result()
        except BaseException as exc:
            outcome = Outcome(in_flight.batch, error=exc)
        else:
            outcome = Outcome(in_flight.batch, dead_letters=dead_letters)
        self._in_flight = None
        return outcome

    def shutdown(self) -> None:
        """Cancel what is in flight and wait for the thread to end."""
        self.cancel()
        self._executor.shutdown(wait=True)
