"""Avro object container files from buffered records, block by block.

An open file buffers each record as its Avro binary datum, framed as Avro ``bytes``
are (a zigzag length, then the datum), so the spill buffer holds it like any other
format and the records can be found again when the file is rendered. Rendering writes
the container: the header (magic, ``avro.schema``, ``avro.codec``, the sync marker),
then blocks of about ``BLOCK_BYTES`` of records, each compressed with ``avro.codec``
and followed by the sync marker. Memory holds one block, whatever the file's size.

Everything is deterministic, as exactly-once needs (a redelivered file is the same
bytes): the sync marker is derived from the schema instead of drawn at random, blocks
are cut at record boundaries by size, and the codecs run without timestamps.
"""

from __future__ import annotations

import bz2
import hashlib
import io
import lzma
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import zstandard

from offramp.connectors.s3.avro_schema import AvroSchema
from offramp.connectors.s3.errors import RecordEncodingError

__all__ = [
    "AVRO_CODECS",
    "BLOCK_BYTES",
    "container",
    "framed_datum",
    "framed_records",
    "long_bytes",
]

BLOCK_BYTES = 64000  # Avro's default sync interval (DataFileWriter)
MAGIC = b"Obj\x01"


def long_bytes(value: int) -> bytes:
    """An Avro ``long``: zigzag, then a base-128 varint."""
    n = (value << 1) ^ (value >> 63)
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def framed_records(chunks: Iterable[bytes | memoryview]) -> Iterator[bytes]:
    """The records of a buffered file (each framed as Avro ``bytes``), whatever sizes
    the buffer's chunks have."""
    pending = bytearray()
    for chunk in chunks:
        pending += chunk
        pos, size = 0, len(pending)
        while pos < size:
            length, shift, at = 0, 0, pos
            while at < size:
                byte = pending[at]
                at += 1
                length |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    break
            else:
                break  # the length itself continues in the next chunk
            length >>= 1  # zigzag of a length: never negative
            if at + length > size:
                break
            yield bytes(pending[at : at + length])
            pos = at + length
        del pending[:pos]
    if pending:
        raise ValueError(f"the buffered Avro file ends inside a record ({len(pending)} bytes)")


def _deflate(level: int) -> Callable[[bytes], bytes]:
    def compress(data: bytes) -> bytes:
        codec = zlib.compressobj(6 if level < 0 else level, zlib.DEFLATED, -15)  # raw
        return codec.compress(data) + codec.flush()

    return compress


def _zstandard(level: int) -> Callable[[bytes], bytes]:
    compressor = zstandard.ZstdCompressor(level=3 if level < 0 else level)
    return compressor.compress


def _snappy(level: int) -> Callable[[bytes], bytes]:
    import cramjam

    def compress(data: bytes) -> bytes:
        # Avro's snappy blocks end with the CRC-32 of the uncompressed data.
        return bytes(cramjam.snappy.compress_raw(data)) + zlib.crc32(data).to_bytes(4, "big")

    return compress


AVRO_CODECS: dict[str, Callable[[int], Callable[[bytes], bytes]]] = {
    "null": lambda level: bytes,
    "deflate": _deflate,
    "snappy": _snappy,
    "bzip2": lambda level: lambda data: bz2.compress(data, 9 if level < 1 else min(level, 9)),
    "xz": lambda level: lambda data: lzma.compress(data, preset=6 if level < 0 else min(level, 9)),
    "zstandard": _zstandard,
}
"""``avro.codec`` names (Kafka Connect's) → a compressor for a given level (-1: default)."""


def _header(schema_text: bytes, codec: str, sync: bytes) -> bytes:
    meta = {b"avro.schema": schema_text, b"avro.codec": codec.encode()}
    out = bytearray(MAGIC)
    out += long_bytes(len(meta))
    for key, value in meta.items():
        out += long_bytes(len(key)) + key + long_bytes(len(value)) + value
    out += long_bytes(0)
    return bytes(out + sync)


def container(
    schema_text: bytes, codec: str, level: int, records: Iterable[bytes]
) -> Iterator[bytes]:
    """An object container file holding ``records`` (Avro binary datums)."""
    compress = AVRO_CODECS[codec](level)
    sync = hashlib.md5(schema_text, usedforsecurity=False).digest()  # deterministic marker
    yield _header(schema_text, codec, sync)
    block: list[bytes] = []
    size = 0
    for record in records:
        block.append(record)
        size += len(record)
        if size >= BLOCK_BYTES:
            yield _block(block, compress, sync)
            block, size = [], 0
    if block:
        yield _block(block, compress, sync)


def _block(records: list[bytes], compress: Callable[[bytes], bytes], sync: bytes) -> bytes:
    data = compress(b"".join(records))
    return long_bytes(len(records)) + long_bytes(len(data)) + data + sync


def framed_datum(schema: AvroSchema, value: Any) -> bytes:
    """One record's Avro binary datum, framed as the buffer keeps it;
    ``RecordEncodingError`` when the value doesn't fit the schema."""
    from fastavro import parse_schema, schemaless_writer

    if schema.parsed is None:
        try:
            schema.parsed = parse_schema(schema.schema)
        except Exception as exc:  # fastavro's SchemaParseException and ValueErrors
            raise RecordEncodingError(f"the record's schema isn't valid Avro: {exc}") from None
    out = io.BytesIO()
    normalize = schema.normalize
    try:
        schemaless_writer(out, schema.parsed, value if normalize is None else normalize(value))
    except RecordEncodingError:
        raise
    except Exception as exc:  # fastavro raises ValueError, TypeError, OverflowError…
        raise RecordEncodingError(f"the value doesn't fit its schema: {exc}") from None
    data = out.getvalue()
    return long_bytes(len(data)) + data
