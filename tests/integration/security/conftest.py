"""One broker with SASL_SSL (SCRAM-SHA-512 and PLAIN) and mutual-TLS listeners for the
security tests, and what they share: a topic of 200 records, worker builders."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from devstack.kafka import KafkaBroker
from offramp.worker import Worker
from tests.integration.runtime_support import make_worker
from tests.integration.security.support import OTHER_PASSWORD, OTHER_USER, PASSWORD, USER


@pytest.fixture(scope="package")
def secure_kafka() -> Iterator[KafkaBroker]:
    """A broker of its own with SASL_SSL (SCRAM users made at format) and mTLS listeners."""
    broker = KafkaBroker(users={USER: PASSWORD, OTHER_USER: OTHER_PASSWORD}).start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def topic(secure_kafka: KafkaBroker, unique: str) -> str:
    """A topic holding 200 JSON records ``{"n": 0..199}``, made over the plaintext
    listener."""
    name = f"secure-{unique}"
    admin = AdminClient({"bootstrap.servers": secure_kafka.bootstrap})
    admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])[name].result(30)
    # Not tests.conftest.produce: an idempotent producer waits for a fresh broker's
    # transaction coordinator to load, seconds this package has no need to spend.
    producer = Producer({"bootstrap.servers": secure_kafka.bootstrap, "linger.ms": 5})
    for i in range(200):
        producer.produce(name, orjson.dumps({"n": i}), partition=i % 2)
    assert producer.flush(30) == 0
    return name


@pytest.fixture
def workers() -> Iterator[Callable[..., Worker]]:
    """Builds in-process workers (shut down after the test)."""
    made: list[Worker] = []

    def build(bootstrap: str, **extra: Any) -> Worker:
        made.append(make_worker(bootstrap, **extra))
        return made[-1]

    yield build
    for worker in made:
        worker.shutdown()
