"""Timestamps and topic routing: TimestampConverter, TimestampRouter, RegexRouter, and the
Java date-format and regex dialects they take."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import pytest

from offramp.errors import ConfigError
from offramp.records import RawMessage, SinkRecord
from offramp.transforms import Transformation, transformation_class
from offramp.transforms.java_dates import JavaDateFormat
from offramp.transforms.java_regex import (
    compile_java_regex,
    expand_java_replacement,
    parse_java_replacement,
)
from offramp.transforms.schema import DATE_SCHEMA, TIMESTAMP_SCHEMA

MOMENT = datetime(2024, 3, 5, 14, 7, 9, 123456, tzinfo=UTC)
MOMENT_MS = 1_709_647_629_123


def make_record(
    value: Any = None, *, topic: str = "calls", timestamp: int = MOMENT_MS, schema: Any = None
) -> SinkRecord:
    message = RawMessage(topic, 0, 5, key=b"k", value=b"..", headers=[], timestamp=timestamp)
    return SinkRecord(message, "k", value, value_schema=schema)


def build(name: str, /, **config: Any) -> Transformation:
    return transformation_class(name)({k.replace("_", "."): v for k, v in config.items()})


def converted(value: Any, **config: Any) -> Any:
    result = build("TimestampConverter$Value", **config).apply(make_record(value))
    assert result is not None
    return result.value


# --- TimestampConverter ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("Timestamp", MOMENT.replace(microsecond=123000)),
        ("Date", date(2024, 3, 5)),
        ("Time", time(14, 7, 9, 123000)),
        ("unix", MOMENT_MS),
        ("string", "2024-03-05 14:07:09.123"),
    ],
)
def test_unix_millis_convert_to_every_target(target: str, expected: Any) -> None:
    """Epoch milliseconds become a datetime, date, time, number or formatted string."""
    assert converted(MOMENT_MS, target_type=target, format="yyyy-MM-dd HH:mm:ss.SSS") == expected


@pytest.mark.parametrize(
    ("precision", "number"),
    [
        ("seconds", 1_709_647_629),
        ("milliseconds", 1_709_647_629_123),
        ("microseconds", 1_709_647_629_123_456),
        ("nanoseconds", 1_709_647_629_123_456_000),
    ],
)
def test_unix_precision_applies_to_output(precision: str, number: int) -> None:
    """``unix.precision`` sets the unit of the unix number written."""
    assert converted(MOMENT, target_type="unix", unix_precision=precision) == number


def test_unix_precision_applies_to_input() -> None:
    """``unix.precision`` also sets the unit of a unix number read."""
    micros = converted(
        1_709_647_629_123_456, target_type="Timestamp", unix_precision="microseconds"
    )
    assert micros == MOMENT


def test_strings_parse_with_the_java_format() -> None:
    """A string in the configured pattern, with its offset, becomes the UTC instant."""
    out = converted("05/03/2024 16:07:09 +0200", target_type="unix", format="dd/MM/yyyy HH:mm:ss Z")
    assert out == MOMENT_MS - 123


def test_iso_8601_strings_are_accepted_without_or_beside_a_format() -> None:
    """ISO-8601 input parses without a format, and as a fallback when the format misses."""
    assert converted("2024-03-05T14:07:09.123Z", target_type="unix") == MOMENT_MS
    with_format = converted("2024-03-05T15:07:09.123+01:00", target_type="unix", format="yyyyMMdd")
    assert with_format == MOMENT_MS


def test_a_field_is_converted_in_place_with_its_schema() -> None:
    """With ``field`` only that field changes; its schema entry becomes the target's."""
    schema = {
        "type": "struct",
        "fields": [{"field": "at", "type": "int64", "optional": True}],
        "optional": False,
    }
    transform = build("TimestampConverter$Value", field="at", target_type="Date")
    out = transform.apply(make_record({"at": MOMENT_MS, "x": 1}, schema=schema))
    assert out is not None
    assert out.value == {"at": date(2024, 3, 5), "x": 1}
    assert out.value_schema["fields"] == [{**DATE_SCHEMA, "field": "at", "optional": True}]


def test_whole_value_schema_becomes_the_target_schema() -> None:
    """Converting the whole value replaces its schema, keeping optionality."""
    transform = build("TimestampConverter$Value", target_type="Timestamp")
    out = transform.apply(make_record("2024-03-05T14:07:09Z", schema={"type": "string"}))
    assert out is not None
    assert out.value_schema == {**TIMESTAMP_SCHEMA, "optional": False}


def test_unparseable_timestamps_fail_the_record() -> None:
    """A string that is neither in the format nor ISO-8601 raises, naming the field."""
    transform = build("TimestampConverter$Value", field="at", target_type="unix")
    with pytest.raises(ValueError, match=r"field 'at'.*ISO-8601"):
        transform.apply(make_record({"at": "yesterday"}))


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"target_type": "string"}, "format"),
        ({"target_type": "epoch"}, "target.type"),
        ({}, "target.type"),
        ({"target_type": "unix", "unix_precision": "days"}, "unix.precision"),
        ({"target_type": "unix", "format": "yyyy-QQ"}, "format"),
    ],
)
def test_timestamp_converter_config_errors(config: dict[str, Any], key: str) -> None:
    """Missing or invalid settings are reported under their own key."""
    with pytest.raises(ConfigError) as caught:
        build("TimestampConverter$Value", **config)
    assert key in dict(caught.value.errors)


# --- Java date formats ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("yyyyMMdd", "20240305"),
        ("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "2024-03-05T14:07:09.123Z"),
        ("yyyy-MM-dd HH:mm:ssZ", "2024-03-05 14:07:09+0000"),
        ("EEE, d MMM yyyy hh:mm a", "Tue, 5 Mar 2024 02:07 PM"),
        ("EEEE d MMMM yy", "Tuesday 5 March 24"),
        ("yyyy.DDD 'at' HH''mm", "2024.065 at 14'07"),
        ("yyyy-MM-dd HH:mm:ss.SSSSSS z", "2024-03-05 14:07:09.123456 UTC"),
    ],
)
def test_java_date_formats_write_utc_and_read_back(pattern: str, text: str) -> None:
    """Common SimpleDateFormat letters format in UTC and parse what they wrote."""
    java = JavaDateFormat(pattern)
    assert java.format(MOMENT) == text
    assert java.format(java.parse(text)) == text


def test_java_date_format_converts_offsets_to_utc() -> None:
    """Parsing ``+05:30`` gives the UTC instant; formatting an aware time writes UTC."""
    java = JavaDateFormat("yyyy-MM-dd HH:mmXXX")
    assert java.parse("2024-03-05 19:37+05:30") == datetime(2024, 3, 5, 14, 7, tzinfo=UTC)
    india = timezone(timedelta(hours=5, minutes=30))
    assert java.format(datetime(2024, 3, 5, 19, 37, tzinfo=india)) == "2024-03-05 14:07Z"


def test_java_date_format_refuses_unknown_letters_and_mismatches() -> None:
    """An unsupported letter fails at construction; a non-matching string at parse."""
    with pytest.raises(ValueError, match="unsupported letter 'Q'"):
        JavaDateFormat("yyyy-QQ")
    with pytest.raises(ValueError, match="does not match"):
        JavaDateFormat("yyyyMMdd").parse("2024-03-05")


# --- TimestampRouter ------------------------------------------------------------------------


def test_timestamp_router_defaults_to_topic_dash_day() -> None:
    """By default the topic becomes ``<topic>-yyyyMMdd`` of the record's UTC timestamp."""
    out = build("TimestampRouter").apply(make_record({}))
    assert out is not None
    assert (out.topic, out.kafka_topic) == ("calls-20240305", "calls")


def test_timestamp_router_takes_both_formats() -> None:
    """``topic.format`` and ``timestamp.format`` shape the new topic."""
    transform = build(
        "TimestampRouter", topic_format="archive.${topic}.${timestamp}", timestamp_format="yyyy/MM"
    )
    out = transform.apply(make_record({}))
    assert out is not None
    assert out.topic == "archive.calls.2024/03"


def test_timestamp_router_needs_a_timestamp() -> None:
    """A record without a timestamp can't be routed by it."""

    class NoTimestamp(RawMessage):
        def timestamp(self) -> tuple[int, int]:
            return (0, -1)

    record = SinkRecord(NoTimestamp("calls"), None, {})
    with pytest.raises(ValueError, match="no timestamp"):
        build("TimestampRouter").apply(record)


# --- RegexRouter ----------------------------------------------------------------------------


def test_regex_router_rewrites_full_matches_with_group_references() -> None:
    """``$1`` refers to a group; topics that don't fully match are left alone."""
    transform = build("RegexRouter", regex=r"prod\.(.*)", replacement="archive-$1")
    routed = transform.apply(make_record({}, topic="prod.calls"))
    untouched = transform.apply(make_record({}, topic="dev.prod.calls"))
    assert routed is not None and untouched is not None
    assert routed.topic == "archive-calls"
    assert untouched.topic == "dev.prod.calls"


def test_regex_router_supports_java_named_groups() -> None:
    """Java's ``(?<name>...)`` and ``${name}`` work as in Kafka Connect configs."""
    transform = build(
        "RegexRouter", regex=r"(?<env>\w+)-(?<kind>\w+)", replacement="${kind}_${env}"
    )
    out = transform.apply(make_record({}, topic="prod-calls"))
    assert out is not None
    assert out.topic == "calls_prod"


def test_regex_router_config_errors() -> None:
    """A bad regex and a reference to a missing group are config errors on their keys."""
    with pytest.raises(ConfigError) as caught:
        build("RegexRouter", regex="(", replacement="x")
    assert "regex" in dict(caught.value.errors)
    with pytest.raises(ConfigError) as caught:
        build("RegexRouter", regex="(a)", replacement="$2")
    assert "no group 2" in dict(caught.value.errors)["replacement"]


# --- Java regex dialect ---------------------------------------------------------------------


def test_java_regex_translation_covers_named_groups_backrefs_and_quotes() -> None:
    """Named groups, ``\\k<name>`` and ``\\Q...\\E`` translate; classes are left alone."""
    assert compile_java_regex(r"(?<w>a)\k<w>").fullmatch("aa")
    assert compile_java_regex(r"\Q1+1\E=2").fullmatch("1+1=2")
    assert compile_java_regex(r"[(?<x>)]+").fullmatch("(?<x>)")
    assert compile_java_regex(r"(?<=a)b").search("ab")


def test_java_replacements_take_the_longest_existing_group_number() -> None:
    """``$12`` means group 1 then ``2`` when there is no group 12, as in Java."""
    pattern = re.compile("(a)(b)")
    parts = parse_java_replacement(r"$12\$$2", pattern)
    match = pattern.fullmatch("ab")
    assert match is not None
    assert expand_java_replacement(parts, match) == "a2$b"
