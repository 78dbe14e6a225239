"""``Cast$Key`` / ``Cast$Value``: change the type of the whole operand or of some fields.

``spec`` is either one type (``int64``: cast the whole key or value) or ``field:type``
pairs (``age:int32,score:float64``). Types: int8 int16 int32 int64 float32 float64
boolean string.

Where Kafka Connect silently wraps an out-of-range number (``Number.byteValue()``) or
reads any string but ``"true"`` as false, offramp fails the record instead, so it goes
to the dead-letter queue rather than into the sink with a wrong value. Casting an
object or array to ``string`` gives its compact JSON (Kafka Connect refuses); bytes
give base64, as in Kafka Connect. ``float32`` values stay Python floats (the range is
checked, the precision is not reduced).
"""

from __future__ import annotations

import base64
import math
import re
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import orjson

from offramp.records import SinkRecord
from offramp.transforms.base import KEY, VALUE, OperandTransformation, in_field, require_map
from offramp.transforms.config import ConfigReader
from offramp.transforms.schema import SchemaMemo, primitive, struct_fields, with_fields

__all__ = ["CAST_TYPES", "Cast", "CastKey", "CastValue", "cast_value"]

CAST_TYPES = ("int8", "int16", "int32", "int64", "float32", "float64", "boolean", "string")
_INT_BITS = {"int8": 8, "int16": 16, "int32": 32, "int64": 64}
_FLOAT32_MAX = 3.4028234663852886e38
_JAVA_INTEGER = re.compile(r"[+-]?\d+")


def cast_value(value: Any, target: str) -> Any:
    """``value`` converted to the Connect type ``target``; None stays None.

    Raises ``ValueError`` (unparseable or out of range) or ``TypeError`` (no such cast).
    """
    if value is None:
        return None
    bits = _INT_BITS.get(target)
    if bits is not None:
        return _to_int(value, target, bits)
    if target in ("float32", "float64"):
        return _to_float(value, target)
    if target == "boolean":
        return _to_bool(value)
    return _to_string(value)


def _to_int(value: Any, target: str, bits: int) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value!r} cannot be cast to {target}")
    if isinstance(value, int | float | Decimal):
        number = int(value)  # truncates toward zero, like Java's narrowing
    elif isinstance(value, str) and _JAVA_INTEGER.fullmatch(value):
        number = int(value)
    elif isinstance(value, str):
        raise ValueError(f"{value!r} is not an integer")
    else:
        raise TypeError(f"cannot cast {type(value).__name__} to {target}")
    limit = 1 << (bits - 1)
    if not -limit <= number < limit:
        raise ValueError(f"{value!r} is out of range for {target}")
    return number


def _to_float(value: Any, target: str) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float | Decimal):
        number = float(value)
    elif isinstance(value, str) and "_" not in value:
        number = float(value)  # ValueError names the text
    else:
        raise TypeError(f"cannot cast {type(value).__name__} to {target}")
    if target == "float32" and math.isfinite(number) and abs(number) > _FLOAT32_MAX:
        raise ValueError(f"{value!r} is out of range for float32")
    return number


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal):
        return value != 0
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if isinstance(value, str):
        raise ValueError(f"{value!r} is not true or false")
    raise TypeError(f"cannot cast {type(value).__name__} to boolean")


def _to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    raise TypeError(f"cannot cast {type(value).__name__} to string")


class Cast(OperandTransformation):
    """Casts the operand, or the fields named in ``spec``, to Connect primitive types."""

    def configure(self, config: ConfigReader) -> None:
        self.whole: str | None = None
        self.fields: dict[str, str] = {}
        for item in config.string_list("spec", required=True):
            name, colon, type_name = (part.strip() for part in item.rpartition(":"))
            target = type_name.lower()
            if target not in CAST_TYPES:
                config.error("spec", f"{type_name!r} is not one of {', '.join(CAST_TYPES)}")
            elif colon and not name:
                config.error("spec", f"{item!r} has no field name before ':'")
            elif colon:
                self.fields[name] = target
            else:
                self.whole = target
        if self.whole is not None and self.fields:
            config.error("spec", "a cast of the whole value must be the spec's only entry")
        self._schema = SchemaMemo(self._cast_schema)

    def transform(self, data: Any, schema: Any, record: SinkRecord) -> tuple[Any, Any]:
        new_schema = None if schema is None else self._schema(schema)
        if self.whole is not None:
            return cast_value(data, self.whole), new_schema
        updated = dict(require_map(data, "Cast"))
        for field, target in self.fields.items():
            if field in updated:
                try:
                    updated[field] = cast_value(updated[field], target)
                except (TypeError, ValueError) as exc:
                    raise in_field(field, exc) from exc
        return updated, new_schema

    def _cast_schema(self, schema: Any) -> Any:
        if self.whole is not None:
            return _retyped(schema, self.whole) if isinstance(schema, dict) else None
        fields = struct_fields(schema)
        if fields is None:
            return None
        new_fields = []
        for entry in fields:
            target = self.fields.get(entry["field"])
            if target is None:
                new_fields.append(entry)
                continue
            retyped = _retyped(entry, target)
            if retyped is None:
                return None
            new_fields.append({**retyped, "field": entry["field"]})
        return with_fields(schema, new_fields)


def _retyped(schema: dict[str, Any], target: str) -> dict[str, Any] | None:
    """A primitive schema of type ``target`` keeping optionality and a cast default."""
    updated = primitive(target, bool(schema.get("optional", False)))
    if schema.get("default") is not None:
        try:
            updated["default"] = cast_value(schema["default"], target)
        except (TypeError, ValueError):
            return None
    return updated


class CastKey(Cast):
    operand = KEY


class CastValue(Cast):
    operand = VALUE
