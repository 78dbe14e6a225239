"""Avro and typed Parquet files from records' Connect schemas: types, codecs, schema
changes rotating files, records without a schema refused, memory bounded by row group."""

from __future__ import annotations

import base64
import io
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import fastavro
import fastavro.read
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from offramp import RawMessage, SinkRecord, TopicPartition
from offramp.config import WorkerConfig, validate_connector
from offramp.connectors.s3 import S3SinkConfig, S3SinkConnector, S3Writer
from offramp.connectors.s3.avro_files import container, framed_records
from offramp.connectors.s3.avro_schema import avro_schema
from offramp.connectors.s3.errors import RecordEncodingError
from offramp.connectors.s3.formats import create_format
from offramp.errors import ConfigError
from offramp.registry import PluginRegistry
from offramp.schemas import connect
from offramp.testing import write_all
from tests.unit.test_s3_writer import MemoryStore

ORDER: dict[str, Any] = {
    "type": "struct",
    "name": "shop.Order",
    "optional": False,
    "fields": [
        {"field": "id", "type": "int64", "optional": False},
        {"field": "qty", "type": "int32", "optional": False},
        {"field": "note", "type": "string", "optional": True},
        {
            "field": "price",
            "type": "bytes",
            "name": "org.apache.kafka.connect.data.Decimal",
            "parameters": {"scale": "2", "connect.decimal.precision": "10"},
            "optional": False,
        },
        {"field": "day", "type": "int32", "name": "org.apache.kafka.connect.data.Date"},
        {"field": "at", "type": "int64", "name": "org.apache.kafka.connect.data.Timestamp"},
        {"field": "clock", "type": "int32", "name": "org.apache.kafka.connect.data.Time"},
        {"field": "blob", "type": "bytes", "optional": True},
        {"field": "tags", "type": "array", "items": {"type": "string"}, "optional": True},
        {
            "field": "attrs",
            "type": "map",
            "keys": {"type": "string"},
            "values": {"type": "int64"},
            "optional": True,
        },
        {
            "field": "ship",
            "type": "struct",
            "optional": True,
            "fields": [{"field": "city", "type": "string", "optional": False}],
        },
        {"field": "extra", "type": "struct", "fields": [], "optional": True},
    ],
}
AT = datetime(2026, 11, 20, 8, 0, 3, 250000, tzinfo=UTC)


def _envelope_value(n: int) -> dict[str, Any]:
    """An Order as JsonConverter's envelope carries it (Connect's JSON encodings)."""
    return {
        "id": n,
        "qty": n % 7,
        "note": None if n % 2 else f"n{n}",
        "price": base64.b64encode((1234 + n).to_bytes(4, "big", signed=True)).decode(),
        "day": 20412,
        "at": int(AT.timestamp() * 1000),
        "clock": 3_600_000,
        "blob": base64.b64encode(b"\x00\x01").decode(),
        "tags": ["a", "b"],
        "attrs": {"k": n},
        "ship": {"city": "Oslo"},
        "extra": {"any": [1, "x"]},
    }


def _expected(n: int) -> dict[str, Any]:
    return {
        "id": n,
        "qty": n % 7,
        "note": None if n % 2 else f"n{n}",
        "price": Decimal(1234 + n).scaleb(-2),
        "day": date(2025, 11, 20),
        "at": AT.replace(microsecond=250000),
        "clock": time(1, 0),
        "blob": b"\x00\x01",
        "tags": ["a", "b"],
        "attrs": {"k": n},
        "ship": {"city": "Oslo"},
        "extra": '{"any":[1,"x"]}',
    }


def _config(**extra: str) -> S3SinkConfig:
    return S3SinkConfig.model_validate({"s3.bucket.name": "archive", "flush.size": "100", **extra})


def _record(offset: int, value: Any, schema: Any) -> SinkRecord:
    return SinkRecord(RawMessage("orders", 0, offset), None, value, None, schema)


def _zstandard_block(fo: Any) -> io.BytesIO:
    n, shift = 0, 0
    while True:  # the block's length: an Avro long (zigzag varint)
        byte = fo.read(1)[0]
        n |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    data = fo.read((n >> 1) ^ -(n & 1))
    return io.BytesIO(zstandard.ZstdDecompressor().decompressobj().decompress(data))


# fastavro reads zstandard blocks only through backports.zstd on Python 3.11: give it
# the zstandard package's decompressor (the blocks are plain zstd frames).
fastavro.read.BLOCK_READERS["zstandard"] = _zstandard_block


def _avro_rows(data: bytes) -> tuple[Any, str, list[Any]]:
    reader = fastavro.reader(io.BytesIO(data))
    return reader.writer_schema, reader.codec, list(reader)


@pytest.mark.parametrize("codec", ["null", "deflate", "snappy", "bzip2", "xz", "zstandard"])
def test_avro_files_hold_typed_records_in_every_codec(codec: str) -> None:
    """JSON-envelope values with decimals, dates, timestamps, bytes, arrays, maps and
    nested structs are read back by fastavro with their types, in each avro.codec."""
    store = MemoryStore()
    writer = S3Writer(_config(**{"format.class": "avro", "avro.codec": codec}), store)
    records = [_record(n, _envelope_value(n), ORDER) for n in range(100)]
    failures, committable = write_all(writer, records)
    assert failures == [] and committable == {TopicPartition("orders", 0): 100}
    assert list(store.objects) == ["topics/orders/partition=0/orders+0+0000000000.avro"]
    schema, used, rows = _avro_rows(next(iter(store.objects.values())))
    assert used == codec and schema["name"] == "shop.Order"
    assert rows == [_expected(n) for n in range(100)]


def test_avro_values_from_the_avro_converter_pass_as_they_are() -> None:
    """Python values as AvroDeserializer gives them (Decimal, date, datetime, bytes) are
    written as they are, under the Connect schema from_avro made of the writer's schema."""
    writer_schema = {
        "type": "record",
        "name": "Pay",
        "fields": [
            {
                "name": "amount",
                "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 3},
            },
            {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
            {"name": "memo", "type": ["null", "string"], "default": None},
        ],
    }
    schema = connect.from_avro(writer_schema)
    value = {"amount": Decimal("12.345"), "at": AT.replace(microsecond=0), "memo": None}
    fmt = create_format(_config(**{"format.class": "avro"}))
    compiled = fmt.schema_of(_record(0, value, schema))
    assert compiled.schema["fields"][0]["type"]["precision"] == 9
    data = b"".join(fmt.render([fmt.encode_with(_record(0, value, schema), compiled)], compiled))
    assert _avro_rows(data)[2] == [value]


def test_a_schema_change_rotates_the_segment_and_each_file_has_one_schema() -> None:
    """v1, v1, v2 (a new optional field), v1: three files, each with its own schema,
    started at the record whose schema differed (Kafka Connect's schema.compatibility
    NONE); the open file's records are not committable."""
    v1 = {"type": "struct", "fields": [{"field": "id", "type": "int64"}]}
    v2 = {**v1, "fields": [*v1["fields"], {"field": "n", "type": "string", "optional": True}]}
    schemas = [v1, dict(v1), v2, v1]  # an equal schema in a new dict is the same schema
    records = [_record(i, {"id": i, "n": "x"}, s) for i, s in enumerate(schemas)]
    store = MemoryStore()
    failures, committable = write_all(S3Writer(_config(**{"format.class": "avro"}), store), records)
    assert failures == [] and committable == {TopicPartition("orders", 0): 3}
    got = {k.rsplit("+", 1)[1]: _avro_rows(v) for k, v in store.objects.items()}
    assert sorted(got) == ["0000000000.avro", "0000000002.avro"]
    assert got["0000000000.avro"][2] == [{"id": 0}, {"id": 1}]
    assert [f["name"] for f in got["0000000002.avro"][0]["fields"]] == ["id", "n"]
    assert got["0000000002.avro"][2] == [{"id": 2, "n": "x"}]


def test_records_without_a_schema_or_not_fitting_it_are_dead_lettered_with_the_reason() -> None:
    """Avro: a schemaless record, a value missing a required field and a field name
    Avro can't hold fail alone (reason s3.format); the others are written."""
    bad_name = {"type": "struct", "fields": [{"field": "a-b", "type": "int64"}]}
    records = [
        _record(0, {"id": 0}, None),
        _record(1, _envelope_value(1), ORDER),
        _record(2, {"qty": 1}, ORDER),
        _record(3, {"a-b": 1}, bad_name),
    ]
    store = MemoryStore()
    writer = S3Writer(_config(**{"format.class": "avro", "flush.size": "1"}), store)
    failures, _ = write_all(writer, records)
    reasons = {f.record.kafka_offset: str(f.error) for f in failures}
    print(reasons)
    assert sorted(reasons) == [0, 2, 3]
    assert "needs records with a schema" in reasons[0]
    assert "doesn't fit its schema" in reasons[2]
    assert "'a-b' can't be an Avro field name" in reasons[3]
    assert all(f.context == {"__offramp.errors.reason": "s3.format"} for f in failures)
    assert list(store.objects) == ["topics/orders/partition=0/orders+0+0000000001.avro"]


def test_avro_files_are_the_same_bytes_when_rebuilt_and_cut_anywhere() -> None:
    """Deterministic: the same records give the same file however the buffer hands its
    bytes back (spilled reads cut records anywhere); many blocks share one sync marker."""
    compiled = avro_schema(ORDER)
    fmt = create_format(_config(**{"format.class": "avro", "avro.codec": "deflate"}))
    framed = [fmt.encode_with(_record(n, _envelope_value(n), ORDER), compiled) for n in range(3000)]
    whole = b"".join(framed)
    one = b"".join(fmt.render([whole], compiled))
    cut = b"".join(fmt.render([whole[i : i + 7] for i in range(0, len(whole), 7)], compiled))
    assert one == cut
    assert len(list(fastavro.block_reader(io.BytesIO(one)))) > 1
    assert _avro_rows(one)[2] == [_expected(n) for n in range(3000)]
    assert len(list(framed_records([whole]))) == 3000
    with pytest.raises(ValueError, match="ends inside a record"):
        list(framed_records([whole[:-1]]))
    assert b"".join(container(compiled.text, "null", -1, [])).startswith(b"Obj\x01")


def test_typed_parquet_columns_follow_the_schema() -> None:
    """Parquet from schema'd records: one typed column per field (nullable only where
    optional), values read back by pyarrow with their types, codec inside the file."""
    store = MemoryStore()
    config = _config(**{"format.class": "parquet", "parquet.codec": "snappy"})
    records = [_record(n, _envelope_value(n), ORDER) for n in range(100)]
    failures, _ = write_all(S3Writer(config, store), records)
    assert failures == []
    [(key, data)] = store.objects.items()
    assert key.endswith("orders+0+0000000000.snappy.parquet")
    parquet = pq.ParquetFile(io.BytesIO(data))
    assert parquet.metadata.row_group(0).column(0).compression == "SNAPPY"
    schema = parquet.schema_arrow
    assert schema.field("id").type == pa.int64() and not schema.field("id").nullable
    assert schema.field("qty").type == pa.int32()
    assert schema.field("note").nullable
    assert schema.field("price").type == pa.decimal128(10, 2)
    assert schema.field("day").type == pa.date32()
    assert schema.field("at").type == pa.timestamp("ms", tz="UTC")
    assert schema.field("clock").type == pa.time32("ms")
    assert schema.field("blob").type == pa.binary()
    assert schema.field("tags").type == pa.list_(pa.field("element", pa.string(), False))
    assert schema.field("attrs").type == pa.map_(pa.string(), pa.field("value", pa.int64(), False))
    assert schema.field("ship").type == pa.struct([pa.field("city", pa.string(), False)])
    rows = parquet.read().to_pylist()
    for row in rows:
        row["attrs"] = dict(row["attrs"])
    assert rows == [_expected(n) for n in range(100)]


def test_parquet_row_groups_stay_near_the_spill_threshold() -> None:
    """A file far larger than s3.spill.threshold.bytes is written in row groups of about
    that much buffered data (1 MiB at least), not as one table in memory."""
    config = _config(**{"format.class": "parquet", "s3.spill.threshold.bytes": "1048576"})
    fmt = create_format(config)
    compiled = fmt.schema_of(_record(0, _envelope_value(0), ORDER))
    framed = [
        fmt.encode_with(_record(n, _envelope_value(n), ORDER), compiled) for n in range(40000)
    ]
    size = sum(map(len, framed))
    parts = list(fmt.render(framed, compiled))
    groups = pq.ParquetFile(io.BytesIO(b"".join(parts))).metadata.num_row_groups
    print(f"{size} buffered bytes -> {groups} row groups, {len(parts)} pieces")
    # Each full row group is handed on as it is written; the last one with the footer.
    assert groups == len(parts) and size // (1 << 20) <= groups <= size // (1 << 20) + 1


def test_schemaless_objects_still_get_inferred_parquet_columns() -> None:
    """Parquet keeps its schemaless path: objects without a schema, columns inferred."""
    store = MemoryStore()
    records = [_record(n, {"n": n}, None) for n in range(3)]
    failures, _ = write_all(
        S3Writer(_config(**{"format.class": "parquet", "flush.size": "3"}), store), records
    )
    assert failures == []
    assert pq.read_table(io.BytesIO(next(iter(store.objects.values())))).to_pylist() == [
        {"n": 0},
        {"n": 1},
        {"n": 2},
    ]


def test_parquet_refuses_a_schema_that_is_not_a_struct() -> None:
    """A record whose schema is a string can't be columns: refused for that record."""
    fmt = create_format(_config(**{"format.class": "parquet"}))
    with pytest.raises(RecordEncodingError, match="needs struct values"):
        fmt.schema_of(_record(0, "x", {"type": "string", "optional": False}))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"avro.codec": "lzo"}, "avro.codec"),
        ({"s3.compression.type": "gzip"}, "set avro.codec"),
        ({"avro.codec": "deflate", "s3.compression.level": "12"}, "0 to 9"),
    ],
)
def test_avro_settings_mistakes_are_refused(settings: dict[str, str], message: str) -> None:
    """Codec names are Kafka Connect's; Avro compresses inside, so no outer codec."""
    with pytest.raises(ValueError, match=message):
        _config(**{"format.class": "avro", **settings})


def _validate(**extra: str) -> None:
    registry = PluginRegistry(load_entry_points=False)
    registry.register("s3", S3SinkConnector)
    raw = {
        "connector.class": "s3",
        "topics": "orders",
        "s3.bucket.name": "archive",
        "flush.size": "10",
        "format.class": "io.confluent.connect.s3.format.avro.AvroFormat",
        **extra,
    }
    validate_connector("archive", raw, WorkerConfig(), registry)


def test_validation_refuses_a_schemaless_converter_for_avro_files() -> None:
    """format.class=avro with schemaless JSON or strings fails validation under
    value.converter; the JSON envelope and the registry converters pass."""
    for converter in ({"value.converter.schemas.enable": "false"}, {"value.converter": "string"}):
        with pytest.raises(ConfigError) as info:
            _validate(**{"value.converter": "json", **converter})
        keys = [key for key, _ in info.value.errors]
        print(info.value.errors)
        assert keys == ["value.converter"]
        assert "gives none" in info.value.errors[0][1]
    _validate(**{"value.converter": "json", "value.converter.schemas.enable": "true"})
    _validate(
        **{
            "value.converter": "io.confluent.connect.avro.AvroConverter",
            "value.converter.schema.registry.url": "http://127.0.0.1:1",
        }
    )


def test_typed_parquet_files_are_the_same_bytes_when_rebuilt() -> None:
    """Deterministic, as exactly-once needs: the same records give the same Parquet
    bytes, however the buffer hands them back."""
    fmt = create_format(_config(**{"format.class": "parquet", "parquet.codec": "zstd"}))
    compiled = fmt.schema_of(_record(0, _envelope_value(0), ORDER))
    whole = b"".join(
        fmt.encode_with(_record(n, _envelope_value(n), ORDER), compiled) for n in range(500)
    )
    once = b"".join(fmt.render([whole], compiled))
    cut = b"".join(fmt.render([whole[i : i + 1000] for i in range(0, len(whole), 1000)], compiled))
    assert once == cut


def test_json_schema_and_protobuf_schemas_become_avro_names() -> None:
    """A JSON Schema title with spaces and a Protobuf message's full name become valid
    Avro record names; records of each are written and read back."""
    json_schema = connect.from_json_schema(
        {
            "title": "Call event",
            "type": "object",
            "properties": {"id": {"type": "integer"}, "at": {"type": "string"}},
            "required": ["id"],
        }
    )
    compiled = avro_schema(json_schema)
    assert compiled.schema["name"] == "Call_event"
    fmt = create_format(_config(**{"format.class": "avro"}))
    value = {"id": 7, "at": "2026-11-20T08:00:03Z"}
    data = b"".join(
        fmt.render([fmt.encode_with(_record(0, value, json_schema), compiled)], compiled)
    )
    assert _avro_rows(data)[2] == [value]

    from google.protobuf import descriptor_pb2, descriptor_pool

    proto = descriptor_pb2.FileDescriptorProto(name="o.proto", package="shop.v1", syntax="proto3")
    message = proto.message_type.add(name="Order")
    types = descriptor_pb2.FieldDescriptorProto
    message.field.add(name="id", number=1, type=types.TYPE_INT64, label=types.LABEL_OPTIONAL)
    message.field.add(name="tags", number=2, type=types.TYPE_STRING, label=types.LABEL_REPEATED)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    protobuf = connect.from_protobuf(pool.FindMessageTypeByName("shop.v1.Order"))
    compiled = avro_schema(protobuf)
    assert compiled.schema["name"] == "shop.v1.Order"
    value = {"id": 2**40, "tags": ["x"]}
    data = b"".join(fmt.render([fmt.encode_with(_record(0, value, protobuf), compiled)], compiled))
    assert _avro_rows(data)[2] == [value]
