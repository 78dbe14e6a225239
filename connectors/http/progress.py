"""What an earlier attempt at a batch settled, by record coordinates.

The runtime retries a ``RetriableError`` by calling ``write`` again with the same
records (fewer if partitions were revoked meanwhile): records already sent are looked
up here and not sent again. The ``slack`` writer keeps its progress the same way."""

from __future__ import annotations

from collections.abc import Sequence

from offramp import RecordFailure, SinkRecord, TopicPartition

__all__ = ["Coordinates", "Progress", "coordinates"]

Coordinates = tuple[str, int, int]


def coordinates(record: SinkRecord) -> Coordinates:
    return (record.kafka_topic, record.kafka_partition, record.kafka_offset)


class Progress:
    """Settled records: ``None`` for written, the ``RecordFailure`` for refused."""

    def __init__(self) -> None:
        self._settled: dict[Coordinates, RecordFailure | None] = {}

    def __bool__(self) -> bool:
        """Whether anything is remembered (an earlier attempt left records settled)."""
        return bool(self._settled)

    def __contains__(self, record: SinkRecord) -> bool:
        return coordinates(record) in self._settled

    def written(self, record: SinkRecord) -> None:
        self._settled.setdefault(coordinates(record), None)

    def refused(self, failure: RecordFailure) -> None:
        self._settled[coordinates(failure.record)] = failure

    def finish(self, records: Sequence[SinkRecord]) -> list[RecordFailure]:
        """The batch is settled: its failures, forgotten with the rest of it."""
        out = []
        for record in records:
            failure = self._settled.pop(coordinates(record), None)
            if failure is not None:
                out.append(failure)
        return out

    def drop(self, partitions: Sequence[TopicPartition]) -> None:
        """Partitions revoked: their new owner reads them again."""
        gone = set(partitions)
        self._settled = {
            c: s for c, s in self._settled.items() if TopicPartition(c[0], c[1]) not in gone
        }
