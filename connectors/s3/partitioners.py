"""Partitioners: the directory (the "encoded partition") a record's object goes in.

- ``default``: ``partition=<kafka partition>``.
- ``field``: ``<field>=<value>`` per ``partition.field.name``, joined with ``/``
  (``data.tenant=acme``).
- ``time`` (and the ``hourly``/``daily`` presets): ``path.format`` applied to the start
  of the record's ``partition.duration.ms`` bucket, in ``timezone``
  (``year=2026/month=11/day=20/hour=08``).

A partitioner depends only on the record (and its timestamp), never on the clock, so a
redelivered record always lands in the same directory.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from offramp import SinkRecord
from offramp.connectors.s3.config import S3SinkConfig
from offramp.connectors.s3.errors import RecordEncodingError
from offramp.connectors.s3.fields import FieldPath
from offramp.connectors.s3.pathformat import compile_path_format

__all__ = [
    "DefaultPartitioner",
    "FieldPartitioner",
    "Partitioner",
    "TimeBasedPartitioner",
    "create_partitioner",
]

HOURLY_PATH = "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH"
DAILY_PATH = "'year'=YYYY/'month'=MM/'day'=dd"
_HOUR_MS = 3_600_000
_NAIVE_EPOCH = datetime(1970, 1, 1)
_FIXED_UTC = {"UTC", "ETC/UTC", "GMT", "ETC/GMT", "Z", "UCT", "ZULU", "UNIVERSAL"}


class Partitioner(Protocol):
    def encode(self, record: SinkRecord, timestamp: int) -> str:
        """The record's directory; ``RecordEncodingError`` if it can't have one."""


class DefaultPartitioner:
    def __init__(self) -> None:
        self._names: dict[int, str] = {}

    def encode(self, record: SinkRecord, timestamp: int) -> str:
        partition = record.kafka_partition
        name = self._names.get(partition)
        if name is None:
            name = self._names[partition] = f"partition={partition}"
        return name


def _render_value(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        # A slash would add a directory level; keep one level per field.
        return value.replace("/", "%2F")
    if isinstance(value, int | float):
        return str(value)
    kind = "null" if value is None else type(value).__name__
    raise RecordEncodingError(
        f"partition field {name!r} is {kind}; it must be a string, number or boolean"
    )


class FieldPartitioner:
    def __init__(self, fields: list[str]) -> None:
        self._paths = [FieldPath(name) for name in fields]

    def encode(self, record: SinkRecord, timestamp: int) -> str:
        value = record.value
        return "/".join(
            f"{path.name}={_render_value(path.name, path.read(value))}" for path in self._paths
        )


class TimeBasedPartitioner:
    """Buckets of ``duration_ms`` aligned to midnight local time in ``timezone``."""

    def __init__(self, path_format: str, duration_ms: int, timezone: str) -> None:
        self._render = compile_path_format(path_format)
        self._duration = duration_ms
        self._zone = None if timezone.upper() in _FIXED_UTC else ZoneInfo(timezone)
        self._names: dict[int, str] = {}

    def _offset_ms(self, timestamp: int) -> int:
        if self._zone is None:
            return 0
        moment = datetime.fromtimestamp(timestamp / 1000, UTC).astimezone(self._zone)
        offset = moment.utcoffset()
        return 0 if offset is None else offset // timedelta(milliseconds=1)

    def encode(self, record: SinkRecord, timestamp: int) -> str:
        local = timestamp + self._offset_ms(timestamp)
        bucket = local - local % self._duration
        name = self._names.get(bucket)
        if name is None:
            if len(self._names) > 10_000:
                self._names.clear()  # a replay over years of data must not grow without end
            moment = _NAIVE_EPOCH + timedelta(milliseconds=bucket)
            name = self._names[bucket] = self._render(moment)
        return name


def create_partitioner(config: S3SinkConfig) -> Partitioner:
    kind = config.partitioner_class
    if kind == "field":
        return FieldPartitioner(config.partition_field_name)
    if kind == "hourly":
        return TimeBasedPartitioner(HOURLY_PATH, _HOUR_MS, config.timezone)
    if kind == "daily":
        return TimeBasedPartitioner(DAILY_PATH, 24 * _HOUR_MS, config.timezone)
    if kind == "time":
        assert config.path_format is not None and config.partition_duration_ms is not None
        return TimeBasedPartitioner(
            config.path_format, config.partition_duration_ms, config.timezone
        )
    return DefaultPartitioner()
