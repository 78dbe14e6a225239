"""When the open batch is written, and how long the loop may wait for more records.

Adaptive, so neither latency at low rates nor throughput under a backlog needs tuning:

- under a backlog — a read returns as many messages as it asked for — the batch fills
  up to ``batch.max.records`` / ``batch.max.bytes``: few, large writes;
- caught up — a read drained what had been fetched — the batch is written once it has
  lingered ``LINGER``, or twice the task's average write if that is longer (a write
  that costs more than the wait would otherwise spend the task's CPU on per-batch
  work: a SQLite commit, a vector index), so a record waits milliseconds, not
  ``batch.max.age.ms``; while a
  pipelined writer's previous batch is still being written the batch keeps filling and
  goes as soon as that write ends (the write's own latency sets the batch size);
- ``batch.max.age.ms`` stays the upper bound either way, and a writer that pays per
  call (``BatchWriter.fills_batches``: HubSpot's ten-second budget) keeps filling up to
  it even when caught up.
"""

from __future__ import annotations

from offramp.config import ConnectorSettings
from offramp.metrics import TaskMetrics
from offramp.task.ingest import Batch

__all__ = ["IDLE_WAIT", "LINGER", "BatchPolicy"]

LINGER = 0.01
"""Caught up, a batch waits this long (seconds) for company: records that arrive
together are written together, at a cost of milliseconds."""

IDLE_WAIT = 0.5  # nothing to write: how long one wait for a record may block


class BatchPolicy:
    def __init__(
        self, settings: ConnectorSettings, fills_batches: bool, metrics: TaskMetrics | None = None
    ) -> None:
        self._metrics = metrics
        self._max_records = settings.batch_max_records
        self._max_bytes = settings.batch_max_bytes
        self._max_age = settings.batch_max_age_ms / 1000.0
        self._fills = fills_batches

    def write_now(self, batch: Batch, caught_up: bool, writing: bool, now: float) -> bool:
        """Whether ``batch`` is due; ``writing``: a pipelined write is still running."""
        if not batch.positions:
            return False
        records = batch.records
        if not records:
            return True  # only filtered or dead-lettered records: handled at once
        if (
            len(records) >= self._max_records
            or batch.bytes >= self._max_bytes
            or now - batch.started >= self._max_age
        ):
            return True
        if self._fills or writing or not caught_up:
            return False
        return now - batch.started >= self.linger()

    def linger(self) -> float:
        """How long a caught-up batch waits for company: ``LINGER``, or twice the
        average write so far when that is longer (capped by the batch age)."""
        m = self._metrics
        if m is None or not m.batches:
            return LINGER
        return min(max(LINGER, 2.0 * m.write_seconds_sum / m.batches), self._max_age)

    def wait(self, batch: Batch, caught_up: bool, now: float) -> float:
        """How long the loop may block for the next record before ``batch`` is due."""
        if not batch.records:
            return IDLE_WAIT
        due = batch.started + self._max_age
        if caught_up and not self._fills:
            due = min(due, batch.started + self.linger())
        return max(0.0, due - now)
