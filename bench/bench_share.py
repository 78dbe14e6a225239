"""A latency-bound sink (20 ms per batch) on a 2-partition topic: a share-group
connector with 8 tasks against a consumer-group connector with ``tasks.max=8`` (of
which only 2 own a partition). Same broker, same topic, same run; each connector reads
the whole topic in its own group; the topic is produced in record batches of 50 (a
share fetch acquires whole batches). Throughput is unique records over the time from the
first write to the last, so group joins don't count.

    .venv/bin/python bench/bench_share.py [--records 20000] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Sequence

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from devstack.kafka import KafkaBroker, produce_waiting
from offramp import BatchWriter, ConfigModel, RecordFailure, SinkConnector, SinkRecord, TaskContext
from offramp.config import load_worker_config
from offramp.registry import PluginRegistry
from offramp.worker import Worker

BATCH = 50  # records per write, and per share poll
LATENCY = 0.020  # seconds per write, whatever its size


class _Seen:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: set[bytes] = set()
        self.first = 0.0
        self.last = 0.0
        self.target = 0
        self.done = threading.Event()


SEEN = _Seen()


class SlowConfig(ConfigModel):
    pass


class SlowWriter(BatchWriter):
    def write(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure] | None:
        time.sleep(LATENCY)  # the round trip of a remote, latency-bound sink
        s = SEEN
        with s.lock:
            if not s.first:
                s.first = time.perf_counter()
            s.values.update(r.message.value() or b"" for r in records)
            if len(s.values) >= s.target and not s.done.is_set():
                s.last = time.perf_counter()
                s.done.set()
        return None


class SlowSink(SinkConnector[SlowConfig]):
    config_model = SlowConfig

    def create_writer(self, config: SlowConfig, context: TaskContext) -> BatchWriter:
        return SlowWriter()


def _run(worker: Worker, topic: str, name: str, share: bool, records: int) -> float:
    global SEEN
    SEEN = _Seen()
    SEEN.target = records
    config = {
        "connector.class": "slow",
        "topics": topic,
        "tasks.max": "8",
        "key.converter": "ByteArrayConverter",
        "value.converter": "ByteArrayConverter",
        "batch.max.records": str(BATCH),
        "batch.max.age.ms": "10",
    }
    if share:
        config |= {"group.type": "share", "consumer.override.max.poll.records": str(BATCH)}
    worker.create(name, config)
    try:
        if not SEEN.done.wait(300):
            raise RuntimeError(f"{name}: {len(SEEN.values)} of {records} records in 300 s")
        tasks = worker.get(name).tasks
        print(
            f"  {name}: records per task {[t.metrics.records_written for t in tasks]}, "
            f"writes per task {[t.metrics.batches for t in tasks]}"
        )
    finally:
        worker.delete(name)
    return records / (SEEN.last - SEEN.first)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with KafkaBroker(heap="1g") as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        topic = "bench-share"
        admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])[
            topic
        ].result(30)
        # A share fetch acquires whole record batches (librdkafka 2.16 has no
        # record_limit acquire mode), so the topic is produced in batches of BATCH.
        producer = Producer(
            {"bootstrap.servers": broker.bootstrap, "linger.ms": 5, "batch.num.messages": BATCH}
        )
        for i in range(args.records):
            produce_waiting(producer, topic, str(i).encode())
        assert producer.flush(60) == 0
        registry = PluginRegistry()
        registry.register("slow", SlowSink)
        worker = Worker(
            load_worker_config({"bootstrap.servers": broker.bootstrap, "rest.port": 0}, environ={}),
            registry,
        )
        worker.start()
        try:
            share, group = [], []
            for run in range(args.runs):
                group.append(_run(worker, topic, f"group-{run}", False, args.records))
                share.append(_run(worker, topic, f"share-{run}", True, args.records))
                print(f"run {run + 1}: consumer group {group[-1]:,.0f}/s, share {share[-1]:,.0f}/s")
        finally:
            worker.shutdown()
    g, s = statistics.median(group), statistics.median(share)
    print(f"median of {args.runs}: consumer group (tasks.max=8, 2 partitions) {g:,.0f} records/s")
    print(f"median of {args.runs}: share group (8 tasks) {s:,.0f} records/s — {s / g:.1f}x")


if __name__ == "__main__":
    main()
