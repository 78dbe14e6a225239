"""Test helpers shipped to plug-in authors and used by offramp's own tests.

- ``RecordingSinkConnector``: keeps every record it is given, by connector name.
- ``ScriptedSinkConnector``: a sink that fails on cue (transiently for a while, per
  record, a whole batch, fatally), for testing retries and dead letters.
- ``read_dead_letters``: the records in a dead-letter topic, with headers decoded.
- ``ScriptedConsumer`` / ``ScriptedProducer``: a task's Kafka clients without a broker,
  with rebalances, commit failures and dead-letter failures on cue
  (``TaskRunner(..., consumer_factory=consumer.factory)``).
- ``write_all``: drive a ``BatchWriter`` through open → write → pre_commit → close
  without Kafka, for a plug-in's unit tests.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from confluent_kafka import Consumer
from pydantic import Field

from offramp.errors import BatchError, FatalError, RetriableError
from offramp.plugin import (
    BatchWriter,
    CommaList,
    ConfigModel,
    RecordFailure,
    SinkConnector,
    TaskContext,
)
from offramp.records import Headers, SinkRecord, TopicPartition
from offramp.scripted_kafka import CommitResult, ScriptedConsumer, ScriptedProducer

__all__ = [
    "CommitResult",
    "DeadLetter",
    "RecordingSinkConnector",
    "ScriptedConsumer",
    "ScriptedProducer",
    "ScriptedSinkConnector",
    "read_dead_letters",
    "recordings",
    "write_all",
]

_lock = threading.Lock()
_recordings: defaultdict[str, list[SinkRecord]] = defaultdict(list)


def recordings(name: str) -> list[SinkRecord]:
    """A copy of what the recording sink called ``name`` has been given so far."""
    with _lock:
        return list(_recordings[name])


class RecordingConfig(ConfigModel):
    recording_name: str = Field("", description="Key to read recordings by (default: connector)")


class _RecordingWriter(BatchWriter):
    def __init__(self, name: str) -> None:
        self.name = name

    def write(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure] | None:
        with _lock:
            _recordings[self.name].extend(records)
        return None


class RecordingSinkConnector(SinkConnector[RecordingConfig]):
    """Records everything in memory; read it back with ``recordings(name)``."""

    config_model = RecordingConfig

    def create_writer(self, config: RecordingConfig, context: TaskContext) -> BatchWriter:
        return _RecordingWriter(config.recording_name or context.connector_name)


class ScriptConfig(ConfigModel):
    recording_name: str = ""
    script_transient_seconds: float = Field(0.0, description="Fail transiently this long")
    script_fail_values: CommaList = Field(
        default_factory=list, description="Values containing these fail alone"
    )
    script_batch_fail_values: CommaList = Field(
        default_factory=list, description="...or fail the batch unnamed"
    )
    script_fatal: bool = False
    script_retry_after: float | None = None
    script_pipelined: bool = Field(False, description="Write on a thread of its own")


class _ScriptedWriter(BatchWriter):
    def __init__(self, config: ScriptConfig, name: str) -> None:
        self.config = config
        self.name = config.recording_name or name
        self.failing_until: float | None = None

    def _text(self, record: SinkRecord) -> str:
        return str(record.value)

    def write(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure] | None:
        c = self.config
        if c.script_fatal:
            raise FatalError("scripted fatal failure")
        if c.script_transient_seconds:
            if self.failing_until is None:
                self.failing_until = time.monotonic() + c.script_transient_seconds
            if time.monotonic() < self.failing_until:
                raise RetriableError("scripted outage", c.script_retry_after)
        if any(v in self._text(r) for r in records for v in c.script_batch_fail_values):
            raise BatchError("scripted batch refusal")
        failures = [
            RecordFailure(
                r,
                ValueError(f"scripted failure for {r.value!r}"),
                {"__offramp.errors.reason": "scripted"},
            )
            for r in records
            if any(v in self._text(r) for v in c.script_fail_values)
        ]
        failed = {id(f.record) for f in failures}
        with _lock:
            _recordings[self.name].extend(r for r in records if id(r) not in failed)
        return failures


class _PipelinedScriptedWriter(_ScriptedWriter):
    pipelined = True


class ScriptedSinkConnector(SinkConnector[ScriptConfig]):
    """Fails on cue; what it does write is kept like the recording sink's."""

    config_model = ScriptConfig

    def create_writer(self, config: ScriptConfig, context: TaskContext) -> BatchWriter:
        kind = _PipelinedScriptedWriter if config.script_pipelined else _ScriptedWriter
        return kind(config, context.connector_name)


@dataclass
class DeadLetter:
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]
    timestamp: int


def read_dead_letters(
    bootstrap: str, topic: str, expected: int, timeout: float = 30.0
) -> list[DeadLetter]:
    """Read ``topic`` from the start until ``expected`` records (or ``timeout``)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"dlq-reader-{time.time()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    out: list[DeadLetter] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < expected and time.monotonic() < deadline:
            for m in consumer.consume(100, 0.5):
                if m.error():
                    continue
                raw_headers: Headers = list(m.headers() or [])  # type: ignore[arg-type]
                headers = {k: (v or b"").decode() for k, v in raw_headers}
                out.append(DeadLetter(m.key(), m.value(), headers, m.timestamp()[1]))
    finally:
        consumer.close()
    return out


def write_all(
    writer: BatchWriter, records: Sequence[SinkRecord], batch_size: int = 500
) -> tuple[list[RecordFailure], dict[TopicPartition, int]]:
    """Feed ``records`` to ``writer`` the way a task would; returns the failures and the
    offsets ``pre_commit`` allows."""
    partitions = sorted({r.topic_partition for r in records})
    writer.open(partitions)
    failures: list[RecordFailure] = []
    positions: dict[TopicPartition, int] = {}
    for i in range(0, len(records), batch_size):
        batch = records[i : i + batch_size]
        failures.extend(writer.write(batch) or ())
        for r in batch:
            positions[r.topic_partition] = r.kafka_offset + 1
    committable = dict(writer.pre_commit(positions))
    writer.close(partitions)
    writer.stop()
    return failures, committable
