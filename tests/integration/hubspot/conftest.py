"""Fixtures for the hubspot sink's integration tests: HubSpot stand-ins and a worker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from devstack.hubspot import HubSpotStub
from devstack.kafka import KafkaBroker
from offramp.worker import Worker
from tests.integration.runtime_support import committed, make_worker, sink_config


@pytest.fixture
def stubs() -> Iterator[Callable[..., HubSpotStub]]:
    """Starts HubSpot stand-ins on loopback: ``stubs(per_10s=5)``; stops them after."""
    started: list[HubSpotStub] = []

    def start(**options: Any) -> HubSpotStub:
        stub = HubSpotStub(**options).start()
        started.append(stub)
        return stub

    yield start
    for stub in started:
        stub.stop()


@pytest.fixture
def worker(kafka: KafkaBroker) -> Iterator[Worker]:
    w = make_worker(kafka.bootstrap)
    yield w
    w.shutdown()


def hubspot_config(topic: str, stub: HubSpotStub, **extra: Any) -> dict[str, Any]:
    """A hubspot connector config: JSON calls keyed by email, into the stand-in's contacts."""
    return sink_config(
        topic,
        "hubspot",
        **{
            "hubspot.access.token": "test-token",
            "hubspot.base.url": stub.url,
            "hubspot.property.email": "email | trim | lower",
            "hubspot.property.last_seq": "seq",
            "hubspot.property.last_agent": "agent",
            "hubspot.property.tenant": "tenant",
            "errors.retry.timeout": "-1",
            "errors.retry.delay.max.ms": "2000",
            **extra,
        },
    )


def committed_offsets(bootstrap: str, group: str, topic: str, partitions: int = 1) -> list[int]:
    """The group's committed offsets, or [] while the group coordinator is still loading
    (a fresh broker answers NOT_COORDINATOR for a moment): for polling in ``wait_for``."""
    from confluent_kafka import KafkaException

    try:
        return committed(bootstrap, group, topic, partitions)
    except KafkaException:
        return []
