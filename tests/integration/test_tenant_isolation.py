"""One tenant's flood doesn't hold back another tenant's few records: they are written
while the flood is still draining (order of completion, not wall-clock)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence

import pytest

from devstack.kafka import KafkaBroker
from offramp import BatchWriter, ConfigModel, RecordFailure, SinkConnector, SinkRecord, TaskContext
from offramp.worker import Worker
from tests.conftest import produce, wait_for
from tests.integration.runtime_support import make_worker
from tests.integration.tenant_support import regex_config, tenant_topics

FLOOD = 60_000
QUIET = 5


class _Log:
    """Per write, its records' topics in order, across the test's one connector."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.topics: list[str] = []

    def count(self, topic: str) -> int:
        with self.lock:
            return self.topics.count(topic)


LOG = _Log()


class SlowConfig(ConfigModel):
    pass


class _SlowWriter(BatchWriter):
    """A sink that takes 10 ms a write, as a remote store does: the flood drains for
    seconds."""

    def write(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure] | None:
        time.sleep(0.01)
        with LOG.lock:
            LOG.topics.extend(r.topic for r in records)
        return None


class SlowConnector(SinkConnector[SlowConfig]):
    config_model = SlowConfig

    def create_writer(self, config: SlowConfig, context: TaskContext) -> BatchWriter:
        return _SlowWriter()


@pytest.fixture
def worker(kafka: KafkaBroker) -> Iterator[Worker]:
    w = make_worker(kafka.bootstrap)
    w.registry.register("slow", SlowConnector)
    try:
        yield w
    finally:
        w.shutdown()


def test_a_quiet_tenant_is_written_while_another_tenants_flood_drains(
    worker: Worker, kafka: KafkaBroker, unique: str
) -> None:
    """With tasks.max=1 and 60 000 records queued on acme's topic, 5 records produced
    to globex's once the flood is being written are all written before the flood is:
    the fetch queue doesn't hold a whole tenant's backlog ahead of the others."""
    LOG.topics.clear()
    with tenant_topics(kafka.bootstrap, unique) as topics:
        flood, quiet = topics["acme"], topics["globex"]
        produce(
            kafka.bootstrap,
            flood,
            [b'{"call": "%d", "pad": "%s"}' % (i, b"x" * 150) for i in range(FLOOD)],
        )
        worker.create(
            f"isolation-{unique}",
            regex_config(
                {
                    "connector.class": "slow",
                    "key.converter": "bytearray",
                    "value.converter": "bytearray",
                    "batch.max.records": "500",
                    "tasks.max": "1",
                },
                unique,
            ),
        )
        wait_for(lambda: LOG.count(flood) > 0, timeout=60)
        produce(kafka.bootstrap, quiet, [b"quiet-%d" % i for i in range(QUIET)])
        sent_at_flood = LOG.count(flood)  # the quiet records are in Kafka now
        wait_for(lambda: LOG.count(quiet) == QUIET, timeout=120)
        with LOG.lock:
            last_quiet = max(i for i, t in enumerate(LOG.topics) if t == quiet)
            flood_before = LOG.topics[:last_quiet].count(flood)
        print(
            f"quiet tenant written after {flood_before - sent_at_flood} flood records "
            f"(of {FLOOD - sent_at_flood} left when its produce returned)"
        )
        assert flood_before < FLOOD
        wait_for(lambda: LOG.count(flood) == FLOOD, timeout=120)
