"""The Schema Registry converters over the devstack registry (a real socket), fed by
confluent-kafka's own serializers."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from devstack.schema_registry import SchemaRegistry
from offramp.converters import Converter, create_converter
from offramp.errors import ConfigError, FatalError, RetriableError
from offramp.schemas.converters import RegistryConverter

AVRO_CONVERTER = "io.confluent.connect.avro.AvroConverter"
AVRO = json.dumps(
    {
        "type": "record",
        "name": "Order",
        "fields": [
            {"name": "id", "type": "long"},
            {"name": "qty", "type": "int"},
            {"name": "note", "type": ["null", "string"], "default": None},
            {
                "name": "price",
                "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2},
            },
        ],
    }
)


@pytest.fixture
def registry() -> Iterator[SchemaRegistry]:
    with SchemaRegistry() as server:
        yield server


def _avro_bytes(url: str, record: dict[str, object], user_info: str | None = None) -> bytes:
    conf = {"url": url} if user_info is None else {"url": url, "basic.auth.user.info": user_info}
    with SchemaRegistryClient(conf) as client:
        ctx = SerializationContext("orders", MessageField.VALUE)
        out = AvroSerializer(client, AVRO)(record, ctx)
    assert out is not None
    return out


@contextmanager
def converter(name: str, config: Mapping[str, Any]) -> Iterator[Converter]:
    """A value converter whose registry connections close however the test ends."""
    conv = create_converter(name, config, False)
    try:
        yield conv
    finally:
        assert isinstance(conv, RegistryConverter)
        conv.close()


def test_avro_round_trip_and_schema(registry: SchemaRegistry) -> None:
    """An AvroSerializer record decodes to its dict with a Connect schema of typed fields."""
    data = _avro_bytes(registry.url, {"id": 7, "qty": 2, "note": None, "price": Decimal("9.99")})
    with converter(
        "io.confluent.connect.avro.AvroConverter", {"schema.registry.url": registry.url}
    ) as conv:
        batch = conv.convert_batch([data, data, None], None)
    assert not batch.errors
    assert batch.values[0] == {"id": 7, "qty": 2, "note": None, "price": Decimal("9.99")}
    assert batch.values[2] is None
    assert batch.schemas is not None
    fields = {f["field"]: f for f in batch.schemas[0]["fields"]}
    assert fields["id"]["type"] == "int64" and not fields["id"]["optional"]
    assert fields["qty"]["type"] == "int32"
    assert fields["note"]["optional"]
    assert fields["price"]["name"] == "org.apache.kafka.connect.data.Decimal"
    assert fields["price"]["parameters"] == {"scale": "2", "connect.decimal.precision": "9"}
    print("registry requests for 2 records:", registry.requests)


def test_bad_bytes_fail_by_record(registry: SchemaRegistry) -> None:
    """A wrong magic byte, an unknown schema id and truncated bytes fail only their record."""
    good = _avro_bytes(registry.url, {"id": 1, "qty": 1, "note": "x", "price": Decimal("1.00")})
    unknown = b"\x00\x00\x00\x03\xe7" + good[5:]
    with converter(AVRO_CONVERTER, {"schema.registry.url": registry.url}) as conv:
        batch = conv.convert_batch([b"{}", unknown, good[:6], good], None)
    assert set(batch.errors) == {0, 1, 2}
    assert "magic byte" in str(batch.errors[0])
    assert "not in the registry" in str(batch.errors[1]) and "40403" in str(batch.errors[1])
    assert batch.values[3]["id"] == 1


def test_registry_outage_is_transient(registry: SchemaRegistry) -> None:
    """A registry answering 503 fails the batch as transient; a cached schema still decodes."""
    data = _avro_bytes(registry.url, {"id": 1, "qty": 1, "note": None, "price": Decimal("0")})
    with converter(AVRO_CONVERTER, {"schema.registry.url": registry.url}) as conv:
        registry.outage()
        with pytest.raises(RetriableError, match="503"):
            conv.convert_batch([data], None)
        registry.outage(False)
        assert not conv.convert_batch([data], None).errors
        registry.outage()
        assert not conv.convert_batch([data], None).errors  # cached: no request


def test_a_registry_that_is_not_listening_is_transient() -> None:
    """A registry refusing connections fails the batch as transient, naming its URL,
    so no record is dead-lettered for it."""
    with SchemaRegistry() as gone:
        data = _avro_bytes(gone.url, {"id": 1, "qty": 1, "note": None, "price": Decimal("0")})
        url = gone.url
    unreachable = f"the schema registry at {url} can't be reached"
    with (
        converter(AVRO_CONVERTER, {"schema.registry.url": url}) as conv,
        pytest.raises(RetriableError, match=unreachable),
    ):
        conv.convert_batch([data], None)


def test_refused_credentials_fail_the_task_naming_the_registry() -> None:
    """A 401 is FatalError (not a record's fault, not transient) naming the registry
    without the password given in its URL."""
    with SchemaRegistry(user_info="sink:secret") as locked:
        record = {"id": 1, "qty": 1, "note": None, "price": Decimal("1")}
        data = _avro_bytes(locked.url, record, "sink:secret")
        wrong = locked.url.replace("://", "://sink:wrong@")
        with (
            converter(AVRO_CONVERTER, {"schema.registry.url": wrong}) as conv,
            pytest.raises(FatalError, match="refused the credentials") as caught,
        ):
            conv.convert_batch([data], None)
    assert f"the schema registry at {locked.url} refused" in str(caught.value)
    assert "wrong" not in str(caught.value)


def test_json_schema_round_trip(registry: SchemaRegistry) -> None:
    """A JSONSerializer document decodes, with its required fields not optional."""
    schema = json.dumps(
        {
            "title": "Event",
            "type": "object",
            "properties": {"id": {"type": "integer"}, "tag": {"type": ["string", "null"]}},
            "required": ["id"],
        }
    )
    ctx = SerializationContext("events", MessageField.VALUE)
    with SchemaRegistryClient({"url": registry.url}) as client:
        data = JSONSerializer(schema, client)({"id": 3, "tag": None}, ctx)
    name = "io.confluent.connect.json.JsonSchemaConverter"
    with converter(name, {"schema.registry.url": registry.url}) as conv:
        batch = conv.convert_batch([data], None)
    assert batch.values == [{"id": 3, "tag": None}] and batch.schemas is not None
    fields = {f["field"]: f for f in batch.schemas[0]["fields"]}
    assert fields["id"] == {"field": "id", "type": "int64", "optional": False}
    assert fields["tag"]["optional"]


def test_basic_auth_and_missing_url(registry: SchemaRegistry) -> None:
    """USER_INFO credentials reach a registry that requires them; a missing URL is named."""
    with SchemaRegistry(user_info="sink:secret") as locked:
        record = {"id": 1, "qty": 1, "note": None, "price": Decimal("1")}
        data = _avro_bytes(locked.url, record, "sink:secret")
        config = {
            "schema.registry.url": locked.url,
            "basic.auth.credentials.source": "USER_INFO",
            "basic.auth.user.info": "sink:secret",
        }
        with converter(AVRO_CONVERTER, config) as conv:
            assert not conv.convert_batch([data], None).errors
    with pytest.raises(ConfigError, match=r"schema\.registry\.url"):
        create_converter(AVRO_CONVERTER, {}, False)
