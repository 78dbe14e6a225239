"""Property mapping: where each HubSpot property's value comes from in a record.

An expression is a source, optionally followed by formats, each after a ``|``::

    data.caller.email | trim | lower
    data.ended_at | datetime
    'customer'
    @header.ce-source | default('unknown')

Sources:

- a field path in the record's value: dots separate steps (``data.caller.email``); a
  step containing dots is wrapped in backticks (``data.`caller.email```);
- a constant in single or double quotes (``'customer'``);
- record metadata: ``@key``, ``@topic``, ``@partition``, ``@offset``, ``@timestamp``
  (epoch ms) and ``@header.<name>`` (the last header of that name, as UTF-8 text).

Formats, applied left to right: ``trim``, ``lower``, ``upper``, ``string``, ``number``,
``bool``, ``json`` (the value as JSON text), ``datetime`` (an ISO-8601 string or an
epoch-milliseconds number → epoch milliseconds, what HubSpot datetime properties take),
``date`` (→ epoch milliseconds of that day's midnight UTC, what HubSpot date properties
take) and ``default('text')`` (used when the value is missing or null).

A missing value (absent field, null) leaves the property out of the call, so HubSpot
keeps what it had; map ``''`` (or use ``default('')``) to clear a property on purpose.
Values are sent as text: booleans as ``true``/``false``, objects and lists as JSON.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import orjson

from offramp import SinkRecord

__all__ = [
    "Expression",
    "MappingError",
    "MappingSyntaxError",
    "PropertyMapping",
    "compile_expression",
    "render",
]


class MappingSyntaxError(ValueError):
    """An expression cannot be parsed (a config error)."""


class MappingError(ValueError):
    """A record's value doesn't fit an expression (a bad record)."""


Source = Callable[[SinkRecord], Any]
Format = Callable[[Any], Any]


class Expression:
    """A compiled expression: ``value(record)`` (None when missing) or ``text(record)``."""

    __slots__ = ("formats", "source", "text_form")

    def __init__(self, text_form: str, source: Source, formats: list[tuple[str, Format]]) -> None:
        self.text_form = text_form
        self.source = source
        self.formats = formats

    def value(self, record: SinkRecord) -> Any:
        value = self.source(record)
        for name, fmt in self.formats:
            if value is None and name != "default":
                continue
            try:
                value = fmt(value)
            except (ValueError, TypeError, OverflowError) as exc:
                raise MappingError(f"{name} cannot convert {value!r}: {exc}") from None
        return value

    def text(self, record: SinkRecord) -> str | None:
        value = self.value(record)
        return None if value is None else render(value)

    def __repr__(self) -> str:
        return f"Expression({self.text_form!r})"


def render(value: Any) -> str:
    """A value as HubSpot takes it: text."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


class PropertyMapping:
    """Every mapped property, compiled once; ``properties(record)`` evaluates them all."""

    def __init__(self, expressions: Mapping[str, str]) -> None:
        self.expressions = {name: compile_expression(text) for name, text in expressions.items()}

    def properties(self, record: SinkRecord) -> dict[str, str]:
        """The mapped properties that have a value; ``MappingError`` names a bad one."""
        out: dict[str, str] = {}
        for name, expression in self.expressions.items():
            try:
                text = expression.text(record)
            except MappingError as exc:
                raise MappingError(f"property {name} ({expression.text_form}): {exc}") from None
            if text is not None:
                out[name] = text
        return out


# ----- parsing ------------------------------------------------------------------------


def compile_expression(text: str) -> Expression:
    parts = _split_pipes(text)
    source_text = parts[0].strip()
    if not source_text:
        raise MappingSyntaxError(f"expression {text!r} has no source before the first |")
    source = _source(source_text)
    formats = [_format(part.strip(), text) for part in parts[1:]]
    return Expression(text.strip(), source, formats)


def _split_pipes(text: str) -> list[str]:
    parts, current, quote = [], [], ""
    for ch in text:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            current.append(ch)
        elif ch == "|":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if quote:
        raise MappingSyntaxError(f"unclosed quote in expression {text!r}")
    parts.append("".join(current))
    return parts


def _quoted(text: str) -> str | None:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return None


_METADATA: dict[str, Source] = {
    "@key": lambda r: r.key,
    "@topic": lambda r: r.topic,
    "@partition": lambda r: r.kafka_partition,
    "@offset": lambda r: r.kafka_offset,
    "@timestamp": lambda r: r.timestamp or None,
}


def _source(text: str) -> Source:
    constant = _quoted(text)
    if constant is not None:
        return lambda _record: constant
    if text.startswith("@header."):
        name = text[len("@header.") :]
        if not name:
            raise MappingSyntaxError("@header. needs a header name, e.g. @header.ce-source")

        def header(record: SinkRecord) -> Any:
            raw = record.header(name)
            return None if raw is None else raw.decode("utf-8", "replace")

        return header
    if text.startswith("@"):
        if text not in _METADATA:
            known = ", ".join([*_METADATA, "@header.<name>"])
            raise MappingSyntaxError(f"unknown record attribute {text!r} (known: {known})")
        return _METADATA[text]
    steps = _path_steps(text)

    def field(record: SinkRecord) -> Any:
        current = record.value
        for step in steps:
            if not isinstance(current, dict):
                return None
            current = current.get(step)
        return current

    return field


def _path_steps(path: str) -> list[str]:
    steps: list[str] = []
    i, n = 0, len(path)
    while i < n:
        if path[i] == "`":
            close = path.find("`", i + 1)
            if close < 0:
                raise MappingSyntaxError(f"unclosed backtick in field path {path!r}")
            steps.append(path[i + 1 : close])
            i = close + 1
            if i < n and path[i] != ".":
                raise MappingSyntaxError(f"expected . after `{steps[-1]}` in {path!r}")
            i += 1
            continue
        dot = path.find(".", i)
        step = path[i:] if dot < 0 else path[i:dot]
        if not step or any(c.isspace() or c in "'\"()" for c in step):
            raise MappingSyntaxError(f"{path!r} is not a field path (like data.caller.email)")
        steps.append(step)
        i = n if dot < 0 else dot + 1
    if path.endswith("."):
        raise MappingSyntaxError(f"field path {path!r} ends with a dot")
    return steps


def _to_number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, int | float):
        number: int | float = value
    else:
        text = str(value).strip()
        number = int(text) if text.lstrip("+-").isdigit() else float(text)
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError("not a finite number")
    return number


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "y", "on"):
        return True
    if text in ("false", "0", "no", "n", "off"):
        return False
    raise ValueError("not a boolean (true/false, yes/no, 1/0)")


def _to_moment(value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000.0, UTC)
    else:
        text = str(value).strip()
        if text.lstrip("-").isdigit():
            return datetime.fromtimestamp(int(text) / 1000.0, UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _epoch_ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def _to_datetime(value: Any) -> int:
    return _epoch_ms(_to_moment(value))


def _to_date(value: Any) -> int:
    day = _to_moment(value).astimezone(UTC).date()
    return _epoch_ms(datetime(day.year, day.month, day.day, tzinfo=UTC))


_FORMATS: dict[str, Format] = {
    "trim": lambda v: render(v).strip(),
    "lower": lambda v: render(v).lower(),
    "upper": lambda v: render(v).upper(),
    "string": render,
    "number": _to_number,
    "bool": _to_bool,
    "json": lambda v: orjson.dumps(v, option=orjson.OPT_NON_STR_KEYS).decode(),
    "datetime": _to_datetime,
    "date": _to_date,
}


def _format(text: str, expression: str) -> tuple[str, Format]:
    if text.startswith("default(") and text.endswith(")"):
        fallback = _quoted(text[len("default(") : -1].strip())
        if fallback is None:
            raise MappingSyntaxError(f"default needs a quoted text, like default('n/a'): {text!r}")
        return "default", lambda v: fallback if v is None else v
    if text not in _FORMATS:
        known = ", ".join([*_FORMATS, "default('…')"])
        raise MappingSyntaxError(f"unknown format {text!r} in {expression!r} (known: {known})")
    return text, _FORMATS[text]
