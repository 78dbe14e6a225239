"""What a task does when the group moves partitions (the callbacks run inside ``consume``).

- assigned: the writer opens the partitions (an exactly-once sink answers where to
  start), the ledger opens a book for each, and each new partition is paused or
  resumed explicitly to match the task — librdkafka keeps a partition's pause flag
  across unassign, so one revoked while paused would otherwise come back never fetched.
- revoked: the write in flight is waited for (bounded by
  ``task.revocation.flush.timeout.ms``, then cancelled and redone for the partitions
  kept), what the ledger allows for the revoked partitions is committed, the writer
  closes them, and their records still unwritten are dropped: the new owner reads them
  again from that commit.
- lost: the same without the commit — another member may own them already.

No callback lets an exception out (it would surface from ``consume()`` inside a retry
backoff or a wait and be mistaken for something else): the first one is kept on the
run and raised by ``RunView.poll``, failing the task; the partitions are still assigned
or unassigned, so the consumer's view stays consistent until it is closed.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from confluent_kafka import TopicPartition as KafkaTopicPartition

from offramp.errors import RetriableError
from offramp.records import TopicPartition

if TYPE_CHECKING:
    from offramp.task.contracts import RunView

__all__ = ["Rebalancer"]

log = logging.getLogger("offramp.task")


class Rebalancer:
    """The consumer's rebalance callbacks for one run."""

    def __init__(self, run: RunView, incremental: bool) -> None:
        self._run = run
        self._incremental = incremental

    def _keep(self, exc: BaseException) -> None:
        if self._run.callback_error is None:
            self._run.callback_error = exc

    def _bound(self) -> float:
        return self._run.settings.task_revocation_flush_timeout_ms / 1000.0

    def on_assign(self, consumer: Any, partitions: list[KafkaTopicPartition]) -> None:
        run = self._run
        tps = [TopicPartition(p.topic, p.partition) for p in partitions]
        starts: dict[TopicPartition, int] = {}
        if tps and not run.closing:  # cooperative rebalances often assign nothing new
            try:
                run.settle_in_flight(bounded=self._bound())  # open() never beside a write
                starts = self._open(tps)
            except BaseException as exc:
                self._keep(exc)  # the task fails; these partitions are never consumed
                tps = []
        for p in partitions:
            start = starts.get(TopicPartition(p.topic, p.partition))
            if start is not None:
                p.offset = start
        if self._incremental:
            consumer.incremental_assign(partitions)
        else:
            consumer.assign(partitions)
        if not tps:
            return
        run.ledger.assign(tps, starts)
        run.pausing.match(consumer, partitions)
        run.metrics.partitions_assigned += len(tps)
        log.info("task %s: assigned %s", run.name, ", ".join(f"{t}-{p}" for t, p in tps))

    def _open(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        """``writer.open``, retried briefly if the destination blinks (a dropped
        connection): failing the task for it would cost a restart and a rebalance."""
        deadline = time.monotonic() + self._bound()
        delay = 0.2
        while True:
            try:
                return dict(self._run.writer.open(tps) or {})
            except RetriableError as exc:
                if time.monotonic() + delay > deadline or self._run.exit_requested():
                    raise
                log.warning("task %s: opening partitions failed, retrying: %s", self._run.name, exc)
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    def on_revoke(self, consumer: Any, partitions: list[KafkaTopicPartition]) -> None:
        run = self._run
        revoked = {TopicPartition(p.topic, p.partition) for p in partitions}
        run.metrics.partitions_revoked += len(revoked)
        if revoked and not run.closing:
            try:
                run.commit(only=revoked, bounded=self._bound())
            except BaseException as exc:
                self._keep(exc)
        self._release(consumer, partitions, revoked)

    def on_lost(self, consumer: Any, partitions: list[KafkaTopicPartition]) -> None:
        run = self._run
        lost = {TopicPartition(p.topic, p.partition) for p in partitions}
        log.warning("task %s: partitions lost: %s", run.name, sorted(lost))
        if lost and not run.closing:
            try:
                run.settle_in_flight(bounded=self._bound())  # close() never beside a write
            except BaseException as exc:
                self._keep(exc)
        self._release(consumer, partitions, lost)

    def _release(
        self, consumer: Any, partitions: list[KafkaTopicPartition], tps: set[TopicPartition]
    ) -> None:
        run = self._run
        if tps and not run.closing:
            try:
                run.writer.close(sorted(tps & run.ledger.assigned))
            except BaseException as exc:
                self._keep(exc)
        run.ledger.forget(tps)
        run.open.without(tps)
        if run.redo is not None:
            run.redo.without(tps)
        run.carry = [
            m for m in run.carry if TopicPartition(m.topic() or "", m.partition() or 0) not in tps
        ]
        for tp in tps:
            run.metrics.consumer_lag.pop(tp, None)
        if self._incremental:
            consumer.incremental_unassign(partitions)
        else:
            consumer.unassign()
