"""Avro logical types as Kafka Connect's AvroConverter maps them (its Connect schema and
values), and back out as the S3 sink's Avro schemas and Parquet columns."""

from __future__ import annotations

import io
import json
import uuid
from datetime import date, time
from decimal import Decimal
from typing import Any

import fastavro
import pyarrow as pa
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from devstack.schema_registry import SchemaRegistry
from offramp.connectors.s3.avro_files import framed_datum, framed_records
from offramp.connectors.s3.avro_schema import AvroOptions, avro_schema
from offramp.connectors.s3.parquet_files import arrow_schema
from offramp.converters import create_converter
from offramp.schemas import connect
from offramp.schemas.avro_values import value_fixer
from offramp.schemas.converters import RegistryConverter
from tests.avro_logical import AT, AT_MICROS, LOGICAL, logical_row

_CONNECT = "org.apache.kafka.connect.data."


def _fields(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["field"]: {k: v for k, v in f.items() if k != "field"} for f in schema["fields"]}


def test_connect_schema_knows_the_millis_types_and_keeps_the_others_underlying() -> None:
    """decimal (bytes or fixed, the fixed's size kept), date, time-millis and
    timestamp-millis get Connect's logical names; the micros types and local
    timestamps are int64, uuid a string, a plain fixed bytes with its size."""
    fields = _fields(connect.from_avro(LOGICAL))
    assert fields["at_ms"] == {"type": "int64", "name": _CONNECT + "Timestamp", "optional": False}
    assert fields["day"]["name"] == _CONNECT + "Date"
    assert fields["clock_ms"] == {"type": "int32", "name": _CONNECT + "Time", "optional": False}
    assert fields["weight"]["parameters"] == {
        "scale": "3",
        "connect.decimal.precision": "12",
        "connect.fixed.size": "8",
    }
    assert fields["hash"] == {
        "type": "bytes",
        "name": "lab.Hash",
        "parameters": {"connect.fixed.size": "4"},
        "optional": False,
    }
    for name in ("at_us", "clock_us", "wall"):
        assert fields[name] == {"type": "int64", "optional": False}, name
    assert fields["ref"] == {"type": "string", "optional": False}
    assert fields["seen"] == {"type": "int64", "optional": True}


def test_a_named_type_used_again_by_name_keeps_its_type() -> None:
    """A fixed, an enum or a record named again later in the schema is that type (an
    enum a string with its symbols), not a string; a record naming itself is JSON."""
    schema = {
        "type": "record",
        "name": "Node",
        "namespace": "lab",
        "fields": [
            {"name": "a", "type": {"type": "fixed", "name": "Id", "size": 2}},
            {"name": "b", "type": "Id"},
            {"name": "s", "type": {"type": "enum", "name": "State", "symbols": ["ON", "OFF"]}},
            {"name": "t", "type": ["null", "lab.State"]},
            {"name": "next", "type": ["null", "Node"]},
        ],
    }
    fields = _fields(connect.from_avro(schema))
    assert fields["b"] == fields["a"]
    assert fields["t"] == {**fields["s"], "optional": True}
    assert fields["s"]["parameters"] == {
        "io.confluent.connect.avro.Enum": "lab.State",
        "io.confluent.connect.avro.Enum.ON": "ON",
        "io.confluent.connect.avro.Enum.OFF": "OFF",
    }
    assert fields["next"]["type"] == "struct" and fields["next"]["optional"]


def test_values_are_what_the_connect_schema_says() -> None:
    """fastavro's datetimes, times and UUIDs for the types Connect doesn't know become
    their counts and text; Connect's own logical types stay Python values."""
    fix = value_fixer(LOGICAL)
    assert fix is not None
    value = fix({**logical_row(0), "wall": AT.replace(tzinfo=None, microsecond=345000)})
    assert (value["at_us"], value["clock_us"], value["ref"]) == (
        AT_MICROS,
        3_723_456_789,
        str(uuid.UUID(int=0)),
    )
    assert value["wall"] == AT_MICROS // 1000 and value["seen"] == AT_MICROS
    assert value["at_ms"] == AT and value["day"] == date(2026, 12, 3)
    assert (
        value_fixer({"type": "record", "name": "R", "fields": [{"name": "a", "type": "long"}]})
        is None
    )


def test_the_converter_gives_kafka_connect_values_for_a_serialized_record() -> None:
    """Through AvroSerializer and the AvroConverter (the devstack registry, a real
    socket): each logical value as the Connect schema says."""
    with SchemaRegistry() as registry:
        with SchemaRegistryClient({"url": registry.url}) as client:
            data = AvroSerializer(client, json.dumps(LOGICAL))(
                logical_row(1), SerializationContext("readings", MessageField.VALUE)
            )
        conv = create_converter(
            "io.confluent.connect.avro.AvroConverter", {"schema.registry.url": registry.url}, False
        )
        assert isinstance(conv, RegistryConverter)
        try:
            batch = conv.convert_batch([data], None)
        finally:
            conv.close()
    assert batch.errors == {}
    value = batch.values[0]
    assert value["clock_ms"] == time(1, 2, 3, 456000) and value["clock_us"] == 3_723_456_789
    assert value["weight"] == Decimal("5.679") and value["hash"] == bytes([1, 1, 2, 3])
    assert value["ref"] == "00000000-0000-0000-0000-000000000001" and value["seen"] is None


def test_fixed_types_come_back_as_avro_fixed_and_arrow_fixed_size_binary() -> None:
    """In S3 output a fixed decimal is a fixed decimal again (named as AvroData names
    it; a second size gets a numbered name), a plain fixed a fixed by its name, and a
    value round-trips; Parquet gives decimal128 and fixed_size_binary."""
    schema = connect.from_avro(
        {
            **LOGICAL,
            "fields": [
                *LOGICAL["fields"],
                {
                    "name": "tare",
                    "type": {
                        "type": "fixed",
                        "name": "Tare",
                        "size": 4,
                        "logicalType": "decimal",
                        "precision": 6,
                        "scale": 1,
                    },
                },
                {"name": "hash2", "type": "Hash"},
            ],
        }
    )
    compiled = avro_schema(schema)
    types = {f["name"]: f["type"] for f in compiled.schema["fields"]}
    assert types["weight"]["name"] == _CONNECT + "Decimal" and types["weight"]["size"] == 8
    assert types["tare"]["name"] == _CONNECT + "Decimal2" and types["tare"]["size"] == 4
    assert types["hash"] == {"type": "fixed", "name": "lab.Hash", "size": 4}
    assert types["hash2"] == "lab.Hash"
    fix = value_fixer(LOGICAL)
    assert fix is not None
    row = {**fix(logical_row(3)), "tare": Decimal("12.5"), "hash2": b"abcd"}
    datum = next(framed_records([framed_datum(compiled, row)]))
    back = fastavro.schemaless_reader(io.BytesIO(datum), compiled.parsed, None)
    assert (back["weight"], back["tare"], back["hash2"]) == (
        Decimal("5.681"),
        Decimal("12.5"),
        b"abcd",
    )
    arrow = arrow_schema(compiled)
    assert arrow.field("weight").type == pa.decimal128(12, 3)
    assert arrow.field("tare").type == pa.decimal128(6, 1)
    assert arrow.field("hash").type == pa.binary(4) and arrow.field("hash2").type == pa.binary(4)


def test_a_decimal_column_takes_the_schema_precision_where_the_database_can() -> None:
    """NUMERIC(precision, scale) from connect.decimal.precision; past MySQL's 65 digits
    (or without a precision) NUMERIC(38, scale) as before."""
    from sqlalchemy.dialects import mysql, postgresql

    from offramp.connectors.sql.kinds import kind_of_schema
    from offramp.connectors.sql.schema import column_type

    def compiled(precision: str | None, dialect: Any) -> str:
        params = {"scale": "2", **({"connect.decimal.precision": precision} if precision else {})}
        spec = kind_of_schema({"type": "bytes", "name": _CONNECT + "Decimal", "parameters": params})
        assert spec is not None
        return str(column_type(spec, dialect.name).compile(dialect=dialect))

    assert compiled("10", postgresql.dialect()) == "NUMERIC(10, 2)"
    assert compiled("100", postgresql.dialect()) == "NUMERIC(100, 2)"
    assert compiled("100", mysql.dialect()) == "NUMERIC(38, 2)"
    assert compiled(None, postgresql.dialect()) == "NUMERIC(38, 2)"


def test_connect_meta_data_and_enhanced_support_in_s3_avro_schemas() -> None:
    """connect.meta.data puts each schema's Connect name, version and parameters (and
    connect.type for int16) in connect.* properties, as AvroData does; enhanced
    support makes an enum of a string that was one. Off, neither appears."""
    schema = connect.from_avro(
        {
            "type": "record",
            "name": "Order",
            "namespace": "shop",
            "fields": [
                {
                    "name": "state",
                    "type": {"type": "enum", "name": "State", "symbols": ["NEW", "PAID"]},
                },
                {"name": "again", "type": ["null", "State"], "default": None},
                {
                    "name": "price",
                    "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2},
                },
            ],
        }
    )
    schema["fields"].append({"field": "small", "type": "int16", "optional": False})
    plain = avro_schema(schema).schema
    assert "connect.name" not in plain and plain["fields"][0]["type"] == "string"
    both = avro_schema(schema, AvroOptions(connect_meta_data=True, enhanced_schema_support=True))
    types = {f["name"]: f["type"] for f in both.schema["fields"]}
    assert both.schema["connect.name"] == "shop.Order"
    assert types["state"]["type"] == "enum" and types["state"]["symbols"] == ["NEW", "PAID"]
    assert types["state"]["name"] == "shop.State" and types["again"] == ["null", "shop.State"]
    assert types["price"] == {
        "type": "bytes",
        "logicalType": "decimal",
        "precision": 9,
        "scale": 2,
        "connect.version": 1,
        "connect.parameters": {"scale": "2", "connect.decimal.precision": "9"},
        "connect.name": _CONNECT + "Decimal",
    }
    assert types["small"] == {"type": "int", "connect.type": "int16"}
    row = {"state": "PAID", "again": None, "price": Decimal("1.50"), "small": 3}
    datum = next(framed_records([framed_datum(both, row)]))
    assert fastavro.schemaless_reader(io.BytesIO(datum), both.parsed, None) == row


def test_avro_docs_ride_as_parameters_and_come_back_in_s3_avro_schemas() -> None:
    """The converter's connect.meta.data (default true, as Kafka Connect's) keeps record,
    field and enum docs as AvroData's parameters; the S3 sink's Avro schema has them as
    docs again (the enum's with enhanced support). false keeps none."""
    avro = {
        "type": "record",
        "name": "Order",
        "namespace": "shop",
        "doc": "One order.",
        "fields": [
            {"name": "id", "type": "long", "doc": "The order's id."},
            {
                "name": "state",
                "type": {
                    "type": "enum",
                    "name": "State",
                    "doc": "Where it is.",
                    "symbols": ["NEW"],
                },
            },
        ],
    }
    with_docs = connect.from_avro(avro, docs=True)
    assert with_docs["parameters"] == {
        "io.confluent.connect.avro.record.doc": "One order.",
        "io.confluent.connect.avro.field.doc.id": "The order's id.",
    }
    assert "parameters" not in connect.from_avro(avro)
    written = avro_schema(with_docs, AvroOptions(enhanced_schema_support=True)).schema
    assert written["doc"] == "One order."
    assert written["fields"][0]["doc"] == "The order's id."
    assert written["fields"][1]["type"]["doc"] == "Where it is."
    assert written["fields"][1]["type"]["symbols"] == ["NEW"]
