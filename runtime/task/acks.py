"""The acknowledgement ledger of a share-group task (``group.type=share``).

A share consumer in explicit mode refuses to poll again until every record of the
last poll is acknowledged, so the ledger holds exactly one poll's records. Each gets
one acknowledgement: ACCEPT (written, or its dead letter acknowledged), RELEASE (back
to the group for another delivery) or REJECT (never delivered again). ``commit``
sends them and checks each partition's answer: a partition whose acknowledgements
failed gets its records again once their locks expire, so the failure is logged and
counted, never fatal (at-least-once holds either way).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence

from confluent_kafka import AcknowledgeType, Message

from offramp.consumer import ShareConsumerLike
from offramp.metrics import TaskMetrics

__all__ = ["AckLedger", "record_key"]

log = logging.getLogger("offramp.task")

RecordKey = tuple[str, int, int]


def record_key(message: Message) -> RecordKey:
    return (message.topic() or "", message.partition() or 0, message.offset() or 0)


class AckLedger:
    """The records of the last poll not yet acknowledged, and their commit."""

    def __init__(self, consumer: ShareConsumerLike, metrics: TaskMetrics, name: str) -> None:
        self._consumer = consumer
        self._metrics = metrics
        self._name = name
        self._pending: dict[RecordKey, Message] = {}

    @property
    def outstanding(self) -> int:
        return len(self._pending)

    def acquired(self, messages: Sequence[Message]) -> None:
        """A poll's records (error events carry no record and need no acknowledgement)."""
        for m in messages:
            if m.error() is None:
                self._pending[record_key(m)] = m
                count = m.delivery_count()
                if count is not None and count > 1:
                    self._metrics.share_redeliveries += 1

    def pending(self) -> list[Message]:
        return list(self._pending.values())

    def accept(self, messages: Iterable[Message]) -> None:
        self._ack(messages, AcknowledgeType.ACCEPT)

    def release(self, messages: Iterable[Message]) -> None:
        self._ack(messages, AcknowledgeType.RELEASE)

    def reject(self, messages: Iterable[Message]) -> None:
        self._ack(messages, AcknowledgeType.REJECT)

    def release_rest(self) -> int:
        """RELEASE whatever is still unacknowledged; how many that was."""
        rest = self.pending()
        self.release(rest)
        return len(rest)

    def _ack(self, messages: Iterable[Message], kind: AcknowledgeType) -> None:
        for m in messages:
            if self._pending.pop(record_key(m), None) is None:
                continue  # acknowledged already (or not of this poll)
            self._consumer.acknowledge(m, kind)
            if kind == AcknowledgeType.ACCEPT:
                self._metrics.share_accepted += 1
            elif kind == AcknowledgeType.RELEASE:
                self._metrics.share_released += 1
            else:
                self._metrics.share_rejected += 1

    def commit(self, timeout: float = 30.0) -> bool:
        """Send the acknowledgements; False when some partition's were refused."""
        began = time.perf_counter()
        results = self._consumer.commit_sync(timeout)
        failed = {tp: err for tp, err in results.items() if err is not None}
        self._metrics.observe_commit(time.perf_counter() - began, not failed)
        for tp, err in failed.items():
            log.warning(
                "task %s: acknowledgements for %s-%s refused (its records come back when "
                "their locks expire): %s",
                self._name,
                getattr(tp, "topic", tp),
                getattr(tp, "partition", ""),
                err,
            )
        return not failed
