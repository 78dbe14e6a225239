"""``Flatten$Key`` / ``Flatten$Value``: nested objects become top-level fields.

``{"a": {"b": 1}}`` becomes ``{"a.b": 1}`` (``delimiter`` defaults to ``.``). Arrays are
kept as they are and an empty nested object disappears, as in Kafka Connect. With a
struct schema, the schema decides the output fields: a null nested struct gives null
leaves, and a leaf under an optional struct becomes optional.
"""

from __future__ import annotations

from typing import Any

from offramp.records import SinkRecord
from offramp.transforms.base import KEY, VALUE, OperandTransformation, require_map
from offramp.transforms.config import ConfigReader
from offramp.transforms.schema import SchemaMemo, struct_fields, with_fields

__all__ = ["Flatten", "FlattenKey", "FlattenValue"]


class Flatten(OperandTransformation):
    """Joins nested field names with ``delimiter``."""

    def configure(self, config: ConfigReader) -> None:
        self.delimiter = config.string("delimiter", ".") or ""
        self._schema = SchemaMemo(self._flat_schema)

    def transform(self, data: Any, schema: Any, record: SinkRecord) -> tuple[Any, Any]:
        data = require_map(data, "Flatten")
        fields = None if schema is None else struct_fields(schema)
        flat: dict[str, Any] = {}
        if fields is None:
            self._flatten(data, "", flat)
            return flat, None
        self._flatten_by_schema(data, fields, "", flat)
        return flat, self._schema(schema)

    def _flatten(self, data: dict[str, Any], prefix: str, out: dict[str, Any]) -> None:
        for name, value in data.items():
            if isinstance(value, dict):
                self._flatten(value, f"{prefix}{name}{self.delimiter}", out)
            else:
                out[prefix + name] = value

    def _flatten_by_schema(
        self, data: Any, fields: list[dict[str, Any]], prefix: str, out: dict[str, Any]
    ) -> None:
        for entry in fields:
            name = entry["field"]
            value = data.get(name) if isinstance(data, dict) else None
            nested = struct_fields(entry)
            if nested is not None:
                self._flatten_by_schema(value, nested, f"{prefix}{name}{self.delimiter}", out)
            else:
                out[prefix + name] = value

    def _flat_schema(self, schema: Any) -> Any:
        fields = struct_fields(schema)
        if fields is None:
            return None
        flat: list[dict[str, Any]] = []
        self._flatten_fields(fields, "", False, flat)
        return with_fields(schema, flat)

    def _flatten_fields(
        self, fields: list[dict[str, Any]], prefix: str, optional: bool, out: list[dict[str, Any]]
    ) -> None:
        for entry in fields:
            name = prefix + entry["field"]
            entry_optional = optional or bool(entry.get("optional", False))
            nested = struct_fields(entry)
            if nested is not None:
                self._flatten_fields(nested, name + self.delimiter, entry_optional, out)
            else:
                out.append({**entry, "field": name, "optional": entry_optional})


class FlattenKey(Flatten):
    operand = KEY


class FlattenValue(Flatten):
    operand = VALUE
