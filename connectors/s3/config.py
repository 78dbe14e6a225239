"""The ``s3`` connector's settings: Confluent S3 sink key names, validated up front.

Every choice that has a Confluent class name (``partitioner.class``, ``format.class``)
also takes a short alias, and both are normalised here, so the rest of the package only
ever sees ``default|field|time|hourly|daily`` and ``json|bytearray|avro|parquet``. Confluent
keys with one possible behaviour here are accepted at that value; the others are
refused by name with what to do instead (``refused_keys``).
"""

from __future__ import annotations

import importlib.util
import re
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from offramp import CommaList, ConfigModel
from offramp.connectors.s3.pathformat import compile_path_format

__all__ = [
    "MIN_PART_SIZE",
    "CompressionName",
    "FormatName",
    "PartitionerName",
    "S3SinkConfig",
]

MIN_PART_SIZE = 5 * 1024 * 1024  # S3 refuses smaller parts (except the last one)
MAX_PART_SIZE = 5 * 1024 * 1024 * 1024

_STORAGE = "io.confluent.connect.storage.partitioner."
_PARTITIONERS = {
    "default": "default",
    f"{_STORAGE}DefaultPartitioner": "default",
    "field": "field",
    f"{_STORAGE}FieldPartitioner": "field",
    "time": "time",
    f"{_STORAGE}TimeBasedPartitioner": "time",
    "hourly": "hourly",
    f"{_STORAGE}HourlyPartitioner": "hourly",
    "daily": "daily",
    f"{_STORAGE}DailyPartitioner": "daily",
}
_FORMATS = {
    "json": "json",
    "io.confluent.connect.s3.format.json.JsonFormat": "json",
    "bytearray": "bytearray",
    "io.confluent.connect.s3.format.bytearray.ByteArrayFormat": "bytearray",
    "avro": "avro",
    "io.confluent.connect.s3.format.avro.AvroFormat": "avro",
    "parquet": "parquet",
    "io.confluent.connect.s3.format.parquet.ParquetFormat": "parquet",
}
PARQUET_CODECS = ("none", "snappy", "gzip", "lz4", "brotli", "zstd")
_EXTRACTORS = {"record": "Record", "recordfield": "RecordField"}
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


def _choice(table: dict[str, str], key: str, refusals: dict[str, str] | None = None) -> Any:
    def normalise(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        name = value.strip()
        if name in table:
            return table[name]
        for reason_key, reason in (refusals or {}).items():
            if reason_key in name.lower():
                raise ValueError(reason)
        short = sorted({v for k, v in table.items() if "." not in k})
        raise ValueError(
            f"{key} {name!r} is not supported; use one of {', '.join(short)} "
            "(or the matching Confluent class name)"
        )

    return BeforeValidator(normalise)


def _extractor(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    name = value.strip().rsplit("$", 1)[-1].lower().removesuffix("timestampextractor")
    if name in _EXTRACTORS:
        return _EXTRACTORS[name]
    if name == "wallclock":
        raise ValueError(
            "timestamp.extractor Wallclock is refused: partitions and rotation by wall-clock "
            "time differ on every redelivery and break exactly-once; use Record or RecordField"
        )
    raise ValueError(f"timestamp.extractor {value!r} is not supported; use Record or RecordField")


def _only(default: Any, key: str, why: str) -> Any:
    """A Confluent key accepted at its default value only (the one behaviour here)."""

    def check(value: Any) -> Any:
        if value != default:
            shown = str(value).lower() if isinstance(value, bool) else repr(value)
            allowed = str(default).lower() if isinstance(default, bool) else default
            raise ValueError(f"{key} {shown}: only {allowed} is supported ({why})")
        return value

    return AfterValidator(check)


PartitionerName = Literal["default", "field", "time", "hourly", "daily"]
FormatName = Literal["json", "bytearray", "avro", "parquet"]
CompressionName = Literal["none", "gzip", "zstd"]


_RETRIES = (
    "boto3 retries a request s3.part.retries times, then the runtime retries the write "
    "for errors.retry.timeout ms with a backoff up to errors.retry.delay.max.ms; remove {key}"
)
_SSE = (
    "server-side encryption settings are not supported; give the bucket a default "
    "encryption (SSE-S3 or SSE-KMS), which S3 applies to every new object; remove {key}"
)
_CREDENTIALS = (
    "boto3's default credential chain (environment, shared config, instance role) is used "
    "unless aws.access.key.id and aws.secret.access.key are set; remove {key}"
)


class S3SinkConfig(ConfigModel):
    """Where objects go, how records are grouped into them, and how they are encoded."""

    refused_keys: ClassVar[dict[str, str]] = {
        "rotate.schedule.interval.ms": "rotation by wall-clock time differs on every "
        "redelivery and breaks exactly-once; use rotate.interval.ms (record time)",
        "s3.ssea.name": _SSE.format(key="s3.ssea.name"),
        "s3.sse.customer.key": _SSE.format(key="s3.sse.customer.key"),
        "s3.sse.kms.key.id": _SSE.format(key="s3.sse.kms.key.id"),
        "s3.acl.canned": "canned ACLs are not set; grant access with the bucket's policy "
        "(new buckets disable ACLs); remove s3.acl.canned",
        "s3.wan.mode": "S3 Transfer Acceleration is not supported; remove s3.wan.mode",
        "s3.retry.backoff.ms": _RETRIES.format(key="s3.retry.backoff.ms"),
        "retry.backoff.ms": _RETRIES.format(key="retry.backoff.ms"),
        "s3.http.send.expect.continue": "boto3 decides on Expect: 100-continue itself; "
        "remove s3.http.send.expect.continue",
        "s3.proxy.*": "set HTTPS_PROXY (and NO_PROXY) in the worker's environment, which "
        "boto3 reads; remove the s3.proxy.* keys",
        "s3.credentials.provider.*": _CREDENTIALS.format(key="the s3.credentials.provider.* keys"),
        "s3.object.tagging": "object tags are not written; remove s3.object.tagging",
        "s3.elastic.buffer.enable": "an open file is kept in memory up to "
        "s3.spill.threshold.bytes, then in a temporary file; use that key instead",
        "s3.elastic.buffer.init.capacity": "an open file is kept in memory up to "
        "s3.spill.threshold.bytes, then in a temporary file; use that key instead",
        "schema.cache.size": "each distinct schema is compiled once and kept (up to 1000, "
        "then the cache starts again); remove schema.cache.size",
        "json.decimal.format": "decimals are written as the value converter decodes them; "
        "remove json.decimal.format",
        "keys.format.class": "only record values are stored (no key files); remove "
        "keys.format.class",
        "headers.format.class": "only record values are stored (no header files); remove "
        "headers.format.class",
    }
    """Confluent S3 sink keys that have no same-meaning setting here, and why."""

    s3_bucket_name: str = Field(description="Bucket the objects are written to")
    s3_region: str = Field("us-east-1", description="AWS region of the bucket")
    store_url: str | None = Field(
        None,
        description="Endpoint override for S3-compatible stores (MinIO, Ceph, R2, a local "
        "server), e.g. http://127.0.0.1:9000; unset for AWS",
    )
    aws_access_key_id: str | None = Field(
        None, description="Access key; unset to use boto3's default credential chain"
    )
    aws_secret_access_key: SecretStr | None = Field(
        None, description="Secret key that goes with aws.access.key.id"
    )
    aws_session_token: SecretStr | None = Field(
        None, description="Session token for temporary credentials (optional)"
    )
    s3_path_style_access_enabled: bool = Field(
        True, description="Address the bucket in the path (most S3-compatible stores need it)"
    )
    topics_dir: str = Field("topics", description="Top-level prefix of every object key")
    flush_size: int = Field(ge=1, description="Records per Kafka partition before a rotation")
    rotate_interval_ms: int = Field(
        -1,
        ge=-1,
        description="Rotate when a record's timestamp is this far past the first record's "
        "(record time, deterministic); -1 disables",
    )
    partitioner_class: Annotated[PartitionerName, _choice(_PARTITIONERS, "partitioner.class")] = (
        Field("default", description="default | field | time | hourly | daily")
    )
    partition_field_name: CommaList = Field(
        default_factory=list,
        description="Fields the field partitioner uses, comma-separated; dots reach into "
        "nested objects (data.tenant)",
    )
    path_format: str | None = Field(
        None,
        description="Time partitioner's directory pattern, Joda style: "
        "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH",
    )
    partition_duration_ms: int | None = Field(
        None, ge=1, description="Time partitioner's bucket length in milliseconds"
    )
    timezone: str = Field("UTC", description="Time zone of path.format (IANA name)")
    timestamp_extractor: Annotated[
        Literal["Record", "RecordField"], BeforeValidator(_extractor)
    ] = Field(
        "Record",
        description="Record (the Kafka timestamp) or RecordField (timestamp.field)",
    )
    timestamp_field: str | None = Field(
        None,
        description="Field holding the timestamp for RecordField: epoch milliseconds or an "
        "ISO-8601 string; dots reach into nested objects (data.ended_at, time)",
    )
    format_class: Annotated[FormatName, _choice(_FORMATS, "format.class")] = Field(
        "json", description="json (JSON lines) | bytearray | avro | parquet"
    )
    avro_codec: Literal["null", "deflate", "snappy", "bzip2", "xz", "zstandard"] = Field(
        "null",
        description="format.class=avro: the codec of the files' blocks (Kafka Connect's "
        "names); s3.compression.level sets deflate's, zstandard's, bzip2's and xz's level",
    )
    enhanced_avro_schema_support: bool = Field(
        False,
        description="format.class=avro: a string that was an Avro enum (its "
        "io.confluent.connect.avro.Enum parameters) is written as that enum again",
    )
    connect_meta_data: bool = Field(
        False,
        description="format.class=avro: each schema in the files carries its Connect name, "
        "version, doc and parameters as connect.* properties (Kafka Connect's default: true)",
    )
    format_bytearray_separator: str = Field(
        "\n", description="bytearray format: bytes written after each record"
    )
    format_bytearray_extension: str = Field(".bin", description="bytearray format: file suffix")
    s3_compression_type: CompressionName = Field("none", description="none | gzip | zstd")
    s3_compression_level: int = Field(
        -1, ge=-1, le=22, description="Codec level; -1 uses the codec's default"
    )
    s3_part_size: int = Field(
        25 * 1024 * 1024,
        ge=MIN_PART_SIZE,
        le=MAX_PART_SIZE,
        description="Multipart part size in bytes (at least 5 MiB); larger objects are "
        "uploaded in parts of this size",
    )
    s3_part_retries: int = Field(
        3, ge=0, description="Retries of one S3 request inside boto3 before the runtime's"
    )
    s3_request_timeout_ms: int = Field(
        60000, ge=1, description="Socket connect/read timeout of one S3 request"
    )
    s3_conditional_writes: bool = Field(
        True,
        description="Upload with If-None-Match: * so an object already at a key is never "
        "replaced (false: for stores that refuse the header; they overwrite as before)",
    )
    s3_upload_concurrency: int = Field(
        2,
        ge=1,
        le=32,
        description="Rotated files uploaded at once, behind the writes; a write waits "
        "when this many are still uploading",
    )
    s3_spill_threshold_bytes: int = Field(
        8 * 1024 * 1024,
        ge=0,
        description="An open file keeps up to this many bytes in memory, then moves to a "
        "temporary file",
    )
    s3_spill_memory_bytes: int = Field(
        32 * 1024 * 1024,
        ge=0,
        description="All of a task's open files keep up to this many bytes in memory "
        "together; past it, the file being written moves to a temporary file",
    )
    s3_spill_dir: str | None = Field(
        None, description="Directory for spilled files (default: the system's temp dir)"
    )
    behavior_on_null_values: Literal["fail", "ignore"] = Field(
        "fail", description="A null value (tombstone): fail (to the DLQ) or ignore (skip it)"
    )
    storage_class: str | None = Field(
        None, description="Accepted for Confluent configs: must name S3Storage"
    )
    locale: str | None = Field(
        None, description="Accepted for Confluent configs; path.format is numeric, so unused"
    )
    schema_compatibility: Literal["NONE", "none"] | None = Field(
        None, description="Accepted for Confluent configs: only NONE (no schema evolution)"
    )

    parquet_codec: str | None = Field(
        None,
        description="format.class=parquet: the codec inside the file, none, snappy, gzip, "
        "lz4, brotli or zstd; unset uses s3.compression.type",
    )
    s3_credentials_provider_class: str | None = Field(
        None,
        description="Accepted for Confluent configs: only DefaultAWSCredentialsProviderChain "
        "(boto3's default credential chain)",
    )
    schema_generator_class: str | None = Field(
        None,
        description="Accepted for Confluent configs: only DefaultSchemaGenerator (no Hive "
        "integration)",
    )
    directory_delim: Annotated[str, _only("/", "directory.delim", "object keys use /")] = Field(
        "/", description="Accepted for Confluent configs: only / (the default)"
    )
    file_delim: Annotated[str, _only("+", "file.delim", "file names use +")] = Field(
        "+", description="Accepted for Confluent configs: only + (the default)"
    )
    filename_offset_zero_pad_width: Annotated[
        int, _only(10, "filename.offset.zero.pad.width", "offsets are padded to 10 digits")
    ] = Field(10, description="Accepted for Confluent configs: only 10 (the default)")
    store_kafka_keys: Annotated[
        bool, _only(False, "store.kafka.keys", "only record values are stored")
    ] = Field(False, description="Accepted for Confluent configs: only false (the default)")
    store_kafka_headers: Annotated[
        bool, _only(False, "store.kafka.headers", "only record values are stored")
    ] = Field(False, description="Accepted for Confluent configs: only false (the default)")

    @field_validator("parquet_codec")
    @classmethod
    def _codec(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or info.data.get("format_class") != "parquet":
            return value  # Confluent ignores it for other formats too
        kind = info.data.get("s3_compression_type")
        if value not in PARQUET_CODECS:
            raise ValueError(
                f"parquet.codec {value!r} is not supported; use {', '.join(PARQUET_CODECS)}"
            )
        if kind not in (None, "none") and kind != value:
            raise ValueError(f"parquet.codec {value} differs from s3.compression.type {kind}")
        return value

    @field_validator("schema_generator_class")
    @classmethod
    def _no_hive(cls, value: str | None) -> str | None:
        if value is not None and not value.strip().endswith("DefaultSchemaGenerator"):
            raise ValueError(
                f"schema.generator.class {value!r}: only DefaultSchemaGenerator is supported "
                "(there is no Hive integration)"
            )
        return value

    @field_validator("s3_credentials_provider_class")
    @classmethod
    def _default_chain(cls, value: str | None) -> str | None:
        if value is not None and not value.strip().endswith("DefaultAWSCredentialsProviderChain"):
            raise ValueError(_CREDENTIALS.format(key="s3.credentials.provider.class"))
        return value

    @field_validator("s3_bucket_name")
    @classmethod
    def _bucket(cls, value: str) -> str:
        if not _BUCKET.match(value):
            raise ValueError(
                f"{value!r} is not a valid bucket name (3-63 lowercase letters, digits, "
                "dots and hyphens)"
            )
        return value

    @field_validator("store_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        url = urlparse(value.strip())
        if url.scheme not in ("http", "https") or not url.netloc:
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.strip()

    @field_validator("topics_dir")
    @classmethod
    def _topics_dir(cls, value: str) -> str:
        return value.strip().strip("/")

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    @field_validator("path_format")
    @classmethod
    def _path_format(cls, value: str | None) -> str | None:
        if value is not None:
            compile_path_format(value)  # raises ValueError naming the bad letter
        return value

    @field_validator("storage_class")
    @classmethod
    def _storage_class(cls, value: str | None) -> str | None:
        if value is not None and value.rsplit(".", 1)[-1] != "S3Storage":
            raise ValueError(f"storage.class {value!r} is not supported; only S3Storage")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> S3SinkConfig:
        kind = self.partitioner_class
        if kind == "field" and not self.partition_field_name:
            raise ValueError("partition.field.name is required when partitioner.class=field")
        if kind == "time":
            if not self.path_format:
                raise ValueError("path.format is required when partitioner.class=time")
            if self.partition_duration_ms is None:
                raise ValueError("partition.duration.ms is required when partitioner.class=time")
        if kind in ("hourly", "daily") and (self.path_format or self.partition_duration_ms):
            raise ValueError(
                f"partitioner.class={kind} sets path.format and partition.duration.ms itself; "
                "use partitioner.class=time to choose them"
            )
        if self.timestamp_extractor == "RecordField" and not self.timestamp_field:
            raise ValueError("timestamp.field is required when timestamp.extractor=RecordField")
        if (self.aws_access_key_id is None) != (self.aws_secret_access_key is None):
            raise ValueError(
                "aws.access.key.id and aws.secret.access.key go together: set both, or "
                "neither to use boto3's default credential chain"
            )
        if self.s3_compression_type == "gzip" and self.s3_compression_level > 9:
            raise ValueError("s3.compression.level for gzip is -1 or 0 to 9")
        nine = self.format_class == "avro" and self.avro_codec in ("deflate", "bzip2", "xz")
        nine = nine or (self.format_class == "parquet" and self.parquet_compression == "gzip")
        if nine and self.s3_compression_level > 9:
            raise ValueError("s3.compression.level for this codec is -1 or 0 to 9")
        if self.format_class == "parquet" and importlib.util.find_spec("pyarrow") is None:
            raise ValueError("format.class=parquet needs pyarrow: pip install 'offramp[parquet]'")
        schemas = self.format_class in ("avro", "parquet")
        if schemas and importlib.util.find_spec("fastavro") is None:
            raise ValueError(
                f"format.class={self.format_class} needs fastavro: pip install 'offramp[schemas]'"
            )
        if self.format_class == "avro":
            if self.s3_compression_type != "none":
                raise ValueError(
                    "format.class=avro compresses inside the file: set avro.codec (deflate, "
                    "snappy, bzip2, xz, zstandard) instead of s3.compression.type"
                )
            if self.avro_codec == "snappy" and importlib.util.find_spec("cramjam") is None:
                raise ValueError("avro.codec=snappy needs cramjam: pip install 'offramp[schemas]'")
        return self

    @property
    def parquet_compression(self) -> str:
        """The codec inside a Parquet file: parquet.codec, else s3.compression.type."""
        return self.parquet_codec or self.s3_compression_type

    @property
    def time_based(self) -> bool:
        return self.partitioner_class in ("time", "hourly", "daily")

    @property
    def needs_timestamps(self) -> bool:
        """Whether each record's timestamp is read (time partitions or time rotation)."""
        return self.time_based or self.rotate_interval_ms > 0
