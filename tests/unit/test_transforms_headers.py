"""Header transforms (InsertHeader, DropHeaders, HeaderFrom) and the predicates."""

from __future__ import annotations

from typing import Any

import pytest

from offramp.errors import ConfigError
from offramp.records import Headers, RawMessage, SinkRecord
from offramp.transforms import Predicate, Transformation, predicate_class, transformation_class

CE_TYPE = "com.example.call.completed.v1"


def make_record(
    value: Any = None, *, topic: str = "calls", headers: Headers | None = None, key: Any = "k"
) -> SinkRecord:
    message = RawMessage(topic, 0, 5, key=b"k", value=b"..", headers=headers, timestamp=1)
    return SinkRecord(message, key, value)


def build(name: str, /, **config: Any) -> Transformation:
    return transformation_class(name)({k.replace("_", "."): v for k, v in config.items()})


def predicate(name: str, /, **config: Any) -> Predicate:
    return predicate_class(name)({k.replace("_", "."): v for k, v in config.items()})


def applied(transform: Transformation, record: SinkRecord) -> SinkRecord:
    result = transform.apply(record)
    assert result is not None
    return result


# --- InsertHeader and DropHeaders -----------------------------------------------------------


def test_insert_header_appends_the_literal_as_utf8() -> None:
    """The header is added after existing ones (repeats allowed), its text UTF-8 encoded."""
    record = make_record({}, headers=[("source", b"a")])
    out = applied(build("InsertHeader", header="source", value_literal="offramp é"), record)
    assert out.headers == [("source", b"a"), ("source", "offramp é".encode())]
    assert record.headers == [("source", b"a")]


def test_insert_header_requires_both_keys() -> None:
    """``header`` and ``value.literal`` are both required."""
    with pytest.raises(ConfigError) as caught:
        build("InsertHeader")
    assert dict(caught.value.errors) == {"header": "is required", "value.literal": "is required"}


def test_drop_headers_removes_every_occurrence() -> None:
    """All headers with a listed name go, others stay in order."""
    headers: Headers = [("a", b"1"), ("b", b"2"), ("a", b"3"), ("c", None)]
    out = applied(build("DropHeaders", headers="a,c"), make_record({}, headers=headers))
    assert out.headers == [("b", b"2")]


def test_drop_headers_returns_the_same_record_when_nothing_matches() -> None:
    """No copy is made when no header is dropped."""
    record = make_record({}, headers=[("b", b"2")])
    assert build("DropHeaders", headers="a").apply(record) is record


# --- HeaderFrom -----------------------------------------------------------------------------


def test_header_from_copies_fields_encoded_by_type() -> None:
    """Strings go as UTF-8, other values as JSON, a missing field as a null header."""
    transform = build(
        "HeaderFrom$Value", fields="id,secs,tags,gone", headers="x-id,x-secs,x-tags,x-gone",
        operation="copy",
    )  # fmt: skip
    value = {"id": "c1", "secs": 61, "tags": ["a"], "ok": True}
    out = applied(transform, make_record(value))
    assert out.headers == [
        ("x-id", b"c1"),
        ("x-secs", b"61"),
        ("x-tags", b'["a"]'),
        ("x-gone", None),
    ]
    assert out.value == value


def test_header_from_move_removes_the_fields_and_their_schema() -> None:
    """``operation=move`` takes the fields out of the value and its schema."""
    schema = {
        "type": "struct",
        "fields": [
            {"field": "id", "type": "string", "optional": False},
            {"field": "secs", "type": "int32", "optional": False},
        ],
        "optional": False,
    }
    record = make_record({"id": "c1", "secs": 61}).replace(value_schema=schema)
    out = applied(build("HeaderFrom$Value", fields="id", headers="x-id", operation="move"), record)
    assert out.value == {"secs": 61}
    assert [entry["field"] for entry in out.value_schema["fields"]] == ["secs"]
    assert out.headers == [("x-id", b"c1")]


def test_header_from_key_reads_the_key() -> None:
    """``HeaderFrom$Key`` takes fields from the key."""
    record = make_record({}, key={"tenant": "t9"})
    out = applied(
        build("HeaderFrom$Key", fields="tenant", headers="tenant", operation="copy"), record
    )
    assert out.headers == [("tenant", b"t9")]


def test_header_from_config_errors() -> None:
    """Fields and headers must pair up, and ``operation`` is copy or move."""
    with pytest.raises(ConfigError) as caught:
        build("HeaderFrom$Value", fields="a,b", headers="h", operation="swap")
    errors = dict(caught.value.errors)
    assert "one header per field" in errors["headers"]
    assert "copy, move" in errors["operation"]


# --- predicates -----------------------------------------------------------------------------


def test_topic_name_matches_needs_a_full_match() -> None:
    """The pattern must match the whole topic, as Java's ``matches()``."""
    calls = predicate("TopicNameMatches", pattern="calls|orders")
    assert calls.test(make_record(topic="calls"))
    assert not calls.test(make_record(topic="calls-dlq"))


def test_has_header_key_looks_for_the_name() -> None:
    """True when any header has the name, even a null one."""
    has = predicate("HasHeaderKey", name="trace")
    assert has.test(make_record(headers=[("trace", None)]))
    assert not has.test(make_record(headers=[("other", b"x")]))


def test_record_is_tombstone_tests_for_a_null_value() -> None:
    """Only a None value is a tombstone; an empty object is not."""
    tombstone = predicate("RecordIsTombstone")
    assert tombstone.test(make_record(None))
    assert not tombstone.test(make_record({}))


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([("ce-type", CE_TYPE.encode())], True),
        ([("ce-type", b"com.example.call.started.v1")], False),
        ([("ce-type", CE_TYPE.encode() + b".extra")], False),
        ([("ce-type", b"com.example.call.started.v1"), ("ce-type", CE_TYPE.encode())], True),
        ([("ce-type", None)], False),
        ([("ce-type", b"\xff\xfe")], False),
        ([], False),
    ],
)
def test_header_value_matches(headers: Headers, expected: bool) -> None:
    """The last header of that name must fully match; missing, null or binary don't."""
    matches = predicate(
        "dev.offramp.transforms.predicates.HeaderValueMatches",
        header_name="ce-type",
        pattern=r"com\.example\.call\.completed\.v1",
    )
    assert matches.test(make_record({}, headers=headers)) is expected


def test_predicate_config_errors_name_their_keys() -> None:
    """Missing and invalid predicate settings are reported by key."""
    with pytest.raises(ConfigError) as caught:
        predicate("HeaderValueMatches", pattern="[")
    errors = dict(caught.value.errors)
    assert errors["header.name"] == "is required"
    assert "invalid regular expression" in errors["pattern"]
