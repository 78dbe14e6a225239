"""The task loop's defects from issue 15 (1 to 11), each scripted as the scenario it names.

Kafka is a ``ScriptedConsumer`` (rebalances fired inside ``consume()`` at exact points,
through its ``before_consume`` hook) and the dead-letter producer a ``ScriptedProducer``;
the sink is a ``ScriptWriter`` whose every write the test decides. The task is driven
and observed only through its public surface: the ``TaskRunner`` constructor and
controls, the statuses it reports (``on_state``), its metrics, what the writer received,
and what the group committed. Each assertion states the correct behaviour.

The commit rule is checked at every commit (``CheckedConsumer``): an offset is
committed only when every record before it in its partition was written or its dead
letter acknowledged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import pytest
from confluent_kafka import TopicPartition as KafkaTopicPartition

from offramp import (
    BatchError,
    BatchWriter,
    ConfigModel,
    FatalError,
    RecordFailure,
    RetriableError,
    SinkConnector,
    SinkRecord,
    TaskContext,
    TopicPartition,
)
from offramp.config import load_worker_config, validate_connector
from offramp.registry import PluginRegistry
from offramp.task import TaskRunner
from offramp.testing import CommitResult, ScriptedConsumer, ScriptedProducer

pytestmark = pytest.mark.timeout(30)

TOPIC = "calls"
DLQ = "calls-dlq"
X = TopicPartition(TOPIC, 0)
Y = TopicPartition(TOPIC, 1)
STRING = "org.apache.kafka.connect.storage.StringConverter"

Coord = tuple[TopicPartition, int]
"""A record by its Kafka coordinates: (partition, offset)."""


def value_of(tp: TopicPartition, offset: int) -> bytes:
    """Every record's value names its coordinates, so dead letters can be traced back."""
    return f"{tp.topic}:{tp.partition}:{offset}".encode()


def coords(tp: TopicPartition, offsets: range) -> list[Coord]:
    return [(tp, o) for o in offsets]


def wait_until(condition: Callable[[], object], timeout: float = 5.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` passes; whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return bool(condition())


def went_backwards(
    commits: Sequence[tuple[TopicPartition, int]],
) -> dict[TopicPartition, list[int]]:
    """Partitions whose committed offsets ever went down, with their whole history."""
    history: dict[TopicPartition, list[int]] = {}
    for tp, offset in commits:
        history.setdefault(tp, []).append(offset)
    return {
        tp: offsets for tp, offsets in history.items() if any(b < a for a, b in pairwise(offsets))
    }


# ----- the sink -------------------------------------------------------------------------

Behaviour = Callable[[int, list[SinkRecord]], Sequence[RecordFailure] | None]
"""Decides write number ``n`` (1-based) of ``records``: return failures, or raise."""


class ScriptWriter(BatchWriter):
    """A writer a test scripts: ``behaviour`` decides each write; what passes is kept."""

    def __init__(
        self,
        behaviour: Behaviour | None = None,
        on_open: Callable[[Sequence[TopicPartition]], None] | None = None,
    ) -> None:
        self.behaviour = behaviour
        self.on_open = on_open
        self.lock = threading.Lock()
        self.batches: list[list[Coord]] = []  # what every write call received, in order
        self.written: set[Coord] = set()  # records written (not returned as failures)
        self.raised: list[BaseException] = []  # what write calls raised, in order
        self.returned = 0  # write calls that returned
        self.writing = threading.Event()  # set while a write runs
        self.write_began = 0.0

    def open(self, partitions: Sequence[TopicPartition]) -> None:
        if self.on_open is not None:
            self.on_open(partitions)

    def write(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure] | None:
        batch = list(records)
        got = [(r.topic_partition, r.kafka_offset) for r in batch]
        with self.lock:
            self.batches.append(got)
            call = len(self.batches)
        self.write_began = time.monotonic()
        self.writing.set()
        try:
            failures = self.behaviour(call, batch) if self.behaviour is not None else None
        except BaseException as exc:
            with self.lock:
                self.raised.append(exc)
            raise
        finally:
            self.writing.clear()
        failed = {id(f.record) for f in failures or ()}
        with self.lock:
            self.written.update(c for r, c in zip(batch, got, strict=True) if id(r) not in failed)
            self.returned += 1
        return failures

    def has_written(self, wanted: Sequence[Coord]) -> bool:
        with self.lock:
            return all(c in self.written for c in wanted)

    def retriable_errors(self) -> int:
        with self.lock:
            return sum(isinstance(e, RetriableError) for e in self.raised)


class PipelinedWriter(ScriptWriter):
    """The same, writing on the task's write thread (like the SQL sink)."""

    pipelined = True


class NoConfig(ConfigModel):
    pass


# ----- Kafka --------------------------------------------------------------------------


class CheckedConsumer(ScriptedConsumer):
    """A scripted consumer that checks the commit rule at every commit it accepts."""

    def __init__(self, handled: Callable[[TopicPartition, int], bool]) -> None:
        super().__init__(incremental=True)
        self.handled = handled
        self.violations: list[str] = []
        self._elsewhere: dict[TopicPartition, int] = {}

    def commit_elsewhere(self, partition: Any, offset: int) -> None:
        if isinstance(partition, KafkaTopicPartition):
            tp = TopicPartition(partition.topic, partition.partition)
        else:
            tp = TopicPartition(partition[0], partition[1])
        self._elsewhere[tp] = max(offset, self._elsewhere.get(tp, 0))
        super().commit_elsewhere(partition, offset)

    def commit(
        self,
        message: Any = None,
        *,
        offsets: Sequence[KafkaTopicPartition] | None = None,
        asynchronous: bool = True,
    ) -> list[CommitResult]:
        unhandled: dict[TopicPartition, list[int]] = {}
        for p in offsets or ():
            tp = TopicPartition(p.topic, p.partition)
            start = self._elsewhere.get(tp, 0)  # what another member handled
            missing = [o for o in range(start, p.offset) if not self.handled(tp, o)]
            if missing:
                unhandled[tp] = missing
        results = super().commit(message, offsets=offsets, asynchronous=asynchronous)
        for r in results:
            tp = TopicPartition(r.topic, r.partition)
            if r.error is None and tp in unhandled:
                self.violations.append(
                    f"{tp.topic}-{tp.partition} committed at {r.offset} while offsets "
                    f"{unhandled[tp]} were neither written nor dead-lettered"
                )
        return results


@dataclass(frozen=True)
class Seen:
    """One status the task reported."""

    state: str
    trace: str | None
    message: str | None

    @property
    def reason(self) -> str:
        """The last line of the trace: the exception that failed the task."""
        lines = [line for line in (self.trace or "").splitlines() if line.strip()]
        return lines[-1] if lines else ""


class Scenario:
    """One task over ``calls`` (partitions X=0 and Y=1), its scripted Kafka and sink."""

    def __init__(
        self,
        writer: ScriptWriter,
        settings: dict[str, str] | None = None,
        *,
        records: dict[TopicPartition, int],
        assign: Sequence[TopicPartition] = (X, Y),
        dlq: bool = False,
        flush_interval_ms: int = 100,
    ) -> None:
        self.writer = writer
        self.producer = ScriptedProducer()
        self.consumer = CheckedConsumer(self.handled)
        self._ends: dict[TopicPartition, int] = {}
        self._appending = threading.Lock()  # hooks and write threads append too
        for tp, count in records.items():
            self.append(tp, count)
        self.consumer.assign(list(assign))
        self.seen: list[Seen] = []
        self.runs = 0  # writers created: one per run of the task
        self.cleanups: list[Callable[[], None]] = []

        scenario = self

        class ScenarioConnector(SinkConnector[NoConfig]):
            config_model = NoConfig

            def create_writer(self, config: NoConfig, context: TaskContext) -> BatchWriter:
                scenario.runs += 1
                return scenario.writer

        registry = PluginRegistry(load_entry_points=False)
        registry.register("scenario", ScenarioConnector)
        worker = load_worker_config(
            {
                "offset.flush.interval.ms": flush_interval_ms,
                "task.shutdown.graceful.timeout.ms": 2000,
            },
            environ={},
        )
        raw: dict[str, Any] = {
            "connector.class": "scenario",
            "topics": TOPIC,
            "batch.max.age.ms": "10",
            "key.converter": STRING,
            "value.converter": STRING,
        }
        if dlq:
            raw.update({"errors.tolerance": "all", "errors.deadletterqueue.topic.name": DLQ})
        raw.update(settings or {})
        config = validate_connector("scenario", raw, worker, registry)
        self.task = TaskRunner(
            config,
            0,
            worker,
            on_state=self._on_state,
            consumer_factory=self.consumer.factory,
            producer_factory=self.producer.factory,
        )

    def _on_state(self, task: TaskRunner) -> None:
        status = task.status
        self.seen.append(Seen(str(status.state), status.trace, status.message))

    def append(self, tp: TopicPartition, count: int) -> list[Coord]:
        """``count`` more records at the end of ``tp``; their coordinates."""
        with self._appending:
            start = self._ends.get(tp, 0)
            self._ends[tp] = start + count
            values = [value_of(tp, start + i) for i in range(count)]
            self.consumer.append(tp.topic, tp.partition, values)
        return coords(tp, range(start, start + count))

    def dead_lettered(self) -> set[bytes | None]:
        return {value for _, _, value, _ in self.producer.produced}

    def handled(self, tp: TopicPartition, offset: int) -> bool:
        """Written by the sink, or dead-lettered and the dead letter acknowledged."""
        if self.writer.has_written([(tp, offset)]):
            return True
        return any(value == value_of(tp, offset) for _, _, value, _ in self.producer.acknowledged)

    def position(self, tp: TopicPartition) -> int:
        return int(self.consumer.position([KafkaTopicPartition(tp.topic, tp.partition)])[0].offset)

    def failed(self, states: tuple[str, ...] = ("FAILED",)) -> Seen | None:
        """The first status in ``states`` the task reported, if any."""
        return next((s for s in self.seen if s.state in states), None)

    def states(self) -> list[str]:
        """The states reported, repeats folded, FAILED with its reason."""
        out: list[str] = []
        for s in self.seen:
            state = f"FAILED ({s.reason})" if s.state == "FAILED" else s.state
            if not out or out[-1] != state:
                out.append(state)
        return out

    def stop(self) -> bool:
        for cleanup in self.cleanups:
            cleanup()
        self.task.stop()
        return self.task.join(10)


@pytest.fixture
def start() -> Iterator[Callable[[Scenario], Scenario]]:
    """Starts a scenario's task; stops it at the end of the test, whatever happened."""
    started: list[Scenario] = []

    def run(scenario: Scenario) -> Scenario:
        started.append(scenario)
        scenario.task.start()
        return scenario

    yield run
    for scenario in started:
        scenario.stop()


RETRYING = {"errors.retry.timeout": "10000", "errors.retry.delay.max.ms": "50"}


# ----- 1 ------------------------------------------------------------------------------


def test_failed_pipelined_write_is_not_swallowed_on_revoke(
    start: Callable[[Scenario], Scenario],
) -> None:
    """A pipelined write that failed is not forgotten when a revocation finishes it: no
    offset passes its records, and the task fails (or writes them before committing)."""

    def behaviour(call: int, records: list[SinkRecord]) -> None:
        if call == 1:
            raise FatalError("connection to the database lost")

    revoked = threading.Event()

    def hook(consumer: ScriptedConsumer) -> None:
        # B1 (X0-4, Y0) was handed to the write thread and B2 (Y1-4) is being built.
        if not revoked.is_set() and s.writer.batches and s.position(Y) == 5:
            revoked.set()
            consumer.revoke([X])

    s = Scenario(
        PipelinedWriter(behaviour),
        {"batch.max.records": "6", "batch.max.age.ms": "500"},
        records={X: 5, Y: 5},
        flush_interval_ms=500,
    )
    s.consumer.before_consume = hook
    start(s)
    wait_until(
        lambda: (
            s.consumer.violations
            or s.failed(("FAILED", "RESTARTING"))
            or s.writer.has_written([(Y, 0)])
        )
    )
    s.stop()
    assert not s.consumer.violations, s.consumer.violations[0]
    assert s.failed(("FAILED", "RESTARTING")) or s.writer.has_written([(Y, 0)]), (
        f"the failed write of B1 was swallowed: states {s.states()}, Y0 never written"
    )


# ----- 2 ------------------------------------------------------------------------------


def test_partition_revoked_while_paused_is_fetched_again_when_reassigned(
    start: Callable[[Scenario], Scenario],
) -> None:
    """A partition revoked while a retrying write had it paused, and assigned again after
    the write succeeded, is fetched again: its new records are written."""

    def behaviour(call: int, records: list[SinkRecord]) -> None:
        if call <= 2:
            raise RetriableError("database restarting")

    step = [0]
    fresh: list[Coord] = []

    def hook(consumer: ScriptedConsumer) -> None:
        if step[0] == 0 and s.writer.retriable_errors() and X in consumer.paused:
            step[0] = 1
            consumer.revoke([X])
        elif step[0] == 1 and X not in consumer.assignment and s.writer.returned:
            step[0] = 2
            fresh.extend(s.append(X, 2))
            consumer.assign([X])

    s = Scenario(
        ScriptWriter(behaviour), {"batch.max.records": "6", **RETRYING}, records={X: 3, Y: 3}
    )
    s.consumer.before_consume = hook
    start(s)
    wait_until(lambda: step[0] == 2 and s.writer.has_written(fresh), timeout=15.0)
    assert step[0] == 2, f"scenario did not run: step {step[0]}, states {s.states()}"
    assert s.writer.has_written(fresh), (
        f"X was assigned again after being revoked while paused, but its new records "
        f"{[o for _, o in fresh]} were never written (X still paused: {X in s.consumer.paused})"
    )


# ----- 3 ------------------------------------------------------------------------------


def test_bisected_half_retried_across_a_revocation_skips_no_kept_record(
    start: Callable[[Scenario], Scenario],
) -> None:
    """A refused batch is bisected, a half meets a transient error and a partition is
    revoked during its backoff: the kept partition's records are all written, and no
    offset is committed past a record that wasn't."""
    first_x_half = [True]

    def behaviour(call: int, records: list[SinkRecord]) -> None:
        if len(records) == 8:
            raise BatchError("batch refused")
        if first_x_half[0] and any(r.topic_partition == X for r in records):
            first_x_half[0] = False
            raise RetriableError("lock wait timeout")

    revoked = threading.Event()

    def hook(consumer: ScriptedConsumer) -> None:
        if not revoked.is_set() and s.writer.retriable_errors():
            revoked.set()
            consumer.revoke([X])

    s = Scenario(
        ScriptWriter(behaviour),
        {"batch.max.records": "8", **RETRYING},
        records={X: 4, Y: 4},
        dlq=True,
    )
    s.consumer.before_consume = hook
    start(s)
    kept = coords(Y, range(4))
    wait_until(lambda: s.consumer.violations or s.writer.has_written(kept))
    assert revoked.is_set(), f"scenario did not run: writes {s.writer.batches}"
    assert not s.consumer.violations, s.consumer.violations[0]
    assert s.writer.has_written(kept), (
        f"Y's records skipped after the bisection: writes {s.writer.batches}"
    )


# ----- 4 ------------------------------------------------------------------------------


def test_dead_letter_failure_in_a_revocation_during_backoff_is_not_committed_past(
    start: Callable[[Scenario], Scenario],
) -> None:
    """A dead letter whose delivery fails in the commit of a revocation that came during
    a retry backoff: no offset is ever committed past its record."""

    def behaviour(call: int, records: list[SinkRecord]) -> Sequence[RecordFailure] | None:
        if call == 1:  # B1: X0, X1, Y0, Y1; Y0 is a bad record
            s.append(X, 2)
            s.append(Y, 2)
            return [
                RecordFailure(r, ValueError("bad row")) for r in records if r.value == "calls:1:0"
            ]
        if call == 2:  # B2: X2, X3, Y2, Y3
            raise RetriableError("database busy")
        return None

    revoked = threading.Event()

    def hook(consumer: ScriptedConsumer) -> None:
        if not revoked.is_set() and s.writer.retriable_errors():
            revoked.set()
            consumer.revoke([X])

    s = Scenario(
        ScriptWriter(behaviour),
        {"batch.max.records": "4", **RETRYING},
        records={X: 2, Y: 2},
        dlq=True,
        flush_interval_ms=1000,
    )
    s.producer.fail_next(1)  # the broker refuses Y0's dead letter
    s.consumer.before_consume = hook
    start(s)
    wait_until(lambda: s.consumer.violations or s.failed(("FAILED", "RESTARTING")), timeout=3.0)
    s.stop()
    assert revoked.is_set() and value_of(Y, 0) in s.dead_lettered(), (
        f"scenario did not run: writes {s.writer.batches}, dead letters {s.producer.produced}"
    )
    assert not s.consumer.violations, s.consumer.violations[0]


def test_writer_open_failing_during_backoff_fails_the_task(
    start: Callable[[Scenario], Scenario],
) -> None:
    """``writer.open()`` raising for a partition assigned during a retry backoff fails
    the task with its trace, rather than leaving the partition read but never tracked."""

    def behaviour(call: int, records: list[SinkRecord]) -> None:
        if call <= 2:
            raise RetriableError("database busy")

    def on_open(partitions: Sequence[TopicPartition]) -> None:
        if X in partitions:
            raise RuntimeError("cannot open calls-0: table is locked")

    assigned = threading.Event()

    def hook(consumer: ScriptedConsumer) -> None:
        if not assigned.is_set() and s.writer.retriable_errors():
            assigned.set()
            consumer.assign([X])

    s = Scenario(ScriptWriter(behaviour, on_open), RETRYING, records={X: 2, Y: 2}, assign=[Y])
    s.consumer.before_consume = hook
    start(s)
    x_records = coords(X, range(2))
    wait_until(lambda: s.failed() or s.writer.has_written(x_records), timeout=4.0)
    assert assigned.is_set(), f"scenario did not run: states {s.states()}"
    failed = s.failed()
    assert failed is not None and "cannot open" in (failed.trace or ""), (
        f"writer.open() raised during a retry backoff but the task was not FAILED "
        f"(states {s.states()}; X's records written: {s.writer.has_written(x_records)}, "
        f"group committed {dict(s.consumer.committed)})"
    )


# ----- 5 ------------------------------------------------------------------------------


def test_write_result_is_applied_once_when_a_revocation_interrupts_its_wait(
    start: Callable[[Scenario], Scenario],
) -> None:
    """A partition revoked while the task waits for a slow pipelined write, committed by
    another member meanwhile and then assigned back: its committed offset never goes
    backwards."""
    release = threading.Event()

    def behaviour(call: int, records: list[SinkRecord]) -> None:
        if call == 1:
            release.wait(5.0)

    step = [0]

    def hook(consumer: ScriptedConsumer) -> None:
        writer = s.writer
        if step[0] == 0 and writer.writing.is_set() and time.monotonic() - writer.write_began > 0.3:
            step[0] = 1
            consumer.revoke([X])
            release.set()
        elif step[0] == 1 and X not in consumer.assignment and writer.returned:
            step[0] = 2
            s.append(X, 2)  # the other member writes X3, X4 and commits them
            consumer.commit_elsewhere(X, 5)
            s.append(Y, 2)
            consumer.assign([X])

    s = Scenario(PipelinedWriter(behaviour), {"batch.max.records": "6"}, records={X: 3, Y: 3})
    s.cleanups.append(release.set)
    s.consumer.before_consume = hook
    start(s)
    # Y3, Y4 written and committed: every commit after X came back has happened.
    wait_until(lambda: step[0] == 2 and s.consumer.committed.get(Y) == 5, timeout=6.0)
    assert step[0] == 2, f"scenario did not run: step {step[0]}, writes {s.writer.batches}"
    backwards = went_backwards(s.consumer.commits)
    assert not backwards, f"committed offsets went backwards: {backwards}"


# ----- 6 ------------------------------------------------------------------------------


@pytest.mark.parametrize("control", ["stop", "restart"])
def test_stop_or_restart_during_retries_commits_what_is_durable(
    start: Callable[[Scenario], Scenario], control: str
) -> None:
    """Stopping or restarting a task while a write is retrying still commits the offsets
    already written, is not reported FAILED, and counts no restart."""

    def behaviour(call: int, records: list[SinkRecord]) -> None:
        if call == 1:  # B1 is written; B2 follows and meets an outage
            s.append(X, 3)
            s.append(Y, 3)
            return
        raise RetriableError("database unavailable")

    s = Scenario(
        ScriptWriter(behaviour),
        {"batch.max.records": "6", "errors.retry.timeout": "-1", "errors.retry.delay.max.ms": "50"},
        records={X: 3, Y: 3},
        flush_interval_ms=60000,  # nothing is committed until the task stops
    )
    start(s)
    assert wait_until(lambda: s.writer.retriable_errors() >= 2, timeout=15.0), (
        f"scenario did not run: writes {s.writer.batches}, states {s.states()}"
    )
    if control == "stop":
        assert s.stop(), "the task did not stop"
    else:
        s.task.restart()
        wait_until(lambda: s.runs >= 2, timeout=5.0)
        assert s.runs >= 2, f"the task did not restart: states {s.states()}"
        assert s.stop(), "the task did not stop"
    assert s.consumer.committed == {X: 3, Y: 3}, (
        f"offsets written before the {control} were not committed: "
        f"group committed {dict(s.consumer.committed)}"
    )
    assert s.failed() is None, f"a requested {control} was reported FAILED: states {s.states()}"
    assert s.task.metrics.restarts == 0, f"a requested {control} counted as a restart"


# ----- 7 ------------------------------------------------------------------------------


def test_revocation_timeout_does_not_abort_later_retries(
    start: Callable[[Scenario], Scenario],
) -> None:
    """After a revocation outlasted ``task.revocation.flush.timeout.ms`` (the write then
    succeeded), a later transient error is retried as usual: no restart, no FAILED."""

    def behaviour(call: int, records: list[SinkRecord]) -> None:
        if call == 1:  # slower than the revocation timeout, then written
            time.sleep(0.5)
            s.append(Y, 3)
        elif call == 2:
            raise RetriableError("deadlock detected, try again")

    revoked = threading.Event()

    def hook(consumer: ScriptedConsumer) -> None:
        if not revoked.is_set() and s.writer.writing.is_set():
            revoked.set()
            consumer.revoke([X])

    s = Scenario(
        PipelinedWriter(behaviour),
        {"batch.max.records": "6", "task.revocation.flush.timeout.ms": "100", **RETRYING},
        records={X: 3, Y: 3},
    )
    s.consumer.before_consume = hook
    start(s)
    later = coords(Y, range(3, 6))
    wait_until(lambda: s.failed() or s.writer.has_written(later))
    assert revoked.is_set(), f"scenario did not run: writes {s.writer.batches}"
    assert s.failed() is None, (
        f"a transient error after a revocation timeout failed the task: states {s.states()}"
    )
    assert s.writer.has_written(later), f"B2 never written: writes {s.writer.batches}"
    assert s.task.metrics.restarts == 0


def test_empty_cooperative_assign_does_not_abort_a_retrying_write(
    start: Callable[[Scenario], Scenario],
) -> None:
    """An empty incremental assignment (a rebalance that gave this task nothing) while a
    pipelined write is retrying leaves the write alone: it succeeds, nothing restarts."""
    outage_until = [0.0]

    def behaviour(call: int, records: list[SinkRecord]) -> None:
        if call == 1:
            outage_until[0] = time.monotonic() + 0.8
        if time.monotonic() < outage_until[0]:
            raise RetriableError("database failing over")

    assigned = threading.Event()

    def hook(consumer: ScriptedConsumer) -> None:
        if not assigned.is_set() and s.writer.retriable_errors():
            assigned.set()
            consumer.assign([])

    s = Scenario(
        PipelinedWriter(behaviour),
        {"batch.max.records": "6", "task.revocation.flush.timeout.ms": "200", **RETRYING},
        records={X: 3, Y: 3},
    )
    s.consumer.before_consume = hook
    start(s)
    everything = coords(X, range(3)) + coords(Y, range(3))
    wait_until(lambda: s.failed() or s.writer.has_written(everything))
    assert assigned.is_set(), f"scenario did not run: writes {s.writer.batches}"
    assert s.failed() is None, (
        f"an empty assignment aborted the retrying write: states {s.states()}"
    )
    assert s.writer.has_written(everything), f"writes {s.writer.batches}"
    assert s.task.metrics.restarts == 0


# ----- 8 ------------------------------------------------------------------------------


def test_partition_whose_commit_failed_alone_is_committed_later(
    start: Callable[[Scenario], Scenario],
) -> None:
    """A commit that fails for one partition while the others succeed is retried for
    that partition, and counted in ``commit_failures``."""
    s = Scenario(ScriptWriter(), records={X: 3, Y: 3})
    s.consumer.fail_commits([X], times=1)
    start(s)
    wait_until(lambda: s.consumer.committed.get(X) == 3, timeout=2.0)
    assert s.consumer.committed.get(X) == 3, (
        f"X's commit failed once (Y's succeeded) and was never retried: "
        f"group committed {dict(s.consumer.committed)}"
    )
    assert s.task.metrics.commit_failures >= 1


# ----- 9 ------------------------------------------------------------------------------


def test_status_message_clears_after_a_pipelined_retry_succeeds(
    start: Callable[[Scenario], Scenario],
) -> None:
    """Once a pipelined write's retry succeeds, the task's status says nothing about
    retrying any more."""

    def behaviour(call: int, records: list[SinkRecord]) -> None:
        if call <= 2:
            raise RetriableError("lock timeout")

    s = Scenario(PipelinedWriter(behaviour), RETRYING, records={X: 3})
    start(s)
    assert wait_until(lambda: s.writer.has_written(coords(X, range(3)))), (
        f"never written: writes {s.writer.batches}, states {s.states()}"
    )
    assert any("lock timeout" in (seen.message or "") for seen in s.seen), (
        f"no status gave the reason while retrying: {s.seen}"
    )
    wait_until(lambda: s.task.status.message is None, timeout=15.0)
    assert s.task.status.message is None, f"stale status message: {s.task.status.message!r}"


# ----- 10 -----------------------------------------------------------------------------


def test_unclassified_write_exception_fails_the_task_without_dead_letters(
    start: Callable[[Scenario], Scenario],
) -> None:
    """An exception from ``write()`` that is no ``SinkError`` (a client's connection
    error) fails the task with its trace: nothing bisected, nothing dead-lettered, even
    with ``errors.tolerance=all`` and a dead-letter topic."""

    def behaviour(call: int, records: list[SinkRecord]) -> None:
        raise ConnectionError("connection refused")

    s = Scenario(
        ScriptWriter(behaviour), {"batch.max.records": "6"}, records={X: 3, Y: 3}, dlq=True
    )
    start(s)
    wait_until(lambda: s.failed() or len(s.producer.produced) >= 6, timeout=4.0)
    assert not s.producer.produced, (
        f"an outage dead-lettered {len(s.producer.produced)} records: "
        f"{sorted(v or b'' for v in s.dead_lettered())}"
    )
    sizes = [len(b) for b in s.writer.batches]
    assert all(size == 6 for size in sizes), f"the batch was bisected: write sizes {sizes}"
    failed = s.failed()
    assert failed is not None and "ConnectionError" in (failed.trace or ""), (
        f"not FAILED with the trace: states {s.states()}"
    )


# ----- 11 -----------------------------------------------------------------------------


def test_outage_under_default_settings_is_ridden_out_running(
    start: Callable[[Scenario], Scenario],
) -> None:
    """With ``errors.retry.timeout`` left at its default, a destination outage of a few
    seconds is retried: the task stays RUNNING with the reason in its status, never
    FAILED nor restarted, and resumes by itself."""
    outage_until = [0.0]

    def behaviour(call: int, records: list[SinkRecord]) -> None:
        if call == 1:
            outage_until[0] = time.monotonic() + 2.5
        if time.monotonic() < outage_until[0]:
            raise RetriableError("destination down")

    s = Scenario(
        ScriptWriter(behaviour), {"errors.retry.delay.max.ms": "100"}, records={X: 3, Y: 3}
    )
    start(s)
    everything = coords(X, range(3)) + coords(Y, range(3))
    wait_until(lambda: s.failed() or s.writer.has_written(everything), timeout=8.0)
    assert s.failed() is None, f"the outage failed the task: states {s.states()}"
    assert s.task.metrics.restarts == 0
    assert any(
        seen.state == "RUNNING" and "destination down" in (seen.message or "") for seen in s.seen
    ), f"no RUNNING status gave the outage's reason: {s.seen}"
    assert s.writer.has_written(everything), f"did not resume: writes {s.writer.batches}"
