"""Fault 3 beyond PostgreSQL: a ``FAULT_OUTAGE_SECONDS`` (60 s) outage of each other
built-in destination, under default retry settings, while a ``file`` connector in the
same worker reads another topic:

- ``s3``: moto's S3 server stopped and started again on the same port (moto keeps its
  buckets, objects and open multipart uploads in the test process meanwhile);
- ``hubspot``: the HubSpot stand-in answering every CRM call 503 with HubSpot's body;
- ``qdrant``: the embedder endpoint (the OpenAI-compatible stand-in) unreachable —
  stopped, so connections are refused — then started again on its port.

The run lasts ``FAULT_SECONDS`` (at least the outage + 30 s), then the producer stops,
both connectors drain, the worker stops, and what reached the destination is counted.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devstack.embeddings_server import EmbeddingsServer
from devstack.hubspot import HubSpotStub
from devstack.kafka import KafkaBroker
from devstack.s3 import S3Server
from offramp.connectors.qdrant.clients import borrow_edge
from tests.conftest import wait_for
from tests.faults.support import (
    Claims,
    KeyedFeeder,
    StatusSampler,
    WorkerProcess,
    count_lines,
    end_offsets,
    env_number,
    hold,
    max_stall,
    metric_total,
    read_jsonl_numbers,
    wait_until,
)
from tests.integration.s3.support import archive
from tests.integration.sql.support import group_offsets

SECONDS = env_number("FAULT_SECONDS", 120)
OUTAGE = env_number("FAULT_OUTAGE_SECONDS", 60)
RATE = env_number("FAULT_RATE", 200) / 2  # per topic: two topics share the budget
WARMUP = 15.0
PARTITIONS = 3
DRAIN_TIMEOUT = 240.0
MAX_FILE_STALL = 5.0
SENT = "offramp_sink_record_send_total"

pytestmark = [
    pytest.mark.fault,
    pytest.mark.timeout(int(max(SECONDS, WARMUP + OUTAGE + 30) + DRAIN_TIMEOUT + 300)),
]


@dataclass
class Destination:
    """One destination under test: its connector keys, how it goes down and comes back,
    and (after the worker stopped) the numbers it holds and how many copies in all."""

    config: dict[str, Any]
    halt: Callable[[], None]
    resume: Callable[[], None]
    written: Callable[[], tuple[set[int], int]]
    # A sink that closes its objects by record time (s3) keeps each partition's last
    # one open until a later record comes: the drain sends one such record a partition.
    needs_closer: bool = False


def _common(topic: str) -> dict[str, Any]:
    return {
        "topics": topic,
        "key.converter": "string",
        "value.converter": "json",
        "value.converter.schemas.enable": "false",
        "batch.max.records": "500",
        "batch.max.age.ms": "100",
        # Deliberately no errors.retry.* and no task.restart.*: the defaults are tested.
    }


def _started(server: S3Server) -> None:
    server.start()


def _close_by_record_time(bootstrap: str, topic: str) -> None:
    """One record per partition an hour ahead in record time (value ``{"n": -1}``), so
    the object before it is closed and uploaded; it stays open itself."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    ahead = int(time.time() * 1000) + 3_600_000
    for partition in range(PARTITIONS):
        producer.produce(topic, b'{"n": -1}', key=b"-1", partition=partition, timestamp=ahead)
    assert producer.flush(30) == 0


@contextlib.contextmanager
def _s3(tmp: Path, unique: str) -> Iterator[Destination]:
    server = S3Server().start()
    bucket = f"outage-{unique}"
    server.create_bucket(bucket)

    def written() -> tuple[set[int], int]:
        client = server.client()
        try:
            values = [v["n"] for vs in archive(client, bucket).values() for v in vs]
        finally:
            client.close()
        return set(values), len(values)

    try:
        yield Destination(
            {
                "connector.class": "s3",
                **server.config(bucket),
                # Small objects often, so writes are seen to stop and resume.
                "flush.size": "500",
                "rotate.interval.ms": "3000",
            },
            server.stop,
            lambda: _started(server),
            written,
            needs_closer=True,
        )
    finally:
        server.stop()


@contextlib.contextmanager
def _hubspot(tmp: Path, unique: str) -> Iterator[Destination]:
    stub = HubSpotStub().start()

    def written() -> tuple[set[int], int]:
        emails = [str(o["properties"].get("email", "")) for o in stub.objects("contacts")]
        numbers = [int(e.split("@")[0]) for e in emails if e.endswith("@outage.test")]
        return set(numbers), len(numbers)

    try:
        yield Destination(
            {
                "connector.class": "hubspot",
                "hubspot.access.token": "test-token",
                "hubspot.base.url": stub.url,
                "hubspot.property.email": "email",
                "hubspot.property.n": "n | string",
            },
            lambda: stub.begin_outage(503),
            stub.end_outage,
            written,
        )
    finally:
        stub.stop()


@contextlib.contextmanager
def _embedder(tmp: Path, unique: str) -> Iterator[Destination]:
    embeddings = EmbeddingsServer(dimension=16).start()
    port = embeddings.port
    store, collection = tmp / "qdrant", f"outage_{unique}"
    holder = [embeddings]

    def resume() -> None:
        holder[0] = EmbeddingsServer(dimension=16, port=port).start()

    def written() -> tuple[set[int], int]:
        with borrow_edge(str(store)) as handle, handle.lock:
            found, _ = handle.client.scroll(collection, limit=1_000_000, with_payload=True)
        numbers = [int(p.id) for p in found]
        return set(numbers), len(numbers)

    try:
        yield Destination(
            {
                "connector.class": "qdrant",
                "qdrant.path": str(store),
                "collection.name": collection,
                "collection.create": "true",
                "embedder": "openai",
                "embedder.url": embeddings.url,
                "embedder.model": "stand-in",
                "embedder.dimensions": "16",
                "embedder.text.field": "text",
            },
            lambda: holder[0].stop(),
            resume,
            written,
        )
    finally:
        holder[0].stop()


DESTINATIONS = {"s3": _s3, "hubspot": _hubspot, "qdrant": _embedder}


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
@pytest.mark.parametrize("kind", sorted(DESTINATIONS))
def test_a_destination_outage_under_default_settings(
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    tmp_path: Path,
    kind: str,
    protocol: str,
    report: Callable[[str], None],
) -> None:
    """A 60 s outage of S3, HubSpot (503) or the embedder, default retry settings: nothing
    lost, no task FAILED or restarted, no partition revoked or reassigned, writes resume
    by themselves, and the file connector in the same worker keeps flowing."""
    topic, file_topic = make_topic(f"down-{kind}", PARTITIONS), make_topic("down-file", 3)
    name, file_name = f"down-{kind}-{unique}", f"down-file-{unique}"
    output = tmp_path / "file.jsonl"
    with DESTINATIONS[kind](tmp_path, unique) as destination:
        connectors = {
            name: {**_common(topic), **destination.config},
            file_name: {**_common(file_topic), "connector.class": "file", "file": str(output)},
        }
        worker = WorkerProcess(tmp_path, "worker", kafka.bootstrap, protocol, connectors)
        feeder = KeyedFeeder(
            kafka.bootstrap,
            [topic, file_topic],
            RATE,
            value_of=lambda n: {"n": n, "email": f"{n}@outage.test", "text": f"call {n}"},
        )
        sampler = StatusSampler(worker, [name, file_name], {"lines": lambda: count_lines(output)})
        began = time.monotonic()
        try:
            worker.start().wait_running([name, file_name])
            feeder.start()
            sampler.start()
            wait_for(lambda: sampler.metric_last(SENT, name) > 0 and count_lines(output) > 0, 90)
            hold(WARMUP, [worker], [feeder, sampler])
            assigned_before = sampler.metric_last("offramp_partitions_assigned_total", name)
            down = time.monotonic()
            destination.halt()
            hold(OUTAGE, [worker], [feeder, sampler])
            sent_at_resume = sampler.metric_last(SENT, name)
            destination.resume()
            up = time.monotonic()
            resumed = wait_until(lambda: sampler.metric_last(SENT, name) > sent_at_resume, 120)
            hold(max(10.0, SECONDS - (time.monotonic() - began)), [worker], [feeder, sampler])
            feeder.stop()
            if destination.needs_closer:
                _close_by_record_time(kafka.bootstrap, topic)
            closers = 1 if destination.needs_closer else 0
            ends = [e - closers for e in end_offsets(kafka.bootstrap, topic, PARTITIONS)]
            file_ends = end_offsets(kafka.bootstrap, file_topic, 3)
            acked, acked_file = set(feeder.acked[topic]), set(feeder.acked[file_topic])

            def drained() -> bool:
                return (
                    group_offsets(kafka.bootstrap, f"connect-{name}", topic, PARTITIONS) == ends
                    and group_offsets(kafka.bootstrap, f"connect-{file_name}", file_topic, 3)
                    == file_ends
                )

            drain = wait_until(drained, DRAIN_TIMEOUT)
            sampler.stop()
            exit_status = worker.stop()
        finally:
            for part in (feeder, sampler, worker):
                with contextlib.suppress(BaseException):
                    part.stop()
        elapsed = time.monotonic() - began
        numbers, copies = destination.written()
        numbers.discard(-1)

    file_numbers, torn = read_jsonl_numbers([output])
    times = [s.at for s in sampler.samples]
    stall = max_stall(times, [s.probes["lines"] for s in sampler.samples], down, up)
    not_running = {n: sampler.not_running(n) for n in (name, file_name)}
    failed = {n: sum(1 for s in found if s[1] == "FAILED") for n, found in not_running.items()}
    revoked = sampler.metric_max("offramp_partitions_revoked_total", name)
    assigned_after = sampler.metric_max("offramp_partitions_assigned_total", name)
    restarts = sampler.metric_max("offramp_task_restarts_total", name)
    retries = sampler.metric_max("offramp_sink_retries_total", name)
    missing = len(acked - numbers)
    file_missing = len(acked_file - set(file_numbers))
    during = [s for s in sampler.samples if down <= s.at <= up]
    claims = Claims()
    claims.check("status sampled throughout the outage", len(during) >= OUTAGE / 2)
    # Felt: writes stood still from 5 s into the outage to its end (in-flight batches
    # may land in the first seconds).
    settled = [s.metrics for s in sampler.samples if down + 5 <= s.at <= up and s.metrics]
    still = len({metric_total(m, SENT, name) for m in settled}) == 1
    claims.check("the outage was felt (no writes while it lasted)", bool(settled) and still)
    claims.check("nothing lost", missing == 0 and file_missing == 0)
    claims.check("nothing but acknowledged records written", numbers <= acked)
    claims.check("no task ever FAILED", failed == {name: 0, file_name: 0})
    claims.check("every task RUNNING at every sample", not any(not_running.values()))
    claims.check("no task restart", restarts == 0)
    claims.check("no partition revoked", revoked == 0)
    claims.check("no partition reassigned", assigned_after == assigned_before)
    claims.check("writes resumed by themselves", resumed is not None)
    claims.check(f"drained within {DRAIN_TIMEOUT:.0f}s", drain is not None)
    claims.check(
        f"the file sink never stalled over {MAX_FILE_STALL:.0f}s in the outage",
        stall <= MAX_FILE_STALL,
    )
    claims.check("every line a whole record", torn == 0)
    claims.check("SIGTERM stops the worker with 0", exit_status == 0)
    report(
        f"destination={kind} protocol={protocol} outage={up - down:.0f}s "
        f"records={len(acked)}+{len(acked_file)} written={len(numbers)} copies={copies} "
        f"missing={missing} file_missing={file_missing} retries={retries} still={still} "
        f"not_running_samples={len(not_running[name])} failed_samples={failed[name]} "
        f"restarts={restarts} revoked={revoked} assigned={assigned_before}->{assigned_after} "
        f"file_max_stall={stall:.1f}s resumed_after="
        f"{f'{resumed:.1f}s' if resumed is not None else 'NEVER'} "
        f"drain={f'{drain:.1f}s' if drain is not None else 'TIMEOUT'} "
        f"elapsed={elapsed:.0f}s {claims.verdict}"
    )
    if not_running[name]:
        print("first non-RUNNING sample:", not_running[name][0])
    claims.verify()
