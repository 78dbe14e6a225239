"""ProtobufConverter over the devstack registry: a message from confluent-kafka's
ProtobufSerializer (a class built from a descriptor, as protoc would) decodes by name."""

from __future__ import annotations

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.message_factory import GetMessageClass

from devstack.schema_registry import SchemaRegistry
from offramp.converters import ConvertedBatch, create_converter
from offramp.schemas.converters import RegistryConverter
from tests.protobuf_files import referencing_order_class


def _order_class() -> type:
    proto = descriptor_pb2.FileDescriptorProto(name="order.proto", package="shop", syntax="proto3")
    message = proto.message_type.add(name="Order")
    types = descriptor_pb2.FieldDescriptorProto
    message.field.add(name="id", number=1, type=types.TYPE_INT64, label=types.LABEL_OPTIONAL)
    message.field.add(name="sku", number=2, type=types.TYPE_STRING, label=types.LABEL_OPTIONAL)
    message.field.add(name="tags", number=3, type=types.TYPE_STRING, label=types.LABEL_REPEATED)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return GetMessageClass(pool.FindMessageTypeByName("shop.Order"))


def _convert(url: str, datas: list[bytes | None]) -> ConvertedBatch:
    """``datas`` through a ProtobufConverter of the registry at ``url``."""
    conv = create_converter(
        "io.confluent.connect.protobuf.ProtobufConverter", {"schema.registry.url": url}, False
    )
    assert isinstance(conv, RegistryConverter)
    try:
        return conv.convert_batch(datas, None)
    finally:
        conv.close()


def test_protobuf_round_trip_and_schema() -> None:
    """Fields by name with 64-bit ints kept as ints; the Connect schema names each field."""
    order_class = _order_class()
    with SchemaRegistry() as registry:
        with SchemaRegistryClient({"url": registry.url}) as client:
            ser = ProtobufSerializer(order_class, client, {"use.deprecated.format": False})
            ctx = SerializationContext("orders", MessageField.VALUE)
            data = ser(order_class(id=2**40, sku="A-1", tags=["x", "y"]), ctx)
        conv = create_converter(
            "io.confluent.connect.protobuf.ProtobufConverter",
            {"schema.registry.url": registry.url},
            False,
        )
        assert isinstance(conv, RegistryConverter)
        try:
            batch = conv.convert_batch([data, b"\x00\x00\x00\x00\x01\x00\xff\xff"], None)
        finally:
            conv.close()
    assert 0 not in batch.errors, batch.errors
    assert batch.values[0] == {"id": 2**40, "sku": "A-1", "tags": ["x", "y"]}
    assert set(batch.errors) == {1}
    assert batch.schemas is not None
    fields = {f["field"]: f["type"] for f in batch.schemas[0]["fields"]}
    assert fields == {"id": "int64", "sku": "string", "tags": "array"}


def test_protobuf_schema_with_references_decodes() -> None:
    """A message whose file imports another registered file (``references``) decodes,
    the imported message and enum by name, and its Connect schema nests the import."""
    order_class = referencing_order_class()
    money = order_class.DESCRIPTOR.fields_by_name["total"].message_type._concrete_class
    with SchemaRegistry() as registry:
        with SchemaRegistryClient({"url": registry.url}) as client:
            ser = ProtobufSerializer(order_class, client, {"use.deprecated.format": False})
            ctx = SerializationContext("orders-refs", MessageField.VALUE)
            data = ser(order_class(id=7, total=money(units=12, nanos=5), currency=1), ctx)
            subjects = client.get_subjects()
        batch = _convert(registry.url, [data])
    assert "shop/money.proto" in subjects  # the serializer registered the import
    assert batch.errors == {}, batch.errors
    assert batch.values == [{"id": 7, "total": {"units": 12, "nanos": 5}, "currency": "USD"}]
    assert batch.schemas is not None
    fields = {f["field"]: f for f in batch.schemas[0]["fields"]}
    assert fields["total"]["name"] == "shop.common.Money"
    assert [f["field"] for f in fields["total"]["fields"]] == ["units", "nanos"]
    assert fields["currency"]["type"] == "string"


def test_a_reference_the_registry_lost_fails_the_record_naming_it() -> None:
    """A referenced subject deleted before the sink reads: that record fails to convert
    (dead-lettered under errors.tolerance=all) with the reference named, not retried."""
    order_class = referencing_order_class()
    with SchemaRegistry() as registry:
        with SchemaRegistryClient({"url": registry.url}) as client:
            ser = ProtobufSerializer(order_class, client, {"use.deprecated.format": False})
            data = ser(order_class(id=1), SerializationContext("orders-lost", MessageField.VALUE))
            client.delete_subject("shop/money.proto")
        batch = _convert(registry.url, [data])
    assert "reference 'shop/money.proto' (subject 'shop/money.proto' version 1)" in str(
        batch.errors[0]
    )
    assert "is not in the registry (40401" in str(batch.errors[0])
