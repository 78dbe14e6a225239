"""The dead-letter producer is made on the first dead letter, never before."""

from __future__ import annotations

from typing import Any

from confluent_kafka import Message

from offramp.deadletter import DeadLetterWriter
from offramp.testing import ScriptedProducer


def test_no_producer_until_the_first_dead_letter_and_one_after() -> None:
    """A task that never dead-letters makes no producer (flush and close included);
    the first dead letter makes one, with the writer's config, and later ones reuse it."""
    producer = ScriptedProducer()
    made: list[dict[str, Any]] = []

    def factory(config: dict[str, Any]) -> ScriptedProducer:
        made.append(config)
        return producer.factory(config)

    writer = DeadLetterWriter({"linger.ms": 1}, "dlq", "c", 0, False, factory)
    writer.flush()
    writer.close()
    assert made == []
    for offset in range(3):
        message = Message(topic="calls", partition=0, offset=offset, key=b"k", value=b"v")
        writer.send(message, "TASK_PUT", ValueError("bad"), "x")
    writer.flush()
    assert len(made) == 1 and made[0]["linger.ms"] == 1 and made[0]["acks"] == "all"
    assert [p[0] for p in producer.produced] == ["dlq", "dlq", "dlq"]
