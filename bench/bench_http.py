"""The ``http`` sink against a raw httpx loop, same records, same receiver, same run.

Two modes, each run ``--rounds`` times alternating offramp and raw (medians printed):

- batched: offramp's ``http`` connector with ``http.batch.format=json`` and 500 items
  per request, one task; raw: confluent-kafka ``consume(500)``, ``orjson`` and one
  ``httpx.Client.post`` of the JSON array per batch, one after another. The connector
  keeps the runtime's ``batch.max.records`` (1000: two requests of 500 per write) unless
  ``--task-batch`` says otherwise; the receiver's request count is printed for both
  sides, so "the same batches" can be checked.
- per record, 16 in flight: the connector with ``http.max.in.flight=16``; raw: a
  consumer thread feeding 16 threads that share one ``httpx.Client`` (pool of 16), each
  posting one record with its ``Idempotency-Key``.

Both sides subscribe with a fresh group. Two clocks: from the start until the receiver
holds every record (the group join and offramp's task start included), and the steady
one, from the receiver's first item to its last, which the ratios are taken on. The
receiver is devstack's stand-in (``--latency`` seconds per request) in a process of its
own, so its GIL is not the one the loops under test share; a warm-up round first lets
the broker create its offsets topic. Targets (issue 22): batched >= 0.9x raw, per
record >= 0.8x raw. Each round's ratio is printed too: on a shared machine their spread
says how far to trust the medians.

``--modes`` runs one mode alone; ``--http2`` makes both sides speak HTTP/2 (h2c, prior
knowledge: ``http.http2=true`` on the sink, an ``http1=False`` transport on the raw side).

    .venv/bin/python bench/bench_http.py [--batched-records 100000] [--single-records 10000]
        [--rounds 3] [--latency 0.01] [--modes batched,per-record] [--http2]
        [--task-batch N]
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
from functools import partial
from multiprocessing.sharedctypes import Synchronized
from typing import Any, NamedTuple

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
    """The stand-in in a child process: ``url``, ``kept`` (distinct items so far) and
    ``requests`` (requests answered so far)."""

    def __init__(
        self,
        url: str,
        kept: Synchronized[int],
        first: Synchronized[float],
        requests: Synchronized[int],
    ) -> None:
        self.url, self._kept, self._first, self._requests = url, kept, first, requests

    @property
    def kept(self) -> int:
        return int(self._kept.value)

    @property
    def requests(self) -> int:
        return int(self._requests.value)

    @property
    def first_at(self) -> float:
        """``time.monotonic()`` (one clock for all processes) of the first item."""
        return float(self._first.value)


def _serve(
    latency: float,
    urls: Any,
    kept: Synchronized[int],
    first: Synchronized[float],
    requests: Synchronized[int],
    stop: Any,
) -> None:
    with HttpReceiver(latency=latency, id_field="n") as receiver:
        urls.put(receiver.url)
        while not stop.wait(0.001):
            requests.value = len(receiver.exchanges)  # before the items: never fewer
            count = len(receiver.items)
            if count and not kept.value:
                first.value = time.monotonic()
            kept.value = count


@contextmanager
def receiving(latency: float) -> Iterator[Receiver]:
    spawn = multiprocessing.get_context("spawn")
    urls, stop = spawn.Queue(), spawn.Event()
    kept, first = spawn.Value("q", 0, lock=False), spawn.Value("d", 0.0, lock=False)
    requests = spawn.Value("q", 0, lock=False)
    child = spawn.Process(
        target=_serve, args=(latency, urls, kept, first, requests, stop), daemon=True
    )
    child.start()
    try:
        yield Receiver(urls.get(timeout=60), kept, first, requests)
    finally:
        stop.set()
        child.join(10)


class Timing(NamedTuple):
    total: float  # start → all received
    steady: float  # first item → all received
    requests: int  # requests the receiver had answered by then


def _until_all(receiver: Receiver, records: int, began: float, limit: float = 300) -> Timing:
    while receiver.kept < records:
        if time.monotonic() - began > limit:
            raise TimeoutError(f"{receiver.kept} of {records} received")
        time.sleep(0.001)
    done = time.monotonic()
    return Timing(done - began, done - receiver.first_at, receiver.requests)


def _consumer(bootstrap: str) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"raw-{time.time_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )


def _raw_client(http2: bool, slots: int = 1) -> httpx.Client:
    limits = httpx.Limits(max_connections=slots, max_keepalive_connections=slots)
    if not http2:
        return httpx.Client(limits=limits)
    # Plain TCP: HTTP/2 by prior knowledge, as the sink's http.http2 does on http:// URLs.
    return httpx.Client(transport=httpx.HTTPTransport(limits=limits, http1=False, http2=True))


def run_offramp(
    bootstrap: str,
    topic: str,
    records: int,
    latency: float,
    batched: bool,
    http2: bool,
    task_batch: int | None,
) -> Timing:
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
        if task_batch is not None:
            mode["batch.max.records"] = str(task_batch)
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
                    "http.url": receiver.url,
                    "http.http2": str(http2).lower(),
                    **mode,
                },
            )
            return _until_all(receiver, records, began)
        finally:
            worker.shutdown()


def run_raw_batched(
    bootstrap: str, topic: str, records: int, latency: float, http2: bool
) -> Timing:
    with receiving(latency) as receiver, _raw_client(http2) as client:
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


def run_raw_per_record(
    bootstrap: str, topic: str, records: int, latency: float, http2: bool
) -> Timing:
    with receiving(latency) as receiver, _raw_client(http2, IN_FLIGHT) as client:
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
    for n in range(rounds):
        offramp_t.append(ours())
        raw_t.append(raw())
        # Each round's figures too: the spread says how much the shared machine moved.
        o, r = offramp_t[-1], raw_t[-1]
        print(
            f"  round {n + 1}: offramp/raw = {r.steady / o.steady:.2f} "
            f"({o.steady:.2f}s vs {r.steady:.2f}s; requests {o.requests} vs {r.requests})",
            flush=True,
        )

    def median(ts: list[Timing]) -> Timing:
        return Timing(
            statistics.median(t.total for t in ts),
            statistics.median(t.steady for t in ts),
            int(statistics.median(t.requests for t in ts)),
        )

    return median(offramp_t), median(raw_t)


MODES = ("batched", "per-record")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batched-records", type=int, default=100_000)
    parser.add_argument("--single-records", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.01)
    parser.add_argument("--modes", default=",".join(MODES), help="batched, per-record or both")
    parser.add_argument("--http2", action="store_true", help="both sides speak h2c")
    parser.add_argument(
        "--task-batch",
        type=int,
        default=None,
        help="the connector's batch.max.records (records per write; default: the runtime's)",
    )
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or set(modes) - set(MODES):
        parser.error(f"--modes takes {' and/or '.join(MODES)}, comma-separated")
    n, single_n, latency, h2 = args.batched_records, args.single_records, args.latency, args.http2
    task_batch = args.task_batch
    results: list[tuple[str, int, tuple[Timing, Timing], float]] = []
    with KafkaBroker() as broker:
        bootstrap, topic = broker.bootstrap, "bench-http"
        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(30)
        produce(bootstrap, topic, max(n if "batched" in modes else 0, single_n))
        run_raw_batched(bootstrap, topic, single_n, latency, h2)  # warm-up: the offsets topic
        plans = {
            "batched": (f"batched ({BATCH}/request)", n, True, run_raw_batched, 0.9),
            "per-record": (
                f"per record ({IN_FLIGHT} in flight)",
                single_n,
                False,
                run_raw_per_record,
                0.8,
            ),
        }
        for mode in (m for m in MODES if m in modes):
            label, count, batched, raw_run, target = plans[mode]
            timings = _rounds(
                args.rounds,
                partial(run_offramp, bootstrap, topic, count, latency, batched, h2, task_batch),
                partial(raw_run, bootstrap, topic, count, latency, h2),
            )
            results.append((label, count, timings, target))
    protocol = "HTTP/2 (h2c)" if h2 else "HTTP/1.1"
    print(
        f"{protocol}, receiver latency {latency * 1000:.1f} ms per request, "
        f"medians of {args.rounds} rounds, connector batch.max.records "
        f"{task_batch if task_batch is not None else 'default'}"
    )
    for label, count, (ours, raw), target in results:
        print(
            f"{label:<28} {count} records, steady: offramp {count / ours.steady:7.0f} rec/s  "
            f"raw {count / raw.steady:7.0f} rec/s  offramp/raw = {raw.steady / ours.steady:.2f} "
            f"(target >= {target}); from the start: {ours.total:.2f}s vs {raw.total:.2f}s; "
            f"requests {ours.requests} vs {raw.requests}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
