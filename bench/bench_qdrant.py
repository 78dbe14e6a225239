"""Points/s into Qdrant through offramp vs raw qdrant-client upserts of the same vectors.

Same records, same run, same kind of store (qdrant-client local mode; ``--storage``
picks ``memory`` (``:memory:``, the strictest: nothing but CPU), ``tmpfs`` (a directory
in /dev/shm) or ``disk`` (a directory under the system temp dir; one sqlite commit per
point)). Each record carries a precomputed ``--dim``-dimensional vector and a small
payload, keyed by a call id.

- raw: the vectors (decoded once, outside the clock) upserted with
  ``client.upsert(points=[PointStruct…], wait=True)`` in batches of ``--batch`` points;
- offramp: the ``qdrant`` connector in an in-process worker reads the same records
  from Kafka, decodes the JSON, checks ids and vectors, builds payloads and upserts in
  batches of ``--batch``. The connector starts paused and joins its group; then it is
  resumed and timed from its first written batch to its last (the rate of the records
  after the first batch), as bench_runtime.py does, so group joins and the fetch ramp
  after resuming don't count.

    .venv/bin/python bench/bench_qdrant.py [--records 20000] [--dim 384] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from typing import Any

import orjson
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from qdrant_client import QdrantClient, models

from devstack.kafka import KafkaBroker, produce_waiting
from offramp.config import load_worker_config
from offramp.connectors.qdrant.clients import borrow_local
from offramp.registry import PluginRegistry
from offramp.worker import Worker

PARTITIONS = 4


def make_records(count: int, dim: int) -> list[tuple[bytes, bytes]]:
    rng = random.Random(7)
    out = []
    for i in range(count):
        call_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        vector = [round(rng.uniform(-1.0, 1.0), 6) for _ in range(dim)]
        value = {
            "vector": vector,
            "call_id": call_id,
            "tenant": f"tenant-{i % 7}",
            "duration_s": i % 1800,
        }
        out.append((call_id.encode(), orjson.dumps(value)))
    return out


def produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.size": 1_000_000})
    for key, value in records:
        produce_waiting(producer, topic, value, key=key)
    assert producer.flush(60) == 0


def new_store(storage: str) -> str:
    if storage == "memory":
        return ":memory:"
    base = "/dev/shm" if storage == "tmpfs" else None
    return tempfile.mkdtemp(prefix="bench-qdrant-", dir=base)


def drop_store(path: str) -> None:
    if path != ":memory:":
        shutil.rmtree(path, ignore_errors=True)


def raw_run(records: list[tuple[bytes, bytes]], dim: int, storage: str, batch: int) -> float:
    """Points/s of a hand-written upsert loop over the already-decoded vectors."""
    decoded = [(key.decode(), orjson.loads(value)) for key, value in records]
    rows = [
        (call_id, value.pop("vector"), value) for call_id, value in decoded
    ]  # vector out, the rest is payload: what the connector stores too
    path = new_store(storage)
    client = QdrantClient(location=path) if path == ":memory:" else QdrantClient(path=path)
    try:
        client.create_collection(
            "calls", vectors_config=models.VectorParams(size=dim, distance=models.Distance.COSINE)
        )
        began = time.perf_counter()
        for start in range(0, len(rows), batch):
            points = [
                models.PointStruct(id=call_id, vector=vector, payload=payload)
                for call_id, vector, payload in rows[start : start + batch]
            ]
            client.upsert("calls", points, wait=True)
        elapsed = time.perf_counter() - began
        assert client.count("calls").count == len(rows)
    finally:
        client.close()
        drop_store(path)
    return len(rows) / elapsed


def offramp_run(
    bootstrap: str, topic: str, count: int, dim: int, storage: str, batch: int, tasks: int, run: int
) -> float:
    """Points/s of the qdrant connector reading the same records from Kafka."""
    path = new_store(storage)
    name = f"bench-qdrant-{run}-{uuid.uuid4().hex[:6]}"
    worker = Worker(
        load_worker_config(
            {"bootstrap.servers": bootstrap, "rest.port": 0, "offset.flush.interval.ms": 1000},
            environ={},
        ),
        PluginRegistry(),
    )
    worker.start()
    config: dict[str, Any] = {
        "connector.class": "qdrant",
        "topics": topic,
        "tasks.max": str(tasks),
        "qdrant.path": path,
        "qdrant.batch.size": str(batch),
        "collection.name": "calls",
        "collection.create": "true",
        "collection.vector.size": str(dim),
        "key.converter": "string",
        "value.converter": "json",
        "value.converter.schemas.enable": "false",
        "batch.max.records": "1000",
    }
    # Hold the store open so the count can be read before the tasks let go of it.
    with borrow_local(path, name) as store:
        try:
            worker.create(name, config, initial_state="PAUSED")
            runners = worker.get(name).tasks
            deadline = time.monotonic() + 60
            while sum(t.metrics.partitions_assigned for t in runners) < PARTITIONS:
                if time.monotonic() > deadline:
                    raise RuntimeError("the connector's tasks were never assigned partitions")
                time.sleep(0.05)
            began = time.perf_counter()
            worker.resume(name)
            first_at, first_count = 0.0, 0
            while (written := sum(t.metrics.records_written for t in runners)) < count:
                now = time.perf_counter()
                if written and not first_count:
                    first_at, first_count = now, written
                if now - began > 600:
                    raise RuntimeError("the connector did not write every record in 600 s")
                time.sleep(0.002)
            elapsed = time.perf_counter() - first_at
            failed = sum(t.metrics.records_failed for t in runners)
            if failed:
                raise RuntimeError(f"{failed} records failed")
        finally:
            worker.shutdown()
        with store.lock:
            points = store.client.count("calls").count
    drop_store(path)
    if points != count:
        raise RuntimeError(f"{points} points for {count} records")
    return (count - first_count) / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=256, help="points per upsert request")
    parser.add_argument("--tasks", type=int, default=1)
    parser.add_argument("--storage", choices=("memory", "tmpfs", "disk"), default="memory")
    args = parser.parse_args()
    if args.storage == "tmpfs" and not os.path.isdir("/dev/shm"):
        parser.error("--storage tmpfs needs /dev/shm")
    print(f"generating {args.records} records with {args.dim}-dim vectors...", flush=True)
    records = make_records(args.records, args.dim)
    with KafkaBroker(log_level="WARN") as broker:
        topic = "bench-qdrant"
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(30)
        produce(broker.bootstrap, topic, records)
        print(
            f"Kafka {broker.version}; {args.records} records produced; storage={args.storage}, "
            f"batch={args.batch}, tasks={args.tasks}",
            flush=True,
        )
        ratios = []
        for run in range(1, args.runs + 1):
            raw = raw_run(records, args.dim, args.storage, args.batch)
            through = offramp_run(
                broker.bootstrap,
                topic,
                args.records,
                args.dim,
                args.storage,
                args.batch,
                args.tasks,
                run,
            )
            ratio = through / raw
            ratios.append(ratio)
            print(
                f"run {run}: raw qdrant-client {raw:,.0f} points/s, offramp {through:,.0f} "
                f"points/s, ratio {ratio:.2f}",
                flush=True,
            )
    print(f"median ratio offramp/raw: {statistics.median(ratios):.2f} (target >= 0.8)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
