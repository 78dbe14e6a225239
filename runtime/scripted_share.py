"""A share group without a broker, for tests of share-group tasks (``group.type=share``).

``ScriptedShareConsumer`` plays both the ``ShareConsumer`` (explicit acknowledgement
mode) and the broker's share-partition state where a task can tell:

- ``poll()`` acquires available records under a lock and counts a delivery for each;
  it refuses while records of the last poll are unacknowledged, as librdkafka does;
- ``commit_sync()`` applies the acknowledgements: ACCEPT and REJECT end a record,
  RELEASE makes it available again; a record released (or whose lock expired) at the
  group's delivery limit is archived — skipped for good, as the broker does;
- ``close()`` (leaving the group) releases what is unacknowledged;
- ``prepare`` stands in for the admin calls that set the group up (it returns the lock
  duration, ``lock_ms``).

One instance is the whole group: every ``factory`` call (each join) gets it back.

    group = ScriptedShareConsumer(delivery_limit=5, lock_ms=200)
    group.append("calls", 0, [b"a", b"b"])
    run_connector({..., "group.type": "share"}, share=group, until=...)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import AcknowledgeType, Message

from offramp.records import TopicPartition

__all__ = ["ScriptedShareConsumer", "ShareRecord"]


@dataclass
class ShareRecord:
    """One record's state in the share partition."""

    message: Message
    state: str = "available"  # available, acquired, accepted, rejected, archived
    delivery_count: int = 0
    acquired_at: float = 0.0


class ScriptedShareConsumer:
    def __init__(self, delivery_limit: int = 5, lock_ms: int = 30000, max_records: int = 100):
        self.delivery_limit = delivery_limit
        self.lock_ms = lock_ms
        self.max_records = max_records
        self.records: dict[tuple[str, int, int], ShareRecord] = {}
        self.joins = 0
        self.closed = True
        self.config: dict[str, Any] = {}
        self.subscription: list[str] = []
        self._in_flight: set[tuple[str, int, int]] = set()
        self._acks: dict[tuple[str, int, int], AcknowledgeType] = {}
        self._lock = threading.Lock()

    # ----- what a test does ---------------------------------------------------------

    def append(self, topic: str, partition: int, values: Iterable[bytes | None]) -> None:
        with self._lock:
            for value in values:
                offset = sum(1 for t, p, _ in self.records if (t, p) == (topic, partition))
                message = Message(topic=topic, partition=partition, offset=offset, value=value)
                self.records[(topic, partition, offset)] = ShareRecord(message)

    def states(self) -> dict[str, int]:
        """How many records are in each state."""
        with self._lock:
            out: dict[str, int] = {}
            for r in self.records.values():
                out[r.state] = out.get(r.state, 0) + 1
            return out

    def counts(self) -> dict[tuple[str, int, int], int]:
        with self._lock:
            return {k: r.delivery_count for k, r in self.records.items()}

    def factory(self, config: dict[str, Any]) -> ScriptedShareConsumer:
        """Pass as ``share_consumer_factory``: each join gets this same group."""
        self.config = dict(config)
        self.joins += 1
        self.closed = False
        return self

    def prepare(self, admin_config: dict[str, Any], group: str) -> int:
        """Pass as ``prepare_share_group``: the lock duration in ms."""
        return self.lock_ms

    # ----- the ShareConsumer --------------------------------------------------------

    def subscribe(self, topics: list[str]) -> None:
        self.subscription = list(topics)

    def poll(self, timeout: float = -1) -> Sequence[Message]:
        with self._lock:
            assert not self.closed, "poll on a closed share consumer"
            if self._in_flight - set(self._acks):
                raise RuntimeError("poll with records of the last poll unacknowledged")
            self._apply_acks()
            self._expire_locks()
            out: list[Message] = []
            for key, r in self.records.items():
                if len(out) >= self.max_records:
                    break
                if r.state == "available" and key[0] in self.subscription:
                    r.state, r.acquired_at = "acquired", time.monotonic()
                    r.delivery_count += 1
                    r.message = Message(
                        topic=key[0],
                        partition=key[1],
                        offset=key[2],
                        value=r.message.value(),
                        delivery_count=r.delivery_count,
                    )
                    self._in_flight.add(key)
                    out.append(r.message)
        if not out:
            time.sleep(min(max(timeout, 0.0), 0.01))
        return out

    def acknowledge(self, message: Message, ack_type: Any = AcknowledgeType.ACCEPT) -> None:
        key = (message.topic() or "", message.partition() or 0, message.offset() or 0)
        with self._lock:
            if key not in self._in_flight:
                raise RuntimeError(f"acknowledge of {key}, which is not in flight")
            self._acks[key] = AcknowledgeType(ack_type)

    def commit_sync(self, timeout: float = 60) -> dict[Any, Any]:
        with self._lock:
            parts = {TopicPartition(t, p) for t, p, _ in self._acks}
            self._apply_acks()
        return dict.fromkeys(parts)

    def close(self) -> None:
        with self._lock:
            self._apply_acks()
            for key in list(self._in_flight):
                self._give_back(self.records[key])
            self._in_flight.clear()
            self.closed = True

    # ----- the broker's side --------------------------------------------------------

    def _apply_acks(self) -> None:
        for key, kind in self._acks.items():
            r = self.records[key]
            if kind == AcknowledgeType.ACCEPT:
                r.state = "accepted"
            elif kind == AcknowledgeType.REJECT:
                r.state = "rejected"
            else:
                self._give_back(r)
            self._in_flight.discard(key)
        self._acks.clear()

    def _expire_locks(self) -> None:
        now = time.monotonic()
        for key in list(self._in_flight):
            r = self.records[key]
            if now - r.acquired_at > self.lock_ms / 1000:
                self._give_back(r)
                self._in_flight.discard(key)

    def _give_back(self, r: ShareRecord) -> None:
        r.state = "archived" if r.delivery_count >= self.delivery_limit else "available"
