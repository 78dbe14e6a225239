"""worker.id and the static member ids derived from it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from offramp.config import WorkerConfig, load_worker_config, validate_connector
from offramp.errors import ConfigError
from offramp.registry import PluginRegistry
from offramp.task import TaskRunner
from offramp.task.fencing import MemberFenced, fenced_error
from offramp.task.settings import consumer_config, instance_id
from offramp.task.status import TaskState
from offramp.testing import RecordingSinkConnector, ScriptedConsumer, ScriptedProducer


def _instance_id(worker: WorkerConfig, connector: str = "orders", task: int = 0) -> str | None:
    registry = PluginRegistry()
    registry.register("recording", RecordingSinkConnector)
    config = validate_connector(
        connector, {"connector.class": "recording", "topics": "t"}, worker, registry
    )
    value = consumer_config(config, worker, task).get("group.instance.id")
    return None if value is None else str(value)


def test_worker_id_honours_worker_id_key() -> None:
    """worker.id is the worker's identity when set; host:port otherwise."""
    assert load_worker_config({"worker.id": "node-a"}, environ={}).worker_id == "node-a"
    assert load_worker_config({"rest.port": 9001}, environ={}).worker_id == "127.0.0.1:9001"


def test_worker_id_key_refuses_what_kafka_cannot_carry() -> None:
    """An empty worker.id, or one with a space, is refused naming the key."""
    for bad in ("", "node a"):
        with pytest.raises(ConfigError) as err:
            load_worker_config({"worker.id": bad}, environ={})
        assert [key for key, _ in err.value.errors] == ["worker.id"]


def test_tasks_are_static_members_only_under_a_stable_identity() -> None:
    """worker.id or a configured rest.port give each classic task a group.instance.id
    from worker id, connector and task; a port picked at start (rest.port 0) gives
    none, nor does the consumer protocol (Kafka 4.3 refuses a static member's restart
    after a kill -9 until the dead one's session expired)."""
    named = load_worker_config({"worker.id": "node-a"}, environ={})
    assert _instance_id(named, "orders", 2) == "node-a-orders-2"
    fixed = load_worker_config({"rest.port": 8083}, environ={})
    assert _instance_id(fixed) == instance_id("127.0.0.1:8083", "orders", 0)
    picked = load_worker_config({"rest.port": 0}, environ={})
    assert _instance_id(picked) is None
    bound = picked.model_copy(update={"rest_port": 40123, "rest_port_picked": True})
    assert bound.worker_id == "127.0.0.1:40123" and _instance_id(bound) is None
    consumer = load_worker_config({"worker.id": "node-a", "group.protocol": "consumer"}, environ={})
    assert _instance_id(consumer) is None


def test_instance_ids_are_valid_for_kafka_and_distinct() -> None:
    """Characters Kafka refuses are replaced and a hash of the exact names added, so
    names that read alike keep distinct ids; an id never passes 249 characters."""
    made = instance_id("host:8083", "a b", 0)
    assert made.startswith("host_8083-a_b-0-")
    assert made != instance_id("host_8083", "a_b", 0) == "host_8083-a_b-0"
    long = instance_id("w", "x" * 400, 1)
    assert len(long) == 249 and long != instance_id("w", "x" * 401, 1)


def test_the_fatal_fencing_errors_are_recognised() -> None:
    """Both protocols' fencing, as librdkafka wraps it in _FATAL, is recognised; other
    fatal and ordinary errors are not; the status message names the id and the fix."""
    classic = KafkaError(
        KafkaError._FATAL, "Fatal error: " + KafkaError(KafkaError.FENCED_INSTANCE_ID).str()
    )
    consumer = KafkaError(
        KafkaError._FATAL, "Fatal error: " + KafkaError(KafkaError.UNRELEASED_INSTANCE_ID).str()
    )
    assert fenced_error(KafkaException(classic)) is not None
    assert fenced_error(KafkaException(consumer)) is not None
    assert fenced_error(KafkaException(KafkaError(KafkaError._FATAL, "Fatal error: other"))) is None
    assert fenced_error(KafkaException(KafkaError(KafkaError._TRANSPORT))) is None
    assert fenced_error(ValueError("x")) is None
    message = str(MemberFenced("node-a", "node-a-orders-0", "fenced"))
    assert "worker.id 'node-a'" in message and "node-a-orders-0" in message


class _LeaveRecorder(ScriptedConsumer):
    """Remembers, at each close, whether the task unsubscribed (left the group) first."""

    def __init__(self) -> None:
        super().__init__()
        self.closes: list[bool] = []

    def close(self) -> None:
        self.closes.append(self.left_group)
        super().close()


class _BuildCounter(ScriptedConsumer):
    """Counts the consumers a task builds (one per run)."""

    builds = 0

    def factory(self, config: dict[str, Any]) -> ScriptedConsumer:
        self.builds += 1
        return super().factory(config)


def _task(consumer: ScriptedConsumer) -> TaskRunner:
    worker = load_worker_config({"worker.id": "node-a"}, environ={})
    registry = PluginRegistry()
    registry.register("recording", RecordingSinkConnector)
    config = validate_connector(
        "orders",
        {"connector.class": "recording", "topics": "t", "task.restart.backoff.initial.ms": "1"},
        worker,
        registry,
    )
    return TaskRunner(
        config,
        0,
        worker,
        consumer_factory=consumer.factory,
        producer_factory=ScriptedProducer().factory,
    )


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "not reached within 10 s"
        time.sleep(0.01)


def test_a_restart_keeps_the_membership_and_a_stop_leaves_the_group() -> None:
    """An operator's restart closes the consumer without leaving (the same static id
    takes its partitions back at once); a stop unsubscribes first, so a static member's
    partitions don't wait out its session."""
    consumer = _LeaveRecorder()
    task = _task(consumer)
    task.start()
    try:
        _until(lambda: consumer.consume_calls > 0)
        task.restart()
        _until(lambda: len(consumer.closes) == 1 and consumer.consume_calls > 0)
    finally:
        task.stop()
        assert task.join(10)
    assert consumer.closes == [False, True]


def test_a_fenced_task_fails_saying_why_and_waits_for_an_operator() -> None:
    """The fatal fencing error fails the task with a message naming worker.id; it is
    not restarted by itself (that would fence the other process in turn)."""
    fatal = KafkaError(
        KafkaError._FATAL, "Fatal error: " + KafkaError(KafkaError.FENCED_INSTANCE_ID).str()
    )

    def fence(_: ScriptedConsumer) -> None:
        raise KafkaException(fatal)

    consumer = _BuildCounter()
    consumer.before_consume = fence
    task = _task(consumer)
    task.start()
    try:
        _until(lambda: task.status.state == TaskState.FAILED)
        time.sleep(0.2)  # a restart by itself would build a second consumer by now
        assert consumer.builds == 1
        assert task.status.message is not None
        assert "worker.id 'node-a'" in task.status.message
        assert "node-a-orders-0" in task.status.message
    finally:
        task.stop()
        assert task.join(10)
