"""topics.regex over per-tenant topics: a tenant topic created while the connector runs
is consumed within 15 s, and a deleted one is dropped cleanly, on both group protocols."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

import orjson
import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from devstack.kafka import KafkaBroker
from offramp.task.status import TaskState
from offramp.testing import recordings
from offramp.worker import Worker
from tests.conftest import produce, wait_for
from tests.integration.runtime_support import committed, make_worker


@pytest.fixture(params=["classic", "consumer"])
def worker(request: pytest.FixtureRequest, kafka: KafkaBroker) -> Iterator[Worker]:
    w = make_worker(kafka.bootstrap, protocol=request.param)
    yield w
    w.shutdown()


def _create(admin: AdminClient, *topics: str) -> None:
    for future in admin.create_topics([NewTopic(t, 1, 1) for t in topics]).values():
        future.result(30)


def _delete(admin: AdminClient, *topics: str) -> None:
    for future in admin.delete_topics(list(topics)).values():
        with contextlib.suppress(Exception):
            future.result(30)


def _assigned_topics(admin: AdminClient, group: str) -> set[str]:
    """The topics the broker has assigned to the group's members (either protocol)."""
    (described,) = admin.describe_consumer_groups([group]).values()
    return {
        tp.topic
        for member in described.result(10).members
        for tp in member.assignment.topic_partitions
    }


def _values(tenant: str, count: int) -> list[bytes]:
    return [orjson.dumps({"tenant": tenant, "n": i}) for i in range(count)]


def _got(name: str, topic: str) -> int:
    return sum(1 for r in recordings(name) if r.topic == topic)


def test_a_tenant_topic_created_or_deleted_at_runtime(
    worker: Worker, kafka: KafkaBroker, unique: str, caplog: pytest.LogCaptureFixture
) -> None:
    """With no consumer overrides, a tenant topic created after the connector started is
    consumed within 15 s; deleting another tenant's topic leaves the task RUNNING, the
    remaining tenants consumed and committed, and no repeated consumer errors."""
    prefix = f"tenant.{unique}."
    first, gone, later = (f"{prefix}{t}.calls" for t in ("acme", "gone", "late"))
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
    _create(admin, first, gone)
    try:
        produce(kafka.bootstrap, first, _values("acme", 10))
        produce(kafka.bootstrap, gone, _values("gone", 10))
        name, group = f"tenants-{unique}", f"connect-tenants-{unique}"
        worker.create(
            name,
            {
                "connector.class": "recording",
                "topics.regex": f"tenant\\.{unique}\\.[a-z]+\\.calls",
                "value.converter": "json",
                "value.converter.schemas.enable": "false",
                "batch.max.age.ms": "100",
            },
        )
        wait_for(lambda: _got(name, first) == 10 and _got(name, gone) == 10, timeout=30)

        created = time.monotonic()
        _create(admin, later)
        produce(kafka.bootstrap, later, _values("late", 10))
        wait_for(lambda: _got(name, later) == 10, timeout=60, interval=0.05)
        print(f"new tenant topic consumed {time.monotonic() - created:.1f} s after its creation")
        wait_for(lambda: committed(kafka.bootstrap, group, later) == [10], timeout=10)

        caplog.set_level(logging.WARNING, logger="offramp")
        _delete(admin, gone)
        produce(kafka.bootstrap, first, _values("acme", 10))
        produce(kafka.bootstrap, later, _values("late", 10))
        wait_for(lambda: _got(name, first) == 20 and _got(name, later) == 20, timeout=15)
        wait_for(
            lambda: (
                committed(kafka.bootstrap, group, first) == [20]
                and committed(kafka.bootstrap, group, later) == [20]
            ),
            timeout=10,
        )
        wait_for(lambda: gone not in _assigned_topics(admin, group), timeout=15)
        (task,) = worker.get(name).tasks
        assert task.status.state is TaskState.RUNNING
        assert task.metrics.restarts == 0
        errors = [r for r in caplog.records if "consumer error" in r.getMessage()]
        assert len(errors) <= 2, [r.getMessage() for r in errors]  # not a loop
    finally:
        _delete(admin, first, later, gone)
