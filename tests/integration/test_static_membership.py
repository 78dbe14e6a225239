"""Static membership with real ``offramp standalone`` processes: a worker killed with
kill -9 and started again under its ``worker.id`` takes its partitions back without
waiting out its old session, and two processes sharing one ``worker.id`` are told so in
their task status."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
from confluent_kafka.admin import AdminClient

from devstack.kafka import KafkaBroker
from offramp.task.settings import instance_id
from tests.conftest import produce, wait_for
from tests.faults.support import WorkerProcess, file_sink, read_jsonl_numbers

PARTITIONS = 3
# Far longer than the test may take: a restart that had to wait the old session out
# could not finish inside the waits below, so passing proves the hand-over came first.
LONG_SESSION_MS = 120_000


def _produce_numbers(bootstrap: str, topic: str, numbers: range) -> None:
    produce(
        bootstrap,
        topic,
        [orjson.dumps({"n": n}) for n in numbers],
        keys=[str(n).encode() for n in numbers],
    )


def _members(bootstrap: str, group: str) -> list[tuple[str | None, int]]:
    """(group.instance.id, partitions assigned) of each member the broker lists."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    (described,) = admin.describe_consumer_groups([group]).values()
    return [
        (m.group_instance_id, len(m.assignment.topic_partitions))
        for m in described.result(10).members
    ]


def test_a_killed_worker_restarted_under_its_id_takes_its_partitions_back(
    kafka: KafkaBroker, make_topic: Any, unique: str, tmp_path: Path
) -> None:
    """kill -9 and an immediate restart with the same worker.id (classic protocol,
    session.timeout.ms 120 s): the group lists one member, the task's static id, with
    every partition, and the records produced after the restart are written, long
    before the dead member's session could have expired."""
    topic, name = make_topic("static", partitions=PARTITIONS), f"static-{unique}"
    output = tmp_path / "out.jsonl"
    worker = WorkerProcess(
        tmp_path,
        "w",
        kafka.bootstrap,
        "classic",
        {name: file_sink(topic, output, tasks=1, batch_age_ms=50)},
        worker_keys={
            "worker.id": f"node-{unique}",
            "consumer.session.timeout.ms": LONG_SESSION_MS,
        },
    ).start()
    member = instance_id(f"node-{unique}", name, 0)
    try:
        worker.wait_running([name])
        _produce_numbers(kafka.bootstrap, topic, range(0, 300))
        wait_for(lambda: set(read_jsonl_numbers([output])[0]) >= set(range(300)), 30)
        assert _members(kafka.bootstrap, f"connect-{name}") == [(member, PARTITIONS)]

        worker.kill()
        _produce_numbers(kafka.bootstrap, topic, range(300, 600))
        worker.start()
        worker.wait_running([name])
        wait_for(lambda: set(read_jsonl_numbers([output])[0]) >= set(range(600)), 30)
        assert _members(kafka.bootstrap, f"connect-{name}") == [(member, PARTITIONS)]
    finally:
        worker.stop()


def _task_states(url: str, name: str) -> list[tuple[str, str]]:
    try:
        body = httpx.get(f"{url}/connectors/{name}/status", timeout=3.0).json()
    except httpx.HTTPError:
        return []
    return [(t.get("state", ""), t.get("message", "")) for t in body.get("tasks", [])]


def test_two_processes_with_one_worker_id_are_told_in_status(
    kafka: KafkaBroker, make_topic: Any, unique: str, tmp_path: Path
) -> None:
    """Two worker processes run one connector under the same worker.id (classic): the
    newcomer fences the first, whose task is FAILED with a message naming the shared
    worker.id and what to do; the newcomer keeps RUNNING."""
    topic, name = make_topic("fenced", partitions=PARTITIONS), f"fenced-{unique}"
    shared = f"twin-{unique}"
    workers = [
        WorkerProcess(
            tmp_path,
            label,
            kafka.bootstrap,
            "classic",
            {name: file_sink(topic, tmp_path / f"{label}.jsonl", tasks=1, batch_age_ms=50)},
            worker_keys={"worker.id": shared},
        )
        for label in ("first", "second")
    ]
    try:
        workers[0].start().wait_running([name])
        _produce_numbers(kafka.bootstrap, topic, range(50))
        workers[1].start()

        def one_failed() -> bool:
            states = [_task_states(w.url, name) for w in workers]
            return sorted(s[0][0] for s in states if s) == ["FAILED", "RUNNING"]

        wait_for(one_failed, 40)
        assert _task_states(workers[1].url, name)[0][0] == "RUNNING"
        failed = [
            state for w in workers for state in _task_states(w.url, name) if state[0] == "FAILED"
        ]
        (_state, message) = failed[0]
        assert f"worker.id {shared!r}" in message
        assert "Give each worker process its own worker.id" in message
        assert instance_id(shared, name, 0) in message
    finally:
        for w in workers:
            w.stop()
