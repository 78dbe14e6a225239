"""What a file's bytes are: formats, codecs and the spilling buffer."""

from __future__ import annotations

import gzip
import io
import os
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest
import zstandard

from offramp import RawMessage, SinkRecord
from offramp.connectors.s3 import S3SinkConfig
from offramp.connectors.s3.buffer import MemoryBudget, SpillBuffer
from offramp.connectors.s3.compression import Compression
from offramp.connectors.s3.errors import RecordEncodingError
from offramp.connectors.s3.formats import create_format
from offramp.records import JsonTextRecord


def _format(**extra: str) -> Any:
    config = S3SinkConfig.model_validate({"s3.bucket.name": "archive", "flush.size": "1", **extra})
    return create_format(config)


def _record(value: Any) -> SinkRecord:
    return SinkRecord(RawMessage("calls"), None, value)


def test_json_lines_hold_the_value_and_refuse_bytes() -> None:
    """One compact JSON document per line; bytes can't be JSON and say what to use."""
    fmt = _format()
    assert (fmt.extension, fmt.content_type) == (".json", "application/json")
    assert fmt.encode({"a": 1, "b": [True, None]}) == b'{"a":1,"b":[true,null]}\n'
    assert fmt.encode("text") == b'"text"\n'
    with pytest.raises(RecordEncodingError, match=r"use format\.class=bytearray"):
        fmt.encode(b"\x00raw")


def _text(offset: int, value: bytes) -> JsonTextRecord:
    return JsonTextRecord(RawMessage("calls", 0, offset, value=value), None)


def test_json_lines_store_json_text_as_consumed_and_compact_only_multiline_documents() -> None:
    """A value kept as JSON text is written as it came (spacing and all), one per line;
    a document with line breaks in it is compacted, and only that one."""
    fmt = _format()
    texts = [b'{"a": 1,  "b": "x"}', b'{\n  "c": [1,\r\n 2]\n}', b" [true] "]
    run = fmt.encode_run([_text(n, text) for n, text in enumerate(texts)])
    assert run.chunk(0, 3) == b'{"a": 1,  "b": "x"}\n{"c":[1,2]}\n [true] \n'
    assert run.chunk(2, 3) == b" [true] \n"
    assert [fmt.encode_record(_text(n, text)) for n, text in enumerate(texts)] == [
        b'{"a": 1,  "b": "x"}\n',
        b'{"c":[1,2]}\n',
        b" [true] \n",
    ]


def test_json_lines_give_each_record_the_same_bytes_whatever_its_batch_mates() -> None:
    """Exactly-once needs a redelivered range to rebuild the same file: a record kept as
    text is written as text even in a run with decoded values, and a record whose value
    was read is compacted in any run."""
    fmt = _format()
    read = _text(1, b'{"b":  2}')
    assert read.value == {"b": 2}
    records = [_text(0, b'{"a":  1}'), read, _record({"c": 3})]
    together = fmt.encode_run(records).chunk(0, 3)
    alone = b"".join(fmt.encode_run([r]).chunk(0, 1) for r in records)
    assert together == alone == b'{"a":  1}\n{"b":2}\n{"c":3}\n'
    assert fmt.encode_run([_text(0, b"{}"), _record(None)]) is None  # null: one by one


def test_bytearray_writes_raw_bytes_with_the_separator() -> None:
    """The value's bytes (or a string's UTF-8) then the separator; objects are refused."""
    fmt = _format(
        **{
            "format.class": "bytearray",
            "format.bytearray.separator": "|",
            "format.bytearray.extension": "dat",
        }
    )
    assert fmt.extension == ".dat"
    assert fmt.encode(b"\x00\x01") + fmt.encode("é") == b"\x00\x01|\xc3\xa9|"
    run = fmt.encode_run([_record(b"ab"), _record(b""), _record(b"c")])
    assert run.chunk(0, 3) == b"ab||c|" and run.chunk(1, 3) == b"|c|"
    assert fmt.encode_run([_record(b"ab"), _record("é")]).chunk(0, 2) == b"ab|\xc3\xa9|"
    with pytest.raises(RecordEncodingError, match=r"value\.converter=bytearray"):
        fmt.encode({"a": 1})


def test_parquet_keeps_every_column_and_every_value() -> None:
    """Columns are the union of every row's keys; a column with mixed types keeps its
    values as JSON text rather than failing the file; zstd compresses inside the file."""
    fmt = _format(**{"format.class": "parquet", "s3.compression.type": "zstd"})
    assert fmt.extension == ".zstd.parquet" and not fmt.compressible
    rows = [{"id": 1, "tenant": "acme"}, {"id": 2, "mixed": 5}, {"id": 3, "mixed": "five"}]
    data = b"".join(fmt.render([b"".join(fmt.encode(r) for r in rows)]))
    table = pq.read_table(io.BytesIO(data))
    assert table.column_names == ["id", "tenant", "mixed"]
    assert table.column("id").to_pylist() == [1, 2, 3]
    assert table.column("tenant").to_pylist() == ["acme", None, None]
    assert table.column("mixed").to_pylist() == [None, "5", '"five"']
    assert pq.ParquetFile(io.BytesIO(data)).metadata.row_group(0).column(0).compression == "ZSTD"
    with pytest.raises(RecordEncodingError, match="needs object values"):
        fmt.encode([1, 2])


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_codecs_give_the_same_bytes_however_the_input_is_cut(codec: str) -> None:
    """Redelivery must rebuild identical objects: the compressed bytes depend only on the
    content, not on how it was read, and decode back to it."""
    content = b"".join(
        orjson.dumps({"n": n, "r": os.urandom(8).hex()}) + b"\n" for n in range(60000)
    )
    compression = Compression(codec)
    one_piece = b"".join(compression.compress([content]))
    small_pieces = b"".join(
        compression.compress(content[i : i + 4097] for i in range(0, len(content), 4097))
    )
    assert one_piece == small_pieces
    if codec == "gzip":
        assert gzip.decompress(one_piece) == content
    else:
        assert zstandard.ZstdDecompressor().decompressobj().decompress(one_piece) == content
    assert Compression("none").compress([content]) == [content]


def test_spill_buffer_moves_to_disk_past_its_threshold() -> None:
    """Up to the threshold in memory (the pieces as written), then in a temporary file
    (read back in fixed pieces); the content can still grow after being read."""
    buffer = SpillBuffer(threshold=1000)
    buffer.write(b"a" * 600)
    assert not buffer.spilled
    buffer.write(b"b" * 600)
    assert buffer.spilled and buffer.size == 1200
    assert [bytes(c) for c in buffer.chunks(500)] == [
        b"a" * 500,
        b"a" * 100 + b"b" * 400,
        b"b" * 200,
    ]
    buffer.write(b"c")
    assert b"".join(bytes(c) for c in buffer.chunks()) == b"a" * 600 + b"b" * 600 + b"c"
    buffer.close()
    memory = SpillBuffer(threshold=1 << 20)
    memory.write(b"xyz")
    memory.write(b"w")
    assert [bytes(c) for c in memory.chunks(2)] == [b"xyz", b"w"] and not memory.spilled
    memory.close()


def test_open_files_share_one_memory_budget() -> None:
    """Files under their own threshold still move to disk once a task's open files
    together pass the budget: the one being written goes; closing gives its bytes back."""
    budget = MemoryBudget(1000)
    files = [SpillBuffer(threshold=1 << 20, budget=budget) for _ in range(3)]
    files[0].write(b"a" * 400)
    files[1].write(b"b" * 400)
    assert budget.used == 800 and not any(f.spilled for f in files)
    files[2].write(b"c" * 400)  # 1200 together: this one moves to its temporary file
    assert files[2].spilled and not files[0].spilled and budget.used == 800
    assert b"".join(bytes(c) for c in files[2].chunks()) == b"c" * 400
    files[0].close()
    assert budget.used == 400
    files[1].write(b"d" * 500)  # 900: room again
    assert not files[1].spilled and budget.used == 900
    for f in files:
        f.close()
    assert budget.used == 0
