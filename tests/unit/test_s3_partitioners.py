"""Where records go: partitioners, path formats, field paths and timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from offramp import RawMessage, SinkRecord
from offramp.connectors.s3 import S3SinkConfig
from offramp.connectors.s3.errors import RecordEncodingError
from offramp.connectors.s3.fields import FieldPath, parse_timestamp, timestamp_extractor
from offramp.connectors.s3.naming import object_key
from offramp.connectors.s3.partitioners import create_partitioner
from offramp.connectors.s3.pathformat import compile_path_format

HOURLY = "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH"


def _ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp() * 1000)


def _record(value: Any, partition: int = 0, timestamp: int = 0) -> SinkRecord:
    return SinkRecord(RawMessage("calls", partition, 7, timestamp=timestamp), None, value)


def _partitioner(**extra: str) -> Any:
    config = S3SinkConfig.model_validate({"s3.bucket.name": "archive", "flush.size": "1", **extra})
    return create_partitioner(config)


def test_default_partitioner_names_the_kafka_partition() -> None:
    """``partition=<p>`` from the record's Kafka partition."""
    assert _partitioner().encode(_record({}, partition=3), 0) == "partition=3"


def test_field_partitioner_reads_nested_and_dotted_fields() -> None:
    """Dots walk into objects (``data.tenant``); a key that contains dots wins; several
    fields make several levels; values render like Kafka Connect's."""
    event = {"type": "call", "data": {"tenant": "acme", "billing": {"paid": True}}}
    by_tenant = _partitioner(
        **{"partitioner.class": "field", "partition.field.name": "data.tenant"}
    )
    assert by_tenant.encode(_record(event), 0) == "data.tenant=acme"
    two = _partitioner(
        **{"partitioner.class": "field", "partition.field.name": "type,data.billing.paid"}
    )
    assert two.encode(_record(event), 0) == "type=call/data.billing.paid=true"
    flat = _partitioner(**{"partitioner.class": "field", "partition.field.name": "a.b"})
    assert flat.encode(_record({"a.b": 1.5, "a": {"b": 0}}), 0) == "a.b=1.5"
    assert flat.encode(_record({"a.b": "x/y"}), 0) == "a.b=x%2Fy"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"other": 1}, "no field 'tenant'"),
        ({"tenant": None}, "is null"),
        ({"tenant": ["a"]}, "is list"),
        ("text", "the value is str, not an object"),
        (None, "the value is null"),
    ],
)
def test_field_partitioner_refuses_what_it_cannot_place(value: Any, message: str) -> None:
    """A missing, null or structured field is a ``RecordEncodingError`` (dead-lettered)."""
    partitioner = _partitioner(**{"partitioner.class": "field", "partition.field.name": "tenant"})
    with pytest.raises(RecordEncodingError, match=message):
        partitioner.encode(_record(value), 0)


def test_time_partitioner_buckets_in_utc_and_in_a_time_zone() -> None:
    """Hourly buckets render with path.format; a zone shifts the wall-clock hour and
    follows daylight saving time."""
    hourly = _partitioner(
        **{"partitioner.class": "time", "path.format": HOURLY, "partition.duration.ms": "3600000"}
    )
    assert hourly.encode(_record({}), _ms(2026, 11, 20, 8, 59, 59)) == (
        "year=2026/month=11/day=20/hour=08"
    )
    new_york = _partitioner(
        **{
            "partitioner.class": "time",
            "path.format": HOURLY,
            "partition.duration.ms": "3600000",
            "timezone": "America/New_York",
        }
    )
    winter = new_york.encode(_record({}), _ms(2026, 1, 10, 3, 30))
    summer = new_york.encode(_record({}), _ms(2026, 7, 10, 3, 30))
    assert winter == "year=2026/month=01/day=09/hour=22"  # UTC-5
    assert summer == "year=2026/month=07/day=09/hour=23"  # UTC-4


def test_presets_and_sub_hour_buckets() -> None:
    """``hourly``/``daily`` presets, and 15-minute buckets aligned to the hour."""
    moment = _ms(2026, 11, 20, 8, 44, 1)
    assert _partitioner(**{"partitioner.class": "hourly"}).encode(_record({}), moment) == (
        "year=2026/month=11/day=20/hour=08"
    )
    assert _partitioner(**{"partitioner.class": "daily"}).encode(_record({}), moment) == (
        "year=2026/month=11/day=20"
    )
    quarter = _partitioner(
        **{
            "partitioner.class": "time",
            "path.format": "YYYYMMdd'T'HHmm",
            "partition.duration.ms": "900000",
        }
    )
    assert quarter.encode(_record({}), moment) == "20261120T0830"


def test_path_format_letters_and_literals() -> None:
    """Quoted text is literal (``''`` is a quote), ``yy`` is two digits, ``DDD`` is the
    day of the year, other characters are copied."""
    render = compile_path_format("'dt'=yyyy-MM-dd/'y'=yy/'doy'=DDD/''s''-H")
    assert render(datetime(2026, 2, 3, 4, 5, 6)) == "dt=2026-02-03/y=26/doy=034/'6'-4"


def test_timestamps_parse_from_numbers_and_iso_strings() -> None:
    """Epoch ms as a number or string, ISO-8601 with ``Z``, an offset, or none (UTC)."""
    moment = _ms(2026, 11, 20, 8, 0, 3)
    assert parse_timestamp(moment, "t") == moment
    assert parse_timestamp(float(moment), "t") == moment
    assert parse_timestamp(str(moment), "t") == moment
    assert parse_timestamp("2026-11-20T08:00:03Z", "t") == moment
    assert parse_timestamp("2026-11-20T09:00:03+01:00", "t") == moment
    assert parse_timestamp("2026-11-20T08:00:03", "t") == moment
    assert parse_timestamp("2026-11-20T08:00:03.250Z", "t") == moment + 250
    for bad in ("yesterday", True, None, {"at": 1}):
        with pytest.raises(RecordEncodingError, match="timestamp field 't'"):
            parse_timestamp(bad, "t")


def test_extractors_read_kafka_time_or_a_cloudevent_field() -> None:
    """``Record`` takes the Kafka timestamp; ``RecordField`` reads ``time`` or a nested
    ``data.ended_at`` from a CloudEvent value."""
    event = {"time": "2026-11-20T08:00:03Z", "data": {"ended_at": "2026-11-20T08:00:03Z"}}
    record = _record(event, timestamp=42)
    assert timestamp_extractor("Record", None)(record) == 42
    assert timestamp_extractor("RecordField", "time")(record) == _ms(2026, 11, 20, 8, 0, 3)
    nested = timestamp_extractor("RecordField", "data.ended_at")
    assert nested(record) == _ms(2026, 11, 20, 8, 0, 3)
    with pytest.raises(RecordEncodingError, match=r"no field 'data\.ended_at'"):
        nested(_record({"data": {}}))
    assert FieldPath("data").read(event) == event["data"]


def test_object_keys_pad_the_start_offset() -> None:
    """``<dir>/<topic>/<partition path>/<topic>+<p>+<10-digit offset><ext>``; no leading
    slash when ``topics.dir`` is empty."""
    assert object_key("topics", "calls", "partition=2", 2, 1234, ".json.gz") == (
        "topics/calls/partition=2/calls+2+0000001234.json.gz"
    )
    assert object_key("", "calls", "p", 0, 12345678901, ".bin") == "calls/p/calls+0+12345678901.bin"
