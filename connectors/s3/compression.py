"""Compressing an object's body: ``none``, ``gzip`` (``.gz``) or ``zstd`` (``.zst``).

Exactly-once needs a redelivered file to compress to the very same bytes, so the
codecs run without timestamps (zlib's gzip header has mtime 0, unlike the ``gzip``
module's) and are fed the body in fixed-size pieces, whatever sizes the caller reads.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

import zstandard

__all__ = ["Compression", "create_compression"]

BLOCK = 1024 * 1024  # input size per compressor call, fixed for determinism


def _blocks(chunks: Iterable[bytes | memoryview]) -> Iterator[bytes]:
    pending = bytearray()
    for chunk in chunks:
        pending += chunk
        while len(pending) >= BLOCK:
            yield bytes(pending[:BLOCK])
            del pending[:BLOCK]
    if pending:
        yield bytes(pending)


class Compression:
    """One codec at one level; ``compress`` is a generator, so memory stays one block."""

    def __init__(self, name: str, level: int = -1) -> None:
        if name not in ("none", "gzip", "zstd"):
            raise ValueError(f"s3.compression.type {name!r} is not none, gzip or zstd")
        self.name = name
        self.level = level
        self.extension = {"none": "", "gzip": ".gz", "zstd": ".zst"}[name]

    def compress(self, chunks: Iterable[bytes | memoryview]) -> Iterable[bytes | memoryview]:
        if self.name == "none":
            return chunks
        return self._compressed(chunks)

    def _compressed(self, chunks: Iterable[bytes | memoryview]) -> Iterator[bytes]:
        if self.name == "gzip":
            gz = zlib.compressobj(6 if self.level < 0 else self.level, zlib.DEFLATED, 31)
            for block in _blocks(chunks):
                out = gz.compress(block)
                if out:
                    yield out
            yield gz.flush()
            return
        zstd = zstandard.ZstdCompressor(level=3 if self.level < 0 else self.level).compressobj()
        for block in _blocks(chunks):
            out = zstd.compress(block)
            if out:
                yield out
        yield zstd.flush()


def create_compression(name: str, level: int, compressible: bool) -> Compression:
    """The outer codec; ``none`` for formats that compress inside the file (Parquet)."""
    return Compression(name if compressible else "none", level)
