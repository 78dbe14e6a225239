"""Protobuf message classes for the tests, built from descriptors as protoc would
compile them: ``shop/order.proto`` imports ``shop/money.proto``, so confluent-kafka's
ProtobufSerializer registers the imported file as a schema of its own and the order's
schema names it in ``references``."""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.message_factory import GetMessageClass

__all__ = ["referencing_order_class"]


def referencing_order_class() -> type:
    """``shop.Order`` (in ``shop/order.proto``) whose ``total`` is a ``shop.common.Money``
    and ``currency`` a ``shop.common.Currency``, both from ``shop/money.proto``."""
    types = descriptor_pb2.FieldDescriptorProto
    optional = types.LABEL_OPTIONAL
    money_file = descriptor_pb2.FileDescriptorProto(
        name="shop/money.proto", package="shop.common", syntax="proto3"
    )
    currency = money_file.enum_type.add(name="Currency")
    for number, code in enumerate(("EUR", "USD", "GBP")):
        currency.value.add(name=code, number=number)
    money = money_file.message_type.add(name="Money")
    money.field.add(name="units", number=1, type=types.TYPE_INT64, label=optional)
    money.field.add(name="nanos", number=2, type=types.TYPE_INT32, label=optional)
    order_file = descriptor_pb2.FileDescriptorProto(
        name="shop/order.proto",
        package="shop",
        syntax="proto3",
        dependency=["shop/money.proto"],
    )
    order = order_file.message_type.add(name="Order")
    order.field.add(name="id", number=1, type=types.TYPE_INT64, label=optional)
    order.field.add(
        name="total",
        number=2,
        type=types.TYPE_MESSAGE,
        type_name=".shop.common.Money",
        label=optional,
    )
    order.field.add(
        name="currency",
        number=3,
        type=types.TYPE_ENUM,
        type_name=".shop.common.Currency",
        label=optional,
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(money_file)
    pool.Add(order_file)
    return GetMessageClass(pool.FindMessageTypeByName("shop.Order"))
