"""Broker faults under a steady producer and a file sink: ``kill -9`` of the broker that
leads every partition of the connector's topic in a three-node cluster, and a lone
broker stopped for ``FAULT_OUTAGE_SECONDS`` (60 by default) and started again. Nothing
acknowledged may be lost, no task may fail, and the worker resumes by itself."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from devstack.kafka import KafkaBroker
from devstack.kafka_cluster import KafkaCluster
from tests.faults.support import (
    Claims,
    KeyedFeeder,
    StatusSampler,
    WorkerProcess,
    count_lines,
    end_offsets,
    env_number,
    hold,
    read_jsonl_numbers,
    wait_until,
)
from tests.integration.sql.support import group_offsets

OUTAGE = env_number("FAULT_OUTAGE_SECONDS", 60)
RATE = env_number("FAULT_RATE", 200)
WARMUP = 15.0
AFTER = 20.0  # records keep flowing this long after the broker is back
PARTITIONS = 3
DRAIN_TIMEOUT = 180.0
PROTOCOLS = ["classic", "consumer"]
# The readiness probe checks Kafka at most every 5 s and waits up to 3 s for it: from
# this far into the outage on, every /health answer must report it.
HEALTH_LAG = 10.0

pytestmark = [
    pytest.mark.fault,
    pytest.mark.timeout(int(WARMUP + OUTAGE + AFTER + DRAIN_TIMEOUT + 300)),
]


def _file_connector(topic: str, output: Path) -> dict[str, Any]:
    return {
        "connector.class": "file",
        "topics": topic,
        "file": str(output),
        "key.converter": "string",
        "value.converter": "json",
        "value.converter.schemas.enable": "false",
        "batch.max.records": "500",
        "batch.max.age.ms": "100",
    }


def _create_topic(bootstrap: str, topic: NewTopic) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([topic], operation_timeout=60)[topic.topic].result(90)


def _drained(
    bootstrap: str, output: Path, acked: set[int], group: str, topic: str, ends: list[int]
) -> Callable[[], bool]:
    def check() -> bool:
        return acked <= set(read_jsonl_numbers([output])[0]) and (
            group_offsets(bootstrap, group, topic, PARTITIONS) == ends
        )

    return check


def _seconds(value: float | None) -> str:
    return f"{value:.1f}s" if value is not None else "NEVER"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_kill_9_of_the_partition_leader_loses_nothing(
    kafka_cluster: KafkaCluster,
    unique: str,
    tmp_path: Path,
    protocol: str,
    report: Callable[[str], None],
) -> None:
    """With three brokers, kill -9 of the one leading every partition of the connector's
    topic mid-stream loses no acknowledged record and fails no task; the file sink goes
    on from the new leaders and the broker rejoins when started again."""
    cluster, victim = kafka_cluster, 1
    topic, name = f"leader-{unique}", f"leader-file-{unique}"
    # Node 1 is the preferred leader of every partition: killing it moves them all.
    assignment = [[1, 2, 3], [1, 3, 2], [1, 2, 3]]
    _create_topic(cluster.bootstrap, NewTopic(topic, PARTITIONS, replica_assignment=assignment))
    output = tmp_path / "file.jsonl"
    worker = WorkerProcess(
        tmp_path, "worker", cluster.bootstrap, protocol, {name: _file_connector(topic, output)}
    )
    feeder = KeyedFeeder(cluster.bootstrap, [topic], RATE)
    sampler = StatusSampler(worker, [name], {"lines": lambda: count_lines(output)})
    try:
        worker.start().wait_running([name])
        feeder.start()
        sampler.start()
        hold(WARMUP, [worker], [feeder, sampler])
        leaders_before = [cluster.leader(topic, p) for p in range(PARTITIONS)]
        lines_at_kill = count_lines(output)
        down = time.monotonic()
        cluster.kill(victim)
        resumed = wait_until(lambda: count_lines(output) > lines_at_kill + RATE, 120)
        leaders_after = [cluster.leader(topic, p) for p in range(PARTITIONS)]
        hold(max(0.0, OUTAGE - (time.monotonic() - down)), [worker], [feeder, sampler])
        cluster.start_node(victim)
        up = time.monotonic()
        hold(AFTER, [worker], [feeder, sampler])
        feeder.stop()
        ends = end_offsets(cluster.bootstrap, topic, PARTITIONS)
        acked = set(feeder.acked[topic])
        drain = wait_until(
            _drained(cluster.bootstrap, output, acked, f"connect-{name}", topic, ends),
            DRAIN_TIMEOUT,
        )
        sampler.stop()
        exit_status = worker.stop()
    finally:
        for part in (feeder, sampler, worker):
            with contextlib.suppress(BaseException):
                part.stop()

    numbers, torn = read_jsonl_numbers([output])
    written = Counter(numbers)
    missing = len(acked - written.keys())
    duplicates = sum(c - 1 for c in written.values())
    not_running = sampler.not_running(name)
    failed = sum(1 for _, state, _ in not_running if state == "FAILED")
    restarts = sampler.metric_max("offramp_task_restarts_total", name)
    claims = Claims()
    claims.check("node 1 led every partition before the kill", leaders_before == [victim] * 3)
    claims.check("leadership moved off the killed node", victim not in leaders_after)
    claims.check("the topic holds each acknowledged record once", sum(ends) == len(acked))
    claims.check("nothing lost", missing == 0)
    claims.check("no task ever FAILED", failed == 0)
    claims.check("no task restart", restarts == 0)
    claims.check("writes resumed by themselves", resumed is not None)
    claims.check(f"drained within {DRAIN_TIMEOUT:.0f}s", drain is not None)
    claims.check("every line a whole record", torn == 0)
    claims.check("SIGTERM stops the worker with 0", exit_status == 0)
    report(
        f"protocol={protocol} brokers=3 killed=node{victim} leaders={leaders_before}->"
        f"{leaders_after} node_down={up - down:.0f}s produced={feeder.produced} "
        f"acked={len(acked)} written={len(numbers)} lost={missing} duplicates={duplicates} "
        f"resumed_after={_seconds(resumed)} not_running_samples={len(not_running)} "
        f"failed_samples={failed} restarts={restarts} drain={_seconds(drain)} "
        f"{claims.verdict}"
    )
    if not_running:
        print("first non-RUNNING sample:", not_running[0])
    claims.verify()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_lone_broker_outage_loses_nothing_and_health_reports_it(
    lone_broker: KafkaBroker,
    unique: str,
    tmp_path: Path,
    protocol: str,
    report: Callable[[str], None],
) -> None:
    """The only broker stopped for 60 s and started again: nothing lost, no task FAILED,
    the sink resumes by itself; /health answers 500 naming Kafka while it is down and
    200 after, /health/live answers 200 throughout."""
    broker = lone_broker
    topic, name = f"outage-{unique}", f"outage-file-{unique}"
    _create_topic(broker.bootstrap, NewTopic(topic, PARTITIONS, 1))
    output = tmp_path / "file.jsonl"
    worker = WorkerProcess(
        tmp_path, "worker", broker.bootstrap, protocol, {name: _file_connector(topic, output)}
    )
    feeder = KeyedFeeder(broker.bootstrap, [topic], RATE)
    sampler = StatusSampler(worker, [name], {"lines": lambda: count_lines(output)})
    health: list[tuple[float, int | None, int | None, str]] = []  # at, /health, /live, why

    def probe(client: httpx.Client) -> None:
        codes: list[int | None] = []
        why = ""
        for path in ("/health", "/health/live"):
            try:
                answer = client.get(f"{worker.url}{path}")
                codes.append(answer.status_code)
                if path == "/health":
                    why = str(answer.json().get("message", ""))
            except httpx.HTTPError:
                codes.append(None)
        health.append((time.monotonic(), codes[0], codes[1], why))

    try:
        worker.start().wait_running([name])
        feeder.start()
        sampler.start()
        hold(WARMUP, [worker], [feeder, sampler])
        with httpx.Client(timeout=5.0) as client:
            down = time.monotonic()
            broker.stop()
            while time.monotonic() - down < OUTAGE:
                hold(1.0, [worker], [feeder, sampler])
                probe(client)
            lines_at_restart = count_lines(output)
            broker.start()
            up = time.monotonic()
            resumed = wait_until(lambda: count_lines(output) > lines_at_restart, 120)
            ready = wait_until(lambda: worker.healthy(client), 60)
            probe(client)
        hold(AFTER, [worker], [feeder, sampler])
        feeder.stop()
        ends = end_offsets(broker.bootstrap, topic, PARTITIONS)
        acked = set(feeder.acked[topic])
        drain = wait_until(
            _drained(broker.bootstrap, output, acked, f"connect-{name}", topic, ends),
            DRAIN_TIMEOUT,
        )
        sampler.stop()
        exit_status = worker.stop()
    finally:
        for part in (feeder, sampler, worker):
            with contextlib.suppress(BaseException):
                part.stop()

    numbers, torn = read_jsonl_numbers([output])
    written = Counter(numbers)
    missing = len(acked - written.keys())
    duplicates = sum(c - 1 for c in written.values())
    not_running = sampler.not_running(name)
    failed = sum(1 for _, state, _ in not_running if state == "FAILED")
    settled = [h for h in health if down + HEALTH_LAG <= h[0] < up]
    reported = [h for h in settled if h[1] == 500 and "Kafka" in h[3]]
    live = [h for h in health if h[2] == 200]
    claims = Claims()
    claims.check("the topic holds each acknowledged record once", sum(ends) == len(acked))
    claims.check("nothing lost", missing == 0)
    claims.check("no task ever FAILED", failed == 0)
    claims.check("writes resumed by themselves", resumed is not None)
    claims.check("/health 200 again after the outage", ready is not None)
    claims.check("/health sampled through the outage", len(settled) >= (OUTAGE - HEALTH_LAG) / 2)
    claims.check("/health reported the outage at every settled sample", reported == settled)
    claims.check("/health/live 200 at every sample", len(live) == len(health))
    claims.check(f"drained within {DRAIN_TIMEOUT:.0f}s", drain is not None)
    claims.check("every line a whole record", torn == 0)
    claims.check("SIGTERM stops the worker with 0", exit_status == 0)
    report(
        f"protocol={protocol} brokers=1 outage={up - down:.0f}s produced={feeder.produced} "
        f"acked={len(acked)} written={len(numbers)} lost={missing} duplicates={duplicates} "
        f"resumed_after={_seconds(resumed)} ready_after={_seconds(ready)} "
        f"health_500_samples={len(reported)}/{len(settled)} live_200_samples="
        f"{len(live)}/{len(health)} not_running_samples={len(not_running)} "
        f"failed_samples={failed} drain={_seconds(drain)} {claims.verdict}"
    )
    if settled:
        print("a /health answer during the outage:", settled[len(settled) // 2])
    if not_running:
        print("first non-RUNNING sample:", not_running[0])
    claims.verify()
