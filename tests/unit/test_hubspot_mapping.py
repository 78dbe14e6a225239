"""The hubspot sink's property expressions: sources, formats, missing values, errors."""

from __future__ import annotations

from typing import Any

import pytest

from offramp import RawMessage, SinkRecord
from offramp.connectors.hubspot.mapping import (
    MappingError,
    MappingSyntaxError,
    PropertyMapping,
    compile_expression,
)


def _record(
    value: Any, key: Any = "k1", headers: list[tuple[str, bytes | None]] | None = None
) -> SinkRecord:
    message = RawMessage("calls", 2, 41, headers=headers or [], timestamp=1_700_000_000_123)
    return SinkRecord(message, key, value)


CALL = {
    "data": {
        "caller": {"email": "  Ada@Example.COM "},
        "ended_at": "2026-11-20T08:00:03Z",
        "duration_s": 42,
        "vip": "yes",
        "tags": ["a", "b"],
        "dotted.name": "x",
        "nothing": None,
    }
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("data.caller.email | trim | lower", "ada@example.com"),
        ("data.ended_at | datetime", 1795161603000),
        ("data.ended_at | date", 1795132800000),
        ("data.duration_s", 42),
        ("data.duration_s | string", "42"),
        ("'customer'", "customer"),
        ('"two words | with a pipe"', "two words | with a pipe"),
        ("data.vip | bool", True),
        ("data.tags | json", '["a","b"]'),
        ("data.`dotted.name`", "x"),
        ("@key | upper", "K1"),
        ("@topic", "calls"),
        ("@partition", 2),
        ("@offset", 41),
        ("@timestamp | datetime", 1_700_000_000_123),
        ("@header.ce-source", "//voice"),
        ("data.missing | default('n/a')", "n/a"),
        ("data.nothing | default('')", ""),
        ("'1700000000000' | datetime", 1_700_000_000_000),
        ("' 7.5 ' | number", 7.5),
    ],
)
def test_expressions_read_and_format_values(expression: str, expected: Any) -> None:
    """Each source kind and format gives the value HubSpot expects."""
    record = _record(CALL, headers=[("ce-source", b"//voice")])
    assert compile_expression(expression).value(record) == expected


def test_missing_values_leave_the_property_out() -> None:
    """An absent field, a null, or a path through a non-object is left out, not sent."""
    mapping = PropertyMapping(
        {
            "email": "data.caller.email | trim",
            "gone": "data.missing | lower",
            "null": "data.nothing",
            "through": "data.duration_s.deeper",
            "header": "@header.absent",
        }
    )
    assert mapping.properties(_record(CALL)) == {"email": "Ada@Example.COM"}


def test_values_are_rendered_as_hubspot_text() -> None:
    """Booleans become true/false, whole floats lose .0, objects become JSON."""
    mapping = PropertyMapping(
        {"flag": "data.flag", "ratio": "data.ratio", "whole": "data.whole", "obj": "data.obj"}
    )
    value = {"data": {"flag": False, "ratio": 0.25, "whole": 3.0, "obj": {"a": 1}}}
    assert mapping.properties(_record(value)) == {
        "flag": "false",
        "ratio": "0.25",
        "whole": "3",
        "obj": '{"a":1}',
    }


def test_a_value_that_does_not_fit_its_format_names_the_property() -> None:
    """A bad date is a MappingError naming the property and the expression."""
    mapping = PropertyMapping({"last_call_time": "data.ended_at | datetime"})
    with pytest.raises(MappingError, match=r"property last_call_time \(data.ended_at"):
        mapping.properties(_record({"data": {"ended_at": "last tuesday"}}))


def test_offsets_are_honoured_by_datetime_and_date() -> None:
    """An offset moves the instant; date takes the UTC day of that instant."""
    record = _record({"t": "2026-11-20T23:30:00-02:00"})  # 2026-11-21T01:30Z
    assert compile_expression("t | datetime").value(record) == 1795224600000
    assert compile_expression("t | date").value(record) == 1795219200000


@pytest.mark.parametrize(
    ("expression", "complaint"),
    [
        ("data.x | nope", "unknown format 'nope'"),
        ("@nope", "unknown record attribute"),
        ("'unclosed", "unclosed quote"),
        ("data.`open", "unclosed backtick"),
        ("data.", "ends with a dot"),
        ("| lower", "no source"),
        ("data.x | default(n/a)", "quoted text"),
        ("two words", "not a field path"),
        ("@header.", "needs a header name"),
    ],
)
def test_syntax_errors_say_what_is_wrong(expression: str, complaint: str) -> None:
    """Every malformed expression is refused with a message naming the problem."""
    with pytest.raises(MappingSyntaxError, match=complaint):
        compile_expression(expression)
