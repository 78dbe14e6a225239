"""The consumer seam: the part of a Kafka consumer the task loop talks to.

Production tasks use ``confluent_kafka.Consumer`` itself (no wrapper, no cost on the
hot path). Tests pass a ``consumer_factory`` that builds a ``ScriptedConsumer``
(and a ``producer_factory`` for dead letters, ``ScriptedProducer``)
(``offramp.testing``), which fires assign, revoke and lost at exact points and keeps
librdkafka's quirks (a partition's pause flag survives unassign; ``commit`` reports
per-partition errors on the returned list).

The protocol is the subset of confluent-kafka's ``Consumer`` the loop uses: rebalance
callbacks run inside ``consume()``, and the callback assigns (``assign`` /
``incremental_assign``) itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from confluent_kafka import Message
from confluent_kafka import TopicPartition as KafkaTopicPartition

__all__ = [
    "ConsumerFactory",
    "ConsumerLike",
    "ProducerFactory",
    "ProducerLike",
    "RebalanceCallback",
    "ShareConsumerFactory",
    "ShareConsumerLike",
]

RebalanceCallback = Callable[[Any, list[KafkaTopicPartition]], None]


class ConsumerLike(Protocol):
    """What a task needs from its consumer (``confluent_kafka.Consumer`` fits)."""

    def subscribe(
        self,
        topics: list[str],
        on_assign: RebalanceCallback = ...,
        on_revoke: RebalanceCallback = ...,
        on_lost: RebalanceCallback = ...,
    ) -> None: ...

    def consume(self, num_messages: int = ..., timeout: float = ...) -> list[Message]: ...

    def position(self, partitions: list[KafkaTopicPartition]) -> list[KafkaTopicPartition]: ...

    def pause(self, partitions: list[KafkaTopicPartition]) -> None: ...

    def resume(self, partitions: list[KafkaTopicPartition]) -> None: ...

    def assign(self, partitions: list[KafkaTopicPartition]) -> None: ...

    def incremental_assign(self, partitions: list[KafkaTopicPartition]) -> None: ...

    def unassign(self) -> None: ...

    def incremental_unassign(self, partitions: list[KafkaTopicPartition]) -> None: ...

    def commit(
        self, *, offsets: Sequence[KafkaTopicPartition] = ..., asynchronous: bool = ...
    ) -> Sequence[Any] | None: ...

    def unsubscribe(self) -> None: ...

    def close(self) -> None: ...


class ProducerLike(Protocol):
    """What the dead-letter writer needs from a producer (``confluent_kafka.Producer``)."""

    def produce(self, topic: str, *args: Any, **kwargs: Any) -> None: ...

    def poll(self, timeout: float = ...) -> int: ...

    def flush(self, timeout: float = ...) -> int: ...


ConsumerFactory = Callable[[dict[str, Any]], ConsumerLike]
"""Builds a task's consumer from its librdkafka settings (``consumer_config``)."""

ProducerFactory = Callable[[dict[str, Any]], ProducerLike]
"""Builds the dead-letter producer from its librdkafka settings."""


class ShareConsumerLike(Protocol):
    """What a share-group task needs from its consumer (``confluent_kafka.ShareConsumer``
    in ``share.acknowledgement.mode=explicit``)."""

    def subscribe(self, topics: list[str]) -> None: ...

    def poll(self, timeout: float = ...) -> Sequence[Message]: ...

    def acknowledge(self, message: Message, ack_type: Any = ...) -> None: ...

    def commit_sync(self, timeout: float = ...) -> dict[Any, Any]: ...

    def close(self) -> None: ...


ShareConsumerFactory = Callable[[dict[str, Any]], ShareConsumerLike]
"""Builds a share-group task's consumer from its librdkafka settings."""
