"""Exactly-once under SIGKILL: a worker killed mid-stream again and again, then a clean
run, leaves every record in exactly one object, and no object name ever held two
different contents."""

from __future__ import annotations

import random
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
from confluent_kafka import Producer

from devstack.kafka import KafkaBroker
from devstack.s3 import S3Server
from tests.conftest import produce, wait_for
from tests.integration.runtime_support import committed, start_standalone_worker
from tests.integration.s3.support import archive, keys, version_hashes

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

TOTAL = 50_000
PARTITIONS = 4
KILLS = 3


def _start_worker(
    tmp: Path, bootstrap: str, server: S3Server, bucket: str, topic: str, name: str
) -> subprocess.Popen[bytes]:
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
            # Several open files per partition, rotated by count and by record
            # time, gzip-compressed: every part of determinism is exercised.
            "partitioner.class": "field",
            "partition.field.name": "g",
            "flush.size": "1000",
            "rotate.interval.ms": "400",
            "s3.compression.type": "gzip",
        },
    )


def test_kill_9_during_50000_records_then_a_clean_run_is_exactly_once(
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    s3_server: S3Server,
    s3_client: S3Client,
    bucket: str,
    unique: str,
    tmp_path: Path,
) -> None:
    """Three SIGKILLs while 50,000 records stream in, then a run to the end: the union of
    the objects holds each record once, and every version of every key is identical."""
    topic, name = make_topic("archive", partitions=PARTITIONS), f"archive-{unique}"

    unacknowledged: list[int] = []

    def feed() -> None:
        producer = Producer({"bootstrap.servers": kafka.bootstrap, "enable.idempotence": True})
        for start in range(0, TOTAL, 1000):
            for n in range(start, start + 1000):
                producer.produce(topic, orjson.dumps({"n": n, "g": n % 3}), str(n).encode())
            unacknowledged.append(producer.flush(30))
            time.sleep(0.4)  # ~20 s of streaming, so every kill lands mid-stream

    feeder = threading.Thread(target=feed)
    feeder.start()
    rng = random.Random(11)
    proc = _start_worker(tmp_path, kafka.bootstrap, s3_server, bucket, topic, name)
    try:
        for _ in range(KILLS):
            before = len(keys(s3_client, bucket))
            wait_for(lambda b=before: len(keys(s3_client, bucket)) > b + 20, timeout=90)
            time.sleep(rng.uniform(0.0, 0.6))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc = _start_worker(tmp_path, kafka.bootstrap, s3_server, bucket, topic, name)
        feeder.join()
        assert not any(unacknowledged), "the broker acknowledged every record"
        # Each partition's last file closes when a record 400 ms later in record time
        # arrives: one tail record per partition, itself left in an open file.
        time.sleep(0.6)
        for p in range(PARTITIONS):
            produce(kafka.bootstrap, topic, [orjson.dumps({"n": TOTAL + p, "g": 0})], partition=p)

        # Everything but the tail is in S3 once the commits reach the tail records.
        group = f"connect-{name}"
        wait_for(lambda: sum(committed(kafka.bootstrap, group, topic, PARTITIONS)) == TOTAL)
    finally:
        feeder.join()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, "SIGTERM ends the worker cleanly with status 0"

    stored = archive(s3_client, bucket)
    counts = Counter(v["n"] for values in stored.values() for v in values)
    assert set(counts) == set(range(TOTAL)), "every record is archived, the tail is still open"
    assert max(counts.values()) == 1, "no record is in two objects"
    pattern = re.compile(
        rf"topics/{re.escape(topic)}/g=([012])/{re.escape(topic)}\+[0-3]\+\d{{10}}\.json\.gz"
    )
    for key, values in stored.items():
        match = pattern.fullmatch(key)
        assert match, key
        assert {v["g"] for v in values} == {int(match.group(1))}
    hashes = version_hashes(s3_client, bucket)
    assert all(len(set(h)) == 1 for h in hashes.values()), "an object name held two contents"
    rewritten = sum(len(h) - 1 for h in hashes.values())
    print(f"{len(hashes)} objects; {rewritten} rewritten identically after the kills")
    assert rewritten > 0, "the kills made the worker redeliver ranges it had already stored"
