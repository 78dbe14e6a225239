"""Kafka clients for tests of the task loop: rebalances, commit and dead-letter errors on cue.

``ScriptedConsumer`` behaves like confluent-kafka's ``Consumer`` where the task loop can
tell (see ``offramp.consumer``), without a broker:

- rebalance callbacks run inside ``consume()``: a test queues ``assign``, ``revoke`` or
  ``lose`` and the next ``consume()`` fires it, one event per call, before it returns
  messages; a callback that doesn't assign is followed by the assignment, as
  confluent-kafka does;
- a partition's pause flag survives unassign (librdkafka keeps it), so a partition
  revoked while paused comes back paused unless someone resumes it;
- ``commit()`` raises only when every partition failed; otherwise failures are on the
  returned list (``.error``), as librdkafka reports them;
- ``close()`` revokes what is assigned, through the callback.

The group's committed offsets are kept in ``committed``; every successful commit is
appended to ``commits`` so a test can check offsets never went backwards
(``commit_elsewhere`` plays another member committing while it owns a partition).

``ScriptedProducer`` stands in for the dead-letter producer: it keeps what is produced
and fails deliveries on cue (``fail_next``), reported at ``flush()`` as librdkafka does.

    consumer = ScriptedConsumer(incremental=True)
    consumer.append("calls", 0, [b"a", b"b"])
    consumer.assign([("calls", 0)])
    task = TaskRunner(config, 0, worker, consumer_factory=consumer.factory)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_INVALID, KafkaError, KafkaException, Message
from confluent_kafka import TopicPartition as KafkaTopicPartition

from offramp.consumer import RebalanceCallback
from offramp.records import Headers, TopicPartition

__all__ = ["CommitResult", "ScriptedConsumer", "ScriptedProducer"]

PartitionLike = TopicPartition | tuple[str, int] | KafkaTopicPartition


@dataclass
class CommitResult:
    """One partition of a commit's answer (confluent-kafka's has the same attributes)."""

    topic: str
    partition: int
    offset: int
    error: KafkaError | None = None


@dataclass
class _Event:
    kind: str  # "assign" | "revoke" | "lost"
    partitions: list[TopicPartition]


def _tp(p: PartitionLike) -> TopicPartition:
    if isinstance(p, KafkaTopicPartition):
        return TopicPartition(p.topic, p.partition)
    return TopicPartition(p[0], p[1])


class ScriptedConsumer:
    """A scripted stand-in for ``confluent_kafka.Consumer`` (see the module docstring)."""

    def __init__(self, incremental: bool = True) -> None:
        self.incremental = incremental
        self.config: dict[str, Any] = {}
        self.log: dict[TopicPartition, list[Message]] = {}
        self.committed: dict[TopicPartition, int] = {}
        self.commits: list[tuple[TopicPartition, int]] = []
        self.assignment: set[TopicPartition] = set()
        self.paused: set[TopicPartition] = set()
        self.closed = False
        self.left_group = False  # unsubscribed before closing: a static member leaving
        self.consume_calls = 0
        self.before_consume: Callable[[ScriptedConsumer], None] | None = None
        """Called at the start of every ``consume()``: a hook to queue events at exact
        points of a test (it runs on the task's thread)."""
        self._fetch: dict[TopicPartition, int] = {}
        self._position: dict[TopicPartition, int] = {}
        self._events: list[_Event] = []
        self._failing_commits: dict[TopicPartition, int] = {}  # tp -> commits left to fail
        self._callbacks: dict[str, RebalanceCallback | None] = {}
        self._assigned_in_callback = False
        self._lock = threading.RLock()

    # ----- what a test scripts ----------------------------------------------------------

    def factory(self, config: dict[str, Any]) -> ScriptedConsumer:
        """Pass as ``consumer_factory``: every task start gets this same consumer."""
        self.config = dict(config)
        self.closed = False
        self.left_group = False
        return self

    def append(
        self,
        topic: str,
        partition: int,
        values: Iterable[bytes | None],
        key: bytes | None = None,
        headers: Headers | None = None,
    ) -> None:
        """Add messages at the end of ``topic``-``partition``."""
        tp = TopicPartition(topic, partition)
        with self._lock:
            log = self.log.setdefault(tp, [])
            for value in values:
                log.append(
                    Message(
                        topic=topic,
                        partition=partition,
                        offset=len(log),
                        key=key,
                        value=value,
                        headers=list(headers) if headers else None,
                        timestamp=(1, 1_700_000_000_000 + len(log)),
                    )
                )

    def assign(self, partitions: Sequence[PartitionLike]) -> None:
        """Queue an assignment (the next ``consume()`` runs ``on_assign``). Inside a
        callback, this is the callback assigning, as on a real consumer."""
        if self._in_callback():
            self._do_assign(partitions, incremental=False)
            return
        self.queue("assign", partitions)

    def revoke(self, partitions: Sequence[PartitionLike]) -> None:
        """Queue a revocation (the next ``consume()`` runs ``on_revoke``)."""
        self.queue("revoke", partitions)

    def lose(self, partitions: Sequence[PartitionLike]) -> None:
        """Queue a loss (the next ``consume()`` runs ``on_lost``)."""
        self.queue("lost", partitions)

    def queue(self, kind: str, partitions: Sequence[PartitionLike]) -> None:
        with self._lock:
            self._events.append(_Event(kind, [_tp(p) for p in partitions]))

    def fail_commits(self, partitions: Sequence[PartitionLike], times: int = 1) -> None:
        """The next ``times`` commits that include these partitions fail for them."""
        with self._lock:
            for p in partitions:
                self._failing_commits[_tp(p)] = times

    def commit_elsewhere(self, partition: PartitionLike, offset: int) -> None:
        """Another member of the group commits ``offset`` for ``partition`` (it owned the
        partition meanwhile): the group's offset moves on, and the commit is in
        ``commits``, so a later commit of an older offset shows as going backwards."""
        tp = _tp(partition)
        with self._lock:
            self.committed[tp] = offset
            self.commits.append((tp, offset))

    @property
    def pending_events(self) -> int:
        with self._lock:
            return len(self._events)

    # ----- the consumer API ---------------------------------------------------------------

    def subscribe(
        self,
        topics: list[str],
        on_assign: RebalanceCallback | None = None,
        on_revoke: RebalanceCallback | None = None,
        on_lost: RebalanceCallback | None = None,
    ) -> None:
        self._callbacks = {"assign": on_assign, "revoke": on_revoke, "lost": on_lost}

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Message]:
        self.consume_calls += 1
        if self.before_consume is not None:
            self.before_consume(self)
        with self._lock:
            event = self._events.pop(0) if self._events else None
        if event is not None:
            self._fire(event)
        out: list[Message] = []
        with self._lock:
            for tp in sorted(self.assignment):
                if tp in self.paused:
                    continue
                log = self.log.get(tp, [])
                start = self._fetch.get(tp, 0)
                taken = log[start : start + num_messages - len(out)]
                if taken:
                    out.extend(taken)
                    self._fetch[tp] = start + len(taken)
                    self._position[tp] = start + len(taken)
                if len(out) >= num_messages:
                    break
        if not out and timeout != 0:
            time.sleep(min(0.005, timeout) if timeout > 0 else 0.005)
        return out

    def position(self, partitions: list[KafkaTopicPartition]) -> list[KafkaTopicPartition]:
        with self._lock:
            return [
                KafkaTopicPartition(
                    p.topic,
                    p.partition,
                    self._position.get(TopicPartition(p.topic, p.partition), OFFSET_INVALID),
                )
                for p in partitions
            ]

    def pause(self, partitions: list[KafkaTopicPartition]) -> None:
        with self._lock:
            self.paused.update(TopicPartition(p.topic, p.partition) for p in partitions)

    def resume(self, partitions: list[KafkaTopicPartition]) -> None:
        with self._lock:
            self.paused.difference_update(TopicPartition(p.topic, p.partition) for p in partitions)

    def incremental_assign(self, partitions: list[KafkaTopicPartition]) -> None:
        self._do_assign(partitions, incremental=True)

    def unassign(self) -> None:
        with self._lock:
            self._assigned_in_callback = True
            for tp in self.assignment:
                self._forget(tp)
            self.assignment.clear()

    def incremental_unassign(self, partitions: list[KafkaTopicPartition]) -> None:
        with self._lock:
            self._assigned_in_callback = True
            for p in partitions:
                tp = TopicPartition(p.topic, p.partition)
                self.assignment.discard(tp)
                self._forget(tp)

    def commit(
        self,
        message: Any = None,
        *,
        offsets: Sequence[KafkaTopicPartition] | None = None,
        asynchronous: bool = True,
    ) -> list[CommitResult]:
        results: list[CommitResult] = []
        with self._lock:
            for p in offsets or ():
                tp = TopicPartition(p.topic, p.partition)
                error: KafkaError | None = None
                if tp not in self.assignment:
                    error = KafkaError(KafkaError.UNKNOWN_MEMBER_ID)
                elif self._failing_commits.get(tp, 0) > 0:
                    self._failing_commits[tp] -= 1
                    error = KafkaError(KafkaError.REQUEST_TIMED_OUT)
                results.append(CommitResult(p.topic, p.partition, p.offset, error))
            if results and all(r.error is not None for r in results):
                first = results[0].error
                assert first is not None
                raise KafkaException(first)
            for r in results:
                if r.error is None:
                    tp = TopicPartition(r.topic, r.partition)
                    self.committed[tp] = r.offset
                    self.commits.append((tp, r.offset))
        return results

    def unsubscribe(self) -> None:
        """Marks the leave; the revoke comes with ``close()``, as it does when
        librdkafka's unsubscribe is followed by close without a poll between."""
        self.left_group = True

    def close(self) -> None:
        with self._lock:
            assigned = sorted(self.assignment)
        try:
            if assigned and self._callbacks.get("revoke") is not None:
                self._fire(_Event("revoke", assigned))
        finally:  # closed even if the callback raised, as confluent-kafka's close() is
            with self._lock:
                for tp in self.assignment:
                    self._forget(tp)
                self.assignment.clear()
                self._events.clear()
                self.closed = True

    # ----- inside ----------------------------------------------------------------------

    _callback_thread: int | None = None

    def _in_callback(self) -> bool:
        return self._callback_thread == threading.get_ident()

    def _fire(self, event: _Event) -> None:
        kind = event.kind
        with self._lock:
            if kind == "assign":
                parts = [tp for tp in event.partitions if tp not in self.assignment]
            else:
                parts = [tp for tp in event.partitions if tp in self.assignment]
        if not self.incremental and kind == "assign":
            parts = sorted(self.assignment | set(parts))  # eager: the whole assignment
        kafka_parts = [KafkaTopicPartition(t, p) for t, p in parts]
        callback = self._callbacks.get(kind)
        self._assigned_in_callback = False
        self._callback_thread = threading.get_ident()
        try:
            if callback is not None:
                callback(self, kafka_parts)
        finally:
            self._callback_thread = None
            if not self._assigned_in_callback:  # confluent-kafka assigns/unassigns for it
                if kind == "assign":
                    self._do_assign(kafka_parts, incremental=self.incremental)
                elif self.incremental:
                    self.incremental_unassign(kafka_parts)
                else:
                    self.unassign()

    def _do_assign(self, partitions: Sequence[Any], incremental: bool) -> None:
        with self._lock:
            self._assigned_in_callback = True
            if not incremental:
                for tp in self.assignment:
                    self._forget(tp)
                self.assignment.clear()
            for p in partitions:
                if isinstance(p, KafkaTopicPartition):
                    tp, offset = TopicPartition(p.topic, p.partition), p.offset
                else:
                    tp, offset = _tp(p), OFFSET_INVALID
                self.assignment.add(tp)
                # An explicit offset wins; else the group's committed one; else earliest.
                self._fetch[tp] = offset if offset >= 0 else self.committed.get(tp, 0)

    def _forget(self, tp: TopicPartition) -> None:
        # The pause flag is deliberately kept: librdkafka does.
        self._fetch.pop(tp, None)
        self._position.pop(tp, None)


class ScriptedProducer:
    """A stand-in for the dead-letter ``Producer``: keeps messages, fails on cue."""

    def __init__(self) -> None:
        self.config: dict[str, Any] = {}
        self.produced: list[tuple[str, bytes | None, bytes | None, Any]] = []
        self.acknowledged: list[tuple[str, bytes | None, bytes | None, Any]] = []
        self._unacked: list[tuple[tuple[str, bytes | None, bytes | None, Any], Any]] = []
        self._fail_next = 0
        self._lock = threading.Lock()

    def factory(self, config: dict[str, Any]) -> ScriptedProducer:
        """Pass as ``producer_factory``."""
        self.config = dict(config)
        return self

    def fail_next(self, deliveries: int = 1) -> None:
        """The next ``deliveries`` produced messages are refused by the "broker"."""
        with self._lock:
            self._fail_next += deliveries

    def produce(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: Any = None,
        timestamp: int = 0,
        on_delivery: Callable[[KafkaError | None, Any], None] | None = None,
        **_: Any,
    ) -> None:
        with self._lock:
            item = (topic, key, value, headers)
            self.produced.append(item)
            self._unacked.append((item, on_delivery))

    def poll(self, timeout: float = 0) -> int:
        return 0

    def flush(self, timeout: float = -1) -> int:
        with self._lock:
            pending, self._unacked = self._unacked, []
        for item, callback in pending:
            with self._lock:
                failing = self._fail_next > 0
                if failing:
                    self._fail_next -= 1
            error = KafkaError(KafkaError._MSG_TIMED_OUT) if failing else None
            if error is None:
                self.acknowledged.append(item)
            if callback is not None:
                callback(error, None)
        return 0
