"""Parquet files with typed columns from the records' schema, one row group at a time.

Records with a schema are buffered as Avro binary (see ``avro_files``), like Avro
files, so an open Parquet file spills to disk past ``s3.spill.threshold.bytes`` like
every other format. When the file is rendered its records are decoded back and written
in row groups of about ``row_group_bytes`` of buffered records: only one row group is
in memory at a time, as Arrow arrays (decoded ``ROWS_PER_BATCH`` rows at a time), and
each is handed on as soon as it is written. The columns' types come from the Avro schema the
Connect schema became (``avro_schema``): ``int`` int32, ``long`` int64, ``float``
float32, ``double`` float64, ``string``, ``bytes`` binary, ``decimal`` decimal128 (or
decimal256 past 38 digits), ``date`` date32, ``time-millis`` time32[ms],
``timestamp-millis`` timestamp[ms, UTC], ``fixed`` fixed_size_binary of its size,
records structs, arrays lists, maps maps; optional fields are nullable, the others not.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import Any

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq

from offramp.connectors.s3.avro_schema import AvroSchema
from offramp.connectors.s3.errors import RecordEncodingError

__all__ = ["ROWS_PER_BATCH", "arrow_schema", "typed_parquet"]

# Rows decoded to Python objects before they become Arrow arrays: Python objects cost
# some 20 times their Avro size, Arrow about their size, so a row group is gathered
# as Arrow batches.
ROWS_PER_BATCH = 4096

_PRIMITIVES: dict[str, pa.DataType] = {
    "boolean": pa.bool_(),
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "string": pa.string(),
    "bytes": pa.binary(),
}


def arrow_schema(schema: AvroSchema) -> pa.Schema:
    """The Arrow schema of a record schema's rows (cached on the schema)."""
    found = schema.extra.get("arrow")
    if found is None:
        top, _ = _type(schema.schema, {})
        if not pa.types.is_struct(top):
            raise RecordEncodingError(
                "format.class=parquet needs struct values (one column per field); the "
                f"record's schema is {schema.schema!r}"
            )
        found = schema.extra["arrow"] = pa.schema(list(top))
    return found


def _type(avro: Any, named: dict[str, pa.DataType]) -> tuple[pa.DataType, bool]:
    """The Arrow type of an Avro schema, and whether it admits null."""
    if isinstance(avro, list):
        branches = [b for b in avro if b != "null"]
        kind, _ = _type(branches[0], named)
        return kind, True
    if isinstance(avro, str):
        if avro in _PRIMITIVES:
            return _PRIMITIVES[avro], False
        return named[avro], False  # a record defined before
    logical = avro.get("logicalType")
    kind = avro["type"]
    if logical == "decimal":
        precision, scale = int(avro["precision"]), int(avro.get("scale", 0))
        if precision > 76:
            raise RecordEncodingError(f"a decimal of precision {precision} is past Parquet's 76")
        make = pa.decimal128 if precision <= 38 else pa.decimal256
        if kind == "fixed":  # a named type: later fields may name it
            named[avro["name"]] = make(precision, scale)
        return make(precision, scale), False
    if kind == "fixed":
        named[avro["name"]] = pa.binary(int(avro["size"]))
        return named[avro["name"]], False
    if logical == "date":
        return pa.date32(), False
    if logical == "time-millis":
        return pa.time32("ms"), False
    if logical == "timestamp-millis":
        return pa.timestamp("ms", tz="UTC"), False
    if kind == "record":
        fields = []
        for f in avro["fields"]:
            sub, nullable = _type(f["type"], named)
            fields.append(pa.field(f["name"], sub, nullable=nullable))
        struct = pa.struct(fields)
        named[avro["name"]] = struct
        return struct, False
    if kind == "array":
        items, nullable = _type(avro["items"], named)
        return pa.list_(pa.field("element", items, nullable=nullable)), False
    if kind == "map":
        values, nullable = _type(avro["values"], named)
        return pa.map_(pa.string(), pa.field("value", values, nullable=nullable)), False
    return _type(kind, named)


def _row(datum: bytes, parsed: Any) -> Any:
    return fastavro.schemaless_reader(io.BytesIO(datum), parsed, None)


class _Sink:
    """Where the Parquet writer puts its bytes; drained after each row group."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0
        self.closed = False

    def write(self, data: Any) -> int:
        piece = bytes(data)
        self.parts.append(piece)
        self.position += len(piece)
        return len(piece)

    def tell(self) -> int:
        return self.position  # the writer's offsets in the footer count from here

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def drain(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def typed_parquet(
    schema: AvroSchema,
    records: Iterable[bytes],
    compression: str,
    level: int,
    row_group_bytes: int,
) -> Iterator[bytes]:
    """A Parquet file of ``records`` (Avro binary datums of ``schema``), yielded a row
    group at a time."""
    table_schema = arrow_schema(schema)
    parsed = schema.parsed
    sink = _Sink()
    writer = pq.ParquetWriter(
        pa.PythonFile(sink, mode="w"),
        table_schema,
        compression=compression,
        compression_level=None if level < 0 or compression == "NONE" else level,
    )
    try:
        batches: list[pa.RecordBatch] = []  # the row group so far, as Arrow (compact)
        rows: list[Any] = []  # at most ROWS_PER_BATCH decoded rows at a time
        size = 0
        for datum in records:
            rows.append(_row(datum, parsed))
            size += len(datum)
            if len(rows) >= ROWS_PER_BATCH:
                batches.append(pa.RecordBatch.from_pylist(rows, schema=table_schema))
                rows = []
            if size >= row_group_bytes:
                _write_group(writer, batches, rows, table_schema)
                yield sink.drain()
                batches, rows, size = [], [], 0
        if batches or rows:
            _write_group(writer, batches, rows, table_schema)
    finally:
        writer.close()
    yield sink.drain()


def _write_group(
    writer: pq.ParquetWriter, batches: list[pa.RecordBatch], rows: list[Any], schema: pa.Schema
) -> None:
    if rows:
        batches.append(pa.RecordBatch.from_pylist(rows, schema=schema))
    table = pa.Table.from_batches(batches, schema=schema)
    writer.write_table(table, row_group_size=table.num_rows)  # one row group
