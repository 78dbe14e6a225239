"""Producing Schema Registry records for the integration tests: confluent-kafka's own
serializers against the devstack registry, through the real broker."""

from __future__ import annotations

import json
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext


def send(bootstrap: str, topic: str, values: list[bytes]) -> None:
    """Produce ``values`` to ``topic`` and wait until the broker has them all."""
    producer = Producer({"bootstrap.servers": bootstrap})
    for value in values:
        producer.produce(topic, value)
    assert producer.flush(30) == 0


def produce_avro(
    url: str, bootstrap: str, topic: str, schema: dict[str, Any], rows: list[Any]
) -> None:
    """``rows`` as AvroSerializer writes them under ``schema`` (registered at ``url``)."""
    with SchemaRegistryClient({"url": url}) as client:
        serialize = AvroSerializer(client, json.dumps(schema))
        ctx = SerializationContext(topic, MessageField.VALUE)
        send(bootstrap, topic, [serialize(row, ctx) for row in rows])
