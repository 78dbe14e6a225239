"""Formats: how one record becomes bytes in a file, and how a file's bytes become an object.

- ``json``: one JSON document per line (``.json``); the value as the converter gave it.
- ``bytearray``: the value's own bytes (or a string's UTF-8) followed by
  ``format.bytearray.separator`` (``.bin`` unless ``format.bytearray.extension`` says).
- ``parquet`` (needs pyarrow): values must be objects; records are buffered as JSON lines
  and turned into one Parquet table when the file is closed (``.parquet``), compressed
  inside the file with the ``s3.compression.type`` codec.

``encode`` is called once per record value and raises ``RecordEncodingError`` for a value the
format can't hold. Everything is deterministic: the same records give the same bytes.
"""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from connectors.s3.config import S3SinkConfig
from connectors.s3.errors import RecordEncodingError

__all__ = [
    "ByteArrayFormat",
    "JsonFormat",
    "ParquetFormat",
    "RecordFormat",
    "create_format",
]

_LINE = orjson.OPT_APPEND_NEWLINE
_LINE_ANY_KEYS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS


class RecordFormat(ABC):
    extension: str
    content_type: str
    compressible: bool = True  # False when the format compresses inside the file

    @abstractmethod
    def encode(self, value: Any) -> bytes:
        """One record value's bytes, separator included."""

    def encode_all(self, values: list[Any]) -> list[bytes] | None:
        """Every value's bytes in one go; None if one of them needs handling on its own
        (the caller then goes value by value and learns which)."""
        try:
            return [self.encode(value) for value in values]
        except RecordEncodingError:
            return None

    def render(self, chunks: Iterable[bytes | memoryview]) -> Iterable[bytes | memoryview]:
        """The object's body from the file's buffered bytes (as written by ``encode``)."""
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

    def encode_all(self, values: list[Any]) -> list[bytes] | None:
        dumps = orjson.dumps
        try:
            return [dumps(value, option=_LINE) for value in values]
        except TypeError:
            return None


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

    def encode_all(self, values: list[Any]) -> list[bytes] | None:
        separator = self.separator
        try:
            return [value + separator for value in values]  # bytes (or bytearray) only
        except TypeError:
            return super().encode_all(values)


class ParquetFormat(RecordFormat):
    content_type = "application/vnd.apache.parquet"
    compressible = False

    def __init__(self, codec: str, level: int = -1) -> None:
        self.codec = codec
        self.level = level
        self.extension = {"none": ".parquet", "gzip": ".gz.parquet", "zstd": ".zstd.parquet"}[codec]

    def encode(self, value: Any) -> bytes:
        if not isinstance(value, dict):
            kind = "null" if value is None else type(value).__name__
            raise RecordEncodingError(f"format.class=parquet needs object values, got {kind}")
        return _json_line(value)

    def render(self, chunks: Iterable[bytes | memoryview]) -> Iterator[bytes]:
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
            compression="NONE" if self.codec == "none" else self.codec,
            compression_level=None if self.level < 0 or self.codec == "none" else self.level,
        )
        yield out.getvalue()


def create_format(config: S3SinkConfig) -> RecordFormat:
    if config.format_class == "bytearray":
        return ByteArrayFormat(
            config.format_bytearray_separator.encode(), config.format_bytearray_extension
        )
    if config.format_class == "parquet":
        return ParquetFormat(config.s3_compression_type, config.s3_compression_level)
    return JsonFormat()
