"""The ``s3`` connector's settings: Confluent names accepted, every mistake named."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from offramp.config import load_worker_config, validate_connector
from offramp.connectors.s3 import S3SinkConfig, S3SinkConnector
from offramp.errors import ConfigError
from offramp.registry import PluginRegistry

BASE = {"s3.bucket.name": "archive", "flush.size": "100"}


def _config(**extra: Any) -> S3SinkConfig:
    return S3SinkConfig.model_validate({**BASE, **extra})


def _errors(**extra: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        _config(**extra)
    return str(caught.value)


def test_defaults_follow_confluent() -> None:
    """Unset keys take the Confluent S3 sink's defaults (topics dir, 25 MiB parts, JSON,
    default partitioner, Kafka timestamps, no compression)."""
    config = _config()
    assert config.topics_dir == "topics"
    assert config.s3_part_size == 25 * 1024 * 1024
    assert (config.format_class, config.partitioner_class) == ("json", "default")
    assert config.timestamp_extractor == "Record"
    assert config.s3_compression_type == "none"
    assert config.rotate_interval_ms == -1
    assert not config.needs_timestamps


def test_confluent_class_names_are_accepted() -> None:
    """Confluent's class names for format, partitioner, extractor and storage work."""
    config = _config(
        **{
            "format.class": "io.confluent.connect.s3.format.json.JsonFormat",
            "partitioner.class": "io.confluent.connect.storage.partitioner.TimeBasedPartitioner",
            "path.format": "'year'=YYYY",
            "partition.duration.ms": "3600000",
            "timestamp.extractor": "RecordField",
            "timestamp.field": "time",
            "storage.class": "io.confluent.connect.s3.storage.S3Storage",
            "locale": "en-US",
            "schema.compatibility": "NONE",
        }
    )
    assert (config.format_class, config.partitioner_class) == ("json", "time")
    assert config.needs_timestamps
    bytearray_format = "io.confluent.connect.s3.format.bytearray.ByteArrayFormat"
    assert _config(**{"format.class": bytearray_format}).format_class == "bytearray"
    avro = _config(
        **{
            "format.class": "io.confluent.connect.s3.format.avro.AvroFormat",
            "avro.codec": "snappy",
            "connect.meta.data": "false",
            "enhanced.avro.schema.support": "false",
        }
    )
    assert (avro.format_class, avro.avro_codec) == ("avro", "snappy")
    parquet = _config(
        **{
            "format.class": "io.confluent.connect.s3.format.parquet.ParquetFormat",
            "parquet.codec": "snappy",
        }
    )
    assert (parquet.format_class, parquet.parquet_compression) == ("parquet", "snappy")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"s3.part.size": str(5 * 1024 * 1024 - 1)}, "s3.part.size"),
        ({"flush.size": "0"}, "flush.size"),
        ({"format.class": "csv"}, "use one of avro, bytearray, json, parquet"),
        ({"format.class": "parquet", "parquet.codec": "lzo"}, "parquet.codec 'lzo' is not"),
        ({"partitioner.class": "random"}, "use one of daily, default, field, hourly, time"),
        ({"timestamp.extractor": "Wallclock"}, "break exactly-once"),
        ({"partitioner.class": "field"}, "partition.field.name is required"),
        ({"partitioner.class": "time", "partition.duration.ms": "1"}, "path.format is required"),
        ({"partitioner.class": "time", "path.format": "YYYY"}, "partition.duration.ms is req"),
        ({"partitioner.class": "hourly", "path.format": "YYYY"}, "use partitioner.class=time"),
        ({"timestamp.extractor": "RecordField"}, "timestamp.field is required"),
        ({"aws.access.key.id": "AKIA"}, "go together"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"path.format": "'hour'=HH 'week'=ww"}, "pattern letter 'w' is not supported"),
        ({"path.format": "'year=YYYY"}, "unclosed quote"),
        ({"s3.bucket.name": "Bad_Bucket"}, "not a valid bucket name"),
        ({"store.url": "localhost:9000"}, "not an http(s) URL"),
        ({"s3.compression.type": "snappy"}, "s3.compression.type"),
        ({"s3.compression.type": "gzip", "s3.compression.level": "12"}, "0 to 9"),
        ({"storage.class": "io.confluent.connect.hdfs.storage.HdfsStorage"}, "only S3Storage"),
        ({"s3.bucket.nmae": "typo"}, "s3.bucket.nmae"),
    ],
)
def test_mistakes_are_refused_with_the_key_or_reason_named(
    extra: dict[str, str], message: str
) -> None:
    """Each invalid setting fails validation with a message naming what is wrong."""
    assert message in _errors(**extra)


def test_validation_through_the_runtime_names_the_keys() -> None:
    """The runtime's config validation reports the plug-in's errors by their keys."""
    registry = PluginRegistry(load_entry_points=False)
    registry.register("s3", S3SinkConnector)
    raw = {
        "connector.class": "s3",
        "topics": "calls",
        "s3.bucket.name": "archive",
        "flush.size": "-1",
        "s3.part.size": "1024",
    }
    with pytest.raises(ConfigError) as caught:
        validate_connector("archive", raw, load_worker_config({}, environ={}), registry)
    keys = {key for key, _ in caught.value.errors}
    assert {"flush.size", "s3.part.size"} <= keys


def test_secret_key_is_masked_and_references_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    """``${env:…}`` credentials are resolved by the runtime and never printed."""
    monkeypatch.setenv("ARCHIVE_SECRET", "s3cr3t")
    registry = PluginRegistry(load_entry_points=False)
    registry.register("s3", S3SinkConnector)
    raw = {
        "connector.class": "s3",
        "topics": "calls",
        **BASE,
        "aws.access.key.id": "AKIAEXAMPLE",
        "aws.secret.access.key": "${env:ARCHIVE_SECRET}",
    }
    config = validate_connector("archive", raw, load_worker_config({}, environ={}), registry)
    plugin = config.plugin_config
    assert isinstance(plugin, S3SinkConfig) and plugin.aws_secret_access_key is not None
    assert plugin.aws_secret_access_key.get_secret_value() == "s3cr3t"
    assert "s3cr3t" not in repr(plugin)
