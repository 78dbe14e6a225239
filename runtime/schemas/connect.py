"""Avro, JSON Schema and Protobuf schemas as Kafka Connect's schema structure.

The structure is the one ``JsonConverter`` carries with ``schemas.enable``
(``{"type": "struct", "fields": [{"field": "id", "type": "int64", "optional": false}]}``,
logical types by ``name``), so a sink that makes typed columns from the JSON envelope
(the SQL sink) does the same from a registry's schema, with no format of its own.
"""

from __future__ import annotations

from typing import Any

__all__ = ["from_avro", "from_json_schema", "from_protobuf", "repeated"]

_DECIMAL = "org.apache.kafka.connect.data.Decimal"
_DATE = "org.apache.kafka.connect.data.Date"
_TIME = "org.apache.kafka.connect.data.Time"
_TIMESTAMP = "org.apache.kafka.connect.data.Timestamp"

_AVRO_PRIMITIVES = {
    "boolean": "boolean",
    "int": "int32",
    "long": "int64",
    "float": "float32",
    "double": "float64",
    "string": "string",
    "bytes": "bytes",
}
# The logical types Kafka Connect's AvroData knows (with ``decimal``); the others
# (``timestamp-micros``, ``time-micros``, ``local-timestamp-*``, ``uuid``) are their
# underlying type there, and so here (``avro_values`` brings the values back to it).
_AVRO_LOGICAL = {
    ("int", "date"): ("int32", _DATE),
    ("int", "time-millis"): ("int32", _TIME),
    ("long", "timestamp-millis"): ("int64", _TIMESTAMP),
}
_FIXED_SIZE = "connect.fixed.size"  # AvroData's parameter: the bytes were an Avro fixed
_ENUM = "io.confluent.connect.avro.Enum"  # AvroData's parameters: the enum's name, symbols
_DOC_PREFIX = "io.confluent.connect.avro."  # …record.doc, …field.doc.<name>, …enum.doc.<name>


def from_avro(
    schema: Any, optional: bool = False, namespace: str = "", docs: bool = False
) -> dict[str, Any]:
    """An Avro schema (parsed JSON) as a Connect schema; a union with null is optional,
    any other union (no Connect type of its own) is a struct kept as JSON. A record's
    name is its full name (``shop.Order``), as Kafka Connect's AvroData gives it; a
    fixed is ``bytes`` with its size in ``connect.fixed.size``, an enum a ``string``
    with its name and symbols in parameters, as there too. ``docs`` (the converter's
    ``connect.meta.data``) keeps record, field and enum docs as AvroData's parameters."""
    return _from_avro(schema, optional, namespace, {}, docs)


def _full_name(schema: dict[str, Any], namespace: str) -> str:
    name = str(schema.get("name") or "")
    space = str(schema.get("namespace") or namespace) if "." not in name else ""
    return f"{space}.{name}" if space and name else name


def _from_avro(
    schema: Any, optional: bool, namespace: str, named: dict[str, dict[str, Any]], docs: bool
) -> dict[str, Any]:
    if isinstance(schema, list):
        branches = [b for b in schema if b != "null"]
        nullable = len(branches) < len(schema)
        if len(branches) == 1:
            return _from_avro(branches[0], optional or nullable, namespace, named, docs)
        return {"type": "struct", "fields": [], "optional": True}
    if isinstance(schema, str):
        # A named type defined earlier in the schema, else a primitive.
        known = named.get(f"{namespace}.{schema}" if namespace else schema, named.get(schema))
        if known is not None:
            return {**known, "optional": optional}
        schema = {"type": schema}
    kind = schema.get("type")
    if isinstance(kind, dict | list):
        return _from_avro(kind, optional, namespace, named, docs)
    out: dict[str, Any]
    logical = schema.get("logicalType")
    if logical == "decimal" and kind in ("bytes", "fixed"):
        scale = int(schema.get("scale", 0))
        # Kafka Connect's AvroConverter keeps the precision in this parameter too.
        params = {"scale": str(scale)}
        if "precision" in schema:
            params["connect.decimal.precision"] = str(int(schema["precision"]))
        if kind == "fixed":
            params[_FIXED_SIZE] = str(int(schema["size"]))
        out = {"type": "bytes", "name": _DECIMAL, "parameters": params}
    elif (kind, logical) in _AVRO_LOGICAL:
        base, name = _AVRO_LOGICAL[(kind, logical)]
        out = {"type": base, "name": name}
    elif kind == "fixed":
        size = str(int(schema["size"]))
        out = {
            "type": "bytes",
            "name": _full_name(schema, namespace),
            "parameters": {_FIXED_SIZE: size},
        }
    elif kind == "enum":
        full = _full_name(schema, namespace)
        # What enhanced.avro.schema.support makes an Avro enum of again.
        params = {_ENUM: full, **{f"{_ENUM}.{sym}": sym for sym in schema["symbols"]}}
        if docs and schema.get("doc"):
            params[f"{_DOC_PREFIX}enum.doc.{schema['name']}"] = str(schema["doc"])
        out = {"type": "string", "name": full, "parameters": params}
    elif kind == "record":
        full = _full_name(schema, namespace)
        inner = full.rpartition(".")[0]  # nested names are relative to this one's namespace
        out = {"type": "struct", "name": full or None, "fields": []}
        named[full] = out  # a field naming its own record sees the struct (kept as JSON)
        out["fields"] = [
            {**_from_avro(f["type"], False, inner, named, docs), "field": f["name"]}
            for f in schema["fields"]
        ]
        record_docs = {f"{_DOC_PREFIX}record.doc": schema.get("doc")} | {
            f"{_DOC_PREFIX}field.doc.{f['name']}": f.get("doc") for f in schema["fields"]
        }
        if docs and any(record_docs.values()):
            out["parameters"] = {k: str(v) for k, v in record_docs.items() if v}
    elif kind == "array":
        out = {"type": "array", "items": _from_avro(schema["items"], False, namespace, named, docs)}
    elif kind == "map":
        values = _from_avro(schema["values"], False, namespace, named, docs)
        out = {"type": "map", "keys": {"type": "string"}, "values": values}
    else:
        out = {"type": _AVRO_PRIMITIVES.get(str(kind), "string")}
    if kind in ("fixed", "enum", "record") and "name" in schema:
        named[_full_name(schema, namespace)] = dict(out)
    out["optional"] = optional
    return out


_JSON_TYPES = {
    "integer": "int64",
    "number": "float64",
    "boolean": "boolean",
    "string": "string",
    "object": "struct",
    "array": "array",
}


def from_json_schema(schema: Any, optional: bool = False) -> dict[str, Any]:
    """A JSON Schema as a Connect schema: an object's properties are its fields (those
    not ``required``, or whose type admits null, optional); ``format: date-time`` and
    ``date`` stay strings (JSON has no such values)."""
    if not isinstance(schema, dict):
        return {"type": "string", "optional": True}
    types = schema.get("type")
    if isinstance(types, list):
        nullable = "null" in types
        types = [t for t in types if t != "null"]
        optional = optional or nullable
        types = types[0] if len(types) == 1 else None
    if types is None and isinstance(schema.get("oneOf"), list):
        branches = [b for b in schema["oneOf"] if b.get("type") != "null"]
        if len(branches) == 1:
            return from_json_schema(branches[0], optional or len(branches) < len(schema["oneOf"]))
    kind = _JSON_TYPES.get(str(types), "string")
    out: dict[str, Any] = {"type": kind, "optional": optional}
    if kind == "struct":
        required = set(schema.get("required") or ())
        out["fields"] = [
            {**from_json_schema(sub, name not in required), "field": name}
            for name, sub in (schema.get("properties") or {}).items()
        ]
        out["name"] = schema.get("title")
    return out


# google.protobuf.descriptor.FieldDescriptor type numbers.
_PROTO_TYPES = {
    1: "float64",  # double
    2: "float32",  # float
    3: "int64",
    4: "int64",  # uint64
    5: "int32",
    6: "int64",  # fixed64
    7: "int32",  # fixed32
    8: "boolean",
    9: "string",
    12: "bytes",
    13: "int64",  # uint32
    14: "string",  # enum: by name, as MessageToDict gives it
    15: "int32",  # sfixed32
    16: "int64",  # sfixed64
    17: "int32",  # sint32
    18: "int64",  # sint64
}
_PROTO_MESSAGE = 11
# A Timestamp as the RFC 3339 text Protobuf's JSON mapping gives it.
_WELL_KNOWN = {"google.protobuf.Timestamp": {"type": "string"}}


def repeated(field: Any) -> bool:
    """Whether a Protobuf field is repeated (``is_repeated`` in protobuf 6, ``label``
    before it)."""
    flag = getattr(field, "is_repeated", None)
    return bool(flag) if flag is not None else field.label == 3  # LABEL_REPEATED


def from_protobuf(descriptor: Any, optional: bool = False) -> dict[str, Any]:
    """A Protobuf message descriptor as a Connect struct. Proto3 scalars always have a
    value (their default when unset), so they are not optional; ``optional`` fields,
    messages and repeated fields are."""
    fields = []
    for f in descriptor.fields:
        is_list = repeated(f)
        if f.type == _PROTO_MESSAGE:
            full = f.message_type.full_name
            spec = dict(_WELL_KNOWN.get(full) or from_protobuf(f.message_type, True))
            spec["optional"] = True
        else:
            has_presence = bool(getattr(f, "has_presence", False))
            spec = {"type": _PROTO_TYPES.get(f.type, "string"), "optional": has_presence}
        if is_list:
            spec = {"type": "array", "items": spec, "optional": True}
        fields.append({**spec, "field": f.name})
    return {"type": "struct", "name": descriptor.full_name, "fields": fields, "optional": optional}
