"""Fixtures for the http and slack sinks' integration tests: stand-ins and a worker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from devstack.kafka import KafkaBroker
from devstack.webhooks import HttpReceiver, LoopbackServer, SlackWebhookStub
from offramp.worker import Worker
from tests.integration.runtime_support import make_worker


@pytest.fixture
def worker(kafka: KafkaBroker) -> Iterator[Worker]:
    w = make_worker(kafka.bootstrap)
    yield w
    w.shutdown()


@pytest.fixture
def stand_ins() -> Iterator[tuple[Callable[..., HttpReceiver], Callable[..., SlackWebhookStub]]]:
    """Starts stand-ins on loopback (``receiver(**options)``, ``slack(**options)``);
    stops them after the test."""
    started: list[LoopbackServer] = []

    def receiver(**options: Any) -> HttpReceiver:
        server = HttpReceiver(**options).start()
        started.append(server)
        return server

    def slack(**options: Any) -> SlackWebhookStub:
        server = SlackWebhookStub(**options).start()
        started.append(server)
        return server

    yield receiver, slack
    for server in started:
        server.stop()
