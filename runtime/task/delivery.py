"""Delivery: one batch to the writer — retried, bisected, dead-lettered — or an error.

What ``write`` may do and what follows (Kafka Connect's rules, see docs/plugins.md):

- return normally: every record written, except the ``RecordFailure``s it returns,
  which go to the dead-letter path;
- raise ``RetriableError``: the same records are written again after a backoff, for as
  long as ``errors.retry.timeout`` allows (-1, the default: as long as it takes); the
  caller's ``Waits`` keep the consumer in its group meanwhile;
- raise ``BatchError``: the batch was refused without naming a record; it is split in
  halves (``offramp.bisection``) until the refused records stand alone, and those are
  dead-lettered;
- raise anything else (``FatalError``, or an exception the writer let escape): the
  batch is not written and the error goes up, failing the task with its trace. It is
  never bisected and never dead-lettered: an outage must not empty a stream into the
  dead-letter topic.

Records of partitions revoked while a batch waits for a retry are left out of the next
attempt (their new owner reads them again): ``owned`` says which records still count.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Protocol

from tenacity import RetryCallState

from offramp.bisection import settle_in_halves
from offramp.errors import BatchError, RetriableError, ThrottledError
from offramp.metrics import TaskMetrics
from offramp.plugin import BatchWriter, RecordFailure
from offramp.records import SinkRecord
from offramp.retry import RetryPolicy
from offramp.task.failures import FailureReporter

__all__ = ["Delivery", "Waits", "retry_message"]

log = logging.getLogger("offramp.task")


class Waits(Protocol):
    """How a delivery waits out a backoff, and whom it tells (the task thread polls
    Kafka meanwhile; the write thread of a pipelined writer just sleeps)."""

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``; raise to end the delivery early (a stop, a cancel)."""

    def retrying(self, message: str) -> None:
        """A write failed transiently and will be retried; ``message`` says why."""

    def recovered(self) -> None:
        """A write that was retried has succeeded (or the delivery ended)."""


class Owned(Protocol):
    """Whether a record still belongs to this task (see ``TaskRun.owned_by``)."""

    def unchanged(self) -> bool:
        """True when nothing was revoked since the batch was read (the usual case)."""

    def __call__(self, record: SinkRecord) -> bool: ...


class Delivery:
    """Delivers batches to one writer (one delivery at a time)."""

    def __init__(
        self,
        writer: BatchWriter,
        retry: RetryPolicy,
        reporter: FailureReporter,
        metrics: TaskMetrics,
        class_name: str,
        name: str,
    ) -> None:
        self._writer = writer
        self._retry = retry
        self._reporter = reporter
        self._metrics = metrics
        self._class_name = class_name
        self._name = name

    def deliver(
        self,
        records: list[SinkRecord],
        waits: Waits,
        owned: Owned | None = None,
        deadline: float | None = None,
    ) -> bool:
        """Write ``records``; True when some of them were dead-lettered."""
        dead_letters = [False]

        def fail(record: SinkRecord, exc: Exception) -> None:
            if owned is None or owned(record):
                dead_letters[0] = True
                self._reporter.failed(record.message, "TASK_PUT", exc, self._class_name)

        def send(part: Sequence[SinkRecord]) -> None:
            if self._attempt(part, waits, owned, deadline):
                dead_letters[0] = True

        try:
            send(records)  # the very list: a pipelined writer's prepare() result is keyed by it
        except BatchError as exc:
            log.info("task %s: batch of %d refused (%s); bisecting", self._name, len(records), exc)
            if len(records) == 1:
                fail(records[0], exc)
            else:
                middle = len(records) // 2
                for half in (records[:middle], records[middle:]):
                    settle_in_halves(half, send, fail, _is_refusal, on_split=self._split)
        return dead_letters[0]

    def _split(self, part: Sequence[SinkRecord], exc: Exception) -> None:
        log.info("task %s: batch of %d refused (%s); bisecting", self._name, len(part), exc)

    def _attempt(
        self,
        records: Sequence[SinkRecord],
        waits: Waits,
        owned: Owned | None,
        deadline: float | None,
    ) -> bool:
        """``records`` written with retries; True if some failed by name."""
        result: Sequence[RecordFailure] | None = None
        todo: Sequence[SinkRecord] = records
        retried = False

        def before_sleep(state: RetryCallState) -> None:
            nonlocal retried
            retried = True
            self._metrics.retries += 1
            waits.retrying(retry_message(state))

        try:
            for attempt in self._retry.retrying(waits.sleep, before_sleep, deadline):
                with attempt:
                    if owned is None or owned.unchanged():
                        todo = records
                    else:
                        todo = [r for r in records if owned(r)]
                    if not todo:
                        return False  # every partition revoked meanwhile: nothing to do
                    began = time.perf_counter()
                    result = self._writer.write(todo)
                    self._metrics.observe_write(len(todo), time.perf_counter() - began)
        finally:
            if retried:
                waits.recovered()
        failures = result or ()
        for failure in failures:
            if owned is None or owned(failure.record):
                self._reporter.failed(
                    failure.record.message,
                    "TASK_PUT",
                    failure.error,
                    self._class_name,
                    failure.context,
                )
        self._metrics.records_written += len(todo) - len(failures)
        return bool(failures)


def _is_refusal(exc: Exception) -> bool:
    return isinstance(exc, BatchError)


def retry_message(state: RetryCallState) -> str:
    """What the task's status says while it waits to try again."""
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, ThrottledError):
        resume_at = time.strftime(
            "%H:%M:%S", time.localtime(time.time() + (exc.retry_after or 0.0))
        )
        return f"throttled until {resume_at}: {exc.reason}"
    assert isinstance(exc, RetriableError)
    return f"retrying after attempt {state.attempt_number} failed: {exc}"
