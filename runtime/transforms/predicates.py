"""Predicates: ``TopicNameMatches``, ``HasHeaderKey``, ``RecordIsTombstone``, and
offramp's ``HeaderValueMatches``.

``HeaderValueMatches`` is offramp's own (Kafka Connect has no way to test a header's
value): it lets a connector keep one CloudEvent type out of a shared topic, e.g.
``ce-type`` = ``com.example.call.completed.v1``, with ``Filter`` and ``negate=true``.
"""

from __future__ import annotations

from offramp.records import SinkRecord
from offramp.transforms.base import Predicate
from offramp.transforms.config import ConfigReader
from offramp.transforms.java_regex import NEVER_MATCHES

__all__ = ["HasHeaderKey", "HeaderValueMatches", "RecordIsTombstone", "TopicNameMatches"]

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
