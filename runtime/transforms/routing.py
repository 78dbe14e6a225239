"""Topic rewrites: ``RegexRouter`` and ``TimestampRouter``.

A sink uses the record's topic to pick its target (a table, a prefix, a collection),
so renaming the topic is how a config routes records. The consumed message's own
topic (``record.kafka_topic``) never changes: offsets and dead letters use it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from offramp.records import SinkRecord
from offramp.transforms.base import Transformation
from offramp.transforms.config import ConfigReader
from offramp.transforms.java_dates import JavaDateFormat
from offramp.transforms.java_regex import (
    NEVER_MATCHES,
    GroupRef,
    expand_java_replacement,
    parse_java_replacement,
)

__all__ = ["RegexRouter", "TimestampRouter"]


class RegexRouter(Transformation):
    """When ``regex`` matches the whole topic, the topic becomes ``replacement``
    (``$1``, ``${name}`` refer to groups, as in Java)."""

    def configure(self, config: ConfigReader) -> None:
        pattern = config.regex("regex")
        replacement = config.string("replacement")
        if replacement is None:
            config.error("replacement", "is required")
        self.parts: list[str | GroupRef] = []
        if pattern is not None and replacement is not None:
            try:
                self.parts = parse_java_replacement(replacement, pattern)
            except ValueError as exc:
                config.error("replacement", str(exc))
        self.pattern = NEVER_MATCHES if pattern is None else pattern

    def apply(self, record: SinkRecord) -> SinkRecord | None:
        match = self.pattern.fullmatch(record.topic)
        if match is None:
            return record
        return record.replace(topic=expand_java_replacement(self.parts, match))


class TimestampRouter(Transformation):
    """Sets the topic from ``topic.format``, where ``${topic}`` is the topic and
    ``${timestamp}`` the record's timestamp (UTC) written with ``timestamp.format``."""

    def configure(self, config: ConfigReader) -> None:
        self.topic_format = config.string("topic.format", "${topic}-${timestamp}") or ""
        pattern = config.string("timestamp.format", "yyyyMMdd") or ""
        if not self.topic_format:
            config.error("topic.format", "must not be empty")
        self.timestamp_format = JavaDateFormat("yyyyMMdd")
        try:
            self.timestamp_format = JavaDateFormat(pattern)
        except ValueError as exc:
            config.error("timestamp.format", str(exc))

    def apply(self, record: SinkRecord) -> SinkRecord | None:
        kind, millis = record.message.timestamp()
        if not kind:
            raise ValueError("the record has no timestamp to route by")
        stamp = self.timestamp_format.format(_utc_from_millis(millis))
        topic = self.topic_format.replace("${topic}", record.topic)
        return record.replace(topic=topic.replace("${timestamp}", stamp))


def _utc_from_millis(millis: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=millis)
