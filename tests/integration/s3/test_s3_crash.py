"""Exactly-once under SIGKILL: a worker killed mid-stream again and again, then a clean
run, leaves every record in exactly one object, and no object is ever written twice
(a redelivered range's upload is refused and the stored object kept). Both ways
records go into files are exercised: record by record (field partitioner, time
rotation, values decoded) and in bulk (default partitioner, values stored as the JSON
text consumed); and Avro files from JSON-envelope records (each file's schema from its
records, blocks deflated)."""

from __future__ import annotations

import io
import random
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fastavro
import orjson
import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka import TopicPartition as KafkaTopicPartition

from devstack.kafka import KafkaBroker
from devstack.s3 import S3Server
from tests.conftest import produce, wait_for
from tests.integration.runtime_support import committed, start_standalone_worker
from tests.integration.s3.support import archive, body, decode, keys, version_hashes

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

TOTAL = 50_000
PARTITIONS = 4
KILLS = 3


# Several open files per partition, rotated by count and by record time, gzip: every
# part of the record-by-record path's determinism.
BY_FIELD = {
    "partitioner.class": "field",
    "partition.field.name": "g",
    "flush.size": "1000",
    "rotate.interval.ms": "400",
    "s3.compression.type": "gzip",
}
# Rotation by count only: the bulk path, JSON text as consumed, zstd.
IN_BULK = {"flush.size": "250", "s3.compression.type": "zstd"}
# Avro files of JSON-envelope records: record by record, the schema from each record.
AVRO = {
    "value.converter.schemas.enable": "true",
    "format.class": "avro",
    "avro.codec": "deflate",
    "flush.size": "250",
}
_SCHEMA = orjson.dumps(
    {"type": "struct", "fields": [{"field": "n", "type": "int64"}, {"field": "g", "type": "int32"}]}
)


def _value(n: int, layout: dict[str, str] | None = None) -> bytes:
    if layout is AVRO:
        return b'{"schema": %s, "payload": {"n": %d, "g": %d}}' % (_SCHEMA, n, n % 3)
    # Spaced, unlike a compact encoder's output: stored as is only if never decoded.
    return b'{"n": %d,  "g": %d}' % (n, n % 3)


def _stored(client: S3Client, bucket: str, layout: dict[str, str]) -> dict[str, list[Any]]:
    """Every object with the values it holds."""
    if layout is not AVRO:
        return archive(client, bucket)
    return {
        key: list(fastavro.reader(io.BytesIO(body(client, bucket, key))))
        for key in keys(client, bucket)
    }


def _start_worker(
    tmp: Path,
    bootstrap: str,
    server: S3Server,
    bucket: str,
    topic: str,
    name: str,
    layout: dict[str, str],
) -> subprocess.Popen[bytes]:
    # Commits every 3 s (not 300 ms) make sure kills land between storing files and
    # committing them, so stored ranges are redelivered (with 300 ms, all three kills of
    # a by-field run once landed just after commits and nothing was rewritten).
    # INFO: the log says which redelivered objects were refused and kept.
    env = {"OFFRAMP_WORKER_OFFSET_FLUSH_INTERVAL_MS": "3000", "OFFRAMP_LOG_LEVEL": "INFO"}
    return start_standalone_worker(
        tmp,
        bootstrap,
        name,
        {
            "connector.class": "s3",
            "topics": topic,
            "tasks.max": "2",
            "value.converter": "json",
            "value.converter.schemas.enable": "false",
            "batch.max.records": "2000",
            "batch.max.age.ms": "50",
            **server.config(bucket),
            **layout,
        },
        env,
    )


def _end_offsets(bootstrap: str, topic: str) -> list[int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused"})
    try:
        return [
            consumer.get_watermark_offsets(KafkaTopicPartition(topic, p), timeout=10)[1]
            for p in range(PARTITIONS)
        ]
    finally:
        consumer.close()


@pytest.mark.parametrize("layout", [BY_FIELD, IN_BULK, AVRO], ids=["by-field", "in-bulk", "avro"])
def test_kill_9_during_50000_records_then_a_clean_run_is_exactly_once(
    layout: dict[str, str],
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    s3_server: S3Server,
    s3_client: S3Client,
    bucket: str,
    unique: str,
    tmp_path: Path,
) -> None:
    """Three SIGKILLs while 50,000 records stream in, then a run to the end: the union of
    the objects holds each record once, and every key was written once."""
    topic, name = make_topic("archive", partitions=PARTITIONS), f"archive-{unique}"

    unacknowledged: list[int] = []

    def feed() -> None:
        producer = Producer({"bootstrap.servers": kafka.bootstrap, "enable.idempotence": True})
        for start in range(0, TOTAL, 1000):
            for n in range(start, start + 1000):
                producer.produce(topic, _value(n, layout), str(n).encode())
            unacknowledged.append(producer.flush(30))
            time.sleep(0.4)  # ~20 s of streaming, so every kill lands mid-stream

    feeder = threading.Thread(target=feed)
    feeder.start()
    rng = random.Random(11)
    proc = _start_worker(tmp_path, kafka.bootstrap, s3_server, bucket, topic, name, layout)
    try:
        for _ in range(KILLS):
            before = len(keys(s3_client, bucket))
            wait_for(lambda b=before: len(keys(s3_client, bucket)) > b + 20, timeout=90)
            time.sleep(rng.uniform(0.0, 0.6))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc = _start_worker(tmp_path, kafka.bootstrap, s3_server, bucket, topic, name, layout)
        feeder.join()
        assert not any(unacknowledged), "the broker acknowledged every record"
        produced = _end_offsets(kafka.bootstrap, topic)
        # Each partition's last file closes when a later record arrives: 400 ms later in
        # record time, or flush.size records later. The tail stays in an open file.
        time.sleep(0.6)
        tail = 1 if layout is BY_FIELD else int(layout["flush.size"])
        for p in range(PARTITIONS):
            last: list[bytes | None] = [
                _value(n, layout) for n in range(TOTAL + p * tail, TOTAL + (p + 1) * tail)
            ]
            produce(kafka.bootstrap, topic, last, partition=p)

        # Everything but the tail is in S3 once the commits reach the tail records.
        group = f"connect-{name}"
        wait_for(
            lambda: all(
                done >= end
                for done, end in zip(
                    committed(kafka.bootstrap, group, topic, PARTITIONS), produced, strict=True
                )
            )
        )
    finally:
        feeder.join()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, "SIGTERM ends the worker cleanly with status 0"

    stored = _stored(s3_client, bucket, layout)
    counts = Counter(v["n"] for values in stored.values() for v in values)
    assert set(range(TOTAL)) <= set(counts), "every record before the tail is archived"
    assert max(counts.values()) == 1, "no record is in two objects"
    if layout is BY_FIELD:
        where, suffix = r"g=([012])", r"\.json\.gz"
    else:
        where = r"partition=([0-3])"
        suffix = r"\.avro" if layout is AVRO else r"\.json\.zst"
    pattern = re.compile(
        rf"topics/{re.escape(topic)}/{where}/{re.escape(topic)}\+[0-3]\+\d{{10}}{suffix}"
    )
    for key, values in stored.items():
        match = pattern.fullmatch(key)
        assert match, key
        if layout is BY_FIELD:
            assert {v["g"] for v in values} == {int(match.group(1))}
        elif layout is IN_BULK:
            lines = decode(key, body(s3_client, bucket, key)).splitlines()
            assert lines == [_value(v["n"]) for v in values], "stored as consumed"
    hashes = version_hashes(s3_client, bucket)
    # Conditional uploads: a redelivered range's object is refused (412, the same end
    # offset) and kept, never written again.
    assert all(len(h) == 1 for h in hashes.values()), "an object was written over"
    log = (tmp_path / "worker.log").read_text(errors="replace")
    refused = log.count("was stored already with offsets")
    print(f"{len(hashes)} objects; {refused} redelivered objects refused and kept")
    assert refused > 0, "the kills made the worker redeliver ranges it had already stored"
