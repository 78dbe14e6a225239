"""Ingest: consumed messages become records of the open batch.

A chunk from ``consume()`` is converted and transformed as a whole (no per-record
Python work that can be done per chunk); records that fail on the way are reported at
once (dead letter or task failure). The consumer's positions after the chunk are then
given to the ledger under the open batch's id, so records dropped by a transform or
dead-lettered count as handled once the batch is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import OFFSET_INVALID, KafkaError, KafkaException, Message
from confluent_kafka import TopicPartition as KafkaTopicPartition

from offramp.config import ConnectorConfig
from offramp.consumer import ConsumerLike
from offramp.converters import KEPT_AS_TEXT, ByteArrayConverter, JsonConverter
from offramp.metrics import TaskMetrics
from offramp.records import JsonTextRecord, PassthroughRecord, SinkRecord, TopicPartition
from offramp.task.failures import FailureReporter, qualified_name
from offramp.task.ledger import OffsetLedger

__all__ = ["Batch", "Ingest", "OwnedBy"]

log = logging.getLogger("offramp.task")

# Unbound C methods: map() over them is the cheapest per-message call there is.
_message_error = Message.error
_message_key = Message.key
_message_value = Message.value
_message_headers = Message.headers
_message_topic = Message.topic
_message_partition = Message.partition
_message_offset = Message.offset

# Up to this many partitions assigned, every chunk asks the position of each (one C call,
# covering partitions whose position moved past transaction markers without a message).
# Past it, a chunk's own last offsets stand for the partitions it holds, and every
# partition's position is asked in a sweep at most once per SWEEP_SECONDS: with one topic
# per tenant, 2000 positions after every chunk were most of the loop's time. librdkafka
# finds each partition's topic by a walk over all its topics, so a sweep grows with the
# square of the topics (2000 single-partition topics: ~50 ms a sweep, a tenth of a
# 2000-topic drain at one a second); the next sweep waits SWEEP_COST_SHARE times as long
# as the last one took, so sweeping stays a small share of the loop's time.
FULL_POSITIONS_UP_TO = 64
SWEEP_SECONDS = 1.0
SWEEP_COST_SHARE = 100


@dataclass
class Batch:
    """Records on their way to one write. ``id`` names its offsets in the ledger."""

    id: int
    records: list[SinkRecord] = field(default_factory=list)
    bytes: int = 0
    started: float = 0.0
    dead_letters: bool = False  # some of its records went to the dead-letter topic
    positions: bool = False  # the ledger holds offsets for it (maybe with no records)
    books: dict[TopicPartition, int] = field(default_factory=dict)  # read under these
    generation: int = 0  # the ledger's generation when its records were last read

    def without(self, partitions: set[TopicPartition]) -> None:
        """Drop the records of revoked partitions (a new list: nothing else holds it)."""
        self.records = [r for r in self.records if r.topic_partition not in partitions]


def _record(
    message: Message, key: Any, value: Any, key_schema: Any = None, value_schema: Any = None
) -> SinkRecord:
    if value is KEPT_AS_TEXT:
        return JsonTextRecord(message, key)
    return SinkRecord(message, key, value, key_schema, value_schema)


class Ingest:
    """Converts and transforms chunks into one task's open batch."""

    def __init__(
        self,
        config: ConnectorConfig,
        json_text: bool,
        reporter: FailureReporter,
        metrics: TaskMetrics,
        ledger: OffsetLedger,
        consumer: ConsumerLike | None,
        name: str,
    ) -> None:
        self._config = config
        self._json_text = json_text  # values checked and kept as text (stores_json_text)
        self._reporter = reporter
        self._metrics = metrics
        self._ledger = ledger
        self._consumer = consumer
        self._name = name
        self._next_sweep = 0.0

    def add(self, messages: list[Message], batch: Batch) -> None:
        """Convert and transform ``messages`` into ``batch``; track its positions."""
        if any(map(_message_error, messages)):
            messages = self._drop_errors(messages)
            if not messages:
                return
        raw_values = list(map(_message_value, messages))
        records = self._convert(messages, raw_values, batch)
        chain = self._config.transforms
        if chain:
            before = len(records)
            records, failures = chain.apply_batch(records)
            for record, exc in failures:
                batch.dead_letters = True
                self._reporter.failed(record.message, "TRANSFORMATION", exc, qualified_name(exc))
            self._metrics.records_filtered += before - len(records) - len(failures)
        if records:
            if not batch.records:
                batch.started = time.monotonic()
            batch.records.extend(records)
            batch.bytes += sum(map(len, filter(None, raw_values)))
        self._track(messages, batch)

    def _convert(
        self, messages: list[Message], raw_values: list[bytes | None], batch: Batch
    ) -> list[SinkRecord]:
        cfg = self._config
        keyc, valuec = cfg.key_converter, cfg.value_converter
        assert keyc is not None and valuec is not None
        if type(keyc) is ByteArrayConverter and type(valuec) is ByteArrayConverter:
            self._count_read(len(messages))
            return list(map(PassthroughRecord, messages))
        needs_headers = keyc.needs_headers or valuec.needs_headers
        headers = list(map(_message_headers, messages)) if needs_headers else None
        keys = keyc.convert_batch(list(map(_message_key, messages)), headers)
        if self._json_text:
            assert isinstance(valuec, JsonConverter)
            values = valuec.check_batch(raw_values)
        else:
            values = valuec.convert_batch(raw_values, headers)
        # Counted once converted, before any failure is reported (the breaker's window
        # needs the reads first): a converter that raised RetriableError (a schema
        # registry down) left nothing counted or tracked, and the chunk comes again.
        self._count_read(len(messages))
        if keys.errors or values.errors or keys.schemas or values.schemas:
            return self._records_with_errors(messages, keys, values, batch)
        if not self._json_text:
            return list(map(SinkRecord, messages, keys.values, values.values))
        if values.values.count(KEPT_AS_TEXT) == len(messages):
            return list(map(JsonTextRecord, messages, keys.values))
        return list(map(_record, messages, keys.values, values.values))

    def _count_read(self, count: int) -> None:
        self._metrics.records_read += count
        if self._reporter.breaker is not None:
            self._reporter.breaker.read(count)

    def _records_with_errors(
        self, messages: list[Message], keys: Any, values: Any, batch: Batch
    ) -> list[SinkRecord]:
        records = []
        cfg = self._config
        for i, message in enumerate(messages):
            if i in keys.errors:
                batch.dead_letters = True
                self._reporter.failed(
                    message, "KEY_CONVERTER", keys.errors[i], type(cfg.key_converter).__name__
                )
            elif i in values.errors:
                batch.dead_letters = True
                self._reporter.failed(
                    message, "VALUE_CONVERTER", values.errors[i], type(cfg.value_converter).__name__
                )
            else:
                records.append(
                    _record(
                        message,
                        keys.values[i],
                        values.values[i],
                        keys.schemas[i] if keys.schemas is not None else None,
                        values.schemas[i] if values.schemas is not None else None,
                    )
                )
        return records

    def _drop_errors(self, messages: list[Message]) -> list[Message]:
        good = []
        for m in messages:
            err = m.error()
            if err is None:
                good.append(m)
            elif err.code() == KafkaError._PARTITION_EOF:
                continue
            elif err.fatal() or err.code() == KafkaError._FATAL:
                # librdkafka hands a fatal error out as _FATAL with fatal() unset; the
                # consumer is dead after it, so the task must fail rather than poll on.
                raise KafkaException(err)
            else:
                log.warning("task %s: consumer error: %s", self._name, err)
        return good

    def _track(self, messages: Sequence[Message], batch: Batch) -> None:
        """The consumer's positions after this chunk belong to ``batch``. Positions (one
        C call for every partition; FULL_POSITIONS_UP_TO says when) rather than the
        messages' offsets: no per-message work, and transaction markers and compacted
        gaps are covered too. librdkafka moves a partition's position as its messages
        are handed out, whether or not offsets are stored."""
        count = self._ledger.assigned_count
        if not count or self._consumer is None:  # None: a share task owns no partitions
            return
        now = time.monotonic()
        if count <= FULL_POSITIONS_UP_TO or now >= self._next_sweep:
            asked = [KafkaTopicPartition(t, p) for t, p in self._ledger.assigned]
            positions = {
                TopicPartition(tp.topic, tp.partition): tp.offset
                for tp in self._consumer.position(asked)
                if tp.offset != OFFSET_INVALID and tp.offset >= 0
            }
            took = time.monotonic() - now
            self._next_sweep = now + max(SWEEP_SECONDS, SWEEP_COST_SHARE * took)
        else:
            # Between sweeps the chunk says it: each partition's last offset (a dict
            # keeps the last value per key), no C call and no object per partition
            # assigned. A position moved past markers alone waits for the next sweep.
            topics, partitions = map(_message_topic, messages), map(_message_partition, messages)
            held = zip(topics, partitions, strict=True)
            last = dict(zip(held, map(_message_offset, messages), strict=True))
            positions = {
                TopicPartition(t or "", p or 0): o + 1
                for (t, p), o in last.items()
                if o is not None
            }
        self._ledger.track(batch.id, positions)
        if batch.generation != self._ledger.generation:
            batch.books.update(self._ledger.books())
            batch.generation = self._ledger.generation
        batch.positions = True


class OwnedBy:
    """Which records of ``batch`` still belong to the assignment they were read under
    (records of a partition revoked since are its new owner's to write)."""

    __slots__ = ("_batch", "_books", "_generation", "_ledger")

    def __init__(self, ledger: OffsetLedger, batch: Batch) -> None:
        self._ledger, self._batch = ledger, batch
        self._generation = -1
        self._books: dict[TopicPartition, int] = {}

    def unchanged(self) -> bool:
        """No assignment changed since the batch was read: every record is still ours."""
        return self._ledger.generation == self._batch.generation

    def __call__(self, record: SinkRecord) -> bool:
        if self._generation != self._ledger.generation:
            self._books, self._generation = self._ledger.books(), self._ledger.generation
        tp = record.topic_partition
        return self._books.get(tp) == self._batch.books.get(tp)
