"""A worker killed with SIGKILL while writing 20,000 records to the embedded store (Qdrant
Edge, and qdrant-client's local mode): after a clean run every id has exactly one point,
holding its last record."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaException
from qdrant_client import QdrantClient

from devstack.kafka import KafkaBroker
from offramp.connectors.qdrant.clients import edge_storage_in_use, local_storage_in_use
from offramp.connectors.qdrant.edge import EdgeClient
from offramp.connectors.qdrant.point_ids import DEFAULT_NAMESPACE
from tests.conftest import produce, wait_for
from tests.integration.runtime_support import committed, start_standalone_worker

TOTAL = 20_000
IDS = 12_000  # fewer ids than records: later records overwrite earlier points
PARTITIONS = 4


def _vector(n: int) -> list[float]:
    return [float((n * 7 + d) % 13) + 1.0 for d in range(8)]


def _value(n: int) -> bytes:
    return json.dumps({"vector": _vector(n), "seq": n, "key": f"call-{n % IDS}"}).encode()


def _start_worker(
    tmp: Path, store: Path, bootstrap: str, topic: str, name: str, engine: str
) -> subprocess.Popen[bytes]:
    return start_standalone_worker(
        tmp,
        bootstrap,
        name,
        {
            "connector.class": "qdrant",
            "topics": topic,
            "tasks.max": "2",  # two tasks share the process's one client for the path
            "qdrant.path": str(store),
            "qdrant.embedded": engine,
            "qdrant.optimize.points": "5000",  # Edge: index builds happen mid-stream too
            "collection.name": "calls",
            "collection.create": "true",
            "collection.vector.size": "8",
            "collection.distance": "Euclid",
            "key.converter": "string",
            "value.converter": "json",
            "value.converter.schemas.enable": "false",
            "batch.max.records": "500",
            "batch.max.age.ms": "50",
        },
    )


def _handled(bootstrap: str, name: str, topic: str) -> int:
    try:
        offsets = committed(bootstrap, f"connect-{name}", topic, PARTITIONS)
    except KafkaException:  # coordinator busy with the dead member: ask again
        return -1
    return sum(max(0, o) for o in offsets)


@pytest.mark.parametrize("engine", ["edge", "local"])
def test_kill_9_mid_stream_then_a_clean_run_leaves_one_point_per_id_with_its_last_record(
    engine: str,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    tmp_path: Path,
    qdrant_dir: Path,
) -> None:
    """Two SIGKILLs while 20,000 records stream in; after a clean finish the point count
    equals the distinct ids and every payload and vector is the id's last record's."""
    topic, name = make_topic("qcrash", partitions=PARTITIONS), f"qcrash-{unique}"
    store = qdrant_dir / "store"

    def feed() -> None:
        for start in range(0, TOTAL, 1000):
            numbers = range(start, start + 1000)
            produce(
                kafka.bootstrap,
                topic,
                [_value(n) for n in numbers],
                keys=[f"call-{n % IDS}".encode() for n in numbers],
            )
            time.sleep(0.15)

    feeder = threading.Thread(target=feed)
    feeder.start()
    rng = random.Random(11)
    killed_at: list[int] = []
    proc = _start_worker(tmp_path, store, kafka.bootstrap, topic, name, engine)
    try:
        for _ in range(2):
            before = max(0, _handled(kafka.bootstrap, name, topic))
            wait_for(lambda b=before: _handled(kafka.bootstrap, name, topic) > b + 1500, timeout=90)
            time.sleep(rng.uniform(0.0, 0.5))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            killed_at.append(_handled(kafka.bootstrap, name, topic))
            proc = _start_worker(tmp_path, store, kafka.bootstrap, topic, name, engine)
        feeder.join()
        wait_for(lambda: _handled(kafka.bootstrap, name, topic) == TOTAL, timeout=150)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, "SIGTERM ends the worker cleanly with status 0"
        feeder.join()

    in_use = edge_storage_in_use if engine == "edge" else local_storage_in_use
    assert not in_use(str(store)), "the worker let go of the embedded store"
    client: Any = EdgeClient(str(store)) if engine == "edge" else QdrantClient(path=str(store))
    try:
        points, _ = client.scroll("calls", limit=TOTAL, with_payload=True, with_vectors=True)
    finally:
        client.close()
    last = {f"call-{n % IDS}": n for n in range(TOTAL)}
    assert len(points) == len(last) == IDS
    by_id = {str(p.id): p for p in points}
    for key, n in last.items():
        point = by_id[str(uuid.uuid5(DEFAULT_NAMESPACE, key))]
        assert point.payload == {"seq": n, "key": key}
        assert point.vector == _vector(n)
    print(f"killed with {killed_at} of {TOTAL} records committed; {IDS} points as expected")
