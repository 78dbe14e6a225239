"""Fixtures for the REST API's tests: an in-process worker on the real broker, its REST
server on a free port, and an HTTP client talking to it over a real socket."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from devstack.kafka import KafkaBroker
from offramp.rest.server import RestServer
from offramp.worker import Worker
from tests.integration.runtime_support import make_worker


@pytest.fixture
def worker(kafka: KafkaBroker) -> Iterator[Worker]:
    """A worker with the testing sinks registered; shut down after the test."""
    w = make_worker(kafka.bootstrap)
    yield w
    w.shutdown()


@pytest.fixture
def rest(worker: Worker) -> Iterator[RestServer]:
    """The worker's REST API on 127.0.0.1 and a port of its own."""
    server = RestServer(worker).start()
    yield server
    server.stop()


@pytest.fixture
def client(rest: RestServer) -> Iterator[httpx.Client]:
    """An HTTP client for ``rest``."""
    with httpx.Client(base_url=rest.url, timeout=30.0) as c:
        yield c


@pytest.fixture
def serve() -> Iterator[Callable[..., tuple[RestServer, httpx.Client]]]:
    """Starts a REST server for a given worker (and config) with a client; both closed
    after the test. For tests that need their own worker config (auth, TLS)."""
    opened: list[tuple[RestServer, httpx.Client]] = []

    def start(worker: Worker, **client_options: Any) -> tuple[RestServer, httpx.Client]:
        server = RestServer(worker).start()
        http = httpx.Client(base_url=server.url, timeout=30.0, **client_options)
        opened.append((server, http))
        return server, http

    yield start
    for server, http in opened:
        http.close()
        server.stop()
