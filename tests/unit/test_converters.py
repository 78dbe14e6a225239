"""Converters turn bytes into values batch-wise and name every record they can't convert."""

from __future__ import annotations

import orjson
import pytest

from runtime.converters import create_converter
from runtime.errors import ConfigError


def test_json_schemaless_parses_and_flags_only_bad_records() -> None:
    """One bad document fails alone; the others convert."""
    conv = create_converter("json", {"schemas.enable": "false"}, is_key=False)
    out = conv.convert_batch([b'{"a": 1}', b"{oops", None, b"[1, 2]"], None)
    assert out.values[0] == {"a": 1} and out.values[2] is None and out.values[3] == [1, 2]
    assert set(out.errors) == {1}
    assert "could not convert the value" in str(out.errors[1])


def test_json_with_schemas_unwraps_the_envelope_and_keeps_the_schema() -> None:
    """schemas.enable=true (Kafka Connect's default) reads {"schema", "payload"}."""
    conv = create_converter("org.apache.kafka.connect.json.JsonConverter", {}, is_key=False)
    schema = {"type": "struct", "fields": [{"field": "a", "type": "int32"}]}
    doc = orjson.dumps({"schema": schema, "payload": {"a": 5}})
    out = conv.convert_batch([doc, b'{"a": 5}'], None)
    assert out.values[0] == {"a": 5} and out.schemas is not None
    assert out.schemas[0] == schema
    assert 1 in out.errors and "schemas.enable=false" in str(out.errors[1])


def test_string_and_bytearray_converters() -> None:
    """Strings decode as UTF-8; byte arrays pass through untouched."""
    assert create_converter("string", {}, True).convert_batch([b"caf\xc3\xa9"], None).values == [
        "café"
    ]
    raw = [b"\x00\x01", None]
    assert create_converter("bytearray", {}, False).convert_batch(raw, None).values == raw


def test_cloudevents_binary_mode_reads_ce_headers() -> None:
    """Binary mode: attributes from ce-* headers, data parsed as JSON."""
    conv = create_converter("cloudevents", {}, is_key=False)
    headers = [
        ("ce-specversion", b"1.0"),
        ("ce-type", b"com.example.call.completed.v1"),
        ("ce-id", b"c1"),
        ("ce-source", b"//voice"),
        ("ce-time", b"2026-11-20T08:00:00Z"),
        ("content-type", b"application/json"),
    ]
    out = conv.convert_batch([b'{"tenant": "acme"}'], [headers])
    event = out.values[0]
    assert event["type"] == "com.example.call.completed.v1" and event["id"] == "c1"
    assert event["time"] == "2026-11-20T08:00:00Z" and event["data"] == {"tenant": "acme"}


def test_cloudevents_structured_mode_and_non_events() -> None:
    """Structured mode is the event itself; a plain JSON value is not an event."""
    conv = create_converter("cloudevents", {}, is_key=False)
    event = {"specversion": "1.0", "type": "t", "source": "s", "id": "1", "data": {"x": 1}}
    out = conv.convert_batch([orjson.dumps(event), b'{"x": 1}'], [None, None])
    assert out.values[0]["data"] == {"x": 1}
    assert "not a CloudEvent" in str(out.errors[1])


def test_unknown_converter_suggests_the_closest_name() -> None:
    """A typo gets a did-you-mean naming the key."""
    with pytest.raises(ConfigError) as err:
        create_converter("jsn", {}, is_key=False)
    assert err.value.errors[0][0] == "value.converter"
    assert "did you mean 'json'" in err.value.errors[0][1]
