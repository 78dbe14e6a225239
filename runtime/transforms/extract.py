"""Moving fields up or across: ``ExtractField$Key/$Value`` and ``ValueToKey``.

``ExtractField`` replaces the key or value by one of its fields (``field``; with
``field.syntax.version=V2`` a dotted path reaches into nested objects). A missing field
gives None, as in Kafka Connect. ``ValueToKey`` sets the key to an object made of the
value's ``fields``.
"""

from __future__ import annotations

from typing import Any

from offramp.records import SinkRecord
from offramp.transforms.base import KEY, VALUE, OperandTransformation, Transformation, require_map
from offramp.transforms.config import ConfigReader
from offramp.transforms.field_path import SYNTAX_VERSIONS, parse_field_path, schema_at, value_at
from offramp.transforms.schema import SchemaMemo, struct_fields, type_of_entry, with_fields

__all__ = ["ExtractField", "ExtractFieldKey", "ExtractFieldValue", "ValueToKey"]


class ExtractField(OperandTransformation):
    """Replaces the operand with the value of one (possibly nested) field."""

    def configure(self, config: ConfigReader) -> None:
        field = config.required_string("field")
        version = config.choice("field.syntax.version", SYNTAX_VERSIONS, default="V1")
        self.path = [field]
        try:
            self.path = parse_field_path(field, version)
        except ValueError as exc:
            config.error("field", str(exc))
        self._schema = SchemaMemo(self._field_schema)

    def transform(self, data: Any, schema: Any, record: SinkRecord) -> tuple[Any, Any]:
        value = value_at(require_map(data, "ExtractField"), self.path)
        return value, None if schema is None else self._schema(schema)

    def _field_schema(self, schema: Any) -> Any:
        fields = struct_fields(schema)
        entry = None if fields is None else schema_at(fields, self.path)
        return None if entry is None else type_of_entry(entry)


class ExtractFieldKey(ExtractField):
    operand = KEY


class ExtractFieldValue(ExtractField):
    operand = VALUE


class ValueToKey(Transformation):
    """Sets the key to ``{field: value[field], ...}`` for the configured ``fields``.

    A tombstone keeps its key: there is no value to build one from, and the sink needs
    the original key to delete the right row.
    """

    def configure(self, config: ConfigReader) -> None:
        self.fields = config.string_list("fields", required=True)
        self._schema = SchemaMemo(self._key_schema)

    def apply(self, record: SinkRecord) -> SinkRecord | None:
        value = record.value
        if value is None:
            return record
        value = require_map(value, "ValueToKey")
        key = {field: value.get(field) for field in self.fields}
        schema = record.value_schema
        return record.replace(key=key, key_schema=None if schema is None else self._schema(schema))

    def _key_schema(self, schema: Any) -> Any:
        fields = struct_fields(schema)
        if fields is None:
            return None
        by_name = {entry["field"]: entry for entry in fields}
        if any(field not in by_name for field in self.fields):
            return None
        return with_fields(
            {"type": "struct", "optional": False}, [by_name[field] for field in self.fields]
        )
