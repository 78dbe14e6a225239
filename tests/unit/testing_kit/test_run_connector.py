"""``offramp.testing.run_connector``: a connector run through the worker's own task loop
over scripted records, without Kafka; and ``recording()`` scopes."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Message

from offramp import (
    BatchWriter,
    ConfigError,
    ConfigModel,
    RecordFailure,
    SinkConnector,
    SinkRecord,
    TaskContext,
    TopicPartition,
)
from offramp.task import TaskState
from offramp.testing import (
    Record,
    RunTimeout,
    ScriptedProducer,
    recording,
    recordings,
    run_connector,
)

pytestmark = pytest.mark.timeout(60)

CALLS = TopicPartition("calls", 0)
TEXT = {"value.converter": "string", "key.converter": "string"}
JSON = {
    "value.converter": "json",
    "value.converter.schemas.enable": "false",
    "key.converter": "string",
}
DLQ = {
    "errors.tolerance": "all",
    "errors.deadletterqueue.topic.name": "calls-dlq",
    "errors.deadletterqueue.context.headers.enable": "true",
}


def test_file_sink_gets_converted_and_transformed_records(tmp_path: Path) -> None:
    """A built-in connector by alias: JSON converted, an SMT applied, offsets committed."""
    out = tmp_path / "out.jsonl"
    result = run_connector(
        {
            "connector.class": "file",
            "topics": "calls",
            "file": str(out),
            **JSON,
            "transforms": "drop,env",
            "transforms.drop.type": "org.apache.kafka.connect.transforms.ReplaceField$Value",
            "transforms.drop.exclude": "ssn",
            "transforms.env.type": "org.apache.kafka.connect.transforms.InsertField$Value",
            "transforms.env.static.field": "env",
            "transforms.env.static.value": "test",
        },
        [Record({"id": 1, "ssn": "x"}, key="call-1"), {"id": 2, "ssn": "y"}],
    )
    assert result.values == [{"id": 1, "env": "test"}, {"id": 2, "env": "test"}]
    assert result.written[0].key == "call-1"
    assert [orjson.loads(line) for line in out.read_bytes().splitlines()] == result.values
    assert result.committed == {CALLS: 2}
    assert result.metrics.records_written == 2
    assert result.status.state is TaskState.RUNNING


def test_retriable_error_is_retried_then_written() -> None:
    """A RetriableError is retried with backoff, the task stays RUNNING, then it's written."""
    result = run_connector(
        {
            "connector.class": "scripted",
            "topics": "calls",
            **TEXT,
            "script.transient.writes": "2",
            "script.retry.after": "0.01",
        },
        ["a", "b", "c"],
        name="flaky",
    )
    assert result.values == ["a", "b", "c"]
    assert [r.value for r in result.recorded["flaky"]] == ["a", "b", "c"]
    assert result.metrics.retries >= 2
    assert TaskState.FAILED not in {s.state for s in result.statuses}
    assert result.committed == {CALLS: 3}
    assert result.dead_letters == []


def test_batch_error_is_bisected_to_the_bad_record_and_dead_lettered() -> None:
    """A BatchError naming no record is split until the one bad record stands alone; only
    it goes to the dead-letter topic, with Kafka Connect's context headers."""
    values = [f"ok-{i}" for i in range(7)] + ["poison"] + [f"ok-{i}" for i in range(7, 12)]
    result = run_connector(
        {
            "connector.class": "scripted",
            "topics": "calls",
            **TEXT,
            **DLQ,
            "script.batch.fail.values": "poison",
        },
        [Record(v, headers={"ce-type": "call.completed"}) for v in values],
    )
    assert result.values == [v for v in values if v != "poison"]
    assert len(result.dead_letters) == 1
    dead = result.dead_letters[0]
    assert dead.topic == "calls-dlq"
    assert dead.value == b"poison"  # the original bytes
    assert dead.offset == 7
    assert dead.headers["ce-type"] == "call.completed"
    assert dead.headers["__connect.errors.topic"] == "calls"
    assert dead.headers["__connect.errors.stage"] == "TASK_PUT"
    assert dead.headers["__connect.errors.exception.class.name"] == "offramp.errors.BatchError"
    assert dead.headers["__connect.errors.connector.name"] == "test-connector"
    assert result.committed == {CALLS: len(values)}
    assert result.metrics.records_dead_lettered == 1


def test_record_failures_and_conversion_errors_are_dead_lettered() -> None:
    """Per-record failures and a value the converter refuses both reach the DLQ; the
    offsets of every partition are committed past them."""
    result = run_connector(
        {
            "connector.class": "scripted",
            "topics": "calls,events",
            **JSON,
            **DLQ,
            "script.fail.values": "bad",
        },
        {("calls", 0): ['"good"', '"bad"'], ("calls", 1): [b"{not json"], "events": ['"e"']},
    )
    assert sorted(result.values) == ["e", "good"]
    stages = sorted(d.headers["__connect.errors.stage"] for d in result.dead_letters)
    assert stages == ["TASK_PUT", "VALUE_CONVERTER"]
    assert result.committed == {
        CALLS: 2,
        TopicPartition("calls", 1): 1,
        TopicPartition("events", 0): 1,
    }


class UpperConfig(ConfigModel):
    suffix: str = ""


class UpperWriter(BatchWriter):
    def __init__(self, suffix: str) -> None:
        self.suffix = suffix
        self.prepared: list[str] = []

    def prepare(self, records: Sequence[SinkRecord]) -> None:
        self.prepared.extend(str(r.value) for r in records)

    def write(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure] | None:
        return None


class UpperConnector(SinkConnector[UpperConfig]):
    config_model = UpperConfig

    def create_writer(self, config: UpperConfig, context: TaskContext) -> BatchWriter:
        return UpperWriter(config.suffix)


def test_a_connector_class_under_test_is_registered_and_validated() -> None:
    """The class passed as ``connector`` runs under the config's alias; its config model
    validates the config (a bad key is named)."""
    result = run_connector(
        {"connector.class": "upper", "topics": "calls", **TEXT, "suffix": "!"},
        ["x"],
        connector=UpperConnector,
    )
    assert result.values == ["x"]
    with pytest.raises(ConfigError) as info:
        run_connector(
            {"connector.class": "upper", "topics": "calls", "sufix": "!"},
            connector=UpperConnector,
        )
    assert "sufix" in str(info.value.errors)


def test_a_fatal_error_fails_the_task_with_its_trace() -> None:
    """An unclassified or fatal write error fails the run (never dead-lettered)."""
    result = run_connector(
        {"connector.class": "scripted", "topics": "calls", **TEXT, **DLQ, "script.fatal": "true"},
        ["a"],
    )
    assert result.failed
    assert "scripted fatal failure" in (result.trace or "")
    assert result.dead_letters == []
    assert result.committed == {}


def test_a_refused_dead_letter_holds_the_commit_back() -> None:
    """A scripted producer can refuse a dead letter: the run does not drain in time."""
    producer = ScriptedProducer()
    producer.fail_next(100)
    with pytest.raises(RunTimeout) as info:
        run_connector(
            {
                "connector.class": "scripted",
                "topics": "calls",
                **JSON,
                **DLQ,
                "script.fail.values": "bad",
                "task.restart.backoff.initial.ms": "10",
            },
            ['"bad"'],
            producer=producer,
            stop_on_failure=False,
            timeout=1.0,
        )
    assert info.value.result.committed.get(CALLS, 0) == 0


def test_records_for_a_topic_not_consumed_are_refused() -> None:
    """Scripting a topic the connector doesn't subscribe to is a mistake, said so."""
    with pytest.raises(ValueError, match="does not consume"):
        run_connector({"connector.class": "recording", "topics": "calls"}, {"other": [b"x"]})


def test_recording_scopes_see_only_their_own_writes() -> None:
    """``recording()`` scopes what the testing sinks write; outside every scope the
    process-wide ``recordings(name)`` store gets it."""
    from offramp.testing.sinks import _record

    record = SinkRecord(Message(topic="calls", partition=0, offset=0, value=b"v"), None, "v")
    with recording() as outer:
        with recording() as inner:
            _record("scoped", [record])
        _record("scoped", [record])
    assert len(inner["scoped"]) == 1
    assert len(outer["scoped"]) == 2
    assert recordings("scoped") == []
    _record("unscoped", [record])
    assert recordings("unscoped") == [record]


def test_recording_is_thread_safe() -> None:
    """Writes from many threads into one scope are all kept."""
    record = SinkRecord(Message(topic="calls", partition=0, offset=0, value=b"v"), None, "v")
    from offramp.testing.sinks import _record

    with recording() as rec:
        threads = [
            threading.Thread(target=lambda: [_record("t", [record]) for _ in range(500)])
            for _ in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(rec["t"]) == 4000
