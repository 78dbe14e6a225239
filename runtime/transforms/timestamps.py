"""``TimestampConverter$Key`` / ``TimestampConverter$Value``: convert between timestamp
representations.

Keys: ``field`` (empty: the whole key or value), ``target.type`` (``string``, ``unix``,
``Date``, ``Time``, ``Timestamp``), ``format`` (a Java ``SimpleDateFormat`` pattern;
required for ``string`` output), ``unix.precision`` (``seconds``, ``milliseconds`` (the
default), ``microseconds``, ``nanoseconds``), for unix numbers read and written.

Input is recognised by its Python type: a number is unix time, a string is parsed with
``format`` and, failing that or without one, as ISO-8601 (naive means UTC), and a
``datetime``/``date``/``time`` is taken as is. Output in Python terms: ``Timestamp`` is
a UTC-aware ``datetime``, ``Date`` a ``date``, ``Time`` a naive UTC ``time``, ``unix`` an
int and ``string`` a str. Sub-microsecond precision is truncated (Python's ``datetime``
stops at microseconds).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from offramp.records import SinkRecord
from offramp.transforms.base import KEY, VALUE, OperandTransformation, in_field, require_map
from offramp.transforms.config import ConfigReader
from offramp.transforms.java_dates import JavaDateFormat
from offramp.transforms.schema import (
    DATE_SCHEMA,
    TIME_SCHEMA,
    TIMESTAMP_SCHEMA,
    SchemaMemo,
    field_entry,
    struct_fields,
    with_fields,
)

__all__ = ["TimestampConverter", "TimestampConverterKey", "TimestampConverterValue"]

TARGET_TYPES = ("string", "unix", "Date", "Time", "Timestamp")
_MICROS_PER_UNIT = {"seconds": 1_000_000, "milliseconds": 1000, "microseconds": 1}
PRECISIONS = (*_MICROS_PER_UNIT, "nanoseconds")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TARGET_SCHEMAS: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "unix": {"type": "int64"},
    "Date": DATE_SCHEMA,
    "Time": TIME_SCHEMA,
    "Timestamp": TIMESTAMP_SCHEMA,
}


def _from_unix(number: int | float, precision: str) -> datetime:
    if precision == "nanoseconds":
        return _EPOCH + timedelta(microseconds=number // 1000)
    return _EPOCH + timedelta(microseconds=number * _MICROS_PER_UNIT[precision])


def _to_unix(moment: datetime, precision: str) -> int:
    micros = (moment - _EPOCH) // timedelta(microseconds=1)
    if precision == "nanoseconds":
        return micros * 1000
    return micros // _MICROS_PER_UNIT[precision]


def _parse_iso(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class TimestampConverter(OperandTransformation):
    """Converts a timestamp (the operand or one of its fields) to ``target.type``."""

    def configure(self, config: ConfigReader) -> None:
        self.field = config.string("field", "") or ""
        self.target = config.choice("target.type", TARGET_TYPES)
        self.precision = config.choice("unix.precision", PRECISIONS, default="milliseconds")
        pattern = config.string("format", "") or ""
        self.format: JavaDateFormat | None = None
        if pattern:
            try:
                self.format = JavaDateFormat(pattern)
            except ValueError as exc:
                config.error("format", str(exc))
        elif self.target == "string":
            config.error("format", "is required when target.type is string")
        self._schema = SchemaMemo(self._converted_schema)

    def transform(self, data: Any, schema: Any, record: SinkRecord) -> tuple[Any, Any]:
        new_schema = None if schema is None else self._schema(schema)
        if not self.field:
            return self.convert(data), new_schema
        updated = dict(require_map(data, "TimestampConverter"))
        if self.field in updated:
            try:
                updated[self.field] = self.convert(updated[self.field])
            except (TypeError, ValueError) as exc:
                raise in_field(self.field, exc) from exc
        return updated, new_schema

    def convert(self, value: Any) -> Any:
        """``value`` in the target representation; None stays None."""
        if value is None:
            return None
        moment = self._read(value)
        if self.target == "Timestamp":
            return moment
        if self.target == "unix":
            return _to_unix(moment, self.precision)
        if self.target == "Date":
            return moment.date()
        if self.target == "Time":
            return moment.time()
        if self.format is None:  # configure already refused this; keeps the type exact
            raise ValueError("target.type string needs a format")
        return self.format.format(moment)

    def _read(self, value: Any) -> datetime:
        if isinstance(value, datetime):
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        if isinstance(value, time):
            return datetime.combine(_EPOCH.date(), value.replace(tzinfo=None), tzinfo=UTC)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return _from_unix(value, self.precision)
        if isinstance(value, str):
            return self._parse(value)
        raise TypeError(f"cannot read a timestamp from a {type(value).__name__}")

    def _parse(self, text: str) -> datetime:
        if self.format is not None:
            try:
                return self.format.parse(text)
            except ValueError as format_error:
                try:
                    return _parse_iso(text)
                except ValueError:
                    raise format_error from None
        try:
            return _parse_iso(text)
        except ValueError:
            raise ValueError(f"{text!r} is not an ISO-8601 timestamp") from None

    def _converted_schema(self, schema: Any) -> Any:
        if not self.field:
            return _target_schema(self.target, schema) if isinstance(schema, dict) else None
        fields = struct_fields(schema)
        if fields is None:
            return None
        return with_fields(
            schema,
            [
                field_entry(entry["field"], _target_schema(self.target, entry))
                if entry["field"] == self.field
                else entry
                for entry in fields
            ],
        )


def _target_schema(target: str, old: dict[str, Any]) -> dict[str, Any]:
    return {**_TARGET_SCHEMAS[target], "optional": bool(old.get("optional", False))}


class TimestampConverterKey(TimestampConverter):
    operand = KEY


class TimestampConverterValue(TimestampConverter):
    operand = VALUE
