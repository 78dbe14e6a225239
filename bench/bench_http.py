"""The ``http`` sink against a raw httpx loop, same records, same receiver, same run.

Two modes, each run ``--rounds`` times alternating offramp and raw (medians printed):

- batched: offramp's ``http`` connector with ``http.batch.format=json`` and 500 items
  per request, one task; raw: confluent-kafka ``consume(500)``, ``orjson`` and one
  ``httpx.Client.post`` of the JSON array per batch, one after another.
- per record, 16 in flight: the connector with ``http.max.in.flight=16``; raw: a
  consumer thread feeding 16 threads that share one ``httpx.Client`` (pool of 16), each
  posting one record with its ``Idempotency-Key``.

Both sides subscribe with a fresh group. Two clocks: from the start until the receiver
holds every record (the group join and offramp's task start included), and the steady
one, from the receiver's first item to its last, which the ratios are taken on. The
receiver is devstack's
stand-in (``--latency`` seconds per request) in a process of its own, so its GIL is not
the one the loops under test share; a warm-up round first lets the broker create its
offsets topic. Targets (issue 22): batched >= 0.9x raw, per record >= 0.8x raw.

    .venv/bin/python bench/bench_http.py [--batched-records 100000] [--single-records 10000]
        [--rounds 3] [--latency 0.01]
"""

from __future__ import annotations

import argparse
import multiprocessing
import queue
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.sharedctypes import Synchronized
from typing import Any

import httpx
import orjson
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from devstack.kafka import KafkaBroker, produce_waiting
from devstack.webhooks import HttpReceiver
from offramp.config import load_worker_config
from offramp.worker import Worker

PARTITIONS = 4
BATCH = 500
IN_FLIGHT = 16


def produce(bootstrap: str, topic: str, count: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    for n in range(count):
        value = orjson.dumps({"n": n, "tenant": "acme", "status": "failed", "cost": n % 97})
        produce_waiting(producer, topic, value, key=str(n).encode())
    assert producer.flush(60) == 0


class Receiver:
    """The stand-in in a child process: ``url``, and ``kept`` (distinct items so far)."""

    def __init__(self, url: str, kept: Synchronized[int], first: Synchronized[float]) -> None:
        self.url, self._kept, self._first = url, kept, first

    @property
    def kept(self) -> int:
        return int(self._kept.value)

    @property
    def first_at(self) -> float:
        """``time.monotonic()`` (one clock for all processes) of the first item."""
        return float(self._first.value)


def _serve(
    latency: float, urls: Any, kept: Synchronized[int], first: Synchronized[float], stop: Any
) -> None:
    with HttpReceiver(latency=latency, id_field="n") as receiver:
        urls.put(receiver.url)
        while not stop.wait(0.001):
            count = len(receiver.items)
            if count and not kept.value:
                first.value = time.monotonic()
            kept.value = count


@contextmanager
def receiving(latency: float) -> Iterator[Receiver]:
    spawn = multiprocessing.get_context("spawn")
    urls, stop = spawn.Queue(), spawn.Event()
    kept, first = spawn.Value("q", 0, lock=False), spawn.Value("d", 0.0, lock=False)
    child = spawn.Process(target=_serve, args=(latency, urls, kept, first, stop), daemon=True)
    child.start()
    try:
        yield Receiver(urls.get(timeout=60), kept, first)  # type: ignore[arg-type]
    finally:
        stop.set()
        child.join(10)


Timing = tuple[float, float]  # (start → all received, first item → all received)


def _until_all(receiver: Receiver, records: int, began: float, limit: float = 300) -> Timing:
    while receiver.kept < records:
        if time.monotonic() - began > limit:
            raise TimeoutError(f"{receiver.kept} of {records} received")
        time.sleep(0.001)
    done = time.monotonic()
    return done - began, done - receiver.first_at


def _consumer(bootstrap: str) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"raw-{time.time_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )


def run_offramp(bootstrap: str, topic: str, records: int, latency: float, batched: bool) -> Timing:
    with receiving(latency) as receiver:
        worker = Worker(
            load_worker_config(
                {"bootstrap.servers": bootstrap, "rest.port": 0, "offset.flush.interval.ms": 1000},
                environ={},
            )
        )
        worker.start()
        mode = (
            {"http.batch.format": "json", "http.batch.max.records": str(BATCH)}
            if batched
            else {"http.max.in.flight": str(IN_FLIGHT)}
        )
        began = time.monotonic()
        try:
            worker.create(
                f"bench-http-{time.time_ns()}",
                {
                    "connector.class": "http",
                    "topics": topic,
                    "key.converter": "string",
                    "value.converter": "json",
                    "value.converter.schemas.enable": "false",
                    "batch.max.records": str(BATCH),
                    "http.url": receiver.url,
                    **mode,
                },
            )
            return _until_all(receiver, records, began)
        finally:
            worker.shutdown()


def run_raw_batched(bootstrap: str, topic: str, records: int, latency: float) -> Timing:
    with receiving(latency) as receiver, httpx.Client() as client:
        consumer = _consumer(bootstrap)
        began = time.monotonic()
        try:
            consumer.subscribe([topic])
            headers = {"Content-Type": "application/json"}
            while receiver.kept < records:
                messages = [m for m in consumer.consume(BATCH, 0.1) if not m.error()]
                if messages:
                    body = b"[" + b",".join(m.value() or b"null" for m in messages) + b"]"
                    client.post(receiver.url, content=body, headers=headers).raise_for_status()
            return _until_all(receiver, records, began)
        finally:
            consumer.close()


def run_raw_per_record(bootstrap: str, topic: str, records: int, latency: float) -> Timing:
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    with receiving(latency) as receiver, httpx.Client(limits=limits) as client:
        work: queue.Queue[tuple[str, bytes] | None] = queue.Queue(maxsize=4 * IN_FLIGHT)

        def post() -> None:
            while (item := work.get()) is not None:
                ident, body = item
                headers = {"Content-Type": "application/json", "Idempotency-Key": ident}
                for attempt in range(5):  # a kept-alive connection may be closed under it
                    try:
                        client.post(receiver.url, content=body, headers=headers).raise_for_status()
                        break
                    except httpx.HTTPError:
                        if attempt == 4:
                            raise

        threads = [threading.Thread(target=post, daemon=True) for _ in range(IN_FLIGHT)]
        for t in threads:
            t.start()
        consumer = _consumer(bootstrap)
        began = time.monotonic()
        try:
            consumer.subscribe([topic])
            fed = 0
            while fed < records:
                for m in consumer.consume(BATCH, 0.1):
                    if not m.error():
                        work.put((f"{m.topic()}-{m.partition()}-{m.offset()}", m.value() or b""))
                        fed += 1
            return _until_all(receiver, records, began)
        finally:
            for _ in threads:
                work.put(None)
            for t in threads:
                t.join(30)
            consumer.close()


def _rounds(
    rounds: int, ours: Callable[[], Timing], raw: Callable[[], Timing]
) -> tuple[Timing, Timing]:
    """Median timings of ``rounds`` alternating runs: (offramp's, raw's)."""
    offramp_t, raw_t = [], []
    for _ in range(rounds):
        offramp_t.append(ours())
        raw_t.append(raw())

    def median(ts: list[Timing]) -> Timing:
        return statistics.median(t[0] for t in ts), statistics.median(t[1] for t in ts)

    return median(offramp_t), median(raw_t)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batched-records", type=int, default=100_000)
    parser.add_argument("--single-records", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.01)
    args = parser.parse_args()
    n, single_n, latency = args.batched_records, args.single_records, args.latency
    with KafkaBroker() as broker:
        bootstrap, topic = broker.bootstrap, "bench-http"
        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(30)
        produce(bootstrap, topic, n)
        run_raw_batched(bootstrap, topic, n, latency)  # warm-up: the offsets topic
        batched = _rounds(
            args.rounds,
            lambda: run_offramp(bootstrap, topic, n, latency, batched=True),
            lambda: run_raw_batched(bootstrap, topic, n, latency),
        )
        single = _rounds(
            args.rounds,
            lambda: run_offramp(bootstrap, topic, single_n, latency, batched=False),
            lambda: run_raw_per_record(bootstrap, topic, single_n, latency),
        )
    print(f"receiver latency {latency * 1000:.1f} ms per request, medians of {args.rounds}")
    for label, count, (ours, raw), target in (
        (f"batched ({BATCH}/request)", n, batched, 0.9),
        (f"per record ({IN_FLIGHT} in flight)", single_n, single, 0.8),
    ):
        print(
            f"{label:<28} {count} records, steady: offramp {count / ours[1]:7.0f} rec/s  "
            f"raw {count / raw[1]:7.0f} rec/s  offramp/raw = {raw[1] / ours[1]:.2f} "
            f"(target >= {target}); from the start: {ours[0]:.2f}s vs {raw[0]:.2f}s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
