"""Field-level transforms: InsertField, ReplaceField, ExtractField, ValueToKey, HoistField,
Cast, MaskField, Flatten — on schemaless values, and keeping a Connect schema consistent."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from offramp.errors import ConfigError
from offramp.records import RawMessage, SinkRecord
from offramp.transforms import Transformation, transformation_class
from offramp.transforms.schema import TIMESTAMP_SCHEMA

TIMESTAMP_MS = 1_700_000_000_000


def make_record(
    value: Any, *, key: Any = "k", value_schema: Any = None, key_schema: Any = None
) -> SinkRecord:
    message = RawMessage("calls", 3, 5, key=b"k", value=b"..", headers=[], timestamp=TIMESTAMP_MS)
    return SinkRecord(message, key, value, key_schema=key_schema, value_schema=value_schema)


def build(name: str, /, **config: Any) -> Transformation:
    """The transform ``name`` with ``config`` given as Python keyword names (_ for .)."""
    return transformation_class(name)({k.replace("_", "."): v for k, v in config.items()})


def applied(transform: Transformation, record: SinkRecord) -> SinkRecord:
    result = transform.apply(record)
    assert result is not None
    return result


def struct(*fields: tuple[str, str], optional: bool = False, **extra: Any) -> dict[str, Any]:
    return {
        "type": "struct",
        "fields": [{"field": name, "type": kind, "optional": False} for name, kind in fields],
        "optional": optional,
        **extra,
    }


def field_types(schema: dict[str, Any]) -> dict[str, str]:
    return {entry["field"]: entry["type"] for entry in schema["fields"]}


# --- behaviour shared by every $Key/$Value transform ---------------------------------------


@pytest.mark.parametrize(
    ("name", "config"),
    [
        ("InsertField$Value", {"topic_field": "t"}),
        ("ReplaceField$Value", {"exclude": "a"}),
        ("ExtractField$Value", {"field": "a"}),
        ("HoistField$Value", {"field": "a"}),
        ("Cast$Value", {"spec": "a:int8"}),
        ("MaskField$Value", {"fields": "a"}),
        ("Flatten$Value", {}),
        ("TimestampConverter$Value", {"target_type": "unix"}),
        ("ValueToKey", {"fields": "a"}),
        ("HeaderFrom$Value", {"fields": "a", "headers": "h", "operation": "move"}),
    ],
)
def test_tombstones_pass_through_unchanged(name: str, config: dict[str, Any]) -> None:
    """A None value is returned as is, so deletes reach the sink whatever the chain does."""
    record = make_record(None)
    assert build(name, **config).apply(record) is record


@pytest.mark.parametrize(
    ("name", "config"),
    [
        ("InsertField$Value", {"topic_field": "t"}),
        ("ReplaceField$Value", {"exclude": "a"}),
        ("MaskField$Value", {"fields": "a"}),
        ("Flatten$Value", {}),
    ],
)
def test_non_objects_fail_with_a_clear_type_error(name: str, config: dict[str, Any]) -> None:
    """A field transform given a string value says it needs a JSON object."""
    transform = build(name, **config)
    with pytest.raises(TypeError, match="needs a JSON object"):
        transform.apply(make_record("text"))


def test_key_variants_work_on_the_key_and_its_schema() -> None:
    """``$Key`` reads and writes the key and key schema, leaving the value alone."""
    schema = struct(("id", "string"))
    record = make_record({"v": 1}, key={"id": "c1"}, key_schema=schema)
    out = applied(build("InsertField$Key", partition_field="p"), record)
    assert out.key == {"id": "c1", "p": 3}
    assert field_types(out.key_schema) == {"id": "string", "p": "int32"}
    assert (out.value, out.value_schema) == ({"v": 1}, None)


# --- InsertField ----------------------------------------------------------------------------


def test_insert_field_adds_coordinates_and_a_static_value() -> None:
    """Topic, partition, offset, timestamp (epoch ms) and a static string are inserted."""
    transform = build(
        "InsertField$Value",
        topic_field="t",
        partition_field="p",
        offset_field="o",
        timestamp_field="ts",
        static_field="env",
        static_value="prod",
    )
    out = applied(transform, make_record({"a": 1}))
    assert out.value == {"a": 1, "t": "calls", "p": 3, "o": 5, "ts": TIMESTAMP_MS, "env": "prod"}


def test_insert_field_uses_the_current_topic() -> None:
    """After a router, the inserted topic is the routed one, as in Kafka Connect."""
    out = applied(build("InsertField$Value", topic_field="t"), make_record({}).replace(topic="x"))
    assert out.value == {"t": "x"}


def test_insert_field_extends_the_schema_with_optionality_suffixes() -> None:
    """``!`` makes an inserted schema field required, ``?`` (default) optional."""
    transform = build(
        "InsertField$Value", topic_field="t!", timestamp_field="ts?", offset_field="o"
    )
    schema = struct(("a", "int32"), name="Call")
    out = applied(transform, make_record({"a": 1}, value_schema=schema))
    fields = {entry["field"]: entry for entry in out.value_schema["fields"]}
    assert out.value_schema["name"] == "Call"
    assert fields["t"] == {"field": "t", "type": "string", "optional": False}
    assert fields["o"] == {"field": "o", "type": "int64", "optional": True}
    assert fields["ts"] == {**TIMESTAMP_SCHEMA, "field": "ts", "optional": True}
    assert schema["fields"] == [{"field": "a", "type": "int32", "optional": False}]


def test_insert_field_drops_a_schema_it_cannot_follow() -> None:
    """A non-struct schema on an object value becomes None rather than staying wrong."""
    out = applied(
        build("InsertField$Value", topic_field="t"), make_record({}, value_schema={"type": "map"})
    )
    assert out.value_schema is None


# --- ReplaceField ---------------------------------------------------------------------------


def test_replace_field_includes_excludes_and_renames() -> None:
    """``include`` keeps, ``exclude`` drops (and wins), ``renames`` renames what is left."""
    transform = build("ReplaceField$Value", include="a,b,c", exclude="c", renames="a:alpha")
    out = applied(transform, make_record({"a": 1, "b": 2, "c": 3, "d": 4}))
    assert out.value == {"alpha": 1, "b": 2}


def test_replace_field_reads_the_deprecated_names() -> None:
    """``whitelist`` and ``blacklist`` still work when the new names aren't set."""
    out = applied(
        build("ReplaceField$Value", whitelist="a,b", blacklist="b"), make_record({"a": 1, "b": 2})
    )
    assert out.value == {"a": 1}


def test_replace_field_updates_the_schema() -> None:
    """The schema loses excluded fields and carries renamed ones."""
    schema = struct(("a", "int32"), ("b", "string"))
    transform = build("ReplaceField$Value", exclude="b", renames="a:alpha")
    out = applied(transform, make_record({"a": 1, "b": "x"}, value_schema=schema))
    assert field_types(out.value_schema) == {"alpha": "int32"}


def test_replace_field_refuses_malformed_renames() -> None:
    """A rename without exactly one ``old:new`` pair is a config error on ``renames``."""
    with pytest.raises(ConfigError) as caught:
        build("ReplaceField$Value", renames="a:b,c")
    assert caught.value.errors == [("renames", "'c' is not of the form old:new")]


# --- ExtractField ---------------------------------------------------------------------------


def test_extract_field_replaces_the_value_with_one_field() -> None:
    """The value becomes the field's value; a missing field gives None."""
    transform = build("ExtractField$Value", field="call")
    assert applied(transform, make_record({"call": {"id": 1}})).value == {"id": 1}
    assert applied(transform, make_record({"other": 1})).value is None


def test_extract_field_v1_treats_dots_as_part_of_the_name() -> None:
    """Without ``field.syntax.version`` a dotted name is one field, as before KIP-821."""
    transform = build("ExtractField$Value", field="a.b")
    assert applied(transform, make_record({"a.b": 1, "a": {"b": 2}})).value == 1


def test_extract_field_v2_follows_nested_paths_and_backticks() -> None:
    """With V2 dots nest, and a backticked step may contain dots."""
    nested = build("ExtractField$Value", field="call.agent.id", field_syntax_version="v2")
    assert applied(nested, make_record({"call": {"agent": {"id": "a7"}}})).value == "a7"
    quoted = build("ExtractField$Value", field="meta.`ce.type`", field_syntax_version="V2")
    assert applied(quoted, make_record({"meta": {"ce.type": "done"}})).value == "done"
    assert applied(nested, make_record({"call": "flat"})).value is None


def test_extract_field_takes_the_field_schema() -> None:
    """The new schema is the extracted field's own schema (nested too)."""
    inner = struct(("id", "string"))
    schema = {"type": "struct", "fields": [{**inner, "field": "agent"}], "optional": False}
    transform = build("ExtractField$Value", field="agent.id", field_syntax_version="V2")
    out = applied(transform, make_record({"agent": {"id": "a7"}}, value_schema=schema))
    assert out.value_schema == {"type": "string", "optional": False}


def test_extract_field_refuses_an_unclosed_backtick() -> None:
    """A V2 path with an unmatched backtick is a config error on ``field``."""
    with pytest.raises(ConfigError, match="incomplete backtick"):
        build("ExtractField$Value", field="`a.b", field_syntax_version="V2")


# --- ValueToKey and HoistField --------------------------------------------------------------


def test_value_to_key_builds_the_key_from_value_fields() -> None:
    """The key becomes an object of the listed value fields, with a matching schema."""
    schema = struct(("call_id", "string"), ("agent", "string"), ("secs", "int32"))
    record = make_record({"call_id": "c1", "agent": "a", "secs": 3}, value_schema=schema)
    out = applied(build("ValueToKey", fields="call_id,agent"), record)
    assert out.key == {"call_id": "c1", "agent": "a"}
    assert field_types(out.key_schema) == {"call_id": "string", "agent": "string"}
    assert out.value == record.value


def test_value_to_key_keeps_the_key_of_a_tombstone() -> None:
    """A delete keeps the key the producer gave it."""
    record = make_record(None, key="c1")
    assert applied(build("ValueToKey", fields="call_id"), record).key == "c1"


def test_hoist_field_wraps_the_value_and_its_schema() -> None:
    """``{field: value}``; the schema becomes a one-field struct."""
    record = make_record("hello", value_schema={"type": "string", "optional": False})
    out = applied(build("HoistField$Value", field="text"), record)
    assert out.value == {"text": "hello"}
    assert out.value_schema == struct(("text", "string"))


def test_hoist_field_key_wraps_a_string_key() -> None:
    """HoistField$Key turns a plain call id into ``{"id": ...}``."""
    assert applied(build("HoistField$Key", field="id"), make_record({})).key == {"id": "k"}


# --- Cast -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "target", "expected"),
    [
        ("42", "int8", 42),
        (3.9, "int32", 3),
        (-3.9, "int64", -3),
        (True, "int16", 1),
        ("2.5", "float64", 2.5),
        (7, "float32", 7.0),
        (0, "boolean", False),
        ("TRUE", "boolean", True),
        (True, "string", "true"),
        (12, "string", "12"),
        (b"\x00\x01", "string", "AAE="),
        ({"a": [1, 2]}, "string", '{"a":[1,2]}'),
        (Decimal("1.50"), "string", "1.50"),
    ],
)
def test_cast_whole_value(value: Any, target: str, expected: Any) -> None:
    """A single-type spec casts the whole value, with Java-like conversions."""
    out = applied(build("Cast$Value", spec=target), make_record(value))
    assert out.value == expected
    assert type(out.value) is type(expected)


@pytest.mark.parametrize(
    ("value", "target"),
    [("128", "int8"), (40000, "int16"), ("1.5", "int32"), ("yes", "boolean"), (1e39, "float32")],
)
def test_cast_refuses_out_of_range_or_unparseable_values(value: Any, target: str) -> None:
    """Rather than wrapping or guessing, a bad cast fails the record (to the DLQ)."""
    with pytest.raises(ValueError):
        build("Cast$Value", spec=target).apply(make_record(value))


def test_cast_fields_and_their_schema() -> None:
    """``field:type`` pairs cast only those fields; the schema follows, optionality kept."""
    schema = struct(("secs", "string"), ("ok", "int8"), ("name", "string"))
    schema["fields"][1]["optional"] = True
    record = make_record({"secs": "61", "ok": 1, "name": "x"}, value_schema=schema)
    out = applied(build("Cast$Value", spec="secs:int32, ok:boolean"), record)
    assert out.value == {"secs": 61, "ok": True, "name": "x"}
    assert field_types(out.value_schema) == {"secs": "int32", "ok": "boolean", "name": "string"}
    assert out.value_schema["fields"][1]["optional"] is True


def test_cast_failure_names_the_field() -> None:
    """A failing field cast says which field failed."""
    with pytest.raises(ValueError, match="field 'n'"):
        build("Cast$Value", spec="n:int8").apply(make_record({"n": "x"}))


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("int8,a:int16", "only entry"),
        ("a:int128", "is not one of"),
        (":int8", "no field name"),
    ],
)
def test_cast_spec_errors(spec: str, reason: str) -> None:
    """Bad specs are config errors on ``spec``."""
    with pytest.raises(ConfigError, match=reason):
        build("Cast$Value", spec=spec)


# --- MaskField ------------------------------------------------------------------------------


def test_mask_field_empties_values_by_type() -> None:
    """Without a replacement each field gets its type's empty value; None stays None."""
    value = {"s": "x", "i": 5, "f": 1.5, "b": True, "l": [1], "m": {"a": 1}, "n": None}
    out = applied(build("MaskField$Value", fields="s,i,f,b,l,m,n,missing"), make_record(value))
    assert out.value == {"s": "", "i": 0, "f": 0.0, "b": False, "l": [], "m": {}, "n": None}


def test_mask_field_replacement_fits_the_field_type() -> None:
    """A replacement is text for strings and a number for numbers."""
    transform = build("MaskField$Value", fields="card,pin", replacement="0000")
    out = applied(transform, make_record({"card": "4111", "pin": 1234}))
    assert out.value == {"card": "0000", "pin": 0}


def test_mask_field_refuses_a_replacement_it_cannot_apply() -> None:
    """A non-numeric replacement for a number, or any replacement for a bool, fails."""
    with pytest.raises(ValueError, match="field 'pin'"):
        build("MaskField$Value", fields="pin", replacement="***").apply(make_record({"pin": 1}))
    with pytest.raises(TypeError, match="field 'ok'"):
        build("MaskField$Value", fields="ok", replacement="x").apply(make_record({"ok": True}))


# --- Flatten --------------------------------------------------------------------------------


def test_flatten_joins_nested_names() -> None:
    """Nested objects flatten with the delimiter; arrays stay; empty objects vanish."""
    value = {"a": {"b": 1, "c": {"d": [1, 2]}}, "e": None, "f": {}}
    out = applied(build("Flatten$Value", delimiter="_"), make_record(value))
    assert out.value == {"a_b": 1, "a_c_d": [1, 2], "e": None}


def test_flatten_follows_the_schema() -> None:
    """With a schema, leaves under an optional struct become optional, null structs null."""
    inner = struct(("b", "int32"), optional=True)
    schema = {"type": "struct", "fields": [{**inner, "field": "a"}, {"field": "x", "type": "int8"}]}
    out = applied(build("Flatten$Value"), make_record({"a": None, "x": 1}, value_schema=schema))
    assert out.value == {"a.b": None, "x": 1}
    assert out.value_schema["fields"] == [
        {"field": "a.b", "type": "int32", "optional": True},
        {"field": "x", "type": "int8", "optional": False},
    ]


# --- schemas are shared, never mutated ------------------------------------------------------


def test_the_same_schema_object_gets_the_same_updated_schema() -> None:
    """Records sharing a schema object share the derived schema (computed once)."""
    schema = struct(("a", "int32"))
    transform = build("ReplaceField$Value", renames="a:b")
    first = applied(transform, make_record({"a": 1}, value_schema=schema))
    second = applied(transform, make_record({"a": 2}, value_schema=schema))
    assert first.value_schema is second.value_schema
    assert schema == struct(("a", "int32"))
