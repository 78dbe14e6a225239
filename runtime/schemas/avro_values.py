"""Avro values as Kafka Connect's AvroConverter gives them, where fastavro reads more.

fastavro (through confluent-kafka's ``AvroDeserializer``) turns every Avro logical type
into a Python value. Kafka Connect's ``AvroData`` knows four of them (``decimal``,
``date``, ``time-millis``, ``timestamp-millis``); the others stay their underlying
type, and a sink sees that type in the record's Connect schema (``schemas.connect``):

- ``timestamp-micros``, ``local-timestamp-millis``/``-micros``: ``int64``, the count
  since the epoch (fastavro: a ``datetime``);
- ``time-micros``: ``int64``, microseconds since midnight (fastavro: a ``time``);
- ``uuid``: ``string``, its text (fastavro: a ``UUID``).

``value_fixer`` compiles, once per schema, what brings a decoded value back to those;
None when the schema has none of them, so most records pay nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

__all__ = ["Fix", "value_fixer"]

Fix = Callable[[Any], Any]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LOCAL_EPOCH = datetime(1970, 1, 1)
_MICRO = timedelta(microseconds=1)
_MILLI = timedelta(milliseconds=1)


def _since(epoch: datetime, unit: timedelta) -> Fix:
    return lambda v: (v - epoch) // unit if isinstance(v, datetime) else v


def _time_micros(value: Any) -> Any:
    if isinstance(value, time):
        return ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + (
            value.microsecond
        )
    return value


def _uuid_text(value: Any) -> Any:
    return str(value) if isinstance(value, uuid.UUID) else value


_LOGICAL: dict[str, Fix] = {
    "timestamp-micros": _since(_EPOCH, _MICRO),
    "local-timestamp-millis": _since(_LOCAL_EPOCH, _MILLI),
    "local-timestamp-micros": _since(_LOCAL_EPOCH, _MICRO),
    "time-micros": _time_micros,
    "uuid": _uuid_text,
}


def value_fixer(schema: Any) -> Fix | None:
    """How a value fastavro decoded with ``schema`` (parsed JSON) becomes what Kafka
    Connect's AvroConverter gives; None if it is that already."""
    return _fixer(schema, {}, "")


def _fixer(schema: Any, named: dict[str, Any], space: str) -> Fix | None:
    if isinstance(schema, list):
        branches = [_fixer(b, named, space) for b in schema]
        found = [f for f in branches if f is not None]
        if not found:
            return None
        if len(schema) == 2 and "null" in schema:  # an optional value: None passes
            only = found[0]
            return lambda v: None if v is None else only(v)
        return _uuid_text  # a union Connect keeps as JSON: only a UUID can't be JSON
    if isinstance(schema, str):
        full = schema if "." in schema or not space else f"{space}.{schema}"
        return named.get(full, named.get(schema))  # a record defined before, else a primitive
    kind = schema.get("type")
    if isinstance(kind, dict | list):
        return _fixer(kind, named, space)
    logical = schema.get("logicalType")
    if logical in _LOGICAL and kind in ("long", "int", "string", "fixed"):
        return _LOGICAL[str(logical)]
    if kind == "record":
        name = str(schema.get("name") or "")
        own = str(schema.get("namespace") or space) if "." not in name else ""
        full = f"{own}.{name}" if own and name else name
        inner = full.rpartition(".")[0]
        named[full] = None  # a record naming itself inside: no fix known yet
        fields = [(f["name"], _fixer(f["type"], named, inner)) for f in schema["fields"]]
        fixes = [(n, f) for n, f in fields if f is not None]
        if not fixes:
            return None

        def record(value: Any) -> Any:
            if isinstance(value, dict):
                for field_name, fix in fixes:
                    if field_name in value:
                        value[field_name] = fix(value[field_name])
            return value

        named[full] = record
        return record
    if kind == "array":
        items = _fixer(schema["items"], named, space)
        return None if items is None else lambda v: [items(x) for x in v]
    if kind == "map":
        values = _fixer(schema["values"], named, space)
        return None if values is None else lambda v: {k: values(x) for k, x in v.items()}
    return None
