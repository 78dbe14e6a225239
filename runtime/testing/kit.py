"""Run a connector the way a worker does, without Kafka: ``run_connector``.

A real ``TaskRunner`` runs the connector's task over a ``ScriptedConsumer`` holding the
given records and a ``ScriptedProducer`` for dead letters, so everything between Kafka
and the writer is the production code: converters, transforms and predicates,
batching, ``prepare``, retries with backoff, bisection of a ``BatchError``, dead letters
with their context headers, ``pre_commit`` and the offset commits. The run ends when
``until`` holds (by default: every record's offset is committed) or the task fails.

    result = run_connector(
        {"connector.class": "my-sink", "topics": "calls", "my.url": "..."},
        [{"id": 1}, {"id": 2}],
        connector=MySinkConnector,
    )
    assert [r.value for r in result.written] == [{"id": 1}, {"id": 2}]
    assert result.committed == {TopicPartition("calls", 0): 2}

``write_all`` is the smaller tool: a ``BatchWriter`` alone through open → write →
pre_commit → close, no runtime around it.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson

from offramp.config import ConnectorConfig, load_worker_config, validate_connector
from offramp.metrics import TaskMetrics
from offramp.plugin import BatchWriter, RecordFailure, SinkConnector, TaskContext
from offramp.records import SinkRecord, TopicPartition
from offramp.registry import PluginRegistry
from offramp.scripted_kafka import ScriptedConsumer, ScriptedProducer
from offramp.scripted_share import ScriptedShareConsumer
from offramp.task import TaskRunner, TaskState, TaskStatus
from offramp.testing.dead_letters import DeadLetter, decode_headers
from offramp.testing.sinks import RecordingSinkConnector, ScriptedSinkConnector, recording

__all__ = ["Record", "RunResult", "RunTimeout", "drained", "run_connector", "write_all"]


@dataclass(frozen=True)
class Record:
    """A record to put in a scripted topic, when a bare value is not enough. A value
    or key that is ``bytes`` is used as is, a ``str`` encoded as UTF-8, ``None`` kept
    (a tombstone), anything else serialized as JSON."""

    value: Any
    key: Any = None
    headers: Mapping[str, str | bytes] | None = None
    topic: str | None = None  # default: the config's first topic
    partition: int = 0


Records = Sequence[Any] | Mapping[str | tuple[str, int] | TopicPartition, Sequence[Any]]
"""Values (or ``Record``s) for the config's first topic, partition 0; or values by topic
(partition 0) or by (topic, partition)."""


@dataclass
class RunResult:
    """What a run did, as the worker's task saw it."""

    config: ConnectorConfig
    written: list[SinkRecord]
    """Records the writer accepted: passed to ``write`` that returned without naming
    them as failed, in the order written (after converters and transforms)."""
    recorded: dict[str, list[SinkRecord]]
    """What the testing sinks (``recording``, ``scripted``) wrote, by recording name."""
    dead_letters: list[DeadLetter]
    """Dead letters acknowledged by the (scripted) broker, headers decoded."""
    committed: dict[TopicPartition, int]
    """The group's committed offsets (the next offset to read, as in Kafka)."""
    ends: dict[TopicPartition, int]
    """Each scripted partition's end offset."""
    status: TaskStatus
    statuses: list[TaskStatus]
    """Every status the task reported, in order (RUNNING, FAILED, RESTARTING, ...)."""
    metrics: TaskMetrics
    consumer: ScriptedConsumer
    producer: ScriptedProducer
    elapsed: float = 0.0

    @property
    def values(self) -> list[Any]:
        """The written records' values."""
        return [r.value for r in self.written]

    @property
    def failed(self) -> bool:
        return self.status.state is TaskState.FAILED

    @property
    def trace(self) -> str | None:
        return self.status.trace

    def summary(self) -> str:
        return (
            f"status {self.status.state.value}"
            f"{' (' + self.status.message + ')' if self.status.message else ''}, "
            f"{len(self.written)} written, {len(self.dead_letters)} dead-lettered, "
            f"committed {_offsets(self.committed)} of {_offsets(self.ends)}"
            + (f"\n{self.status.trace}" if self.status.trace else "")
        )


class RunTimeout(AssertionError):
    """``until`` did not hold within ``timeout``; ``result`` is what the run had done."""

    def __init__(self, result: RunResult, timeout: float) -> None:
        super().__init__(f"run_connector: not done after {timeout}s: {result.summary()}")
        self.result = result


def drained(result: RunResult) -> bool:
    """Every scripted record's offset is committed (written, dead-lettered or skipped)."""
    return all(result.committed.get(tp, 0) >= end for tp, end in result.ends.items())


def _offsets(offsets: Mapping[TopicPartition, int]) -> str:
    return "{" + ", ".join(f"{t}-{p}: {o}" for (t, p), o in sorted(offsets.items())) + "}"


def _encode(value: Any) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return orjson.dumps(value)


class _ObservedWriter(BatchWriter):
    """The connector's writer, unchanged, with what it accepted copied to a list."""

    def __init__(self, inner: BatchWriter, sink: list[SinkRecord], lock: threading.Lock):
        self.inner, self._sink, self._lock = inner, sink, lock

    def open(self, partitions: Sequence[TopicPartition]) -> Mapping[TopicPartition, int] | None:
        return self.inner.open(partitions)

    def prepare(self, records: Sequence[SinkRecord]) -> None:
        self.inner.prepare(records)

    def write(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure] | None:
        failures = self.inner.write(records)
        failed = {id(f.record) for f in failures or ()}
        with self._lock:
            self._sink.extend(r for r in records if id(r) not in failed)
        return failures

    def pre_commit(self, offsets: Mapping[TopicPartition, int]) -> Mapping[TopicPartition, int]:
        return self.inner.pre_commit(offsets)

    def close(self, partitions: Sequence[TopicPartition]) -> None:
        self.inner.close(partitions)

    def stop(self) -> None:
        self.inner.stop()

    def __getattr__(self, name: str) -> Any:  # a writer's own attributes, for its tests
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


def _observing(
    connector: type[SinkConnector[Any]], sink: list[SinkRecord], lock: threading.Lock
) -> type[SinkConnector[Any]]:
    def create_writer(self: SinkConnector[Any], config: Any, context: TaskContext) -> BatchWriter:
        inner = connector.create_writer(self, config, context)
        kind = type(
            "ObservedWriter",
            (_ObservedWriter,),
            {"pipelined": inner.pipelined, "stores_json_text": inner.stores_json_text},
        )
        writer: BatchWriter = kind(inner, sink, lock)
        return writer

    return type(connector.__name__, (connector,), {"create_writer": create_writer})


def _registry(
    config: Mapping[str, Any],
    connector: type[SinkConnector[Any]] | None,
    registry: PluginRegistry | None,
) -> PluginRegistry:
    if registry is None:
        registry = PluginRegistry()
        registry.register("recording", RecordingSinkConnector)
        registry.register("scripted", ScriptedSinkConnector)
    if connector is not None:
        named = str(config.get("connector.class") or "")
        alias = named if named and ":" not in named else connector.__name__
        registry.register(alias, connector)
    return registry


def _place(
    records: Records, settings_topics: list[str], regex: str | None, consumer: ScriptedConsumer
) -> dict[TopicPartition, int]:
    """Append ``records`` to the scripted log; returns each partition's end offset."""
    default_topic = settings_topics[0] if settings_topics else None
    by_partition: dict[TopicPartition, list[Any]] = {}
    if isinstance(records, Mapping):
        for where, values in records.items():
            if isinstance(where, str):
                where = (where, 0)
            tp = TopicPartition(where[0], where[1])
            by_partition.setdefault(tp, []).extend(values)
    else:
        for item in records:
            topic = item.topic if isinstance(item, Record) else None
            topic = topic or default_topic
            if topic is None:
                raise ValueError("run_connector: a Record needs a topic when topics.regex is used")
            partition = item.partition if isinstance(item, Record) else 0
            by_partition.setdefault(TopicPartition(topic, partition), []).append(item)
    for tp in by_partition:
        subscribed = tp.topic in settings_topics or (
            regex is not None and re.fullmatch(regex, tp.topic) is not None
        )
        if not subscribed:
            raise ValueError(
                f"run_connector: records for topic {tp.topic!r}, which the connector "
                f"does not consume (topics={settings_topics}, topics.regex={regex})"
            )
    for topic in settings_topics:  # a configured topic with no records is still assigned
        by_partition.setdefault(TopicPartition(topic, 0), [])
    for tp, items in by_partition.items():
        for item in items:
            rec = item if isinstance(item, Record) else Record(item)
            headers = [(k, _encode(v)) for k, v in (rec.headers or {}).items()]
            consumer.append(tp.topic, tp.partition, [_encode(rec.value)], _encode(rec.key), headers)
        consumer.log.setdefault(tp, [])
    consumer.assign(sorted(by_partition))
    return {tp: len(consumer.log[tp]) for tp in by_partition}


def run_connector(
    config: Mapping[str, Any],
    records: Records = (),
    *,
    connector: type[SinkConnector[Any]] | None = None,
    name: str = "test-connector",
    until: Callable[[RunResult], bool] = drained,
    timeout: float = 10.0,
    stop_on_failure: bool = True,
    worker: Mapping[str, Any] | None = None,
    registry: PluginRegistry | None = None,
    consumer: ScriptedConsumer | None = None,
    producer: ScriptedProducer | None = None,
    share: ScriptedShareConsumer | None = None,
) -> RunResult:
    """Run task 0 of connector ``name`` over ``records`` until ``until(result)`` holds.

    ``config`` is the connector's config as a user writes it (``connector.class``,
    ``topics``, converters, transforms, ``errors.*``); it is validated the way the worker
    validates it (a ``ConfigError`` lists every problem). ``connector.class`` names an
    installed plug-in, the testing sinks ``recording`` and ``scripted``, or the class
    passed as ``connector`` (registered under that alias, or its class name). The
    kit's defaults, each overridable: ``batch.max.age.ms`` 50 in the config, and
    ``offset.flush.interval.ms`` 50 in the worker config ``worker``.

    The run stops when ``until`` holds (default ``drained``: every offset committed),
    when the task fails (unless ``stop_on_failure`` is false: then it restarts as
    configured), or raises ``RunTimeout`` after ``timeout`` seconds. Pass a ``consumer``
    or ``producer`` to script rebalances, commit failures or refused dead letters; a
    ``share`` group (``ScriptedShareConsumer``, holding its own records) for a
    ``group.type=share`` connector.
    """
    started = time.monotonic()
    worker_config = load_worker_config(
        {"offset.flush.interval.ms": 50, "rest.port": 0, **(worker or {})}, environ={}
    )
    raw = {"batch.max.age.ms": "50", **config}
    written: list[SinkRecord] = []
    lock = threading.Lock()
    validated = validate_connector(name, raw, worker_config, _registry(raw, connector, registry))
    plugin = replace(
        validated.plugin, connector=_observing(validated.plugin.connector, written, lock)
    )
    validated = replace(validated, plugin=plugin)
    consumer = consumer if consumer is not None else ScriptedConsumer()
    producer = producer if producer is not None else ScriptedProducer()
    settings = validated.settings
    ends = _place(records, list(settings.topics), settings.topics_regex, consumer)

    statuses: list[TaskStatus] = []
    statuses_lock = threading.Lock()

    def on_state(task: TaskRunner) -> None:
        with statuses_lock:
            statuses.append(task.status)

    def snapshot() -> RunResult:
        with lock:
            done = list(written)
        with statuses_lock:
            history = list(statuses)
        return RunResult(
            config=validated,
            written=done,
            recorded=rec.all(),
            dead_letters=[
                DeadLetter(key, value, decode_headers(headers), 0, topic)
                for topic, key, value, headers in list(producer.acknowledged)
            ],
            committed=dict(consumer.committed),
            ends=dict(ends),
            status=task.status,
            statuses=history,
            metrics=task.metrics,
            consumer=consumer,
            producer=producer,
            elapsed=time.monotonic() - started,
        )

    with recording() as rec:
        task = TaskRunner(
            validated,
            0,
            worker_config,
            on_state=on_state,
            consumer_factory=consumer.factory,
            producer_factory=producer.factory,
            share_consumer_factory=share.factory if share is not None else None,
            prepare_share_group=share.prepare if share is not None else None,
        )
        task.start()
        deadline = started + timeout
        try:
            while True:
                result = snapshot()
                if until(result) or (stop_on_failure and result.failed):
                    break
                if time.monotonic() >= deadline:
                    raise RunTimeout(result, timeout)
                time.sleep(0.01)
        finally:
            task.stop()
            task.join(max(5.0, worker_config.task_shutdown_graceful_timeout_ms / 1000.0))
        final = snapshot()
    final.status = result.status if result.failed else final.status
    return final


def write_all(
    writer: BatchWriter, records: Sequence[SinkRecord], batch_size: int = 500
) -> tuple[list[RecordFailure], dict[TopicPartition, int]]:
    """Feed ``records`` to ``writer`` the way a task would, without the runtime; returns
    the failures and the offsets ``pre_commit`` allows."""
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
