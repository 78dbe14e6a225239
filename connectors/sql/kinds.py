"""What a column holds: kinds inferred from Python values or from Kafka Connect's JSON
schemas, and the conversions Connect's JSON encodings need (base64 bytes and
decimals, epoch-based dates and times).

``schema.column_type`` turns a kind into an SQL type for ``auto.create`` and
``auto.evolve``.
"""

from __future__ import annotations

import base64
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import orjson

__all__ = [
    "ColumnSpec",
    "Kind",
    "field_schema",
    "kind_of_schema",
    "kind_of_values",
    "logical_conversion",
    "to_json",
]


class Kind(enum.StrEnum):
    """What a column holds; ``schema.column_type`` turns it into an SQL type."""

    NULL = "null"  # only nulls seen so far: created as text
    BOOLEAN = "boolean"
    SMALLINT = "smallint"
    INTEGER = "integer"
    BIGINT = "bigint"
    REAL = "real"
    DOUBLE = "double"
    DECIMAL = "decimal"
    TEXT = "text"
    JSON = "json"
    BYTES = "bytes"
    DATE = "date"
    TIME = "time"
    TIMESTAMP = "timestamp"


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    kind: Kind
    nullable: bool = True
    scale: int | None = None  # decimals from a schema
    precision: int | None = None  # their digits, when the schema says (Avro's precision)


_PY_KINDS: dict[type, Kind] = {
    bool: Kind.BOOLEAN,
    int: Kind.BIGINT,
    float: Kind.DOUBLE,
    str: Kind.TEXT,
    dict: Kind.JSON,
    list: Kind.JSON,
    bytes: Kind.BYTES,
    Decimal: Kind.DECIMAL,
    datetime: Kind.TIMESTAMP,
    date: Kind.DATE,
    time: Kind.TIME,
}
_NONE = type(None)


def kind_of_values(types: set[type]) -> Kind:
    """The column kind for the Python types seen in it."""
    types = types - {_NONE}
    if not types:
        return Kind.NULL
    if types <= {int, float}:
        return Kind.DOUBLE if float in types else Kind.BIGINT
    if types <= {dict, list}:
        return Kind.JSON
    if len(types) == 1:
        return _PY_KINDS.get(next(iter(types)), Kind.TEXT)
    return Kind.TEXT


_CONNECT_KINDS = {
    "int8": Kind.SMALLINT,
    "int16": Kind.SMALLINT,
    "int32": Kind.INTEGER,
    "int64": Kind.BIGINT,
    "float32": Kind.REAL,
    "float64": Kind.DOUBLE,
    "boolean": Kind.BOOLEAN,
    "string": Kind.TEXT,
    "bytes": Kind.BYTES,
    "struct": Kind.JSON,
    "map": Kind.JSON,
    "array": Kind.JSON,
}
_LOGICAL_KINDS = {
    "org.apache.kafka.connect.data.Decimal": Kind.DECIMAL,
    "org.apache.kafka.connect.data.Date": Kind.DATE,
    "org.apache.kafka.connect.data.Time": Kind.TIME,
    "org.apache.kafka.connect.data.Timestamp": Kind.TIMESTAMP,
}


def kind_of_schema(schema: Any) -> ColumnSpec | None:
    """A Kafka Connect JSON schema (``{"type": "int64", "optional": true, …}``) as a
    column spec (name left empty), or None if it is not a schema we understand."""
    if not isinstance(schema, dict):
        return None
    logical = _LOGICAL_KINDS.get(str(schema.get("name", "")))
    kind = logical or _CONNECT_KINDS.get(str(schema.get("type", "")))
    if kind is None:
        return None
    scale = precision = None
    if kind is Kind.DECIMAL:
        params = schema.get("parameters") or {}
        scale = int(params.get("scale", 0))
        if "connect.decimal.precision" in params:  # AvroConverter's: the Avro precision
            precision = int(params["connect.decimal.precision"])
    return ColumnSpec("", kind, bool(schema.get("optional", True)), scale, precision)


def field_schema(schema: Any, path: Sequence[str]) -> Any:
    """The schema of the field at ``path`` inside a struct schema, or None."""
    for name in path:
        if not isinstance(schema, dict) or schema.get("type") != "struct":
            return None
        schema = next((f for f in schema.get("fields", ()) if f.get("field") == name), None)
    return schema


# ----- value conversions ----------------------------------------------------------------


def to_json(value: Any) -> Any:
    if isinstance(value, dict | list):
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    return value


def _decode_bytes(value: Any) -> Any:
    return base64.b64decode(value) if isinstance(value, str) else value


def logical_conversion(kind: Kind, scale: int | None) -> Callable[[Any], Any] | None:
    """How a schema'd JSON value becomes a Python value (Connect's JSON encodings)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    if kind is Kind.BYTES:
        return _decode_bytes
    if kind is Kind.DECIMAL:

        def decimal(value: Any) -> Any:
            if isinstance(value, str):
                unscaled = int.from_bytes(base64.b64decode(value), "big", signed=True)
                return Decimal(unscaled).scaleb(-(scale or 0))
            return Decimal(str(value)) if isinstance(value, int | float) else value

        return decimal
    if kind is Kind.TIMESTAMP:
        return lambda v: epoch + timedelta(milliseconds=v) if isinstance(v, int) else v
    if kind is Kind.DATE:
        return lambda v: (epoch + timedelta(days=v)).date() if isinstance(v, int) else v
    if kind is Kind.TIME:
        return lambda v: (epoch + timedelta(milliseconds=v)).time() if isinstance(v, int) else v
    return None
