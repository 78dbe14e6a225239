"""One connector over 2 000 single-partition tenant topics vs one topic of 24 partitions.

The same records (``--per-tenant`` per tenant, call events) go to both layouts on one
fresh broker; each layout is then drained by a worker in its own process (so its peak
RSS is its own) through a no-op sink with ``tasks.max=1``: ``topics.regex`` over the
tenant topics, ``topics`` for the 24-partition topic. Printed per layout: start-up (the
connector created → its first record written, and → a record of every topic written),
throughput (first record to last), the worker's peak RSS; for the tenant layout also how
long a tenant topic created after the drain takes to be consumed.

    .venv/bin/python bench/bench_tenants.py [--tenants 2000] [--per-tenant 200]
        [--protocol classic|consumer] [--rounds 1]

``--rounds N`` drains both layouts N times, alternating, each round with fresh groups,
and prints the median ratio: on a shared machine one pair of drains moves by a third.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from devstack.generator import call_events
from devstack.kafka import KafkaBroker, produce_waiting
from offramp import BatchWriter, ConfigModel, RecordFailure, SinkConnector, SinkRecord, TaskContext
from offramp.config import load_worker_config
from offramp.registry import PluginRegistry
from offramp.worker import Worker

SINGLE = "single24"


class _Seen:
    """What the no-op sink has written, per topic, with the times that matter."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0
        self.first = 0.0
        self.last = 0.0
        self.topics: set[str] = set()
        self.all_topics_at = 0.0
        self.want_topics = 0
        self.target = 0
        self.done = threading.Event()
        self.watch: str | None = None
        self.watch_seen = threading.Event()


SEEN = _Seen()


class NoopConfig(ConfigModel):
    pass


class NoopWriter(BatchWriter):
    def write(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure] | None:
        s, now = SEEN, time.perf_counter()
        with s.lock:
            if not s.count:
                s.first = now
            s.count += len(records)
            s.topics.update(r.topic for r in records)
            if not s.all_topics_at and len(s.topics) >= s.want_topics:
                s.all_topics_at = now
            if s.watch is not None and s.watch in s.topics:
                s.watch_seen.set()
            if s.count >= s.target and not s.done.is_set():
                s.last = now
                s.done.set()
        return None


class NoopConnector(SinkConnector[NoopConfig]):
    config_model = NoopConfig

    def create_writer(self, config: NoopConfig, context: TaskContext) -> BatchWriter:
        return NoopWriter()


@dataclass
class Figures:
    layout: str
    first_record_s: float
    all_topics_s: float
    records_per_s: float
    peak_rss_mb: float
    new_topic_s: float | None


def _produce(bootstrap: str, topics: list[str], per_topic: int) -> None:
    values = [e.value for e in call_events(1000)]
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 20, "compression.type": "lz4"}
    )
    i = 0
    for _ in range(per_topic):
        for topic in topics:
            produce_waiting(producer, topic, values[i % 1000], key=b"%d" % i)
            i += 1
    producer.flush(300)


def _create(admin: AdminClient, topics: list[str], partitions: int = 1) -> None:
    for start in range(0, len(topics), 200):  # the controller takes batches in its stride
        chunk = topics[start : start + 200]
        futures = admin.create_topics([NewTopic(t, partitions, 1) for t in chunk])
        for future in futures.values():
            future.result(120)


def raw_loop(bootstrap: str, subscription: str, records: int, group: str) -> float:
    """A hand-written consumer over the same layout (orjson.loads each value), with the
    settings a task's consumer gets: what the client itself makes of the layout."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "fetch.queue.backoff.ms": 50,
            "queued.max.messages.kbytes": 32768,
        }
    )
    consumer.subscribe([subscription])
    seen, first, loads = 0, 0.0, orjson.loads
    while seen < records:
        messages = consumer.consume(1000, 1.0)
        if messages and not seen:
            first = time.perf_counter()
        for m in messages:
            loads(m.value())
        seen += len(messages)
    elapsed = time.perf_counter() - first
    consumer.close()
    return records / elapsed


def _peak_rss_kb() -> int:
    """This process's peak RSS since it started. Not getrusage's ru_maxrss: Linux carries
    that over fork and exec, so a spawned child reported its parent's peak."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def drain(
    bootstrap: str,
    protocol: str,
    layout: str,
    prefix: str,
    records: int,
    topics: int,
    round_: int,
    out: multiprocessing.Queue[Figures],
) -> None:
    """In a child process: drain one layout with a fresh worker and report its figures."""
    registry = PluginRegistry()
    registry.register("noop", NoopConnector)
    worker = Worker(
        load_worker_config(
            {
                "bootstrap.servers": bootstrap,
                "group.protocol": protocol,
                "offset.flush.interval.ms": 5000,
                "rest.port": 0,
            },
            environ={},
        ),
        registry,
    )
    worker.start()
    SEEN.target, SEEN.want_topics = records, topics
    subscription = (
        {"topics.regex": f"{prefix}\\.[0-9]+\\.calls"}
        if layout != SINGLE
        else {"topics": f"{prefix}.{SINGLE}"}
    )
    began = time.perf_counter()
    worker.create(
        f"bench-{layout}-{prefix}-{round_}",
        {
            "connector.class": "noop",
            **subscription,
            "tasks.max": "1",
            "key.converter": "bytearray",
            "value.converter": "json",
            "value.converter.schemas.enable": "false",
            "batch.max.records": "5000",
        },
    )
    SEEN.done.wait(1800)
    new_topic_s: float | None = None
    if layout != SINGLE and round_ == 0:
        admin = AdminClient({"bootstrap.servers": bootstrap})
        late = f"{prefix}.{topics}.calls"
        SEEN.watch = late
        created = time.perf_counter()
        _create(admin, [late])
        _produce(bootstrap, [late], 1)
        SEEN.watch_seen.wait(300)
        new_topic_s = time.perf_counter() - created
    worker.shutdown()
    rss_kb = _peak_rss_kb()
    out.put(
        Figures(
            layout,
            SEEN.first - began,
            SEEN.all_topics_at - began,
            records / max(SEEN.last - SEEN.first, 1e-6),  # a tiny run is one batch
            rss_kb / 1024,
            new_topic_s,
        )
    )


def _drain_both(
    bootstrap: str, protocol: str, prefix: str, records: int, args: argparse.Namespace, round_: int
) -> dict[str, Figures]:
    """One round: each layout drained by a worker process of its own, one after the other."""
    spawn = multiprocessing.get_context("spawn")
    results: dict[str, Figures] = {}
    for layout, topics in ((SINGLE, 1), ("tenants", args.tenants)):
        out: multiprocessing.Queue[Figures] = spawn.Queue()
        child = spawn.Process(
            target=drain,
            args=(bootstrap, protocol, layout, prefix, records, topics, round_, out),
        )
        child.start()
        figures = out.get(timeout=3600)
        child.join(60)
        results[layout] = figures
        late = (
            ""
            if figures.new_topic_s is None
            else f"  new topic consumed after {figures.new_topic_s:.1f} s"
        )
        print(
            f"{layout:8} ({protocol}): first record {figures.first_record_s:.1f} s,"
            f" every topic {figures.all_topics_s:.1f} s,"
            f" {figures.records_per_s:,.0f} rec/s, peak RSS {figures.peak_rss_mb:.0f} MB"
            f"{late}",
            flush=True,
        )
    return results


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=2000)
    parser.add_argument("--per-tenant", type=int, default=200)
    parser.add_argument("--protocol", default="classic", choices=["classic", "consumer"])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    records = args.tenants * args.per_tenant
    with KafkaBroker(heap="1g") as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        prefix = "tenant"
        tenant_topics = [f"{prefix}.{i}.calls" for i in range(args.tenants)]
        began = time.perf_counter()
        _create(admin, tenant_topics)
        _create(admin, [f"{prefix}.{SINGLE}"], partitions=24)
        print(f"created {args.tenants} topics in {time.perf_counter() - began:.0f} s", flush=True)
        _produce(broker.bootstrap, tenant_topics, args.per_tenant)
        # The same records, in the same order, keyed the same: spread over 24 partitions.
        values = [e.value for e in call_events(1000)]
        producer = Producer(
            {"bootstrap.servers": broker.bootstrap, "linger.ms": 20, "compression.type": "lz4"}
        )
        for i in range(records):
            produce_waiting(producer, f"{prefix}.{SINGLE}", values[i % 1000], key=b"%d" % i)
        producer.flush(300)
        print(f"produced {records:,} records to each layout", flush=True)
        ratios, raw_ratios = [], []
        for round_ in range(args.rounds):
            results = _drain_both(broker.bootstrap, args.protocol, prefix, records, args, round_)
            ratio = results["tenants"].records_per_s / results[SINGLE].records_per_s
            ratios.append(ratio)
            print(f"round {round_}: throughput ratio tenants/single24: {ratio:.2f}", flush=True)
            raw_single = raw_loop(
                broker.bootstrap, f"{prefix}.{SINGLE}", records, f"raw-single-{round_}"
            )
            raw_tenants = raw_loop(
                broker.bootstrap, f"^{prefix}\\.[0-9]+\\.calls$", records, f"raw-t-{round_}"
            )
            raw_ratios.append(raw_tenants / raw_single)
            print(
                f"raw consumer loop: single24 {raw_single:,.0f} rec/s, tenants"
                f" {raw_tenants:,.0f} rec/s, ratio {raw_tenants / raw_single:.2f}",
                flush=True,
            )
        print(
            f"median of {args.rounds} rounds: ratio {statistics.median(ratios):.2f}"
            f" ({', '.join(f'{r:.2f}' for r in ratios)}),"
            f" raw loop ratio {statistics.median(raw_ratios):.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
