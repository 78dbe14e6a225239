"""Predicates: ``TopicNameMatches``, ``HasHeaderKey``, ``RecordIsTombstone``, and
offramp's ``HeaderValueMatches`` and ``FieldValueMatches``.

The last two are offramp's own (Kafka Connect has no way to test a header's or a
field's value). ``HeaderValueMatches`` lets a connector keep one CloudEvent type out of
a shared topic, e.g. ``ce-type`` = ``com.example.call.completed.v1``, with ``Filter``
and ``negate=true``; ``FieldValueMatches`` picks records by what they say, e.g. the
calls whose ``data.status`` is ``failed`` for an alerting sink.
"""

from __future__ import annotations

from typing import Any

import orjson

from offramp.records import SinkRecord
from offramp.transforms.base import Predicate
from offramp.transforms.config import ConfigReader
from offramp.transforms.field_path import SYNTAX_VERSIONS, parse_field_path, value_at
from offramp.transforms.java_regex import NEVER_MATCHES

__all__ = [
    "FieldValueMatches",
    "HasHeaderKey",
    "HeaderValueMatches",
    "RecordIsTombstone",
    "TopicNameMatches",
]

_ANSWERS_LIMIT = 1024  # distinct header values remembered (ids, timestamps never repeat)


class TopicNameMatches(Predicate):
    """True when the record's topic fully matches ``pattern`` (a Java regex)."""

    def configure(self, config: ConfigReader) -> None:
        pattern = config.regex("pattern")
        self.pattern = NEVER_MATCHES if pattern is None else pattern

    def test(self, record: SinkRecord) -> bool:
        return self.pattern.fullmatch(record.topic) is not None


class HasHeaderKey(Predicate):
    """True when the record has at least one header called ``name``."""

    def configure(self, config: ConfigReader) -> None:
        self.name = config.required_string("name")

    def test(self, record: SinkRecord) -> bool:
        name = self.name
        return any(key == name for key, _ in record.headers)


class RecordIsTombstone(Predicate):
    """True when the record's value is None (a delete)."""

    def test(self, record: SinkRecord) -> bool:
        return record.value is None


class HeaderValueMatches(Predicate):
    """True when header ``header.name`` exists and its UTF-8 text fully matches
    ``pattern``. With repeated headers the last one counts (``SinkRecord.header``); a
    missing or null header is False, and bytes that aren't UTF-8 are read with
    replacement characters rather than failing the record."""

    def configure(self, config: ConfigReader) -> None:
        self.header = config.required_string("header.name")
        pattern = config.regex("pattern")
        self.pattern = NEVER_MATCHES if pattern is None else pattern
        # A header such as ce-type takes a handful of values: each is decoded and
        # matched once, not once per record.
        self._answers: dict[bytes, bool] = {}

    def test(self, record: SinkRecord) -> bool:
        value = record.header(self.header)
        if value is None:
            return False
        answer = self._answers.get(value)
        if answer is None:
            answer = self.pattern.fullmatch(value.decode("utf-8", "replace")) is not None
            if len(self._answers) < _ANSWERS_LIMIT:
                self._answers[value] = answer
        return answer


class FieldValueMatches(Predicate):
    """True when the value's field ``field`` exists, is not null, and its text fully
    matches ``pattern`` (a Java regex).

    ``field`` is a path (``field.syntax.version``, default ``V2`` here, so ``data.status``
    reaches into nested objects; ``V1`` takes it as one name). Text is the string
    itself; booleans are ``true``/``false``, numbers their JSON form, objects and lists
    their compact JSON. A value that is not an object (a tombstone, a bare string) has
    no fields: False, never an error, so a predicate can't fail a record.
    """

    def configure(self, config: ConfigReader) -> None:
        field = config.required_string("field")
        version = config.choice("field.syntax.version", SYNTAX_VERSIONS, default="V2")
        self.path = [field]
        try:
            self.path = parse_field_path(field, version)
        except ValueError as exc:
            config.error("field", str(exc))
        pattern = config.regex("pattern")
        self.pattern = NEVER_MATCHES if pattern is None else pattern

    def test(self, record: SinkRecord) -> bool:
        if not isinstance(record.value, dict):
            return False
        found = value_at(record.value, self.path)
        if found is None:
            return False
        return self.pattern.fullmatch(_as_text(found)) is not None


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:  # booleans as true/false, numbers, objects and lists as compact JSON
        return orjson.dumps(value).decode()
    except TypeError:  # bytes, a struct object: its repr is all there is to match
        return str(value)
