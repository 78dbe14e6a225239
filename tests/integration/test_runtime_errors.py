"""Bad records go to the dead-letter topic with context; outages are waited out."""

from __future__ import annotations

import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import ClassVar

import orjson
import pytest

from devstack.kafka import KafkaBroker
from offramp import BatchWriter, RecordFailure, SinkConnector, SinkRecord, TaskContext
from offramp.gil_handoff import SWITCH_INTERVAL_S
from offramp.testing import read_dead_letters, recordings
from offramp.testing.sinks import RecordingConfig
from offramp.worker import Worker
from tests.conftest import produce, wait_for
from tests.integration.runtime_support import (
    committed,
    dead_letters_to,
    make_worker,
    sink_config,
)

CONTEXT_HEADERS = {
    "__connect.errors.topic",
    "__connect.errors.partition",
    "__connect.errors.offset",
    "__connect.errors.connector.name",
    "__connect.errors.task.id",
    "__connect.errors.stage",
    "__connect.errors.class.name",
    "__connect.errors.exception.class.name",
    "__connect.errors.exception.message",
    "__connect.errors.exception.stacktrace",
}


@pytest.fixture
def worker(kafka: KafkaBroker) -> Iterator[Worker]:
    w = make_worker(kafka.bootstrap)
    yield w
    w.shutdown()


@pytest.mark.parametrize("pipelined", ["false", "true"])
def test_bad_json_and_refused_records_reach_the_dlq_with_context(
    worker: Worker, kafka: KafkaBroker, make_topic: Callable[..., str], unique: str, pipelined: str
) -> None:
    """Invalid JSON (VALUE_CONVERTER) and per-record write failures (TASK_PUT) are
    dead-lettered with all ten headers and the original bytes; the rest is delivered
    (also when the sink writes on a thread of its own)."""
    topic, dlq = make_topic("dlq-src"), f"dlq-{unique}"
    values = [orjson.dumps({"n": i}) for i in range(100)]
    values[10] = b"{not json"
    values[20] = orjson.dumps({"n": 20, "poison": True})
    produce(
        kafka.bootstrap,
        topic,
        values,
        keys=[f"k{i}".encode() for i in range(100)],
        headers=[("ce-type", b"call.completed")],
    )
    name = f"dlq-{unique}"
    worker.create(
        name,
        sink_config(
            topic,
            "scripted",
            **dead_letters_to(dlq),
            **{"script.fail.values": "poison", "script.pipelined": pipelined},
        ),
    )
    wait_for(lambda: len(recordings(name)) == 98)
    letters = read_dead_letters(kafka.bootstrap, dlq, expected=2)
    assert len(letters) == 2
    by_stage = {d.headers["__connect.errors.stage"]: d for d in letters}
    assert set(by_stage) == {"VALUE_CONVERTER", "TASK_PUT"}
    bad_json, refused = by_stage["VALUE_CONVERTER"], by_stage["TASK_PUT"]
    assert bad_json.value == b"{not json" and bad_json.key == b"k10"
    assert refused.value == values[20] and refused.key == b"k20"
    for letter in letters:
        assert set(letter.headers) >= CONTEXT_HEADERS
        assert letter.headers["ce-type"] == "call.completed"
        assert letter.headers["__connect.errors.topic"] == topic
        assert letter.headers["__connect.errors.connector.name"] == name
    assert bad_json.headers["__connect.errors.offset"] == "10"
    assert refused.headers["__offramp.errors.reason"] == "scripted"
    assert "scripted failure" in refused.headers["__connect.errors.exception.message"]
    wait_for(lambda: committed(kafka.bootstrap, f"connect-{name}", topic) == [100])


def test_a_refused_batch_is_bisected_down_to_the_bad_record(
    worker: Worker, kafka: KafkaBroker, make_topic: Callable[..., str], unique: str
) -> None:
    """A batch refused without naming a record loses only the bad record to the DLQ."""
    topic, dlq = make_topic("bisect"), f"bisect-dlq-{unique}"
    values = [orjson.dumps({"n": i}) for i in range(64)]
    values[37] = orjson.dumps({"n": 37, "bad": "explode"})
    produce(kafka.bootstrap, topic, values)
    name = f"bisect-{unique}"
    worker.create(
        name,
        sink_config(
            topic,
            "scripted",
            **dead_letters_to(dlq),
            **{"script.batch.fail.values": "explode", "batch.max.age.ms": "2000"},
        ),
    )
    wait_for(lambda: len(recordings(name)) == 63)
    letters = read_dead_letters(kafka.bootstrap, dlq, expected=1)
    assert [d.value for d in letters] == [values[37]]
    assert sorted(r.value["n"] for r in recordings(name)) == [i for i in range(64) if i != 37]


def test_tolerance_none_fails_the_task_then_restarts_it(
    worker: Worker, kafka: KafkaBroker, make_topic: Callable[..., str], unique: str
) -> None:
    """With errors.tolerance=none a bad record fails the task with a trace, and the
    runtime restarts it with backoff (the same record fails it again); nothing past the
    bad record is committed."""
    topic = make_topic("none")
    produce(kafka.bootstrap, topic, [b'{"n": 1}', b"garbage"])
    name = f"none-{unique}"
    worker.create(name, sink_config(topic, **{"task.restart.backoff.initial.ms": "200"}))
    task = worker.get(name).tasks[0]
    wait_for(lambda: task.status.state == "FAILED")
    assert task.status.trace is not None and "VALUE_CONVERTER" in task.status.trace
    wait_for(lambda: task.metrics.restarts >= 2)
    assert committed(kafka.bootstrap, f"connect-{name}", topic)[0] in (-1001, 0, 1)


@pytest.mark.parametrize("pipelined", ["false", "true"])
def test_an_outage_longer_than_max_poll_interval_loses_nothing_and_stalls_no_one(
    worker: Worker, kafka: KafkaBroker, make_topic: Callable[..., str], unique: str, pipelined: str
) -> None:
    """A sink failing transiently for 9 s (max.poll.interval.ms is 6 s) keeps its
    partitions, dead-letters nothing, then delivers everything; a second connector on
    the same topic keeps flowing meanwhile (also when the sink writes on its own thread)."""
    topic, dlq = make_topic("outage"), f"outage-dlq-{unique}"
    slow, healthy = f"slow-{unique}", f"healthy-{unique}"
    worker.create(
        slow,
        sink_config(
            topic,
            "scripted",
            **dead_letters_to(dlq),
            **{
                "script.transient.seconds": "9",
                "script.pipelined": pipelined,
                "errors.retry.timeout": "-1",
                "errors.retry.delay.max.ms": "1000",
                "consumer.override.session.timeout.ms": "6000",
                "consumer.override.max.poll.interval.ms": "6000",
            },
        ),
    )
    worker.create(healthy, sink_config(topic))
    produce(kafka.bootstrap, topic, [orjson.dumps({"n": 0})])
    wait_for(lambda: len(recordings(healthy)) == 1, timeout=20)  # joined its group
    for i in range(1, 8):
        began = time.monotonic()
        produce(kafka.bootstrap, topic, [orjson.dumps({"n": i})])
        wait_for(lambda i=i: len(recordings(healthy)) == i + 1, timeout=5)
        assert time.monotonic() - began < 3, "the healthy connector kept its pace"
        time.sleep(0.3)
    assert recordings(slow) == []
    task = worker.get(slow).tasks[0]
    assert task.status.message and "retrying" in task.status.message
    wait_for(lambda: len(recordings(slow)) == 8, timeout=30)
    assert task.metrics.partitions_revoked == 0 and task.metrics.partitions_assigned == 1
    assert task.metrics.records_dead_lettered == 0 and task.metrics.retries >= 3
    assert [r.value["n"] for r in recordings(slow)] == list(range(8))


def test_a_task_that_keeps_failing_stays_failed_after_the_restart_cap(
    worker: Worker, kafka: KafkaBroker, make_topic: Callable[..., str], unique: str
) -> None:
    """With task.restart.max.attempts=1 the task restarts once, then stays FAILED with
    its last trace until an operator restarts it."""
    topic = make_topic("cap")
    produce(kafka.bootstrap, topic, [b'{"n": 1}'])
    name = f"cap-{unique}"
    worker.create(
        name,
        sink_config(
            topic,
            "scripted",
            **{
                "script.fatal": "true",
                "task.restart.max.attempts": "1",
                "task.restart.backoff.initial.ms": "100",
            },
        ),
    )
    task = worker.get(name).tasks[0]
    wait_for(lambda: task.metrics.restarts == 1 and task.status.state == "FAILED")
    time.sleep(1.5)
    assert task.metrics.restarts == 1 and task.status.state == "FAILED"
    assert task.status.trace is not None and "scripted fatal failure" in task.status.trace
    worker.restart_task(name, 0)
    wait_for(lambda: task.metrics.restarts == 2)


class _CyclicWriter(BatchWriter):
    """A writer in a reference cycle, as client libraries' objects often are; every
    instance is remembered by a weak reference."""

    instances: ClassVar[list[weakref.ref[_CyclicWriter]]] = []

    def __init__(self) -> None:
        self.me = self
        _CyclicWriter.instances.append(weakref.ref(self))

    def write(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure] | None:
        return None


class _CyclicSinkConnector(SinkConnector[RecordingConfig]):
    config_model = RecordingConfig

    def create_writer(self, config: RecordingConfig, context: TaskContext) -> BatchWriter:
        return _CyclicWriter()


def test_a_restarted_task_frees_its_previous_writer(
    worker: Worker, make_topic: Callable[..., str], unique: str
) -> None:
    """The writer a task built (frozen with the long-lived heap) is freed once the
    task restarts, so automatic restarts don't leak clients."""
    worker.registry.register("cyclic", _CyclicSinkConnector)
    _CyclicWriter.instances.clear()
    name = f"cyclic-{unique}"
    worker.create(name, sink_config(make_topic("cyclic"), "cyclic"))
    task = worker.get(name).tasks[0]
    wait_for(lambda: len(_CyclicWriter.instances) == 1 and task.status.state == "RUNNING")
    first = _CyclicWriter.instances[0]
    for built in (2, 3):
        worker.restart_task(name, 0)
        wait_for(lambda: len(_CyclicWriter.instances) == built)  # noqa: B023
    wait_for(lambda: first() is None)
    assert _CyclicWriter.instances[-1]() is not None


class _PreparingWriter(BatchWriter):
    """A pipelined writer noting which thread prepares and writes which batch list; its
    ``prepare`` fails on every other batch."""

    pipelined = True
    prepared: ClassVar[list[tuple[str, list[SinkRecord]]]] = []
    written: ClassVar[list[tuple[str, Sequence[SinkRecord]]]] = []

    def prepare(self, records: Sequence[SinkRecord]) -> None:
        assert isinstance(records, list)
        _PreparingWriter.prepared.append((threading.current_thread().name, records))
        if len(_PreparingWriter.prepared) % 2 == 0:
            raise ValueError("a prepare that fails")

    def write(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure] | None:
        _PreparingWriter.written.append((threading.current_thread().name, records))
        return None


class _PreparingSinkConnector(SinkConnector[RecordingConfig]):
    config_model = RecordingConfig

    def create_writer(self, config: RecordingConfig, context: TaskContext) -> BatchWriter:
        return _PreparingWriter()


def test_a_pipelined_writer_prepares_each_batch_on_the_task_thread(
    worker: Worker, kafka: KafkaBroker, make_topic: Callable[..., str], unique: str
) -> None:
    """``prepare`` gets, on the task thread, the very list the write thread's ``write``
    gets next; a ``prepare`` that raises only loses its head start, never records; the
    switch interval is short enough for the write thread to get the GIL back soon."""
    worker.registry.register("preparing", _PreparingSinkConnector)
    _PreparingWriter.prepared.clear()
    _PreparingWriter.written.clear()
    topic = make_topic("prepare")
    produce(kafka.bootstrap, topic, [orjson.dumps({"n": i}) for i in range(2000)])
    name = f"prepare-{unique}"
    worker.create(name, sink_config(topic, "preparing", **{"batch.max.records": "100"}))
    wait_for(lambda: sum(len(batch) for _, batch in _PreparingWriter.written) == 2000)
    written = _PreparingWriter.written
    assert sorted(r.value["n"] for _, batch in written for r in batch) == list(range(2000))
    assert len(written) >= 20  # batches of at most 100
    assert {thread for thread, _ in _PreparingWriter.prepared} == {f"task-{name}-0"}
    assert all(thread.startswith(f"write-{name}-0") for thread, _ in written)
    prepared = [batch for _, batch in _PreparingWriter.prepared]
    assert len(prepared) == len(written)
    assert all(p is w for p, (_, w) in zip(prepared, written, strict=True))
    assert sys.getswitchinterval() <= SWITCH_INTERVAL_S  # the write thread's GIL handoffs
