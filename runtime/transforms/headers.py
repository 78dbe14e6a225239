"""Header transforms: ``InsertHeader``, ``DropHeaders``, ``HeaderFrom$Key/$Value``.

Headers are a list of ``(name, bytes | None)`` and Kafka allows repeated names, so
inserting appends (as Kafka Connect does) and dropping removes every occurrence.
Header values are bytes: a string is written as UTF-8, bytes as they are, None as a
null header and anything else (numbers, booleans, objects, arrays) as compact JSON.
"""

from __future__ import annotations

from typing import Any, ClassVar

import orjson

from offramp.records import Headers, SinkRecord
from offramp.transforms.base import KEY, VALUE, Operand, Transformation, require_map
from offramp.transforms.config import ConfigReader
from offramp.transforms.schema import SchemaMemo, struct_fields, with_fields

__all__ = [
    "DropHeaders",
    "HeaderFrom",
    "HeaderFromKey",
    "HeaderFromValue",
    "InsertHeader",
    "header_bytes",
]


def header_bytes(value: Any) -> bytes | None:
    """A field value as header bytes: UTF-8 for str, JSON for everything but bytes."""
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return orjson.dumps(value)


class InsertHeader(Transformation):
    """Appends the header ``header`` with the UTF-8 text ``value.literal``."""

    def configure(self, config: ConfigReader) -> None:
        name = config.required_string("header")
        literal = config.string("value.literal")
        if literal is None:
            config.error("value.literal", "is required")
        self.header: tuple[str, bytes | None] = (name, (literal or "").encode())

    def apply(self, record: SinkRecord) -> SinkRecord | None:
        return record.replace(headers=[*record.headers, self.header])


class DropHeaders(Transformation):
    """Removes every header named in ``headers``."""

    def configure(self, config: ConfigReader) -> None:
        self.names = frozenset(config.string_list("headers", required=True))

    def apply(self, record: SinkRecord) -> SinkRecord | None:
        headers = record.headers
        kept = [header for header in headers if header[0] not in self.names]
        return record if len(kept) == len(headers) else record.replace(headers=kept)


class HeaderFrom(Transformation):
    """Copies or moves the key's or value's ``fields`` into ``headers`` (pairwise).

    A field the record lacks gives a null header, as in Kafka Connect. A None key or
    value passes through unchanged.
    """

    operand: ClassVar[Operand]

    def configure(self, config: ConfigReader) -> None:
        self.fields = config.string_list("fields", required=True)
        self.headers = config.string_list("headers", required=True)
        self.move = config.choice("operation", ("copy", "move")) == "move"
        if self.fields and self.headers and len(self.fields) != len(self.headers):
            config.error(
                "headers",
                f"names {len(self.headers)} headers for {len(self.fields)} fields; "
                "give one header per field",
            )
        self._schema = SchemaMemo(self._schema_without_fields)

    def apply(self, record: SinkRecord) -> SinkRecord | None:
        data = self.operand.data(record)
        if data is None:
            return record
        data = require_map(data, "HeaderFrom")
        added: Headers = [
            (header, header_bytes(data.get(field)))
            for field, header in zip(self.fields, self.headers, strict=True)
        ]
        headers = [*record.headers, *added]
        if not self.move:
            return record.replace(headers=headers)
        moved = set(self.fields)
        remaining = {name: value for name, value in data.items() if name not in moved}
        schema = self.operand.schema(record)
        schema = None if schema is None else self._schema(schema)
        return record.replace(headers=headers, **self.operand.changes(remaining, schema))

    def _schema_without_fields(self, schema: Any) -> Any:
        fields = struct_fields(schema)
        if fields is None:
            return None
        moved = set(self.fields)
        return with_fields(schema, [entry for entry in fields if entry["field"] not in moved])


class HeaderFromKey(HeaderFrom):
    operand = KEY


class HeaderFromValue(HeaderFrom):
    operand = VALUE
