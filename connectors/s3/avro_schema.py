"""A record's Kafka Connect schema as an Avro schema, and its value as an Avro datum.

The Connect schema is what the Schema Registry converters and ``JsonConverter``'s
envelope put on each record (``SinkRecord.value_schema``). It becomes an Avro schema
the way Kafka Connect's ``AvroData`` makes one: ``int8``/``int16``/``int32`` ``int``,
``int64`` ``long``, ``float32`` ``float``, ``float64`` ``double``, structs records (named
by the schema's name, else ``ConnectDefault``), optional types unions with ``null``
(default null), ``Decimal`` ``bytes``/``decimal`` (precision from
``connect.decimal.precision``, else 64 as Connect's default), ``Date`` ``int``/``date``,
``Time`` ``int``/``time-millis``, ``Timestamp`` ``long``/``timestamp-millis``, maps with
string keys Avro maps, other maps arrays of key/value records; ``bytes`` (or a
``Decimal``) with ``connect.fixed.size`` an Avro ``fixed`` of that size again, named
by the schema's name (a fixed decimal ``org.apache.kafka.connect.data.Decimal``).

A struct without fields (a JSON Schema object without properties, an Avro union of
several types, which Connect has no type for) is written as its JSON text.

Values are brought to what fastavro writes: ``JsonConverter``'s encodings (bytes and
decimals as base64, dates as days, times and timestamps as epoch milliseconds) are
decoded; values from the registry converters (``Decimal``, ``date``, ``datetime``,
bytes) pass as they are.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from offramp.connectors.s3.errors import RecordEncodingError

__all__ = ["AvroOptions", "AvroSchema", "SchemaCache", "avro_schema"]

_DECIMAL = "org.apache.kafka.connect.data.Decimal"
_DATE = "org.apache.kafka.connect.data.Date"
_TIME = "org.apache.kafka.connect.data.Time"
_TIMESTAMP = "org.apache.kafka.connect.data.Timestamp"
_FIXED_SIZE = "connect.fixed.size"  # AvroData's parameter: the bytes were an Avro fixed
_ENUM = "io.confluent.connect.avro.Enum"  # AvroData's parameters: an enum's name, symbols
_DOC_PREFIX = "io.confluent.connect.avro."  # …record.doc, …field.doc.<name>, …enum.doc.<name>
_PRIMITIVES = {
    "int8": "int",
    "int16": "int",
    "int32": "int",
    "int64": "long",
    "float32": "float",
    "float64": "double",
    "boolean": "boolean",
    "string": "string",
    "bytes": "bytes",
}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Normalize = Callable[[Any], Any]


@dataclass(eq=False)
class AvroSchema:
    """One record schema, ready to write: its Avro schema, the schema's canonical JSON
    text (stored in each file's header), and how a value becomes its datum."""

    schema: Any
    text: bytes
    normalize: Normalize | None  # None: values are written as they are
    parsed: Any = None  # fastavro's parsed schema, made on first use
    extra: dict[str, Any] = field(default_factory=dict)  # what a format derives from it


class _Names:
    """Record names in one schema: Avro allows each full name to be defined once."""

    def __init__(self, options: AvroOptions) -> None:
        self.options = options
        self.defined: dict[str, bytes] = {}
        self.unnamed: dict[str, int] = {}

    def name(self, wanted: str | None, fallback: str) -> str:
        if not wanted:
            count = self.unnamed[fallback] = self.unnamed.get(fallback, 0) + 1
            return fallback if count == 1 else f"{fallback}{count}"
        parts = [re.sub(r"\W", "_", part) or "_" for part in str(wanted).split(".")]
        return ".".join(p if not p[0].isdigit() else f"_{p}" for p in parts)

    def define(self, name: str, record: dict[str, Any]) -> Any:
        """The record's definition, or a reference to an identical one made before; a
        different record under a name already used gets a numbered name."""
        text = orjson.dumps({k: v for k, v in record.items() if k != "name"})
        if name not in self.defined:
            self.defined[name] = text
            return record
        if self.defined[name] == text:
            return name
        number = 2
        while f"{name}{number}" in self.defined:
            number += 1
        renamed = f"{name}{number}"
        self.defined[renamed] = text
        return {**record, "name": renamed}


@dataclass(frozen=True)
class AvroOptions:
    """``connect.meta.data``: each schema carries its Connect name, version, doc and
    parameters as ``connect.*`` properties (and ``connect.type`` for ``int8``/``int16``),
    so a reader can rebuild the Connect schema; ``enhanced.avro.schema.support``: a
    string with ``io.confluent.connect.avro.Enum`` parameters is an Avro ``enum`` again.
    Both as Kafka Connect's ``AvroData.fromConnectSchema`` does them."""

    connect_meta_data: bool = False
    enhanced_schema_support: bool = False


def avro_schema(connect: Any, options: AvroOptions = AvroOptions()) -> AvroSchema:
    """The Avro schema for a Connect schema; ``RecordEncodingError`` if it can't be one
    (a field name Avro doesn't allow, a type Connect doesn't have)."""
    if not isinstance(connect, dict):
        raise RecordEncodingError(f"the record's schema is not a Connect schema: {connect!r}")
    names = _Names(options)
    schema = _schema(connect, names)
    return AvroSchema(schema, orjson.dumps(schema), _normalizer(connect))


def _schema(connect: dict[str, Any], names: _Names) -> Any:
    base = _required(connect, names)
    if names.options.connect_meta_data:
        base = _with_meta_data(base, connect)
    return ["null", base] if connect.get("optional") else base


# Connect's logical schemas (Decimal.builder(), Date.builder(), …) are all version 1.
_LOGICAL_VERSION = {_DECIMAL: 1, _DATE: 1, _TIME: 1, _TIMESTAMP: 1}


def _with_meta_data(avro: Any, connect: dict[str, Any]) -> Any:
    """``avro`` with AvroData's ``connect.*`` properties (``connect.meta.data=true``);
    a reference to a type defined before stays a bare name, as there."""
    props: dict[str, Any] = {}
    if connect.get("doc"):
        props["connect.doc"] = connect["doc"]
    version = connect.get("version", _LOGICAL_VERSION.get(str(connect.get("name"))))
    if version is not None:
        props["connect.version"] = int(version)
    if connect.get("parameters"):
        props["connect.parameters"] = {str(k): str(v) for k, v in connect["parameters"].items()}
    if connect.get("name"):
        props["connect.name"] = connect["name"]
    if connect.get("type") in ("int8", "int16"):
        props["connect.type"] = connect["type"]
    if not props or (isinstance(avro, str) and avro not in _PRIMITIVES.values()):
        return avro
    return {**(avro if isinstance(avro, dict) else {"type": avro}), **props}


def _enum(connect: dict[str, Any], names: _Names) -> Any:
    """An Avro enum from a string's ``io.confluent.connect.avro.Enum`` parameters."""
    params = connect.get("parameters") or {}
    prefix = f"{_ENUM}."
    symbols = [key[len(prefix) :] for key in params if str(key).startswith(prefix)]
    enum_name = names.name(str(params[_ENUM]), "ConnectDefault")
    enum: dict[str, Any] = {"type": "enum", "name": enum_name, "symbols": symbols}
    doc = params.get(f"{_DOC_PREFIX}enum.doc.{enum_name.rpartition('.')[2]}")
    if doc:
        enum["doc"] = str(doc)
    return names.define(enum_name, enum)


def _required(connect: dict[str, Any], names: _Names) -> Any:
    kind, name = connect.get("type"), connect.get("name")
    params = connect.get("parameters") or {}
    if kind == "string" and names.options.enhanced_schema_support and _ENUM in params:
        return _enum(connect, names)
    size = params.get(_FIXED_SIZE) if kind == "bytes" else None
    if name == _DECIMAL:
        decimal = {
            "type": "bytes",
            "logicalType": "decimal",
            "precision": int(params.get("connect.decimal.precision", 64)),
            "scale": int(params.get("scale", 0)),
        }
        if size is None:
            return decimal
        # An Avro fixed again, named by the Connect schema's name as AvroData does.
        fixed_name = names.name(_DECIMAL, "ConnectDefault")
        return names.define(
            fixed_name, {**decimal, "type": "fixed", "name": fixed_name, "size": int(size)}
        )
    if size is not None:
        fixed_name = names.name(name, "ConnectDefault")
        return names.define(fixed_name, {"type": "fixed", "name": fixed_name, "size": int(size)})
    if name == _DATE:
        return {"type": "int", "logicalType": "date"}
    if name == _TIME:
        return {"type": "int", "logicalType": "time-millis"}
    if name == _TIMESTAMP:
        return {"type": "long", "logicalType": "timestamp-millis"}
    if kind in _PRIMITIVES:
        return _PRIMITIVES[str(kind)]
    if kind == "array":
        return {"type": "array", "items": _schema(_sub(connect, "items"), names)}
    if kind == "map":
        keys, values = _sub(connect, "keys"), _sub(connect, "values")
        if keys.get("type") == "string" and not keys.get("optional"):
            return {"type": "map", "values": _schema(values, names)}
        entry_name = names.name(None, "MapEntry")
        entry = {
            "type": "record",
            "name": entry_name,
            "fields": [
                {"name": "key", "type": _schema(keys, names)},
                {"name": "value", "type": _schema(values, names)},
            ],
        }
        return {"type": "array", "items": names.define(entry_name, entry)}
    if kind == "struct":
        fields = connect.get("fields") or []
        if not fields:
            return "string"  # no Connect type for it: its JSON text
        record_name = names.name(name, "ConnectDefault")
        record: dict[str, Any] = {"type": "record", "name": record_name}
        # Docs the AvroConverter kept (its connect.meta.data), put back as AvroData does.
        if params.get(f"{_DOC_PREFIX}record.doc"):
            record["doc"] = str(params[f"{_DOC_PREFIX}record.doc"])
        record["fields"] = [_field(f, names, params) for f in fields]
        return names.define(record_name, record)
    raise RecordEncodingError(f"the record's schema has a type Connect doesn't have: {kind!r}")


def _field(connect: dict[str, Any], names: _Names, struct_params: Any) -> dict[str, Any]:
    name = str(connect.get("field", ""))
    if not _NAME.match(name):
        raise RecordEncodingError(
            f"field {name!r} can't be an Avro field name (letters, digits and _, not "
            "starting with a digit)"
        )
    out: dict[str, Any] = {"name": name, "type": _schema(connect, names)}
    if struct_params.get(f"{_DOC_PREFIX}field.doc.{name}"):
        out["doc"] = str(struct_params[f"{_DOC_PREFIX}field.doc.{name}"])
    if connect.get("optional"):
        out["default"] = None
    return out


def _sub(connect: dict[str, Any], key: str) -> dict[str, Any]:
    sub = connect.get(key)
    if not isinstance(sub, dict):
        raise RecordEncodingError(f"the record's {connect.get('type')} schema has no {key!r}")
    return sub


# ----- values ---------------------------------------------------------------------------


def _normalizer(connect: dict[str, Any]) -> Normalize | None:
    """How a value of this schema becomes its datum; None where it is one already."""
    inner = _required_normalizer(connect)
    if inner is None or not connect.get("optional"):
        return inner
    return lambda value: None if value is None else inner(value)


def _required_normalizer(connect: dict[str, Any]) -> Normalize | None:
    kind, name = connect.get("type"), connect.get("name")
    if name == _DECIMAL:
        scale = int((connect.get("parameters") or {}).get("scale", 0))
        return lambda value: _decimal(value, scale)
    if name == _DATE:
        return _date
    if name == _TIME:
        return _time
    if name == _TIMESTAMP:
        return _timestamp
    if kind == "bytes":
        return _bytes
    if kind == "array":
        items = _normalizer(connect["items"])
        return None if items is None else lambda value: [items(v) for v in value]
    if kind == "map":
        keys, values = connect["keys"], connect["values"]
        to_value = _normalizer(values) or _same
        if keys.get("type") == "string" and not keys.get("optional"):
            return lambda value: {k: to_value(v) for k, v in value.items()}
        to_key = _normalizer(keys) or _same
        return lambda value: [{"key": to_key(k), "value": to_value(v)} for k, v in _pairs(value)]
    if kind == "struct":
        fields = connect.get("fields") or []
        if not fields:
            return _json_text
        named = [(str(f["field"]), _normalizer(f)) for f in fields]
        if all(n is None for _, n in named):
            return _mapping  # fastavro reads the fields it needs from the dict

        def struct(value: Any) -> dict[str, Any]:
            get = _mapping(value).get
            return {key: get(key) if n is None else n(get(key)) for key, n in named}

        return struct
    return None


def _same(value: Any) -> Any:
    return value


def _mapping(value: Any) -> Any:
    if not isinstance(value, dict):
        raise RecordEncodingError(f"a struct's value must be an object, got {type(value).__name__}")
    return value


def _pairs(value: Any) -> Any:
    # JsonConverter writes a map with non-string keys as a list of [key, value] pairs.
    return value.items() if isinstance(value, dict) else (tuple(pair) for pair in value)


def _bytes(value: Any) -> Any:
    if isinstance(value, str):
        return base64.b64decode(value, validate=True)
    return bytes(value) if isinstance(value, bytearray | memoryview) else value


def _decimal(value: Any, scale: int) -> Any:
    if isinstance(value, str):  # JsonConverter's default: base64 of the unscaled integer
        unscaled = int.from_bytes(base64.b64decode(value, validate=True), "big", signed=True)
        return Decimal(unscaled).scaleb(-scale)
    if isinstance(value, bytes):
        return Decimal(int.from_bytes(value, "big", signed=True)).scaleb(-scale)
    if isinstance(value, int | float):  # decimal.format=NUMERIC
        return Decimal(str(value))
    return value


def _date(value: Any) -> Any:
    return (_EPOCH + timedelta(days=value)).date() if isinstance(value, int) else value


def _time(value: Any) -> Any:
    return (_EPOCH + timedelta(milliseconds=value)).time() if isinstance(value, int) else value


def _timestamp(value: Any) -> Any:
    return _EPOCH + timedelta(milliseconds=value) if isinstance(value, int) else value


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(type(value).__name__)


def _json_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value, default=_json_default, option=orjson.OPT_NON_STR_KEYS).decode()


class SchemaCache:
    """Each distinct Connect schema compiled once. The registry converters hand every
    record of a schema id the same dict (found by identity); a JSON envelope's schema is
    a new dict per record, found by its canonical text."""

    LIMIT = 1000  # distinct schemas kept; a flood of them starts the cache again

    def __init__(self, compile_schema: Callable[[Any], AvroSchema] = avro_schema) -> None:
        self.compile = compile_schema
        self._last: tuple[Any, AvroSchema] | None = None
        self._by_text: dict[bytes, AvroSchema] = {}

    def get(self, connect: Any) -> AvroSchema:
        last = self._last
        if last is not None and last[0] is connect:
            return last[1]
        try:
            key = orjson.dumps(connect, option=orjson.OPT_SORT_KEYS)
        except TypeError as exc:
            raise RecordEncodingError(f"the record's schema is not JSON: {exc}") from None
        found = self._by_text.get(key)
        if found is None:
            if len(self._by_text) >= self.LIMIT:
                self._by_text.clear()
            found = self._by_text[key] = self.compile(connect)
        self._last = (connect, found)
        return found
