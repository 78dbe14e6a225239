"""PauseControl tells the consumer only what changes a partition's fetching."""

from __future__ import annotations

from confluent_kafka import TopicPartition as KafkaTopicPartition

from offramp.records import TopicPartition
from offramp.task.pausing import PauseControl


class _Calls:
    """A consumer that keeps every pause() and resume() it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[tuple[str, int]]]] = []

    def pause(self, partitions: list[KafkaTopicPartition]) -> None:
        self.calls.append(("pause", [(p.topic, p.partition) for p in partitions]))

    def resume(self, partitions: list[KafkaTopicPartition]) -> None:
        self.calls.append(("resume", [(p.topic, p.partition) for p in partitions]))


def _kafka(*names: str) -> list[KafkaTopicPartition]:
    return [KafkaTopicPartition(n, 0) for n in names]


def test_only_a_partition_revoked_while_paused_is_resumed_when_assigned_again() -> None:
    """Never-paused partitions are assigned without a resume() (thousands of tenant
    topics made it cost); new ones are paused while the task is; one revoked while
    paused is resumed on its next assignment, once."""
    assigned: set[TopicPartition] = set()
    consumer = _Calls()
    control = PauseControl(lambda: assigned)
    control.consumer = consumer  # type: ignore[assignment]

    assigned |= {TopicPartition("a", 0), TopicPartition("b", 0)}
    control.match(consumer, _kafka("a", "b"))  # type: ignore[arg-type]
    assert consumer.calls == []

    control.add("retry")
    assert consumer.calls[-1][0] == "pause"
    assert sorted(consumer.calls[-1][1]) == [("a", 0), ("b", 0)]
    assigned |= {TopicPartition("c", 0)}
    control.match(consumer, _kafka("c"))  # type: ignore[arg-type]
    assert consumer.calls[-1] == ("pause", [("c", 0)])

    assigned.discard(TopicPartition("b", 0))  # revoked while paused: its flag stays
    control.discard("retry")
    assert consumer.calls[-1][0] == "resume"
    assert sorted(consumer.calls[-1][1]) == [("a", 0), ("c", 0)]
    calls = len(consumer.calls)
    assigned |= {TopicPartition("b", 0), TopicPartition("d", 0)}
    control.match(consumer, _kafka("b", "d"))  # type: ignore[arg-type]
    assert consumer.calls[calls:] == [("resume", [("b", 0)])]
    control.match(consumer, _kafka("b"))  # type: ignore[arg-type]
    assert len(consumer.calls) == calls + 1
