"""The payload stored with each point: chosen fields of the record, plus where it came from.

``payload.field`` picks the object to start from (default: the whole value),
``payload.include`` keeps only the listed dotted paths (nested structure kept:
``caller.email`` gives ``{"caller": {"email": ...}}``), ``payload.exclude`` drops
paths, and ``payload.kafka.coordinates`` adds ``_kafka: {topic, partition, offset,
timestamp}``. The record's own value is never modified: a batch that is retried must
see the same records again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from offramp import SinkRecord
from offramp.connectors.qdrant.fields import MISSING, FieldPath, describe

__all__ = ["KAFKA_FIELD", "PayloadError", "PayloadSelector"]

KAFKA_FIELD = "_kafka"


class PayloadError(ValueError):
    """The record has no object to take a payload from."""


def _included(source: Mapping[str, Any], paths: Sequence[FieldPath]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in paths:
        value = path.get(source)
        if value is MISSING:
            continue  # an optional field this record doesn't have
        node = out
        for part in path.parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[path.parts[-1]] = value
    return out


def _without(source: Mapping[str, Any], parts: tuple[str, ...]) -> Mapping[str, Any]:
    """``source`` without the path; copies only the objects along the path."""
    head = parts[0]
    if head not in source:
        return source
    if len(parts) == 1:
        return {k: v for k, v in source.items() if k != head}
    child = source[head]
    if not isinstance(child, Mapping):
        return source
    trimmed = _without(child, parts[1:])
    if trimmed is child:
        return source
    return {**source, head: trimmed}


class PayloadSelector:
    """Builds one point's payload from a record."""

    def __init__(
        self,
        source: str | None = None,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        kafka_coordinates: bool = False,
    ) -> None:
        self.source = FieldPath(source) if source else None
        self.include = [FieldPath(p) for p in include]
        self.exclude = [FieldPath(p) for p in exclude]
        self.kafka_coordinates = kafka_coordinates

    def select(self, record: SinkRecord) -> dict[str, Any]:
        value = record.value
        source = self.source.get(value) if self.source is not None else value
        if not isinstance(source, Mapping):
            where = f"field {self.source.text!r}" if self.source is not None else "the value"
            found = "missing" if source is MISSING else describe(source)
            raise PayloadError(f"payload: {where} is {found}, not an object")
        chosen: Mapping[str, Any] = _included(source, self.include) if self.include else source
        for path in self.exclude:
            chosen = _without(chosen, path.parts)
        # A copy only if nothing above made one: the record's own value is never changed.
        payload = chosen if chosen is not source and isinstance(chosen, dict) else dict(chosen)
        if self.kafka_coordinates:
            payload[KAFKA_FIELD] = {
                "topic": record.kafka_topic,
                "partition": record.kafka_partition,
                "offset": record.kafka_offset,
                "timestamp": record.timestamp,
            }
        return payload
