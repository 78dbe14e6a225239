"""Pausing a task's partitions: fetching stops, polling goes on (Kafka is the buffer).

A task pauses for reasons — an operator's pause ("user"), a write waiting to be retried
("retry") — and fetches again only when no reason is left, so a retry that ends during
an operator's pause doesn't resume it. Every partition assigned is set to match: a new
one is paused or resumed explicitly on assignment (``match``), because librdkafka keeps
a partition's pause flag across unassign.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from confluent_kafka import TopicPartition as KafkaTopicPartition

from offramp.consumer import ConsumerLike
from offramp.records import TopicPartition

__all__ = ["PauseControl"]


class PauseControl:
    def __init__(self, assigned: Callable[[], Collection[TopicPartition]]) -> None:
        self._assigned = assigned
        self._reasons: set[str] = set()
        self.consumer: ConsumerLike | None = None
        self.paused = False  # what the consumer was last told, for every partition

    def has(self, reason: str) -> bool:
        return reason in self._reasons

    def add(self, reason: str) -> None:
        self._reasons.add(reason)
        self._sync()

    def discard(self, reason: str) -> None:
        self._reasons.discard(reason)
        self._sync()

    def match(self, consumer: ConsumerLike, partitions: list[KafkaTopicPartition]) -> None:
        """Newly assigned ``partitions`` fetch, or not, as the task does."""
        if partitions:
            (consumer.pause if self.paused else consumer.resume)(partitions)

    def _sync(self) -> None:
        want = bool(self._reasons)
        if want == self.paused or self.consumer is None:
            return
        tps = [KafkaTopicPartition(t, p) for t, p in self._assigned()]
        if tps:
            (self.consumer.pause if want else self.consumer.resume)(tps)
        self.paused = want
