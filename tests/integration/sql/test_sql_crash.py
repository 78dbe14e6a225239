"""kill -9 of a worker writing to PostgreSQL, several times: no duplicate, no gap."""

from __future__ import annotations

import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import orjson
from confluent_kafka import Consumer
from confluent_kafka import TopicPartition as KafkaTopicPartition

from devstack.kafka import KafkaBroker
from devstack.postgres import PostgresServer
from tests.conftest import produce, wait_for
from tests.integration.runtime_support import start_standalone_worker
from tests.integration.sql.support import PgConnection, group_offsets, scalar, stored_offsets

TOTAL = 50_000
PARTITIONS = 4
KILLS = 3


def _start_worker(
    tmp: Path, bootstrap: str, topic: str, name: str, url: str, table: str
) -> subprocess.Popen[bytes]:
    return start_standalone_worker(
        tmp,
        bootstrap,
        name,
        {
            "connector.class": "sql",
            "topics": topic,
            "tasks.max": "2",
            "key.converter": "string",
            "value.converter": "json",
            "value.converter.schemas.enable": "false",
            "batch.max.records": "1000",
            "batch.max.age.ms": "50",
            "connection.url": url,
            "table.name.format": table,
            # insert with a key: exactly.once is on by default
            "insert.mode": "insert",
            "pk.mode": "record_key",
            "pk.fields": "id",
        },
    )


def _end_offsets(bootstrap: str, topic: str) -> list[int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "watermarks"})
    try:
        return [
            consumer.get_watermark_offsets(KafkaTopicPartition(topic, p), timeout=10)[1]
            for p in range(PARTITIONS)
        ]
    finally:
        consumer.close()


def test_kill_9_at_random_points_then_a_clean_run_leaves_each_row_once(
    kafka: KafkaBroker,
    postgres: PostgresServer,
    pg: PgConnection,
    make_topic: Callable[..., str],
    unique: str,
    tmp_path: Path,
) -> None:
    """50,000 records, the worker SIGKILLed three times at random points while they
    stream in, then run to the end: the table (deliberately without a primary key, so
    a duplicate would show) holds each key once, and the offsets table equals the
    consumer group's committed offsets and the end of every partition."""
    topic, name = make_topic("crash", partitions=PARTITIONS), f"crash-{unique}"
    table = f"crash_{unique}"
    pg.execute(f"CREATE TABLE {table} (id text, n bigint)")

    def feed() -> None:
        for start in range(0, TOTAL, 2500):
            numbers = range(start, start + 2500)
            produce(
                kafka.bootstrap,
                topic,
                [orjson.dumps({"n": n}) for n in numbers],
                keys=[f"k{n}".encode() for n in numbers],
            )
            time.sleep(0.2)

    feeder = threading.Thread(target=feed)
    feeder.start()
    rng = random.Random(unique)
    start = (tmp_path, kafka.bootstrap, topic, name, postgres.url(), table)
    count = f"SELECT count(*) FROM {table}"
    proc = _start_worker(*start)
    try:
        for _ in range(KILLS):
            before = scalar(pg, count)
            wait_for(lambda b=before: scalar(pg, count) > b + rng.randint(200, 3000), timeout=90)
            time.sleep(rng.uniform(0.0, 0.3))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc = _start_worker(*start)
        feeder.join()
        wait_for(lambda: scalar(pg, count) >= TOTAL, timeout=120)
        ends = _end_offsets(kafka.bootstrap, topic)
        assert sum(ends) == TOTAL
        wait_for(
            lambda: group_offsets(kafka.bootstrap, f"connect-{name}", topic, PARTITIONS) == ends,
            timeout=60,
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, "SIGTERM ends the worker cleanly with status 0"
        feeder.join()
    rows, distinct, numbers = pg.execute(
        f"SELECT count(*), count(DISTINCT id), count(DISTINCT n) FROM {table}"
    ).fetchone() or (0, 0, 0)
    assert (rows, distinct, numbers) == (TOTAL, TOTAL, TOTAL)
    stored = stored_offsets(pg, name)
    assert [stored[(topic, p)] for p in range(PARTITIONS)] == ends
    assert group_offsets(kafka.bootstrap, f"connect-{name}", topic, PARTITIONS) == ends
