"""Records/s through the runtime into a no-op sink vs a raw confluent-kafka loop.

Same broker, same topic, same run. The raw loop is what a hand-written consumer does:
``consume(1000)`` and touch each value (bytes) or ``orjson.loads`` it (JSON). The
runtime path is a whole connector: task thread, converters, batching, offset commits.
Throughput is timed from the first record to the last, so group joins don't count.
Both loops use the same consumer settings, and the topic is read once before timing so
neither pays for a cold page cache.

    .venv/bin/python bench/bench_runtime.py [--records 1000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Sequence

import orjson
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from devstack.generator import call_events
from devstack.kafka import KafkaBroker, produce_waiting
from offramp import BatchWriter, ConfigModel, RecordFailure, SinkConnector, SinkRecord, TaskContext
from offramp.config import load_worker_config
from offramp.registry import PluginRegistry
from offramp.worker import Worker


class _Counter:
    def __init__(self) -> None:
        self.count = 0
        self.first = 0.0
        self.last = 0.0
        self.done = threading.Event()
        self.target = 0


COUNTER = _Counter()


class NoopConfig(ConfigModel):
    pass


class NoopWriter(BatchWriter):
    def write(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure] | None:
        c = COUNTER
        if not c.count:
            c.first = time.perf_counter()
        c.count += len(records)
        if c.count >= c.target:
            c.last = time.perf_counter()
            c.done.set()
        return None


class NoopConnector(SinkConnector[NoopConfig]):
    config_model = NoopConfig

    def create_writer(self, config: NoopConfig, context: TaskContext) -> BatchWriter:
        return NoopWriter()


def produce(bootstrap: str, topic: str, records: int) -> None:
    values = [e.value for e in call_events(1000)]
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 20,
            "batch.size": 1_000_000,
            "compression.type": "lz4",
        }
    )
    for i in range(records):
        produce_waiting(producer, topic, values[i % 1000], key=b"%d" % i)
    producer.flush(120)


def raw_loop(bootstrap: str, topic: str, records: int, parse: bool, group: str) -> float:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            # the same fetch tuning the runtime uses: compare loops, not configs
            "fetch.queue.backoff.ms": 50,
        }
    )
    consumer.subscribe([topic])
    seen = 0
    first = 0.0
    loads = orjson.loads
    while seen < records:
        msgs = consumer.consume(1000, 1.0)
        if not msgs:
            continue
        if not seen:
            first = time.perf_counter()
        if parse:
            for m in msgs:
                loads(m.value())
        else:
            for m in msgs:
                m.value()
        seen += len(msgs)
    elapsed = time.perf_counter() - first
    consumer.close()
    return records / elapsed


def runtime_path(bootstrap: str, topic: str, records: int, converter: str, name: str) -> float:
    registry = PluginRegistry()
    registry.register("noop", NoopConnector)
    worker = Worker(
        load_worker_config(
            {"bootstrap.servers": bootstrap, "offset.flush.interval.ms": 5000}, environ={}
        ),
        registry,
    )
    worker.start()
    global COUNTER
    COUNTER = _Counter()
    COUNTER.target = records
    worker.create(
        name,
        {
            "connector.class": "noop",
            "topics": topic,
            "key.converter": "bytearray",
            "value.converter": converter,
            "value.converter.schemas.enable": "false",
            "batch.max.records": "5000",
        },
    )
    COUNTER.done.wait(600)
    worker.shutdown()
    return records / (COUNTER.last - COUNTER.first)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with KafkaBroker(heap="1g") as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic("bench", 1, 1)])["bench"].result(30)
        produce(broker.bootstrap, "bench", args.records)
        raw_loop(broker.bootstrap, "bench", args.records, False, "warm-up")  # page cache
        results: dict[str, list[float]] = {"bytes": [], "json": []}
        for run in range(args.runs):
            for mode, converter, parse in (("bytes", "bytearray", False), ("json", "json", True)):
                raw = raw_loop(broker.bootstrap, "bench", args.records, parse, f"raw-{mode}-{run}")
                ours = runtime_path(
                    broker.bootstrap, "bench", args.records, converter, f"bench-{mode}-{run}"
                )
                ratio = ours / raw
                results[mode].append(ratio)
                print(
                    f"run {run + 1} {mode:5}: raw {raw:>10,.0f} rec/s  offramp {ours:>10,.0f}"
                    f" rec/s  ratio {ratio:.2f}",
                    flush=True,
                )
        for mode, ratios in results.items():
            print(
                f"median ratio {mode}: {statistics.median(ratios):.2f}  "
                f"(runs: {', '.join(f'{r:.2f}' for r in ratios)})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
