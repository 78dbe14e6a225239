"""The record a sink sees: a consumed Kafka message after conversion and transforms.

A ``SinkRecord`` wraps the consumer's message and reads its coordinates from it only
when asked, so the hot path pays for one small object per record and nothing else.
Transforms may replace the topic, key, value and headers; the message's own Kafka
coordinates (``kafka_topic``, ``kafka_partition``, ``kafka_offset``) and original
bytes never change, because offsets and dead letters are about the message consumed.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

import orjson

Headers = list[tuple[str, bytes | None]]

__all__ = [
    "Headers",
    "JsonTextRecord",
    "KafkaMessage",
    "PassthroughRecord",
    "RawMessage",
    "SinkRecord",
    "TopicPartition",
]


class TopicPartition(NamedTuple):
    topic: str
    partition: int


class KafkaMessage(Protocol):
    """What the runtime reads from a consumed message (confluent_kafka.Message fits)."""

    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def timestamp(self) -> tuple[int, int]: ...
    def key(self) -> bytes | None: ...
    def value(self) -> bytes | None: ...
    def headers(self) -> Any: ...  # Headers | None; typed loosely to fit every client


class RawMessage:
    """A message built in Python, for tests and stub writers (same methods as Kafka's)."""

    __slots__ = ("_headers", "_key", "_offset", "_partition", "_timestamp", "_topic", "_value")

    def __init__(
        self,
        topic: str,
        partition: int = 0,
        offset: int = 0,
        key: bytes | None = None,
        value: bytes | None = None,
        headers: Headers | None = None,
        timestamp: int = 0,
    ) -> None:
        self._topic, self._partition, self._offset = topic, partition, offset
        self._key, self._value, self._headers, self._timestamp = key, value, headers, timestamp

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def timestamp(self) -> tuple[int, int]:
        return (1, self._timestamp)  # 1 = TIMESTAMP_CREATE_TIME

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def headers(self) -> Headers | None:
        return self._headers


class SinkRecord:
    """One record on its way to a sink. ``key``/``value`` are already converted."""

    __slots__ = ("_headers", "_key_schema", "_topic", "_value_schema", "key", "message", "value")

    def __init__(
        self,
        message: KafkaMessage,
        key: Any,
        value: Any,
        key_schema: Any = None,
        value_schema: Any = None,
    ) -> None:
        # Only what every record needs is set here; the rest stays unset until used,
        # which keeps building a record (once per consumed message) cheap.
        self.message = message
        self.key = key
        self.value = value
        if key_schema is not None:
            self._key_schema = key_schema
        if value_schema is not None:
            self._value_schema = value_schema

    @property
    def key_schema(self) -> Any:
        """The key's Kafka Connect schema (JSON converter with schemas), else None."""
        return getattr(self, "_key_schema", None)

    @key_schema.setter
    def key_schema(self, schema: Any) -> None:
        self._key_schema = schema

    @property
    def value_schema(self) -> Any:
        """The value's Kafka Connect schema (JSON converter with schemas), else None."""
        return getattr(self, "_value_schema", None)

    @value_schema.setter
    def value_schema(self, schema: Any) -> None:
        self._value_schema = schema

    # Coordinates of the consumed message: fixed, whatever transforms do.
    @property
    def kafka_topic(self) -> str:
        return self.message.topic() or ""

    @property
    def kafka_partition(self) -> int:
        return self.message.partition() or 0

    @property
    def kafka_offset(self) -> int:
        offset = self.message.offset()
        return -1 if offset is None else offset

    @property
    def topic_partition(self) -> TopicPartition:
        return TopicPartition(self.kafka_topic, self.kafka_partition)

    # What transforms may change.
    @property
    def topic(self) -> str:
        topic: str | None = getattr(self, "_topic", None)
        return topic if topic is not None else self.kafka_topic

    @topic.setter
    def topic(self, value: str) -> None:
        self._topic = value

    @property
    def partition(self) -> int:
        return self.kafka_partition

    @property
    def offset(self) -> int:
        return self.kafka_offset

    @property
    def timestamp(self) -> int:
        """Milliseconds since the epoch (create or log-append time), 0 if absent."""
        kind, ts = self.message.timestamp()
        return ts if kind else 0

    @property
    def headers(self) -> Headers:
        headers: Headers | None = getattr(self, "_headers", None)
        if headers is None:
            headers = self._headers = list(self.message.headers() or ())
        return headers

    @headers.setter
    def headers(self, value: Headers) -> None:
        self._headers = value

    def header(self, name: str) -> bytes | None:
        """The last value of header ``name`` (Kafka allows repeats), or None."""
        headers: Headers | None = getattr(self, "_headers", None)
        if headers is None:  # read the message's without keeping a copy on the record
            headers = self.message.headers() or []
        found = None
        for key, value in headers:
            if key == name:
                found = value
        return found

    @property
    def value_json(self) -> bytes | None:
        """The value's JSON text exactly as consumed, when the runtime kept it undecoded
        (see ``BatchWriter.stores_json_text``) and nothing has read ``value`` since;
        otherwise None. A writer that stores JSON can store this instead of encoding
        ``value`` again."""
        return None

    @property
    def raw_key(self) -> bytes | None:
        return self.message.key()

    @property
    def raw_value(self) -> bytes | None:
        return self.message.value()

    def replace(self, **changes: Any) -> SinkRecord:
        """A copy with some of ``topic``, ``key``, ``value``, schemas or ``headers`` changed."""
        clone = SinkRecord(self.message, self.key, self.value, self.key_schema, self.value_schema)
        for slot in ("_topic", "_headers"):
            if hasattr(self, slot):
                setattr(clone, slot, getattr(self, slot))
        for name, value in changes.items():
            setattr(clone, name, value)
        return clone

    def __repr__(self) -> str:
        return (
            f"SinkRecord(topic={self.topic!r}, partition={self.kafka_partition}, "
            f"offset={self.kafka_offset}, key={self.key!r}, value={self.value!r})"
        )


class PassthroughRecord(SinkRecord):
    """A record whose key and value are the message's own bytes (byte-array converters),
    read from the message when asked instead of copied into every record up front.
    Transforms never mutate it: ``replace`` returns an ordinary ``SinkRecord``."""

    __slots__ = ()

    def __init__(self, message: KafkaMessage) -> None:
        self.message = message

    @property
    def key(self) -> bytes | None:
        return self.message.key()

    @property
    def value(self) -> bytes | None:
        return self.message.value()


class JsonTextRecord(SinkRecord):
    """A record whose value is JSON text the converter checked but did not decode: it is
    decoded when first read, so a writer that stores the text as is (``value_json``)
    never pays for decoding. Never holds JSON ``null`` (that record gets a plain value)."""

    __slots__ = ("_decoded",)

    def __init__(self, message: KafkaMessage, key: Any) -> None:
        self.message = message
        self.key = key
        self._decoded: Any = _UNDECODED

    @property
    def value(self) -> Any:
        decoded = self._decoded
        if decoded is _UNDECODED:
            decoded = self._decoded = orjson.loads(self.message.value() or b"")
        return decoded

    @value.setter
    def value(self, value: Any) -> None:
        self._decoded = value

    @property
    def value_json(self) -> bytes | None:
        # Once read, the value may have been changed in place: the text may be stale.
        return self.message.value() if self._decoded is _UNDECODED else None


_UNDECODED: Any = object()
