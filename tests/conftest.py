"""Shared fixtures: one real Kafka broker and one PostgreSQL server per test session (each
started on first use), and unique names per test."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from devstack.kafka import KafkaBroker, produce_waiting
from devstack.postgres import PostgresServer
from offramp import BatchWriter


@pytest.fixture(scope="session")
def kafka() -> Iterator[KafkaBroker]:
    """A real Apache Kafka 4.3 broker; it fails the session loudly if it cannot start."""
    broker = KafkaBroker().start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster on a free loopback port; it fails the session loudly
    if it cannot start (never skipped). Shared by the SQL integration and fault tests."""
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg(postgres: PostgresServer) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """An autocommit psycopg connection for a test's own queries."""
    with psycopg.connect(postgres.conninfo(), autocommit=True) as conn:
        yield conn


@pytest.fixture
def unique() -> str:
    """A short suffix so each test's topics, groups and tables never collide."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def make_topic(kafka: KafkaBroker, unique: str) -> Iterator[object]:
    """Creates uniquely named topics: ``make_topic("calls", partitions=3)``."""
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
    created: list[str] = []

    def create(prefix: str = "t", partitions: int = 1, config: dict[str, str] | None = None) -> str:
        name = f"{prefix}-{unique}-{len(created)}"
        futures = admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})]
        )
        futures[name].result(30)
        created.append(name)
        return name

    yield create
    if created:
        for future in admin.delete_topics(created).values():
            with contextlib.suppress(Exception):  # a test may have deleted it already
                future.result(30)


def produce(
    bootstrap: str,
    topic: str,
    values: list[bytes | None],
    keys: list[bytes | None] | None = None,
    headers: list[tuple[str, bytes]] | None = None,
    partition: int | None = None,
) -> None:
    """Produce ``values`` (with ``keys``) idempotently and wait for every ack."""
    from confluent_kafka import Producer

    producer = Producer(
        {"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5}
    )
    for i, value in enumerate(values):
        key = keys[i] if keys else None
        extra = {"partition": partition} if partition is not None else {}
        produce_waiting(producer, topic, value, key=key, headers=headers, **extra)
        if i % 5000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0


def wait_for(predicate: object, timeout: float = 60.0, interval: float = 0.2) -> None:
    """Poll ``predicate()`` until true; fail with its last value after ``timeout``."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


@pytest.fixture
def writers() -> Iterator[list[BatchWriter]]:
    """Writers a test opens (it appends them); stopped at the end even if it failed."""
    opened: list[BatchWriter] = []
    yield opened
    for writer in opened:
        writer.stop()
