"""``InsertField$Key`` / ``InsertField$Value``: add the record's Kafka coordinates or a
constant as fields.

Keys ``topic.field``, ``partition.field``, ``offset.field``, ``timestamp.field``,
``static.field`` (with ``static.value``). A field name ending in ``!`` is required and
``?`` (the default) optional; this only shows in the schema. The timestamp is inserted
as epoch milliseconds, which is what a Connect ``Timestamp`` is on the wire.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from offramp.records import SinkRecord
from offramp.transforms.base import KEY, VALUE, OperandTransformation, require_map
from offramp.transforms.config import ConfigReader
from offramp.transforms.schema import (
    TIMESTAMP_SCHEMA,
    SchemaMemo,
    field_entry,
    struct_fields,
    with_fields,
)

__all__ = ["InsertField", "InsertFieldKey", "InsertFieldValue"]


class _Spec(NamedTuple):
    name: str
    optional: bool

    @classmethod
    def parse(cls, text: str | None) -> _Spec | None:
        if not text:
            return None
        if text.endswith("!"):
            return cls(text[:-1], False)
        return cls(text.removesuffix("?"), True)


class InsertField(OperandTransformation):
    """Adds topic, partition, offset, timestamp and/or a static string as fields."""

    def configure(self, config: ConfigReader) -> None:
        self.topic_field = _Spec.parse(config.string("topic.field"))
        self.partition_field = _Spec.parse(config.string("partition.field"))
        self.offset_field = _Spec.parse(config.string("offset.field"))
        self.timestamp_field = _Spec.parse(config.string("timestamp.field"))
        self.static_field = _Spec.parse(config.string("static.field"))
        self.static_value = config.string("static.value")
        if self.static_field and self.static_value is None:
            config.error("static.value", "is required when static.field is set")
        self._schema = SchemaMemo(self._updated_schema)

    def transform(self, data: Any, schema: Any, record: SinkRecord) -> tuple[Any, Any]:
        updated = dict(require_map(data, "InsertField"))
        if self.topic_field:
            updated[self.topic_field.name] = record.topic
        if self.partition_field:
            updated[self.partition_field.name] = record.kafka_partition
        if self.offset_field:
            updated[self.offset_field.name] = record.kafka_offset
        if self.timestamp_field and record.message.timestamp()[0]:
            updated[self.timestamp_field.name] = record.timestamp
        if self.static_field and self.static_value is not None:
            updated[self.static_field.name] = self.static_value
        return updated, None if schema is None else self._schema(schema)

    def _updated_schema(self, schema: Any) -> Any:
        fields = struct_fields(schema)
        if fields is None:
            return None
        added = [
            (spec, type_schema)
            for spec, type_schema in (
                (self.topic_field, {"type": "string"}),
                (self.partition_field, {"type": "int32"}),
                (self.offset_field, {"type": "int64"}),
                (self.timestamp_field, TIMESTAMP_SCHEMA),
                (self.static_field, {"type": "string"}),
            )
            if spec is not None
        ]
        names = {spec.name for spec, _ in added}
        new_fields = [entry for entry in fields if entry["field"] not in names]
        new_fields += [
            field_entry(spec.name, {**type_schema, "optional": spec.optional})
            for spec, type_schema in added
        ]
        return with_fields(schema, new_fields)


class InsertFieldKey(InsertField):
    operand = KEY


class InsertFieldValue(InsertField):
    operand = VALUE
