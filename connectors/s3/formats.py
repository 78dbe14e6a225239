"""Formats: how one record becomes bytes in a file, and how a file's bytes become an object.

- ``json``: one JSON document per line (``.json``); the value as the converter gave it.
- ``bytearray``: the value's own bytes (or a string's UTF-8) followed by
  ``format.bytearray.separator`` (``.bin`` unless ``format.bytearray.extension`` says).
- ``avro`` (needs fastavro): Avro object container files (``.avro``) with the records'
  schema (``SinkRecord.value_schema``), compressed inside with ``avro.codec``; records
  without a schema are refused (see ``avro_files``, ``avro_schema``).
- ``parquet`` (needs pyarrow): records with a schema get typed columns from it (buffered
  as Avro binary, written a row group at a time: see ``parquet_files``); schemaless
  objects are buffered as JSON lines and turned into one Parquet table, columns
  inferred, when the file is closed (``.parquet``). Compressed inside the file with
  ``parquet.codec`` (or ``s3.compression.type``).

Avro and Parquet files hold one schema each (``RecordFormat.schema_of``): a record of
another schema rotates the segment first (Kafka Connect's ``schema.compatibility=NONE``).

``encode_record`` gives one record's bytes and raises ``RecordEncodingError`` for a value
the format can't hold; ``encode_run`` does a whole run of records at once, cut later into
files at record boundaries. ``json`` stores a value the runtime kept as JSON text
(``SinkRecord.value_json``) as it came, on one line, instead of decoding it only to
encode it again. Everything is deterministic: the same records give the same bytes.
"""

from __future__ import annotations

import functools
import io
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import orjson

from offramp import SinkRecord
from offramp.connectors.s3.avro_files import container, framed_datum, framed_records
from offramp.connectors.s3.avro_schema import AvroOptions, AvroSchema, SchemaCache, avro_schema
from offramp.connectors.s3.config import S3SinkConfig
from offramp.connectors.s3.errors import RecordEncodingError

__all__ = [
    "AvroFormat",
    "ByteArrayFormat",
    "EncodedRun",
    "JsonFormat",
    "ParquetFormat",
    "RecordFormat",
    "create_format",
]

_LINE = orjson.OPT_APPEND_NEWLINE
_LINE_ANY_KEYS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS


class EncodedRun(ABC):
    """A run of records' bytes, handed out by ranges of records."""

    @abstractmethod
    def chunk(self, start: int, stop: int) -> bytes:
        """The bytes of records ``start`` to ``stop`` (exclusive) of the run."""


class _Lines(EncodedRun):
    """Each record's bytes on their own, separator included."""

    def __init__(self, lines: list[bytes]) -> None:
        self.lines = lines

    def chunk(self, start: int, stop: int) -> bytes:
        return b"".join(self.lines[start:stop])


class _Separated(EncodedRun):
    """Records' bytes without their separator, which is added once per chunk: a single
    copy of the data, not one per record."""

    def __init__(self, values: list[bytes], separator: bytes) -> None:
        self.values = values
        self.separator = separator

    def chunk(self, start: int, stop: int) -> bytes:
        part = self.values[start:stop]
        part.append(b"")  # the last record's separator, without copying the data again
        return self.separator.join(part)


class _JsonTexts(_Separated):
    """JSON documents as consumed, one per line. A document spread over several lines
    (it has a line break as whitespace) is compacted: only that one is decoded."""

    def __init__(self, texts: list[bytes]) -> None:
        super().__init__(texts, b"\n")

    def chunk(self, start: int, stop: int) -> bytes:
        data = super().chunk(start, stop)
        # Line breaks in JSON text can only be whitespace (strings escape them).
        if data.count(b"\n") == stop - start and b"\r" not in data:
            return data
        return b"".join(map(_text_line, self.values[start:stop]))


def _text_line(text: bytes) -> bytes:
    """A JSON document's line: its text as is, unless a line break in it (whitespace)
    would split the line; then the document, compacted."""
    if b"\n" not in text and b"\r" not in text:
        return text + b"\n"
    return orjson.dumps(orjson.loads(text), option=_LINE)


class RecordFormat(ABC):
    extension: str
    content_type: str
    compressible: bool = True  # False when the format compresses inside the file
    schema_aware: bool = False
    """True when each file holds records of one schema (``schema_of``): a record of
    another schema rotates the segment before it is placed."""

    def schema_of(self, record: SinkRecord) -> Any:
        """The schema ``record``'s file must have (compared by identity), None for a
        schemaless one; ``RecordEncodingError`` if the format can't write it."""
        return None

    def encode_with(self, record: SinkRecord, schema: Any) -> bytes:
        """One record's bytes, given what ``schema_of`` said of it."""
        return self.encode_record(record)

    @abstractmethod
    def encode(self, value: Any) -> bytes:
        """One record value's bytes, separator included."""

    def encode_record(self, record: SinkRecord) -> bytes:
        """One record's bytes, separator included."""
        return self.encode(record.value)

    def encode_run(self, records: Sequence[SinkRecord]) -> EncodedRun | None:
        """A run of records' bytes in one go; None if one of them needs handling on its
        own (a null value, one the format can't hold): the caller then goes record by
        record and learns which."""
        values = [record.value for record in records]
        if None in values:
            return None
        try:
            return _Lines(self._encode_values(values))
        except (RecordEncodingError, TypeError):
            return None

    def _encode_values(self, values: list[Any]) -> list[bytes]:
        return [self.encode(value) for value in values]

    def render(
        self, chunks: Iterable[bytes | memoryview], schema: Any = None
    ) -> Iterable[bytes | memoryview]:
        """The object's body from the file's buffered bytes (as written by ``encode``),
        for a file of ``schema`` (what ``schema_of`` gave its records)."""
        return chunks


def _json_line(value: Any) -> bytes:
    try:
        return orjson.dumps(value, option=_LINE)
    except TypeError:
        pass
    try:
        # Non-string keys (a transform may make them) cost a slower path; only for them.
        return orjson.dumps(value, option=_LINE_ANY_KEYS)
    except TypeError as exc:
        hint = (
            "; bytes can't be JSON: use format.class=bytearray or a JSON value.converter"
            if isinstance(value, bytes | bytearray)
            else ""
        )
        raise RecordEncodingError(f"the value can't be written as JSON: {exc}{hint}") from None


class JsonFormat(RecordFormat):
    extension = ".json"
    content_type = "application/json"

    def encode(self, value: Any) -> bytes:
        return _json_line(value)

    def encode_record(self, record: SinkRecord) -> bytes:
        text = record.value_json
        return _json_line(record.value) if text is None else _text_line(text)

    def encode_run(self, records: Sequence[SinkRecord]) -> EncodedRun | None:
        texts = [record.value_json for record in records]
        if None not in texts:
            return _JsonTexts(texts)  # type: ignore[arg-type]  # no None, as checked
        if texts.count(None) == len(texts):
            return super().encode_run(records)
        # Some as text, some not: each record's bytes must not depend on its batch
        # mates, or a redelivered range would give different objects.
        lines = []
        for record, text in zip(records, texts, strict=True):
            if text is None and record.value is None:
                return None
            try:
                lines.append(self.encode_record(record))
            except RecordEncodingError:
                return None
        return _Lines(lines)

    def _encode_values(self, values: list[Any]) -> list[bytes]:
        dumps = orjson.dumps
        return [dumps(value, option=_LINE) for value in values]  # TypeError: one by one


class ByteArrayFormat(RecordFormat):
    content_type = "application/octet-stream"

    def __init__(self, separator: bytes, extension: str) -> None:
        self.separator = separator
        self.extension = extension if extension.startswith(".") else f".{extension}"

    def encode(self, value: Any) -> bytes:
        if isinstance(value, bytes):
            return value + self.separator
        if isinstance(value, bytearray):
            return bytes(value) + self.separator
        if isinstance(value, str):
            return value.encode() + self.separator
        raise RecordEncodingError(
            "format.class=bytearray needs bytes or string values, got "
            f"{type(value).__name__}: use value.converter=bytearray or format.class=json"
        )

    def encode_run(self, records: Sequence[SinkRecord]) -> EncodedRun | None:
        values = [record.value for record in records]
        if set(map(type, values)) <= {bytes}:
            return _Separated(values, self.separator)
        return super().encode_run(records)


_NO_SCHEMA = (
    "format.class=avro needs records with a schema (a Schema Registry converter such as "
    "io.confluent.connect.avro.AvroConverter, or JsonConverter with schemas.enable=true); "
    "this record has none"
)


class AvroFormat(RecordFormat):
    extension = ".avro"
    content_type = "application/avro"
    compressible = False
    schema_aware = True

    def __init__(self, codec: str, level: int = -1, options: AvroOptions | None = None) -> None:
        self.codec = codec
        self.level = level
        compile_schema = functools.partial(avro_schema, options=options or AvroOptions())
        self.schemas = SchemaCache(compile_schema)

    def schema_of(self, record: SinkRecord) -> AvroSchema:
        connect = record.value_schema
        if connect is None:
            raise RecordEncodingError(_NO_SCHEMA)
        return self.schemas.get(connect)

    def encode(self, value: Any) -> bytes:
        raise RecordEncodingError(_NO_SCHEMA)  # a bare value has no schema

    def encode_record(self, record: SinkRecord) -> bytes:
        return self.encode_with(record, self.schema_of(record))

    def encode_with(self, record: SinkRecord, schema: Any) -> bytes:
        return framed_datum(schema, record.value)

    def encode_run(self, records: Sequence[SinkRecord]) -> EncodedRun | None:
        return None  # record by record: each one's schema may rotate its file

    def render(self, chunks: Iterable[bytes | memoryview], schema: Any = None) -> Iterator[bytes]:
        return container(schema.text, self.codec, self.level, framed_records(chunks))


_PARQUET_EXTENSIONS = {
    "none": ".parquet",
    "snappy": ".snappy.parquet",
    "gzip": ".gz.parquet",
    "lz4": ".lz4.parquet",
    "brotli": ".br.parquet",
    "zstd": ".zstd.parquet",
}


class ParquetFormat(RecordFormat):
    content_type = "application/vnd.apache.parquet"
    compressible = False
    schema_aware = True

    def __init__(self, codec: str, level: int = -1, row_group_bytes: int = 8 << 20) -> None:
        self.codec = codec
        self.level = level
        self.row_group_bytes = row_group_bytes
        self.extension = _PARQUET_EXTENSIONS[codec]
        self.schemas = SchemaCache()

    def schema_of(self, record: SinkRecord) -> AvroSchema | None:
        connect = record.value_schema
        if connect is None:
            return None  # schemaless objects: columns inferred per file
        from offramp.connectors.s3.parquet_files import arrow_schema

        schema = self.schemas.get(connect)
        arrow_schema(schema)  # refuses a schema that isn't a struct
        return schema

    def encode(self, value: Any) -> bytes:
        if not isinstance(value, dict):
            kind = "null" if value is None else type(value).__name__
            raise RecordEncodingError(f"format.class=parquet needs object values, got {kind}")
        return _json_line(value)

    def encode_record(self, record: SinkRecord) -> bytes:
        return self.encode_with(record, self.schema_of(record))

    def encode_with(self, record: SinkRecord, schema: Any) -> bytes:
        if schema is None:
            return self.encode(record.value)
        return framed_datum(schema, record.value)

    def encode_run(self, records: Sequence[SinkRecord]) -> EncodedRun | None:
        if any(record.value_schema is not None for record in records):
            return None  # record by record: each one's schema may rotate its file
        return super().encode_run(records)

    def render(self, chunks: Iterable[bytes | memoryview], schema: Any = None) -> Iterator[bytes]:
        if schema is not None:
            from offramp.connectors.s3.parquet_files import typed_parquet

            return typed_parquet(
                schema,
                framed_records(chunks),
                self.codec.upper(),
                self.level,
                self.row_group_bytes,
            )
        return self._inferred(chunks)

    def _inferred(self, chunks: Iterable[bytes | memoryview]) -> Iterator[bytes]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = [orjson.loads(line) for line in b"".join(chunks).splitlines()]
        names: dict[str, None] = {}  # every key of every row, in first-seen order
        for row in rows:
            names.update(dict.fromkeys(row))
        columns = []
        for name in names:
            values = [row.get(name) for row in rows]
            try:
                columns.append(pa.array(values))
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                # Mixed types in one column: keep every value, as its JSON text.
                columns.append(
                    pa.array([None if v is None else orjson.dumps(v).decode() for v in values])
                )
        table = pa.table(columns, names=list(names))
        out = io.BytesIO()
        pq.write_table(
            table,
            out,
            compression=self.codec.upper(),
            compression_level=None if self.level < 0 or self.codec == "none" else self.level,
        )
        yield out.getvalue()


def create_format(config: S3SinkConfig) -> RecordFormat:
    if config.format_class == "bytearray":
        return ByteArrayFormat(
            config.format_bytearray_separator.encode(), config.format_bytearray_extension
        )
    if config.format_class == "avro":
        options = AvroOptions(config.connect_meta_data, config.enhanced_avro_schema_support)
        return AvroFormat(config.avro_codec, config.s3_compression_level, options)
    if config.format_class == "parquet":
        return ParquetFormat(
            config.parquet_compression,
            config.s3_compression_level,
            # A row group is built in memory: as large as an open file may be, at least 1 MiB.
            max(config.s3_spill_threshold_bytes, 1 << 20),
        )
    return JsonFormat()
