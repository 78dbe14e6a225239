"""Fixtures for the ``sql`` connector's tests: a real MariaDB server for the session, and
an in-process worker on the test broker. The PostgreSQL server (``postgres``, ``pg``) is
in ``tests/conftest.py``, shared with the fault tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.kafka import KafkaBroker
from devstack.mariadb import MariaDBServer
from offramp.worker import Worker
from tests.integration.runtime_support import make_worker


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
def worker(kafka: KafkaBroker) -> Iterator[Worker]:
    """An in-process worker on the test broker; ``sql`` comes from its entry point."""
    w = make_worker(kafka.bootstrap)
    try:
        yield w
    finally:
        w.shutdown()
