"""MB/s into S3 through offramp's ``s3`` sink vs raw boto3 ``put_object`` of the same bytes.

Same broker, same S3 server, same objects, same run. The records are ``call.completed``
event payloads from devstack.generator (JSON, ~0.4 KB each) in a one-partition topic.

- offramp: a connector (schemaless JSON converter, JSON-lines format, default
  partitioner, ``flush.size`` records per object, its default ``s3.upload.concurrency``
  of 2 rotated files uploading at once) drains the topic into bucket A. Timed from the
  task's first record to the last object stored (noted by a thin wrapper around the
  connector's object store, so nothing polls the server meanwhile); the consumer group
  join doesn't count. Throughput is the bytes of the objects it wrote over that time.
- raw: those very objects (downloaded from bucket A beforehand, untimed) are PUT into
  bucket B one after another with ``put_object``, from a client built exactly like the
  connector's and with the same body type (a bytearray, which boto3 sends in one
  socket write). Same bytes, same object sizes, no Kafka, no encoding.

The S3 server (moto) runs in its own process, so it doesn't share a GIL with either
side. ``--format bytearray`` measures the byte-array path instead (no JSON work);
``--transcript-chars 4000`` makes each event's transcript that long (~4 KB records).

    .venv/bin/python bench/bench_s3.py [--records 200000] [--flush-size 20000] [--runs 3]
        [--format json|bytearray] [--transcript-chars 0] [--upload-concurrency N] [--cpu]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devstack.generator import call_events
from devstack.kafka import KafkaBroker, free_port, produce_waiting
from devstack.s3 import ACCESS_KEY, REGION, SECRET_KEY
from offramp import BatchWriter, TaskContext
from offramp.config import load_worker_config
from offramp.connectors.s3 import S3SinkConfig, S3SinkConnector, S3Writer
from offramp.connectors.s3.client import create_client
from offramp.connectors.s3.uploader import ObjectStore, StoredObject
from offramp.registry import PluginRegistry
from offramp.worker import Worker

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MB = 1_000_000


def start_s3_process() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack.s3", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        cwd=Path(__file__).resolve().parents[1],
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=2):
                return proc, url
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("the S3 server process did not start") from None
            time.sleep(0.2)


def settings(url: str, bucket: str, flush_size: int, fmt: str) -> dict[str, Any]:
    return {
        "s3.bucket.name": bucket,
        "s3.region": REGION,
        "store.url": url,
        "aws.access.key.id": ACCESS_KEY,
        "aws.secret.access.key": SECRET_KEY,
        "flush.size": str(flush_size),
        "format.class": fmt,
    }


def sample_values(transcript_chars: int) -> list[bytes]:
    """1000 event payloads; with ``transcript_chars`` each transcript is repeated to about
    that length (a real call's transcript runs to kilobytes)."""
    values = []
    for event in call_events(1000):
        data = dict(event.data)
        if transcript_chars:
            sentence = str(data["transcript"]) + " "
            data["transcript"] = (sentence * (transcript_chars // len(sentence) + 1))[
                :transcript_chars
            ]
        values.append(orjson.dumps(data))
    return values


def produce(bootstrap: str, topic: str, records: int, transcript_chars: int) -> None:
    values = sample_values(transcript_chars)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.size": 1_000_000})
    for i in range(records):
        produce_waiting(producer, topic, values[i % 1000], key=b"%d" % i)
    producer.flush(120)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds used by this process, the broker and the S3 server over a span."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.start = {name: cpu_seconds(pid) for name, pid in pids.items()}

    def report(self, elapsed: float) -> str:
        used = {name: cpu_seconds(pid) - self.start[name] for name, pid in self.pids.items()}
        parts = ", ".join(f"{name} {seconds:.2f}" for name, seconds in used.items())
        return f"cpu s: {parts} (of {2 * elapsed:.2f} on 2 cores)" if used else ""


class StoreClock:
    """Wraps the connector's object store to note when the last expected object is
    stored, so the benchmark doesn't poll the S3 server while it is being measured."""

    def __init__(self, store: ObjectStore, expected: int, done: threading.Event) -> None:
        self.store, self.expected, self.done = store, expected, done
        self.stored = 0
        self.finished = 0.0
        self._lock = threading.Lock()  # the connector uploads on several threads

    def put(
        self,
        key: str,
        body: Iterable[bytes | memoryview],
        content_type: str,
        metadata: Mapping[str, str],
    ) -> None:
        self.store.put(key, body, content_type, metadata)
        with self._lock:
            self.stored += 1
            last = self.stored == self.expected
        if last:
            self.finished = time.perf_counter()
            self.done.set()

    def head(self, key: str) -> StoredObject | None:
        return self.store.head(key)

    def close(self) -> None:
        self.store.close()


def timed_connector(expected: int, clocks: list[StoreClock]) -> type[S3SinkConnector]:
    class TimedS3SinkConnector(S3SinkConnector):
        def create_writer(self, config: S3SinkConfig, context: TaskContext) -> BatchWriter:
            writer = super().create_writer(config, context)
            assert isinstance(writer, S3Writer)
            clock = StoreClock(writer.uploader.store, expected, threading.Event())
            writer.uploader.store = clock
            clocks.append(clock)
            return writer

    return TimedS3SinkConnector


def offramp_path(
    bootstrap: str,
    url: str,
    client: S3Client,
    topic: str,
    bucket: str,
    args: Any,
    run: int,
    pids: dict[str, int],
) -> tuple[float, dict[str, bytes], str]:
    """MB/s of the connector, the objects it wrote, and where the CPU went."""
    expected = args.records // args.flush_size
    clocks: list[StoreClock] = []
    registry = PluginRegistry()
    registry.register("s3", timed_connector(expected, clocks))
    worker = Worker(
        load_worker_config(
            {"bootstrap.servers": bootstrap, "offset.flush.interval.ms": 5000}, environ={}
        ),
        registry,
    )
    worker.start()
    converter = "json" if args.format == "json" else "bytearray"
    name = f"bench-{args.format}-{run}"
    worker.create(
        name,
        {
            "connector.class": "s3",
            "topics": topic,
            "key.converter": "bytearray",
            "value.converter": converter,
            "value.converter.schemas.enable": "false",
            "batch.max.records": "5000",
            "consumer.override.max.partition.fetch.bytes": str(args.fetch_bytes),
            **settings(url, bucket, args.flush_size, args.format),
            **(
                {"s3.upload.concurrency": str(args.upload_concurrency)}
                if args.upload_concurrency
                else {}
            ),
        },
    )
    metrics = worker.get(name).tasks[0].metrics
    while not metrics.records_read:
        time.sleep(0.001)
    began = time.perf_counter()
    meter = CpuMeter(pids)
    while not clocks:
        time.sleep(0.001)
    if not clocks[0].done.wait(600):
        raise RuntimeError("the connector did not store every object within 600 s")
    elapsed = clocks[0].finished - began
    cpu = meter.report(elapsed)
    worker.shutdown()
    objects: dict[str, bytes] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            response = client.get_object(Bucket=bucket, Key=obj["Key"])
            objects[obj["Key"]] = response["Body"].read()
            response["Body"].close()
    assert len(objects) == expected, "one object per flush.size records"
    return sum(map(len, objects.values())) / MB / elapsed, objects, cpu


def raw_path(
    client: S3Client, bucket: str, objects: dict[str, bytes], fmt: str, pids: dict[str, int]
) -> tuple[float, str]:
    """MB/s of sequential put_object calls with the same bytes and sizes, and the CPU."""
    content_type = "application/json" if fmt == "json" else "application/octet-stream"
    bodies = {key: bytearray(data) for key, data in objects.items()}  # as the connector
    meter = CpuMeter(pids)
    began = time.perf_counter()
    for key, body in bodies.items():
        client.put_object(
            Bucket=bucket,
            Key=key,
            Body=body,  # type: ignore[arg-type]  # botocore takes bytearray blobs
            ContentType=content_type,
        )
    elapsed = time.perf_counter() - began
    return sum(map(len, objects.values())) / MB / elapsed, meter.report(elapsed)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--flush-size", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--format", choices=["json", "bytearray"], default="json")
    parser.add_argument("--transcript-chars", type=int, default=0)
    parser.add_argument("--cpu", action="store_true", help="show CPU seconds per process")
    parser.add_argument("--fetch-bytes", type=int, default=1024 * 1024)
    parser.add_argument(
        "--upload-concurrency", type=int, default=0, help="s3.upload.concurrency (0: default)"
    )
    args = parser.parse_args()
    if args.records % args.flush_size:
        parser.error("--records must be a multiple of --flush-size")
    s3_proc, url = start_s3_process()
    try:
        with KafkaBroker(heap="1g") as broker:
            admin = AdminClient({"bootstrap.servers": broker.bootstrap})
            admin.create_topics([NewTopic("bench", 1, 1)])["bench"].result(30)
            produce(broker.bootstrap, "bench", args.records, args.transcript_chars)
            config = S3SinkConfig.model_validate(settings(url, "unused", 1, args.format))
            client = create_client(config)  # built exactly like the connector's
            assert broker.process is not None
            pids = {"python": os.getpid(), "kafka": broker.process.pid, "s3": s3_proc.pid}
            ratios = []
            for run in range(args.runs):
                ours_bucket, raw_bucket = f"offramp-{run}", f"raw-{run}"
                client.create_bucket(Bucket=ours_bucket)
                client.create_bucket(Bucket=raw_bucket)
                ours, objects, ours_cpu = offramp_path(
                    broker.bootstrap, url, client, "bench", ours_bucket, args, run, pids
                )
                raw, raw_cpu = raw_path(client, raw_bucket, objects, args.format, pids)
                ratio = ours / raw
                ratios.append(ratio)
                size = sum(map(len, objects.values())) / len(objects) / MB
                print(
                    f"run {run + 1}: {len(objects)} objects of {size:.1f} MB  raw put_object "
                    f"{raw:6.1f} MB/s  offramp {ours:6.1f} MB/s  ratio {ratio:.2f}",
                    flush=True,
                )
                if args.cpu:
                    print(f"  offramp {ours_cpu}\n  raw     {raw_cpu}", flush=True)
                for bucket in (ours_bucket, raw_bucket):  # keep the server's memory flat
                    for key in objects:
                        client.delete_object(Bucket=bucket, Key=key)
            client.close()
            print(
                f"median ratio ({args.format}): {statistics.median(ratios):.2f}  "
                f"(runs: {', '.join(f'{r:.2f}' for r in ratios)})"
            )
    finally:
        s3_proc.terminate()
        s3_proc.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
