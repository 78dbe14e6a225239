"""Avro and typed Parquet objects from schema'd records, through the real broker and a
worker: Avro records from confluent-kafka's AvroSerializer against the devstack
registry, JSON-envelope records, read back from moto's S3 server with fastavro and
pyarrow."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import fastavro
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from devstack.kafka import KafkaBroker
from devstack.s3 import S3Server
from devstack.schema_registry import SchemaRegistry
from offramp.errors import ConfigError
from offramp.testing import read_dead_letters
from offramp.worker import Worker
from tests.avro_logical import AT as LOGICAL_AT
from tests.avro_logical import AT_MICROS, LOGICAL, logical_row
from tests.conftest import produce, wait_for
from tests.integration.registry_support import produce_avro
from tests.integration.runtime_support import committed, dead_letters_to
from tests.integration.s3.support import body, keys, s3_sink

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

V1: dict[str, Any] = {
    "type": "record",
    "name": "Order",
    "namespace": "shop",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "qty", "type": "int"},
        {
            "name": "price",
            "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2},
        },
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    ],
}
V2: dict[str, Any] = {
    **V1,
    "fields": [*V1["fields"], {"name": "note", "type": ["null", "string"], "default": None}],
}
AT = datetime(2026, 11, 20, 8, 0, 3, 250000, tzinfo=UTC)


def _order(n: int, note: bool = False) -> dict[str, Any]:
    row: dict[str, Any] = {"id": n, "qty": n % 5, "price": Decimal(100 + n).scaleb(-2), "at": AT}
    if note:
        row["note"] = f"n{n}"
    return row


def test_avro_records_become_avro_and_typed_parquet_objects_a_file_per_schema(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    s3_server: S3Server,
    s3_client: S3Client,
    bucket: str,
    unique: str,
) -> None:
    """Five v1 records then four v2 (a new optional field), flush.size 4: Avro and Parquet
    objects at offsets 0 (v1), 4 (v1: the schema change rotated it) and 5 (v2), each
    holding its records with their schema's types; everything is committed."""
    topic = make_topic("orders")
    with SchemaRegistry() as registry:
        url = registry.url
        produce_avro(url, kafka.bootstrap, topic, V1, [_order(n) for n in range(5)])
        produce_avro(url, kafka.bootstrap, topic, V2, [_order(n, True) for n in range(5, 9)])
        converter = {
            "value.converter": "io.confluent.connect.avro.AvroConverter",
            "value.converter.schema.registry.url": registry.url,
            "flush.size": "4",
        }
        formats = {
            "avro": {
                "format.class": "io.confluent.connect.s3.format.avro.AvroFormat",
                "avro.codec": "deflate",
            },
            "parquet": {
                "format.class": "io.confluent.connect.s3.format.parquet.ParquetFormat",
                "parquet.codec": "snappy",
            },
        }
        for kind, settings in formats.items():
            config = {**converter, **settings, "topics.dir": kind}
            worker.create(f"{kind}-{unique}", s3_sink(s3_server, bucket, topic, **config))
        wait_for(lambda: len(keys(s3_client, bucket)) == 6, timeout=60)
    starts = ("0000000000", "0000000004", "0000000005")
    prefix = f"{topic}/partition=0/{topic}+0+"
    assert keys(s3_client, bucket) == sorted(
        [f"avro/{prefix}{s}.avro" for s in starts]
        + [f"parquet/{prefix}{s}.snappy.parquet" for s in starts]
    )
    expected = [[_order(n) for n in range(4)], [_order(4)], [_order(n, True) for n in range(5, 9)]]
    for start, rows in zip(starts, expected, strict=True):
        reader = fastavro.reader(io.BytesIO(body(s3_client, bucket, f"avro/{prefix}{start}.avro")))
        assert reader.codec == "deflate"
        assert reader.writer_schema["name"] == "shop.Order"
        assert list(reader) == rows
        data = body(s3_client, bucket, f"parquet/{prefix}{start}.snappy.parquet")
        table = pq.read_table(io.BytesIO(data))
        assert table.to_pylist() == rows
        assert table.schema.field("id").type == pa.int64()
        assert table.schema.field("qty").type == pa.int32()
        assert table.schema.field("price").type == pa.decimal128(9, 2)
        assert table.schema.field("at").type == pa.timestamp("ms", tz="UTC")
        assert not table.schema.field("id").nullable
    assert "note" in pq.read_schema(io.BytesIO(data)).names
    for kind in formats:
        group = f"connect-{kind}-{unique}"
        wait_for(lambda g=group: committed(kafka.bootstrap, g, topic) == [9])


def test_json_envelope_records_become_avro_and_a_misfit_is_dead_lettered(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    s3_server: S3Server,
    s3_client: S3Client,
    bucket: str,
    unique: str,
) -> None:
    """JsonConverter's envelope (schemas.enable=true) gives the Avro file its schema; a
    payload that doesn't fit it (text for an int64) goes to the DLQ at TASK_PUT with
    reason s3.format, and the rest is written."""
    topic, dlq = make_topic("envelopes"), f"s3-avro-dlq-{unique}"
    schema = {
        "type": "struct",
        "name": "Call",
        "fields": [
            {"field": "n", "type": "int64", "optional": False},
            {"field": "at", "type": "int64", "name": "org.apache.kafka.connect.data.Timestamp"},
        ],
    }
    at = int(AT.timestamp() * 1000)
    payloads: list[Any] = [{"n": n, "at": at} for n in range(4)]
    payloads[2] = {"n": "two", "at": at}
    values = [orjson.dumps({"schema": schema, "payload": p}) for p in payloads]
    produce(kafka.bootstrap, topic, values, keys=[f"k{n}".encode() for n in range(4)])
    config = {
        "value.converter.schemas.enable": "true",
        "format.class": "avro",
        "flush.size": "3",
        **dead_letters_to(dlq),
    }
    worker.create(f"envelope-{unique}", s3_sink(s3_server, bucket, topic, **config))
    key = f"topics/{topic}/partition=0/{topic}+0+0000000000.avro"
    wait_for(lambda: keys(s3_client, bucket) == [key], timeout=60)
    rows = list(fastavro.reader(io.BytesIO(body(s3_client, bucket, key))))
    stamp = AT.replace(microsecond=250000)
    assert rows == [{"n": 0, "at": stamp}, {"n": 1, "at": stamp}, {"n": 3, "at": stamp}]
    [letter] = read_dead_letters(kafka.bootstrap, dlq, expected=1)
    assert letter.key == b"k2"
    assert letter.headers["__connect.errors.stage"] == "TASK_PUT"
    assert letter.headers["__offramp.errors.reason"] == "s3.format"
    print("reason:", letter.headers["__connect.errors.exception.message"])
    assert "doesn't fit its schema" in letter.headers["__connect.errors.exception.message"]


def test_a_schemaless_converter_is_refused_for_avro_files(
    worker: Worker, s3_server: S3Server, bucket: str, unique: str
) -> None:
    """Creating an Avro archive over schemaless JSON fails validation under
    value.converter, before any task starts."""
    config = s3_sink(
        s3_server, bucket, f"t-{unique}", **{"format.class": "avro", "flush.size": "3"}
    )
    with pytest.raises(ConfigError) as info:
        worker.create(f"schemaless-{unique}", config)
    print(info.value.errors)
    assert [key for key, _ in info.value.errors] == ["value.converter"]
    assert "schemas.enable=false gives none" in info.value.errors[0][1]


def test_avro_logical_types_keep_their_types_in_avro_and_parquet_objects(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    s3_server: S3Server,
    s3_client: S3Client,
    bucket: str,
    unique: str,
) -> None:
    """The logical types Kafka Connect knows stay logical in the objects (decimal on
    bytes and on its fixed, date, time-millis, timestamp-millis; Parquet decimal128,
    date32, time32[ms], timestamp[ms, UTC]); a plain fixed stays a fixed (Parquet
    fixed_size_binary); the micros types, local timestamps and uuid are their
    underlying long or string, as Kafka Connect's AvroConverter gives them."""
    topic = make_topic("readings")
    with SchemaRegistry() as registry:
        produce_avro(
            registry.url, kafka.bootstrap, topic, LOGICAL, [logical_row(n) for n in range(2)]
        )
        for kind, fmt in (("avro", "avro"), ("parquet", "parquet")):
            config = {
                "value.converter": "io.confluent.connect.avro.AvroConverter",
                "value.converter.schema.registry.url": registry.url,
                "flush.size": "2",
                "format.class": fmt,
                "topics.dir": kind,
            }
            worker.create(f"logical-{kind}-{unique}", s3_sink(s3_server, bucket, topic, **config))
        wait_for(lambda: len(keys(s3_client, bucket)) == 2, timeout=60)
    avro_key, parquet_key = keys(s3_client, bucket)
    reader = fastavro.reader(io.BytesIO(body(s3_client, bucket, avro_key)))
    types = {f["name"]: f["type"] for f in reader.writer_schema["fields"]}
    print("avro types:", types)
    assert types["at_ms"] == {"type": "long", "logicalType": "timestamp-millis"}
    assert types["day"] == {"type": "int", "logicalType": "date"}
    assert types["clock_ms"] == {"type": "int", "logicalType": "time-millis"}
    assert types["price"] == {
        "type": "bytes",
        "logicalType": "decimal",
        "precision": 10,
        "scale": 2,
    }
    assert types["weight"] == {
        "type": "fixed",
        "name": "org.apache.kafka.connect.data.Decimal",
        "size": 8,
        "logicalType": "decimal",
        "precision": 12,
        "scale": 3,
    }
    assert types["hash"] == {"type": "fixed", "name": "lab.Hash", "size": 4}
    assert [types[f] for f in ("at_us", "clock_us", "ref", "wall")] == [
        "long",
        "long",
        "string",
        "long",
    ]
    assert types["seen"] == ["null", "long"]
    rows = list(reader)
    assert [(r["price"], r["weight"], r["hash"], r["ref"], r["at_us"]) for r in rows] == [
        (
            Decimal(1234 + n).scaleb(-2),
            Decimal(5678 + n).scaleb(-3),
            bytes([n, 1, 2, 3]),
            str(uuid.UUID(int=n)),
            AT_MICROS,
        )
        for n in range(2)
    ]
    assert rows[0]["at_ms"] == LOGICAL_AT.replace(microsecond=345000)
    table = pq.read_table(io.BytesIO(body(s3_client, bucket, parquet_key)))
    arrow = {field.name: field.type for field in table.schema}
    print("arrow types:", arrow)
    assert arrow == {
        "id": pa.int64(),
        "at_ms": pa.timestamp("ms", tz="UTC"),
        "at_us": pa.int64(),
        "day": pa.date32(),
        "clock_ms": pa.time32("ms"),
        "clock_us": pa.int64(),
        "price": pa.decimal128(10, 2),
        "weight": pa.decimal128(12, 3),
        "hash": pa.binary(4),
        "ref": pa.string(),
        "wall": pa.int64(),
        "seen": pa.int64(),
    }
    assert table.column("seen").to_pylist() == [AT_MICROS, None]
    assert table.column("clock_us").to_pylist() == [3_723_456_789] * 2


def test_connect_meta_data_and_enhanced_avro_schema_support_shape_the_files_schema(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    s3_server: S3Server,
    s3_client: S3Client,
    bucket: str,
    unique: str,
) -> None:
    """With connect.meta.data=true and enhanced.avro.schema.support=true (Confluent's
    keys), an AvroSerializer record's enum is an Avro enum again in the object and its
    schemas carry connect.name / connect.parameters and the Avro docs (kept by the
    converter's connect.meta.data, default true), as Kafka Connect writes them."""
    topic = make_topic("orders-meta")
    schema = {
        "type": "record",
        "name": "Order",
        "namespace": "shop",
        "doc": "An order.",
        "fields": [
            {"name": "id", "type": "long", "doc": "Its id."},
            {
                "name": "state",
                "type": {"type": "enum", "name": "State", "symbols": ["NEW", "PAID"]},
            },
        ],
    }
    rows = [{"id": n, "state": ["NEW", "PAID"][n % 2]} for n in range(2)]
    with SchemaRegistry() as registry:
        produce_avro(registry.url, kafka.bootstrap, topic, schema, rows)
        config = {
            "value.converter": "io.confluent.connect.avro.AvroConverter",
            "value.converter.schema.registry.url": registry.url,
            "flush.size": "2",
            "format.class": "io.confluent.connect.s3.format.avro.AvroFormat",
            "connect.meta.data": "true",
            "enhanced.avro.schema.support": "true",
        }
        worker.create(f"meta-{unique}", s3_sink(s3_server, bucket, topic, **config))
        wait_for(lambda: len(keys(s3_client, bucket)) == 1, timeout=60)
    reader = fastavro.reader(io.BytesIO(body(s3_client, bucket, keys(s3_client, bucket)[0])))
    written = reader.writer_schema
    print("schema:", written)
    assert written["connect.name"] == "shop.Order"
    assert (written["doc"], written["fields"][0]["doc"]) == ("An order.", "Its id.")
    state = written["fields"][1]["type"]
    assert (state["type"], state["name"], state["symbols"]) == (
        "enum",
        "shop.State",
        ["NEW", "PAID"],
    )
    assert state["connect.parameters"]["io.confluent.connect.avro.Enum"] == "shop.State"
    assert list(reader) == rows
