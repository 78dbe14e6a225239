"""Fixtures for the ``s3`` connector's tests: moto's S3 server on loopback, buckets, a
worker with the connector registered."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from devstack.kafka import KafkaBroker
from devstack.s3 import S3Server
from offramp.connectors.s3 import S3SinkConnector
from offramp.worker import Worker
from tests.integration.runtime_support import make_worker

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 API server on a free loopback port, reached over HTTP by boto3."""
    server = S3Server().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bucket(s3_server: S3Server, unique: str) -> str:
    """A fresh, versioned bucket: every write of a key is kept as its own version."""
    name = f"archive-{unique}"
    s3_server.create_bucket(name, versioned=True)
    return name


@pytest.fixture
def s3_client(s3_server: S3Server) -> Iterator[S3Client]:
    client = s3_server.client()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def worker(kafka: KafkaBroker) -> Iterator[Worker]:
    """An in-process worker on the test broker that knows the ``s3`` connector."""
    w = make_worker(kafka.bootstrap)
    w.registry.register("s3", S3SinkConnector)
    try:
        yield w
    finally:
        w.shutdown()
