"""Reading a field out of a record's value, and a record's timestamp.

Values are what the converter produced: dicts for JSON, and for the ``cloudevents``
converter one dict with the event's attributes (``time``, ``type``…) and its ``data``.
A dotted path walks into nested objects (``data.ended_at``); a key that itself contains
dots is found first, so flat values with dotted names work too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from offramp import SinkRecord
from offramp.connectors.s3.errors import RecordEncodingError

__all__ = ["FieldPath", "TimestampExtractor", "parse_timestamp", "timestamp_extractor"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


class FieldPath:
    """A compiled field path such as ``data.tenant``."""

    __slots__ = ("name", "parts")

    def __init__(self, name: str) -> None:
        self.name = name
        self.parts = tuple(name.split("."))

    def read(self, value: Any) -> Any:
        """The field's value; ``RecordEncodingError`` if the value has no such field."""
        if not isinstance(value, Mapping):
            kind = "null" if value is None else type(value).__name__
            raise RecordEncodingError(
                f"field {self.name!r} can't be read: the value is {kind}, not an object"
            )
        if self.name in value:
            return value[self.name]
        current: Any = value
        for part in self.parts:
            if not isinstance(current, Mapping) or part not in current:
                raise RecordEncodingError(f"the value has no field {self.name!r}")
            current = current[part]
        return current


def parse_timestamp(raw: Any, name: str) -> int:
    """Epoch milliseconds from a number (taken as ms) or an ISO-8601 / numeric string.
    A string without an offset is read as UTC."""
    if isinstance(raw, bool) or raw is None:
        raise RecordEncodingError(f"timestamp field {name!r} is {raw!r}, not a time")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        return int(raw)
    if isinstance(raw, str):
        text = raw.strip()
        if text.lstrip("-").isdigit():
            return int(text)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise RecordEncodingError(
                f"timestamp field {name!r} holds {raw!r}, which is not ISO-8601 or epoch ms"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return (moment - _EPOCH) // _MS
    raise RecordEncodingError(f"timestamp field {name!r} holds a {type(raw).__name__}, not a time")


TimestampExtractor = Callable[[SinkRecord], int]
"""A record's time in epoch milliseconds, for time partitions and time rotation."""


def _kafka_timestamp(record: SinkRecord) -> int:
    kind, timestamp = record.message.timestamp()
    if not kind:
        raise RecordEncodingError("the record has no Kafka timestamp (timestamp.extractor=Record)")
    return timestamp


def timestamp_extractor(kind: str, field: str | None) -> TimestampExtractor:
    """``Record``: the Kafka timestamp; ``RecordField``: the value's ``field``."""
    if kind == "Record":
        return _kafka_timestamp
    if field is None:
        raise ValueError("timestamp.field is required when timestamp.extractor=RecordField")
    path = FieldPath(field)

    def from_field(record: SinkRecord) -> int:
        return parse_timestamp(path.read(record.value), field)

    return from_field
