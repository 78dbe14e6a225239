"""Converters turn bytes into values batch-wise and name every record they can't convert."""

from __future__ import annotations

import orjson
import pytest

from offramp.converters import KEPT_AS_TEXT, JsonConverter, create_converter
from offramp.errors import ConfigError
from offramp.records import JsonTextRecord, RawMessage, SinkRecord


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


def test_json_check_batch_keeps_valid_documents_as_text_and_flags_bad_ones() -> None:
    """check_batch decodes nothing it can keep: valid documents stay text, null and
    tombstones are None, bad JSON gets convert_batch's error, and a document only
    orjson takes (an integer past 64 bits) is decoded by orjson."""
    conv = create_converter("json", {"schemas.enable": "false"}, is_key=False)
    assert isinstance(conv, JsonConverter)
    datas = [b'{"a": 1}', b"{oops", None, b" null ", b"[1, 2]", b"123456789012345678901234567890"]
    out = conv.check_batch(datas)
    assert out.values[0] is KEPT_AS_TEXT and out.values[4] is KEPT_AS_TEXT
    assert out.values[2] is None and out.values[3] is None
    assert out.values[5] == conv.convert_batch([datas[5]], None).values[0]
    assert set(out.errors) == {1}
    assert str(out.errors[1]) == str(conv.convert_batch([b"{oops"], None).errors[0])
    clean = conv.check_batch([b"{}", b'"text"', b"null"])
    assert clean.values == [KEPT_AS_TEXT, KEPT_AS_TEXT, None] and not clean.errors


@pytest.mark.parametrize(
    "data",
    [b'"\\ud800"', b"\xff", b"NaN", b"1e400", b"", b"[" * 1100 + b"]" * 1100, b'{"a":1} x'],
)
def test_json_check_batch_refuses_what_convert_batch_refuses(data: bytes) -> None:
    """The fast check never lets through a document the decoder would refuse."""
    conv = create_converter("json", {"schemas.enable": "false"}, is_key=False)
    assert isinstance(conv, JsonConverter)
    assert set(conv.convert_batch([data], None).errors) == {0}
    assert set(conv.check_batch([data]).errors) == {0}


def test_json_text_record_decodes_on_first_read_and_then_drops_its_text() -> None:
    """A JsonTextRecord offers its text until the value is read (it could then be
    changed in place), decodes once, and takes a new value like any record."""
    record = JsonTextRecord(RawMessage("t", 0, 5, key=b"k", value=b'{"a": [1, 2]}'), "k")
    assert record.value_json == b'{"a": [1, 2]}'
    assert record.value == {"a": [1, 2]}
    assert record.value is record.value and record.value_json is None
    record.value["a"].append(3)
    copy = record.replace(key="k2")
    assert type(copy) is SinkRecord and copy.value == {"a": [1, 2, 3]} and copy.value_json is None
    record.value = "new"
    assert record.value == "new" and record.value_json is None
    plain = SinkRecord(RawMessage("t", 0, 6, value=b"{}"), None, {})
    assert plain.value_json is None
