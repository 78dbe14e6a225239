"""``HoistField$Key`` / ``HoistField$Value``: wrap the operand as ``{field: operand}``."""

from __future__ import annotations

from typing import Any

from offramp.records import SinkRecord
from offramp.transforms.base import KEY, VALUE, OperandTransformation
from offramp.transforms.config import ConfigReader
from offramp.transforms.schema import SchemaMemo, field_entry, struct_of

__all__ = ["HoistField", "HoistFieldKey", "HoistFieldValue"]


class HoistField(OperandTransformation):
    """Wraps the key or value in a one-field object named by ``field``."""

    def configure(self, config: ConfigReader) -> None:
        self.field = config.required_string("field")
        self._schema = SchemaMemo(self._wrapped_schema)

    def transform(self, data: Any, schema: Any, record: SinkRecord) -> tuple[Any, Any]:
        return {self.field: data}, None if schema is None else self._schema(schema)

    def _wrapped_schema(self, schema: Any) -> Any:
        if not isinstance(schema, dict):
            return None
        return struct_of([field_entry(self.field, schema)])


class HoistFieldKey(HoistField):
    operand = KEY


class HoistFieldValue(HoistField):
    operand = VALUE
