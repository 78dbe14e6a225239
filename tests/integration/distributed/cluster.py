"""Several ``offramp distributed`` worker processes of one cluster, for the tests."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.integration.rest.standalone_process import StandaloneWorker


def file_sink(topic: str, out: Path, **extra: str) -> dict[str, Any]:
    return {
        "connector.class": "file",
        "topics": topic,
        "file": str(out),
        "value.converter": "json",
        "value.converter.schemas.enable": "false",
        "batch.max.age.ms": "50",
        **extra,
    }


def numbers(start: int, stop: int) -> list[bytes | None]:
    return [json.dumps({"n": n}).encode() for n in range(start, stop)]


def lines(path: Path) -> list[int]:
    if not path.exists():
        return []
    return [json.loads(line)["n"] for line in path.read_text().splitlines() if line]


def worker_config(bootstrap: str, unique: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap,
        "rest.port": 0,
        "group.id": f"cluster-{unique}",
        "config.storage.topic": f"configs-{unique}",
        "status.storage.topic": f"status-{unique}",
        "offset.flush.interval.ms": 200,
        "consumer.session.timeout.ms": 6000,
        "consumer.heartbeat.interval.ms": 500,
    }


@contextmanager
def cluster(
    directory: Path, bootstrap: str, unique: str, size: int
) -> Iterator[list[StandaloneWorker]]:
    """``size`` workers started at once, each healthy; all stopped afterwards."""
    workers = []
    for i in range(size):
        home = directory / f"worker-{i}"
        home.mkdir()
        workers.append(StandaloneWorker(home, worker_config(bootstrap, unique), [], "distributed"))
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.wait_healthy()
        yield workers
    finally:
        for worker in workers:
            worker.stop()


def until(predicate: Any, timeout: float = 30.0, interval: float = 0.05) -> float:
    """Seconds until ``predicate()`` held (AssertionError after ``timeout``)."""
    began = time.monotonic()
    while not predicate():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"not within {timeout}s")
        time.sleep(interval)
    return time.monotonic() - began
