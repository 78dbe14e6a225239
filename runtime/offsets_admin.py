"""Read and change a sink connector's consumer-group offsets: replay on demand.

A sink connector's progress is the committed offsets of its consumer group
``connect-<name>``. Changing them is only safe while nothing consumes for that group, so
the worker allows it only while the connector is STOPPED (as Kafka Connect does); the
broker refuses it anyway while the group has members.

What a change may say, per partition:

- ``kafka_offset``: start from exactly this offset (at most the partition's end);
- ``kafka_timestamp_ms`` (an offramp extension): start from the first record whose
  timestamp is at or after this time, found with ``list_offsets`` /
  ``OffsetSpec.for_timestamp``; a time after the last record means the partition's end;
- nothing (``offset: null``): start from the beginning of the partition.

Sinks that keep their own offsets (the exactly-once SQL sink stores them with its rows
and seeks there when partitions are assigned) are not moved by any of this: their own
store wins. Reset those in the sink's system.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import (
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # exported, but not in __all__
    AdminClient,
    OffsetSpec,
)

from offramp.errors import ConfigError, IllegalStateError

__all__ = ["OffsetChange", "OffsetsAdmin", "PartitionOffset", "group_id"]

_GROUP_BUSY = {
    KafkaError.NON_EMPTY_GROUP,
    KafkaError.UNKNOWN_MEMBER_ID,
    KafkaError.REBALANCE_IN_PROGRESS,
    KafkaError.GROUP_SUBSCRIBED_TO_TOPIC,
}


_EARLIEST: OffsetSpec = OffsetSpec.earliest()  # type: ignore[no-untyped-call]
_LATEST: OffsetSpec = OffsetSpec.latest()  # type: ignore[no-untyped-call]


def group_id(connector: str) -> str:
    """The consumer group of a sink connector, as Kafka Connect names it."""
    return f"connect-{connector}"


@dataclass(frozen=True)
class PartitionOffset:
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class OffsetChange:
    """Where one partition should start: an offset, a time, or (neither) the start."""

    topic: str
    partition: int
    offset: int | None = None
    timestamp_ms: int | None = None


def _code(exc: KafkaException) -> Any:
    err = exc.args[0] if exc.args else None
    return err.code() if isinstance(err, KafkaError) else None


class OffsetsAdmin:
    """Offsets of one consumer group, through the worker's admin client."""

    def __init__(self, admin: AdminClient, timeout: float = 15.0) -> None:
        self._admin = admin
        self._timeout = timeout

    def read(self, group: str) -> list[PartitionOffset]:
        """The group's committed offsets (none if the group never committed)."""
        request = ConsumerGroupTopicPartitions(group)
        future = self._admin.list_consumer_group_offsets([request], request_timeout=self._timeout)[
            group
        ]
        result = future.result(self._timeout)
        found = [
            PartitionOffset(tp.topic, tp.partition, tp.offset)
            for tp in result.topic_partitions or []
            if tp.error is None and tp.offset >= 0
        ]
        return sorted(found, key=lambda p: (p.topic, p.partition))

    def partitions(
        self, topics: Iterable[str] = (), pattern: str | None = None
    ) -> list[tuple[str, int]]:
        """Every partition of ``topics`` and of the topics matching ``pattern``."""
        metadata = self._admin.list_topics(timeout=self._timeout)
        wanted = set(topics)
        regex = re.compile(pattern) if pattern else None
        out: list[tuple[str, int]] = []
        for name, topic in metadata.topics.items():
            if name in wanted or (regex is not None and regex.fullmatch(name)):
                out.extend((name, p) for p in topic.partitions)
        return sorted(out)

    def resolve(self, changes: list[OffsetChange]) -> list[PartitionOffset]:
        """Concrete offsets for ``changes``; ``ConfigError`` naming every partition that
        doesn't exist or an offset past a partition's end."""
        metadata = self._admin.list_topics(timeout=self._timeout)
        errors: list[tuple[str, str]] = []
        for c in changes:
            topic = metadata.topics.get(c.topic)
            if topic is None or topic.error is not None:
                errors.append((f"{c.topic}-{c.partition}", f"no topic {c.topic!r}"))
            elif c.partition not in topic.partitions:
                reason = f"topic {c.topic!r} has no partition {c.partition}"
                errors.append((f"{c.topic}-{c.partition}", reason))
        if errors:
            raise ConfigError(errors)
        tps = {(c.topic, c.partition) for c in changes}
        ends = self._list(dict.fromkeys(tps, _LATEST))
        starts = self._list(
            {
                (c.topic, c.partition): _EARLIEST
                for c in changes
                if c.offset is None and c.timestamp_ms is None
            }
        )
        at_times = self._list(
            {
                (c.topic, c.partition): OffsetSpec.for_timestamp(c.timestamp_ms)
                for c in changes
                if c.offset is None and c.timestamp_ms is not None
            }
        )
        resolved = []
        for c in changes:
            key, end = (c.topic, c.partition), ends[(c.topic, c.partition)]
            if c.offset is not None:
                if c.offset > end:
                    errors.append(
                        (
                            f"{c.topic}-{c.partition}",
                            f"offset {c.offset} is past the end of the partition ({end})",
                        )
                    )
                offset = c.offset
            elif c.timestamp_ms is not None:
                found = at_times[key]
                offset = found if found >= 0 else end  # no record that late: the end
            else:
                offset = starts[key]
            resolved.append(PartitionOffset(c.topic, c.partition, offset))
        if errors:
            raise ConfigError(errors)
        return resolved

    def _list(self, specs: dict[tuple[str, int], OffsetSpec]) -> dict[tuple[str, int], int]:
        if not specs:
            return {}
        request = {TopicPartition(t, p): spec for (t, p), spec in specs.items()}
        futures = self._admin.list_offsets(request, request_timeout=self._timeout)
        return {
            (tp.topic, tp.partition): future.result(self._timeout).offset
            for tp, future in futures.items()
        }

    def alter(self, group: str, offsets: list[PartitionOffset]) -> None:
        """Commit ``offsets`` for the (memberless) group."""
        request = ConsumerGroupTopicPartitions(
            group, [TopicPartition(o.topic, o.partition, o.offset) for o in offsets]
        )
        future = self._admin.alter_consumer_group_offsets([request], request_timeout=self._timeout)[
            group
        ]
        try:
            result = future.result(self._timeout)
        except KafkaException as exc:
            raise self._busy(group, exc) if _code(exc) in _GROUP_BUSY else exc from None
        failed = [tp for tp in result.topic_partitions or [] if tp.error is not None]
        if failed:
            raise ConfigError([(f"{tp.topic}-{tp.partition}", str(tp.error)) for tp in failed])

    def reset(self, group: str) -> bool:
        """Delete the group, so each partition starts from ``auto.offset.reset``
        (earliest). False if it had nothing to delete."""
        future = self._admin.delete_consumer_groups([group], request_timeout=self._timeout)[group]
        try:
            future.result(self._timeout)
        except KafkaException as exc:
            code = _code(exc)
            if code in (KafkaError.GROUP_ID_NOT_FOUND, KafkaError._UNKNOWN_GROUP):
                return False
            raise self._busy(group, exc) if code in _GROUP_BUSY else exc from None
        return True

    @staticmethod
    def _busy(group: str, exc: KafkaException) -> IllegalStateError:
        return IllegalStateError(
            f"consumer group {group} still has active members (another worker running "
            f"this connector?): {exc}"
        )
