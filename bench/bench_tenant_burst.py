"""A quiet tenant's latency while another tenant's topic takes a burst, tasks.max=1.

One connector (``topics.regex``) over two tenant topics on a fresh broker. The burst
(``--burst`` records, ≈ 170 B) is produced to one before the connector starts; while it
drains the quiet tenant gets a record every 100 ms, each stamped with its create time;
the sink (``--write-ms`` per write, a remote store's round trip) keeps, per quiet
record, written-at minus created-at. Run
with offramp's prefetch for regex connectors (``queued.min.messages=10000``) and with
librdkafka's default (100 000), the same burst:

    .venv/bin/python bench/bench_tenant_burst.py [--burst 1000000] [--write-ms 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
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


class _Seen:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.burst = 0
        self.quiet_latencies: list[float] = []
        self.write_seconds = 0.0


SEEN = _Seen()


class SlowConfig(ConfigModel):
    pass


class _Writer(BatchWriter):
    def write(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure] | None:
        time.sleep(SEEN.write_seconds)
        now_ms = time.time() * 1000
        with SEEN.lock:
            for r in records:
                if r.topic.endswith(".quiet"):
                    SEEN.quiet_latencies.append((now_ms - r.timestamp) / 1000)
                else:
                    SEEN.burst += 1
        return None


class SlowConnector(SinkConnector[SlowConfig]):
    config_model = SlowConfig

    def create_writer(self, config: SlowConfig, context: TaskContext) -> BatchWriter:
        return _Writer()


def _burst(bootstrap: str, topic: str, records: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    pad = b"x" * 150
    for i in range(records):
        produce_waiting(producer, topic, b'{"call": %d, "pad": "%s"}' % (i, pad))
    producer.flush(300)


def run(bootstrap: str, burst: int, prefetch: str | None, label: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    loud, quiet = f"tenant.{label}.loud", f"tenant.{label}.quiet"
    for future in admin.create_topics([NewTopic(t, 1, 1) for t in (loud, quiet)]).values():
        future.result(30)
    registry = PluginRegistry()
    registry.register("slow", SlowConnector)
    worker = Worker(
        load_worker_config({"bootstrap.servers": bootstrap, "rest.port": 0}, environ={}),
        registry,
    )
    worker.start()
    SEEN.burst, SEEN.quiet_latencies = 0, []
    _burst(bootstrap, loud, burst)  # the burst is a backlog when the connector starts
    override = {} if prefetch is None else {"consumer.override.queued.min.messages": prefetch}
    worker.create(
        f"burst-{label}",
        {
            "connector.class": "slow",
            "topics.regex": f"tenant\\.{label}\\.(loud|quiet)",
            "tasks.max": "1",
            "key.converter": "bytearray",
            "value.converter": "bytearray",
            "batch.max.records": "500",
            **override,
        },
    )
    quiet_producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    while not SEEN.burst:  # the group joined and the drain began: latency from here on
        time.sleep(0.01)
    sent = 0
    while SEEN.burst < burst:
        quiet_producer.produce(quiet, b"hello")
        quiet_producer.poll(0)
        sent += 1
        time.sleep(0.1)
    quiet_producer.flush(30)
    deadline = time.monotonic() + 60
    while len(SEEN.quiet_latencies) < sent and time.monotonic() < deadline:
        time.sleep(0.1)
    worker.shutdown()
    lat = sorted(SEEN.quiet_latencies)
    p50 = statistics.median(lat)
    p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
    print(
        f"{label:10} queued.min.messages={prefetch or '10000 (offramp default)'}: quiet tenant "
        f"{len(lat)} records during a {burst:,}-record burst: p50 {p50:.2f} s, "
        f"p99 {p99:.2f} s, max {lat[-1]:.2f} s",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--burst", type=int, default=1_000_000)
    parser.add_argument("--write-ms", type=float, default=2.0)
    args = parser.parse_args()
    SEEN.write_seconds = args.write_ms / 1000
    with KafkaBroker(heap="1g") as broker:
        run(broker.bootstrap, args.burst, None, "offramp")
        run(broker.bootstrap, args.burst, "100000", "librdkafka")
    return 0


if __name__ == "__main__":
    sys.exit(main())
