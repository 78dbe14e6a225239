"""Distributed mode under worker loss: ``kill -9`` one of three workers mid-stream."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from devstack.kafka import KafkaBroker
from tests.conftest import produce, wait_for
from tests.integration.distributed.cluster import cluster, file_sink, lines, numbers, until

pytestmark = [pytest.mark.fault, pytest.mark.timeout(600)]

ROUNDS = 3


def _kill_one(bootstrap: str, topic: str, home: Path, cluster_id: str) -> float:
    """One fresh cluster of three; seconds from the kill until every record is written."""
    out = home / "out.jsonl"
    with (
        cluster(home, bootstrap, cluster_id, 3) as workers,
        httpx.Client(base_url=workers[0].url, timeout=30.0) as a,
    ):
        body = {"name": "failover", "config": file_sink(topic, out)}
        assert a.post("/connectors", json=body).status_code == 201

        def running_on() -> set[str]:
            tasks = a.get("/connectors/failover/status").json()["tasks"]
            return {t["worker_id"] for t in tasks if t["state"] == "RUNNING"}

        wait_for(lambda: len(running_on()) == 3)
        produce(bootstrap, topic, numbers(0, 600))
        wait_for(lambda: set(lines(out)) == set(range(600)))
        victim = workers[2]
        assert victim.proc is not None
        victim.proc.kill()
        victim.proc.wait()
        produce(bootstrap, topic, numbers(600, 1200))
        took = until(lambda: set(lines(out)) == set(range(1200)), timeout=60)
        dead_id = f"127.0.0.1:{victim.url.rsplit(':', 1)[1]}"
        wait_for(lambda: dead_id not in running_on(), timeout=30)
    return took


def test_killed_workers_partitions_move_with_nothing_lost(
    kafka: KafkaBroker, make_topic: Callable[..., str], unique: str, tmp_path: Path
) -> None:
    """SIGKILL one of three workers while records flow (three rounds, fresh clusters):
    the survivors take its partitions, every record is written (0 lost), and status on
    a survivor stops calling the dead worker's tasks RUNNING. Prints the takeover
    seconds (kill → every record after the kill written) and their median."""
    takeovers = []
    for round_ in range(ROUNDS):
        home = tmp_path / f"round-{round_}"
        home.mkdir()
        topic = make_topic(f"failover{round_}", partitions=6)
        takeovers.append(_kill_one(kafka.bootstrap, topic, home, f"{unique}-{round_}"))
    print(f"takeover seconds: {[round(t, 2) for t in takeovers]}")
    print(f"median {statistics.median(takeovers):.2f}s (consumer session timeout 6 s)")
