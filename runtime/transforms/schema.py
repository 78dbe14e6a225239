"""Kafka Connect JSON schemas, kept consistent by field-level transforms (best effort).

A record converted by ``JsonConverter`` with ``schemas.enable=true`` carries its schema
as a dict: ``{"type": "struct", "fields": [{"field": "a", "type": "int32",
"optional": false}], "optional": false, "name": ...}``. The value itself is still a
plain dict, so transforms change the value the same way with or without a schema and
then, here, derive the matching schema. When a schema isn't a struct the transform
can follow, the record's schema is set to None rather than left wrong.

Schemas are shared between records and never mutated: every update builds new dicts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = [
    "DATE_SCHEMA",
    "TIMESTAMP_SCHEMA",
    "TIME_SCHEMA",
    "SchemaMemo",
    "field_entry",
    "primitive",
    "struct_fields",
    "struct_of",
    "type_of_entry",
    "with_fields",
]

Schema = dict[str, Any]

TIMESTAMP_SCHEMA: Schema = {
    "type": "int64",
    "name": "org.apache.kafka.connect.data.Timestamp",
    "version": 1,
}
DATE_SCHEMA: Schema = {"type": "int32", "name": "org.apache.kafka.connect.data.Date", "version": 1}
TIME_SCHEMA: Schema = {"type": "int32", "name": "org.apache.kafka.connect.data.Time", "version": 1}


def struct_fields(schema: Any) -> list[Schema] | None:
    """The field entries of a struct schema, or None when ``schema`` isn't one."""
    if not isinstance(schema, dict) or schema.get("type") != "struct":
        return None
    fields = schema.get("fields")
    if not isinstance(fields, list):
        return None
    for entry in fields:
        if not isinstance(entry, dict) or not isinstance(entry.get("field"), str):
            return None
    return fields


def primitive(type_name: str, optional: bool) -> Schema:
    return {"type": type_name, "optional": optional}


def field_entry(name: str, schema: Schema) -> Schema:
    """A struct's field entry: the field's schema plus its ``field`` name."""
    return {**schema, "field": name}


def type_of_entry(entry: Schema) -> Schema:
    """The schema of a field, without the ``field`` name its entry carries."""
    return {key: value for key, value in entry.items() if key != "field"}


def with_fields(schema: Schema, fields: list[Schema]) -> Schema:
    """``schema`` (name, version, optional...) with a new field list."""
    return {**schema, "fields": fields}


def struct_of(fields: list[Schema], optional: bool = False) -> Schema:
    return {"type": "struct", "fields": fields, "optional": optional}


class SchemaMemo:
    """Remembers the last schema update, by identity.

    A converter that reuses one schema object for a topic's records makes every record
    after the first cost one ``is`` check. The pair is swapped in one assignment, so
    task threads sharing a transform never see half an update.
    """

    __slots__ = ("_build", "_last")

    def __init__(self, build: Callable[[Any], Any]) -> None:
        self._build = build
        self._last: tuple[Any, Any] | None = None

    def __call__(self, schema: Any) -> Any:
        last = self._last
        if last is not None and last[0] is schema:
            return last[1]
        updated = self._build(schema)
        self._last = (schema, updated)
        return updated
