"""The dev stack's broker behaves like a real Kafka 4.3 for both group protocols."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, Producer

from devstack.kafka import KafkaBroker

RECORDS = 10_000


def _produce(bootstrap: str, topic: str) -> None:
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "compression.type": "zstd",
            "linger.ms": 5,
        }
    )
    for i in range(RECORDS):
        producer.produce(
            topic,
            key=f"call-{i}".encode(),
            value=b'{"n": %d}' % i,
            headers=[("ce-type", b"com.example.call.completed.v1")],
        )
        if i % 1000 == 0:
            producer.poll(0)
    assert producer.flush(30) == 0


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_produce_and_consume_back_with_group_protocol(
    kafka: KafkaBroker, make_topic: Callable[..., str], unique: str, protocol: str
) -> None:
    """10,000 idempotent zstd records with headers come back whole through a consumer group."""
    topic = make_topic("smoke", partitions=3)
    _produce(kafka.bootstrap, topic)
    consumer = Consumer(
        {
            "bootstrap.servers": kafka.bootstrap,
            "group.id": f"smoke-{protocol}-{unique}",
            "group.protocol": protocol,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    seen: set[bytes] = set()
    try:
        for _ in range(300):
            for msg in consumer.consume(1000, 0.5):
                assert msg.error() is None
                assert msg.headers() == [("ce-type", b"com.example.call.completed.v1")]
                key = msg.key()
                assert key is not None
                seen.add(key)
            if len(seen) == RECORDS:
                break
        consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    assert len(seen) == RECORDS


def test_share_groups_deliver_records(
    kafka: KafkaBroker, make_topic: Callable[..., str], unique: str
) -> None:
    """KIP-932 share groups are enabled: a ShareConsumer receives what is produced."""
    import threading

    from confluent_kafka import ShareConsumer

    topic = make_topic("share")
    received: set[bytes] = set()
    with ShareConsumer(
        {"bootstrap.servers": kafka.bootstrap, "group.id": f"share-{unique}"}
    ) as consumer:
        consumer.subscribe([topic])
        # A new share group starts at the log end: keep producing until records arrive.
        stop = threading.Event()

        def keep_producing() -> None:
            producer = Producer({"bootstrap.servers": kafka.bootstrap})
            i = 0
            while not stop.is_set():
                producer.produce(topic, key=b"k%d" % i, value=b"v")
                producer.flush(5)
                i += 1
                stop.wait(0.2)

        feeder = threading.Thread(target=keep_producing)
        feeder.start()
        try:
            for _ in range(100):
                for msg in consumer.poll(0.5):
                    if msg.error() is None and msg.key() is not None:
                        received.add(msg.key())
                if len(received) >= 5:
                    break
        finally:
            stop.set()
            feeder.join()
    assert len(received) >= 5
