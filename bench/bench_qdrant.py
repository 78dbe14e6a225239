"""Points/s and memory into embedded Qdrant: Qdrant Edge vs qdrant-client local mode,
each through offramp and as a raw loop, every measurement in a process of its own.

Same records (a precomputed ``--dim``-dimensional vector and a small payload, keyed by a
call id), same kind of store: ``--storage`` picks ``disk`` (a directory under the system
temp dir, the default: persistence as a worker has it), ``tmpfs`` (/dev/shm) or
``memory`` (``:memory:``; for Edge a temporary directory). Modes (``--modes``):

- ``raw-edge``: the decoded vectors upserted into one ``qdrant_edge.EdgeShard`` in batches
  of ``--batch``, then ``optimize()`` (the HNSW index build) and ``flush()``, all timed;
- ``raw-local``: ``QdrantClient(path=…).upsert(points=[PointStruct…], wait=True)`` in
  batches of ``--batch`` (local mode builds no index);
- ``offramp-edge`` / ``offramp-local``: the ``qdrant`` connector in an in-process worker
  reads the same records from Kafka, decodes the JSON, checks ids and vectors, builds
  payloads and upserts in batches of ``--batch`` (Edge: optimizing once
  ``qdrant.optimize.points`` are unindexed, flushing on each commit). The connector starts
  paused and joins its group; then it is resumed and timed from its first written batch
  to its last (the rate of the records after the first batch), as bench_runtime.py does.

Each (mode, run) is a fresh ``python bench_qdrant.py --child …`` process, so one mode's
heap never inflates the next one's figures; it reports points/s, peak RSS (VmHWM) and,
at the end, RssAnon (the process's own memory) and RssFile (mapped files: the store's
vectors, which the kernel can drop). ``--grow N`` instead writes N points through the
connector's writer into Edge (no Kafka) and prints RSS every N/10 points: memory as the
collection grows.

    .venv/bin/python bench/bench_qdrant.py [--records 20000] [--dim 384] [--runs 3]
    .venv/bin/python bench/bench_qdrant.py --grow 200000
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any

import orjson
import qdrant_edge as qe
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from qdrant_client import QdrantClient, models

from devstack.kafka import KafkaBroker, produce_waiting
from offramp import RawMessage, SinkRecord, TaskContext, TopicPartition
from offramp.config import load_worker_config
from offramp.connectors.qdrant import QdrantSinkConfig, QdrantWriter
from offramp.connectors.qdrant.edge import EdgeClient
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


MODES = ("raw-edge", "raw-local", "offramp-edge", "offramp-local")


def memory() -> dict[str, float]:
    """This process's peak RSS, RssAnon and RssFile in MB (Linux /proc)."""
    found: dict[str, float] = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "RssAnon", "RssFile"):
                found[key] = int(rest.split()[0]) / 1024
    return found


def new_store(storage: str, engine: str = "local") -> str:
    if storage == "memory" and engine == "local":
        return ":memory:"
    if storage == "memory":
        storage = "tmpfs"
    base = "/dev/shm" if storage == "tmpfs" else None
    return tempfile.mkdtemp(prefix="bench-qdrant-", dir=base)


def drop_store(path: str) -> None:
    if path != ":memory:":
        shutil.rmtree(path, ignore_errors=True)


def raw_edge_run(records: list[tuple[bytes, bytes]], dim: int, storage: str, batch: int) -> float:
    """Points/s of a hand-written Qdrant Edge loop, index build and flush included."""
    decoded = [(key.decode(), orjson.loads(value)) for key, value in records]
    rows = [(call_id, value.pop("vector"), value) for call_id, value in decoded]
    path = new_store(storage, "edge")
    vectors = qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine)
    shard = qe.EdgeShard.create(os.path.join(path, "calls"), qe.EdgeConfig(vectors=vectors))
    try:
        began = time.perf_counter()
        for start in range(0, len(rows), batch):
            points = [qe.Point(i, v, p) for i, v, p in rows[start : start + batch]]
            shard.update(qe.UpdateOperation.upsert_points(points))
        shard.optimize()
        shard.flush()
        elapsed = time.perf_counter() - began
        assert shard.count(qe.CountRequest(exact=True)) == len(rows)
    finally:
        shard.close()
        drop_store(path)
    return len(rows) / elapsed


def raw_run(records: list[tuple[bytes, bytes]], dim: int, storage: str, batch: int) -> float:
    """Points/s of a hand-written local-mode upsert loop over the already-decoded vectors."""
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
    bootstrap: str,
    topic: str,
    count: int,
    dim: int,
    storage: str,
    batch: int,
    tasks: int,
    run: int,
    engine: str = "local",
    optimize_points: int = 20_000,
) -> float:
    """Points/s of the qdrant connector reading the same records from Kafka."""
    path = new_store(storage, engine)
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
        "qdrant.embedded": engine,
        "qdrant.optimize.points": str(optimize_points),
        "qdrant.batch.size": str(batch),
        "collection.name": "calls",
        "collection.create": "true",
        "collection.vector.size": str(dim),
        "key.converter": "string",
        "value.converter": "json",
        "value.converter.schemas.enable": "false",
        "batch.max.records": "1000",
    }
    if True:  # the store is counted after the worker let go of it
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
    if path == ":memory:":
        points = count  # gone with the worker; its write metrics said every one was written
    else:
        client: Any = EdgeClient(path) if engine == "edge" else QdrantClient(path=path)
        try:
            points = client.count("calls").count
        finally:
            client.close()
    drop_store(path)
    if points != count:
        raise RuntimeError(f"{points} points for {count} records")
    return (count - first_count) / elapsed


def grow(points: int, dim: int, storage: str, batch: int, optimize_points: int) -> None:
    """Write ``points`` through the connector's writer into Qdrant Edge, committing every
    10 batches of 1,000 as the runtime would; print memory every ``points``/10."""
    path = new_store(storage, "edge")
    config = QdrantSinkConfig.model_validate(
        {
            "qdrant.path": path,
            "qdrant.batch.size": str(batch),
            "collection.name": "calls",
            "collection.create": "true",
            "collection.vector.size": str(dim),
            "qdrant.optimize.points": str(optimize_points),
        }
    )
    writer = QdrantWriter(config, TaskContext("bench-grow", 0, {}))
    rng = random.Random(7)
    step, report = 1000, max(1000, points // 10)
    began = time.perf_counter()
    print(f"{'points':>9} {'s':>7} {'points/s':>9} {'VmHWM MB':>9} {'RssAnon':>8} {'RssFile':>8}")
    try:
        for start in range(0, points, step):
            records = []
            for i in range(start, start + step):
                value = {
                    "vector": [rng.uniform(-1.0, 1.0) for _ in range(dim)],
                    "tenant": f"tenant-{i % 7}",
                    "duration_s": i % 1800,
                }
                raw = RawMessage("calls", 0, i, str(i).encode(), b"", timestamp=0)
                records.append(SinkRecord(raw, str(i), value))
            assert not writer.write(records)
            done = start + step
            if done % (10 * step) == 0:
                writer.pre_commit({TopicPartition("calls", 0): done})
            if done % report == 0:
                m, elapsed = memory(), time.perf_counter() - began
                print(
                    f"{done:>9,} {elapsed:>7.1f} {done / elapsed:>9,.0f} {m['VmHWM']:>9.0f} "
                    f"{m['RssAnon']:>8.0f} {m['RssFile']:>8.0f}",
                    flush=True,
                )
    finally:
        writer.stop()
        drop_store(path)


def child(args: argparse.Namespace) -> int:
    """One measurement, in this process: prints one JSON line. Only a raw loop holds the
    records in memory (as its input); the connector reads them from Kafka."""
    mode = args.child
    records = make_records(args.records, args.dim) if mode.startswith("raw-") else []
    if mode == "raw-edge":
        rate = raw_edge_run(records, args.dim, args.storage, args.batch)
    elif mode == "raw-local":
        rate = raw_run(records, args.dim, args.storage, args.batch)
    else:
        engine = mode.removeprefix("offramp-")
        rate = offramp_run(
            args.bootstrap,
            args.topic,
            args.records,
            args.dim,
            args.storage,
            args.batch,
            args.tasks,
            args.run,
            engine,
            args.optimize_points,
        )
    print(orjson.dumps({"mode": mode, "points_per_s": rate, **memory()}).decode(), flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=256, help="points per upsert request")
    parser.add_argument("--tasks", type=int, default=1)
    parser.add_argument("--storage", choices=("memory", "tmpfs", "disk"), default="disk")
    parser.add_argument(
        "--modes", default=",".join(MODES), help="comma list of " + ", ".join(MODES)
    )
    parser.add_argument("--grow", type=int, default=0, help="points for the memory-growth run")
    parser.add_argument(
        "--optimize-points", type=int, default=20_000, help="Edge: qdrant.optimize.points"
    )
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--bootstrap", help=argparse.SUPPRESS)
    parser.add_argument("--topic", help=argparse.SUPPRESS)
    parser.add_argument("--run", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.storage == "tmpfs" and not os.path.isdir("/dev/shm"):
        parser.error("--storage tmpfs needs /dev/shm")
    if args.child:
        return child(args)
    if args.grow:
        print(f"growing a Qdrant Edge collection to {args.grow:,} points, {args.dim}-dim")
        grow(args.grow, args.dim, args.storage, args.batch, args.optimize_points)
        return 0
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for mode in modes:
        if mode not in MODES:
            parser.error(f"unknown mode {mode!r}")
    print(f"generating {args.records} records with {args.dim}-dim vectors...", flush=True)
    records = make_records(args.records, args.dim)
    results: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    with KafkaBroker(log_level="WARN") as broker:
        topic = "bench-qdrant"
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(30)
        produce(broker.bootstrap, topic, records)
        print(
            f"Kafka {broker.version}; {args.records} records produced; storage={args.storage}, "
            f"batch={args.batch}, tasks={args.tasks}; one process per measurement",
            flush=True,
        )
        for run in range(1, args.runs + 1):
            for mode in modes:
                command = [sys.executable, __file__, "--child", mode, "--run", str(run)]
                command += ["--bootstrap", broker.bootstrap, "--topic", topic]
                command += ["--records", str(args.records), "--dim", str(args.dim)]
                command += ["--batch", str(args.batch), "--tasks", str(args.tasks)]
                command += ["--storage", args.storage]
                command += ["--optimize-points", str(args.optimize_points)]
                done = subprocess.run(command, capture_output=True, text=True, check=False)
                lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
                if done.returncode != 0 or not lines:
                    print(done.stdout[-2000:], done.stderr[-4000:], file=sys.stderr)
                    raise RuntimeError(f"{mode} run {run} failed ({done.returncode})")
                found = orjson.loads(lines[-1])
                results[mode].append(found)
                print(
                    f"run {run} {mode:<14} {found['points_per_s']:>9,.0f} points/s  "
                    f"peak RSS {found['VmHWM']:>5.0f} MB  RssAnon {found['RssAnon']:>5.0f} MB  "
                    f"RssFile {found['RssFile']:>5.0f} MB",
                    flush=True,
                )
    print(f"medians of {args.runs} runs:")
    for mode, found_runs in results.items():
        med = {k: statistics.median(r[k] for r in found_runs) for k in found_runs[0] if k != "mode"}
        print(
            f"  {mode:<14} {med['points_per_s']:>9,.0f} points/s  "
            f"peak RSS {med['VmHWM']:>5.0f} MB  RssAnon {med['RssAnon']:>5.0f} MB  "
            f"RssFile {med['RssFile']:>5.0f} MB"
        )
    for engine in ("edge", "local"):
        if f"raw-{engine}" in results and f"offramp-{engine}" in results:
            ratio = statistics.median(r["points_per_s"] for r in results[f"offramp-{engine}"]) / (
                statistics.median(r["points_per_s"] for r in results[f"raw-{engine}"])
            )
            print(f"  offramp/raw ({engine}): {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
