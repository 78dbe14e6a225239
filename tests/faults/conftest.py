"""Fixtures for the fault tests. The broker (``kafka``), the session's PostgreSQL
(``postgres``), ``unique`` and ``make_topic`` come from ``tests/conftest.py``; here: a
PostgreSQL server and Kafka brokers of the test's own that can go down and come back
(a three-node cluster, a lone broker), moto's S3 server (``s3_server``, ``s3_client``,
those of the s3 integration tests), and the one-line figures each test reports,
repeated at the end of the run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devstack.kafka import KafkaBroker
from devstack.kafka_cluster import KafkaCluster
from tests.faults.support import RestartablePostgres

# moto's S3 server and a client of it, as the s3 integration tests have them.
from tests.integration.s3.conftest import s3_client, s3_server  # noqa: F401

_FIGURES = pytest.StashKey[list[str]]()


@pytest.fixture
def restartable_postgres() -> Iterator[RestartablePostgres]:
    """A PostgreSQL server for one test, which the test may shut down and restart on the
    same port; it fails loudly if it cannot start."""
    server = RestartablePostgres().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def kafka_cluster() -> Iterator[KafkaCluster]:
    """Three KRaft brokers of the test's own (replication 3, ``min.insync.replicas=2``);
    ``kill(n)``, ``stop_node(n)``, ``start_node(n)`` and ``leader(topic, partition)``."""
    cluster = KafkaCluster(size=3).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def lone_broker(tmp_path: Path) -> Iterator[KafkaBroker]:
    """A single broker of the test's own whose data outlives ``stop()``, so ``start()``
    brings it back on the same port with its topics and committed offsets."""
    broker = KafkaBroker(data_dir=tmp_path / "kafka").start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """``report(line)``: prints a test's one-line figures now (captured with its output)
    and again in the run's terminal summary, where they are seen whether it passed or
    failed."""
    figures = request.config.stash.setdefault(_FIGURES, [])

    def add(line: str) -> None:
        print(line, flush=True)
        figures.append(f"{request.node.name}: {line}")

    return add


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    figures = terminalreporter.config.stash.get(_FIGURES, [])
    if figures:
        terminalreporter.section("fault test figures")
        for line in figures:
            terminalreporter.write_line(line)
