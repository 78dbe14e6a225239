"""Payload selection: a source object, include/exclude nested paths, Kafka coordinates."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from offramp import RawMessage, SinkRecord
from offramp.connectors.qdrant.payload import PayloadError, PayloadSelector

VALUE: dict[str, Any] = {
    "type": "call.completed",
    "data": {
        "call_id": "c1",
        "caller": {"email": "a@example.com", "name": "Ann"},
        "billing": {"cost_usd": 1.5, "currency": "USD"},
        "transcript": "hello",
    },
}


def _record(value: Any = VALUE) -> SinkRecord:
    message = RawMessage("calls", 3, 17, b"c1", orjson.dumps(value), timestamp=1700000000000)
    return SinkRecord(message, "c1", value)


def test_whole_value_by_default() -> None:
    """With no keys set, the payload is the value itself."""
    assert PayloadSelector().select(_record()) == VALUE


def test_include_keeps_nested_structure_and_skips_absent_paths() -> None:
    """``caller.email`` keeps ``{"caller": {"email"}}``; a path the record lacks is skipped."""
    selector = PayloadSelector("data", include=["call_id", "caller.email", "missing.field"])
    assert selector.select(_record()) == {"call_id": "c1", "caller": {"email": "a@example.com"}}


def test_exclude_drops_nested_paths_without_touching_the_record() -> None:
    """Excluded paths are gone from the payload; the record's value is unchanged."""
    record = _record()
    before = orjson.dumps(record.value)
    payload = PayloadSelector("data", exclude=["caller.email", "transcript", "nope.x"]).select(
        record
    )
    assert payload == {
        "call_id": "c1",
        "caller": {"name": "Ann"},
        "billing": {"cost_usd": 1.5, "currency": "USD"},
    }
    assert orjson.dumps(record.value) == before


def test_kafka_coordinates_are_added_on_request() -> None:
    """``_kafka`` carries topic, partition, offset and timestamp of the consumed message."""
    payload = PayloadSelector("data", include=["call_id"], kafka_coordinates=True).select(_record())
    assert payload == {
        "call_id": "c1",
        "_kafka": {"topic": "calls", "partition": 3, "offset": 17, "timestamp": 1700000000000},
    }


@pytest.mark.parametrize(
    ("source", "value", "says"),
    [
        (None, "plain text", "the value is a string"),
        ("payload", VALUE, "field 'payload' is missing"),
        ("data.call_id", VALUE, "field 'data.call_id' is a string"),
    ],
)
def test_a_payload_source_that_is_not_an_object_is_refused(
    source: str | None, value: Any, says: str
) -> None:
    """The error names the field and what was found instead of an object."""
    with pytest.raises(PayloadError, match=says):
        PayloadSelector(source).select(_record(value))
