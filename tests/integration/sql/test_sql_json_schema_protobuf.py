"""JSON Schema and Protobuf records from confluent-kafka's JSONSerializer and
ProtobufSerializer, through the real broker, the devstack registry and a worker with
the matching converter, into PostgreSQL as typed columns."""

from __future__ import annotations

import json
from collections.abc import Callable

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.message_factory import GetMessageClass

from devstack.kafka import KafkaBroker
from devstack.postgres import PostgresServer
from devstack.schema_registry import SchemaRegistry
from offramp.worker import Worker
from tests.conftest import wait_for
from tests.integration.registry_support import send
from tests.integration.sql.support import PgConnection, column_types, scalar, sql_config
from tests.protobuf_files import referencing_order_class

EVENT = {
    "title": "Event",
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "amount": {"type": "number"},
        "ok": {"type": "boolean"},
        "tag": {"type": ["string", "null"]},
        "labels": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["id", "amount", "ok"],
}


def _land(
    worker: Worker,
    name: str,
    topic: str,
    postgres: PostgresServer,
    pg: PgConnection,
    converter: str,
    registry: str,
    count: int,
) -> dict[str, tuple[str, str]]:
    """Run a sql connector with ``converter`` on ``topic`` until its ``count`` records
    are rows; the table's columns."""
    config = {
        "auto.create": "true",
        "value.converter": converter,
        "value.converter.schema.registry.url": registry,
    }
    worker.create(name, sql_config(topic, postgres.url(), **config))
    wait_for(lambda: scalar(pg, f'SELECT count(*) FROM "{topic}"') == count, timeout=60)
    found = column_types(pg, topic)
    print("columns:", found)
    return found


def test_json_schema_records_land_as_typed_columns(
    worker: Worker,
    kafka: KafkaBroker,
    postgres: PostgresServer,
    pg: PgConnection,
    make_topic: Callable[..., str],
    unique: str,
) -> None:
    """JSONSerializer documents: integer BIGINT, number DOUBLE, boolean BOOLEAN NOT NULL
    (required), a nullable string TEXT, an array kept as JSON; the values as sent."""
    topic = make_topic("events")
    ctx = SerializationContext(topic, MessageField.VALUE)
    docs = [
        {
            "id": n,
            "amount": n / 4,
            "ok": n % 2 == 0,
            "tag": None if n % 2 else f"t{n}",
            "labels": ["a", str(n)],
        }
        for n in range(5)
    ]
    with SchemaRegistry() as registry:
        with SchemaRegistryClient({"url": registry.url}) as client:
            serialize = JSONSerializer(json.dumps(EVENT), client)
            send(kafka.bootstrap, topic, [serialize(doc, ctx) for doc in docs])
        converter = "io.confluent.connect.json.JsonSchemaConverter"
        name = f"jsonschema-{unique}"
        columns = _land(worker, name, topic, postgres, pg, converter, registry.url, 5)
    assert columns == {
        "id": ("bigint", "NO"),
        "amount": ("double precision", "NO"),
        "ok": ("boolean", "NO"),
        "tag": ("text", "YES"),
        "labels": ("jsonb", "YES"),
    }
    rows = pg.execute(f'SELECT id, amount, ok, tag, labels FROM "{topic}" ORDER BY id').fetchall()
    labels = [r[4] if isinstance(r[4], list) else json.loads(r[4]) for r in rows]
    assert [r[:4] for r in rows] == [(d["id"], d["amount"], d["ok"], d["tag"]) for d in docs]
    assert labels == [d["labels"] for d in docs]


def _order_class() -> type:
    """shop.Order as protoc would compile it: proto3 scalars, an enum, a repeated field
    and a proto3 ``optional`` field."""
    proto = descriptor_pb2.FileDescriptorProto(name="order.proto", package="shop", syntax="proto3")
    status = proto.enum_type.add(name="Status")
    status.value.add(name="NEW", number=0)
    status.value.add(name="PAID", number=1)
    message = proto.message_type.add(name="Order")
    types = descriptor_pb2.FieldDescriptorProto
    optional, repeated = types.LABEL_OPTIONAL, types.LABEL_REPEATED
    message.field.add(name="id", number=1, type=types.TYPE_INT64, label=optional)
    message.field.add(name="sku", number=2, type=types.TYPE_STRING, label=optional)
    message.field.add(name="qty", number=3, type=types.TYPE_INT32, label=optional)
    message.field.add(name="price", number=4, type=types.TYPE_DOUBLE, label=optional)
    message.field.add(name="paid", number=5, type=types.TYPE_BOOL, label=optional)
    message.field.add(
        name="status", number=6, type=types.TYPE_ENUM, type_name=".shop.Status", label=optional
    )
    message.field.add(name="tags", number=7, type=types.TYPE_STRING, label=repeated)
    message.oneof_decl.add(name="_note")
    message.field.add(
        name="note",
        number=8,
        type=types.TYPE_STRING,
        label=optional,
        proto3_optional=True,
        oneof_index=0,
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return GetMessageClass(pool.FindMessageTypeByName("shop.Order"))


def test_protobuf_records_land_as_typed_columns(
    worker: Worker,
    kafka: KafkaBroker,
    postgres: PostgresServer,
    pg: PgConnection,
    make_topic: Callable[..., str],
    unique: str,
) -> None:
    """ProtobufSerializer messages: int64 BIGINT, int32 INTEGER, double, bool and the
    enum (by name, TEXT) NOT NULL as proto3 scalars always have a value; the proto3
    optional field is a nullable column, NULL where unset."""
    topic = make_topic("orders")
    order = _order_class()
    ctx = SerializationContext(topic, MessageField.VALUE)
    messages = [
        order(
            id=2**40 + n,
            sku=f"A-{n}",
            qty=n,
            price=n * 1.5,
            paid=n % 2 == 1,
            status=n % 2,
            tags=["x"],
            **({"note": f"n{n}"} if n % 2 else {}),
        )
        for n in range(4)
    ]
    with SchemaRegistry() as registry:
        with SchemaRegistryClient({"url": registry.url}) as client:
            serialize = ProtobufSerializer(order, client, {"use.deprecated.format": False})
            send(kafka.bootstrap, topic, [serialize(m, ctx) for m in messages])
        converter = "io.confluent.connect.protobuf.ProtobufConverter"
        name = f"protobuf-{unique}"
        columns = _land(worker, name, topic, postgres, pg, converter, registry.url, 4)
    assert columns == {
        "id": ("bigint", "NO"),
        "sku": ("text", "NO"),
        "qty": ("integer", "NO"),
        "price": ("double precision", "NO"),
        "paid": ("boolean", "NO"),
        "status": ("text", "NO"),
        "tags": ("jsonb", "YES"),
        "note": ("text", "YES"),
    }
    rows = pg.execute(
        f'SELECT id, sku, qty, price, paid, status, note FROM "{topic}" ORDER BY id'
    ).fetchall()
    assert rows == [
        (
            2**40 + n,
            f"A-{n}",
            n,
            n * 1.5,
            n % 2 == 1,
            ["NEW", "PAID"][n % 2],
            f"n{n}" if n % 2 else None,
        )
        for n in range(4)
    ]


def test_protobuf_records_with_references_land_as_typed_columns(
    worker: Worker,
    kafka: KafkaBroker,
    postgres: PostgresServer,
    pg: PgConnection,
    make_topic: Callable[..., str],
    unique: str,
) -> None:
    """ProtobufSerializer messages whose file imports another (registered by the
    serializer and named in the schema's ``references``) land: the imported enum by name
    TEXT NOT NULL, the imported message a JSONB object by field name."""
    topic = make_topic("orders-refs")
    order = referencing_order_class()
    money = order.DESCRIPTOR.fields_by_name["total"].message_type._concrete_class
    ctx = SerializationContext(topic, MessageField.VALUE)
    messages = [order(id=n, total=money(units=10 * n, nanos=n), currency=n % 3) for n in range(3)]
    with SchemaRegistry() as registry:
        with SchemaRegistryClient({"url": registry.url}) as client:
            serialize = ProtobufSerializer(order, client, {"use.deprecated.format": False})
            send(kafka.bootstrap, topic, [serialize(m, ctx) for m in messages])
            assert "shop/money.proto" in client.get_subjects()
        converter = "io.confluent.connect.protobuf.ProtobufConverter"
        name = f"protobuf-refs-{unique}"
        columns = _land(worker, name, topic, postgres, pg, converter, registry.url, 3)
    assert columns == {
        "id": ("bigint", "NO"),
        "total": ("jsonb", "YES"),
        "currency": ("text", "NO"),
    }
    rows = pg.execute(f'SELECT id, total, currency FROM "{topic}" ORDER BY id').fetchall()
    totals = [r[1] if isinstance(r[1], dict) else json.loads(r[1]) for r in rows]
    assert [(r[0], r[2]) for r in rows] == [(n, ["EUR", "USD", "GBP"][n % 3]) for n in range(3)]
    assert totals == [{"units": 10 * n, "nanos": n} for n in range(3)]
