"""Pausing a task's partitions: fetching stops, polling goes on (Kafka is the buffer).

A task pauses for reasons — an operator's pause ("user"), a write waiting to be retried
("retry") — and fetches again only when no reason is left, so a retry that ends during
an operator's pause doesn't resume it. Every partition assigned is set to match: a new
one is paused on assignment while the task is paused, and resumed if it was revoked
while paused (``match``), because librdkafka keeps a partition's pause flag across
unassign. Only those: librdkafka finds each partition named in pause() or resume() by
a walk over all its topics, so resuming every new partition of 2000 single-partition
topics took ~60 ms of the loop for nothing.
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
        # Partitions told to pause and not told to resume since: the assigned ones while
        # paused, and any revoked while paused (librdkafka still holds their flag).
        self._flagged: set[TopicPartition] = set()

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
        if self.paused:
            if partitions:
                consumer.pause(partitions)
                self._flagged.update(TopicPartition(p.topic, p.partition) for p in partitions)
            return
        if not self._flagged:
            return
        stale = [p for p in partitions if (p.topic, p.partition) in self._flagged]
        if stale:
            consumer.resume(stale)
            self._flagged.difference_update(TopicPartition(p.topic, p.partition) for p in stale)

    def _sync(self) -> None:
        want = bool(self._reasons)
        if want == self.paused or self.consumer is None:
            return
        assigned = self._assigned()
        tps = [KafkaTopicPartition(t, p) for t, p in assigned]
        if tps:
            (self.consumer.pause if want else self.consumer.resume)(tps)
        if want:
            self._flagged.update(assigned)
        else:
            self._flagged.difference_update(assigned)
        self.paused = want
