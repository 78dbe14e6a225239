"""A chunk's bookkeeping touches the partitions it holds, not every partition assigned."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import Message
from confluent_kafka import TopicPartition as KafkaTopicPartition

from offramp.config import load_worker_config, validate_connector
from offramp.metrics import TaskMetrics
from offramp.records import TopicPartition
from offramp.registry import PluginRegistry
from offramp.task import ingest as ingest_module
from offramp.task.failures import FailureReporter
from offramp.task.ingest import Batch, Ingest
from offramp.task.ledger import OffsetLedger
from offramp.task.settings import (
    REGEX_METADATA_REFRESH_MS,
    REGEX_QUEUED_MIN_MESSAGES,
    consumer_config,
)
from offramp.testing import RecordingSinkConnector

TENANTS = 2000
BYTES = {
    "key.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
    "value.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
}


class _Positions:
    """Answers position() as a consumer that has handed out offsets up to ``ends``,
    and keeps how many partitions each call asked about."""

    def __init__(self) -> None:
        self.ends: dict[tuple[str, int], int] = {}
        self.asked: list[int] = []

    def position(self, partitions: list[KafkaTopicPartition]) -> list[KafkaTopicPartition]:
        self.asked.append(len(partitions))
        return [
            KafkaTopicPartition(p.topic, p.partition, self.ends.get((p.topic, p.partition), -1001))
            for p in partitions
        ]


def _ingest(ledger: OffsetLedger, consumer: Any) -> Ingest:
    registry = PluginRegistry()
    registry.register("recording", RecordingSinkConnector)
    worker = load_worker_config({}, environ={})
    config = validate_connector(
        "c", {"connector.class": "recording", "topics.regex": "t[0-9]+", **BYTES}, worker, registry
    )
    metrics = TaskMetrics()
    reporter = FailureReporter("c", 0, config.settings, None, metrics)
    return Ingest(config, False, reporter, metrics, ledger, consumer, "c")


def test_a_chunk_tracks_its_own_partitions_only() -> None:
    """With 2000 single-partition topics assigned, a chunk from two of them asks the
    consumer nothing (after the first chunk's sweep of all): its own last offsets give
    those two partitions' ends, which writing the batch commits, and nothing else."""
    ledger = OffsetLedger()
    tps = [TopicPartition(f"t{i}", 0) for i in range(TENANTS)]
    ledger.assign(tps, {})
    consumer = _Positions()
    ingest = _ingest(ledger, consumer)
    first, second = Batch(1), Batch(2)
    ingest.add([Message(topic="t0", partition=0, offset=0, value=b"a")], first)
    consumer.ends = {("t7", 0): 3, ("t9", 0): 1}
    chunk = [Message(topic="t7", partition=0, offset=o, value=b"b") for o in range(3)] + [
        Message(topic="t9", partition=0, offset=0, value=b"c")
    ]
    ingest.add(chunk, second)
    assert consumer.asked == [TENANTS]
    ledger.written(second.id, dead_letters=False)
    assert ledger.committable() == {TopicPartition("t7", 0): 3, TopicPartition("t9", 0): 1}
    assert len(second.records) == 4


def _setting(
    protocol: str, extra: dict[str, str], worker_extra: dict[str, str], key: str
) -> object:
    registry = PluginRegistry()
    registry.register("recording", RecordingSinkConnector)
    worker = load_worker_config({"group.protocol": protocol, **worker_extra}, environ={})
    config = validate_connector("c", {"connector.class": "recording", **extra}, worker, registry)
    return consumer_config(config, worker, 0).get(key)


def _refresh(protocol: str, extra: dict[str, str], worker_extra: dict[str, str]) -> object:
    return _setting(protocol, extra, worker_extra, "topic.metadata.refresh.interval.ms")


def test_a_classic_regex_connector_refreshes_metadata_sooner_unless_told() -> None:
    """Under classic a topics.regex connector refreshes metadata every 5 s (a new tenant
    topic is seen in seconds); a topics list or the consumer protocol leaves the client's
    default; a worker consumer.* or connector consumer.override.* value wins."""
    regex = {"topics.regex": "tenant\\..*"}
    assert _refresh("classic", regex, {}) == REGEX_METADATA_REFRESH_MS
    assert _refresh("classic", {"topics": "a"}, {}) is None
    assert _refresh("consumer", regex, {}) is None
    override = {**regex, "consumer.override.topic.metadata.refresh.interval.ms": "1000"}
    assert _refresh("classic", override, {}) == "1000"
    worker_wide = {"consumer.topic.metadata.refresh.interval.ms": "2000"}
    assert _refresh("classic", regex, worker_wide) == "2000"


def test_the_sweep_covers_a_position_moved_without_a_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A partition whose position moved past a transaction marker (no message in any
    chunk) is tracked at the next sweep, a second later, and becomes committable."""
    ledger = OffsetLedger()
    ledger.assign([TopicPartition(f"t{i}", 0) for i in range(TENANTS)], {})
    consumer = _Positions()
    ingest = _ingest(ledger, consumer)
    clock = [100.0]
    monkeypatch.setattr(ingest_module.time, "monotonic", lambda: clock[0])
    ingest.add([Message(topic="t0", partition=0, offset=0, value=b"a")], Batch(1))
    consumer.ends = {("t0", 0): 1, ("t5", 0): 4}  # t5: records 0-2 aborted, 3 a marker
    ingest.add([Message(topic="t0", partition=0, offset=1, value=b"b")], Batch(2))
    assert TopicPartition("t5", 0) not in ledger.committable()
    clock[0] += ingest_module.SWEEP_SECONDS
    ingest.add([Message(topic="t0", partition=0, offset=2, value=b"c")], Batch(3))
    for batch in (1, 2, 3):
        ledger.written(batch, dead_letters=False)
    assert ledger.committable()[TopicPartition("t5", 0)] == 4
    assert len(consumer.asked) == 2


class _SlowPositions(_Positions):
    """A position() that takes ``cost`` seconds of ``clock``, as librdkafka's does with
    thousands of topics."""

    def __init__(self, clock: list[float], cost: float) -> None:
        super().__init__()
        self.clock, self.cost = clock, cost

    def position(self, partitions: list[KafkaTopicPartition]) -> list[KafkaTopicPartition]:
        self.clock[0] += self.cost
        return super().position(partitions)


def test_a_slow_sweep_waits_its_cost_share_before_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sweep that took 50 ms is not repeated for a hundred times that (5 s), not every second:
    sweeping stays about 1 % of the loop however many topics the client walks."""
    ledger = OffsetLedger()
    ledger.assign([TopicPartition(f"t{i}", 0) for i in range(TENANTS)], {})
    clock = [100.0]
    consumer = _SlowPositions(clock, 0.05)
    ingest = _ingest(ledger, consumer)
    monkeypatch.setattr(ingest_module.time, "monotonic", lambda: clock[0])
    for offset in range(8):  # one chunk a second for eight seconds
        ingest.add([Message(topic="t0", partition=0, offset=offset, value=b"a")], Batch(1))
        clock[0] += 1.0
    assert ingest_module.SWEEP_COST_SHARE * 0.05 == 5.0
    assert len(consumer.asked) == 2  # at 100 s and at 105.05 s


def test_a_regex_connector_prefetches_less_per_partition_unless_told() -> None:
    """A topics.regex connector (many tenants) prefetches at most 10 000 messages of a
    partition under both protocols, so one tenant's backlog can't fill the fetch queue;
    a topics list keeps the client's default; consumer.override.* wins."""
    regex = {"topics.regex": "tenant\\..*"}
    key = "queued.min.messages"
    for protocol in ("classic", "consumer"):
        assert _setting(protocol, regex, {}, key) == REGEX_QUEUED_MIN_MESSAGES
    assert _setting("classic", {"topics": "a"}, {}, key) is None
    override = {**regex, f"consumer.override.{key}": "500"}
    assert _setting("classic", override, {}, key) == "500"
