"""Fault 6: poison. 1 % of the records are not JSON and 0.5 % break the table's CHECK
constraint; a ``sql`` connector (upsert, 3 tasks, 6 partitions, real PostgreSQL) with a
dead-letter topic reads them among the rest. Exactly those records are dead-lettered,
each with its context; every other record is a row; the dead-letter circuit breaker
stays closed at 1.5 % (it trips at 50 %); the group commits the end of every partition.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable

import orjson
import psycopg
import pytest

from devstack.kafka import KafkaBroker
from devstack.postgres import PostgresServer
from offramp.testing import read_dead_letters
from tests.conftest import produce, wait_for
from tests.integration.runtime_support import committed, dead_letters_to, make_worker
from tests.integration.sql.support import sql_config

RECORDS = int(os.environ.get("FAULT_POISON_RECORDS", "20000"))
PARTITIONS = 6

pytestmark = [pytest.mark.fault, pytest.mark.timeout(900)]


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_exactly_the_poison_is_dead_lettered_with_context_and_the_rest_written(
    kafka: KafkaBroker,
    postgres: PostgresServer,
    make_topic: Callable[..., str],
    unique: str,
    protocol: str,
    report: Callable[[str], None],
) -> None:
    """FAULT_POISON_RECORDS (20 000) records, 1 % undecodable and 0.5 % refused by a
    CHECK: exactly those 1.5 % in the DLQ with stage, exception and topic/partition/offset
    headers; the other 98.5 % are rows; no task FAILED or paused; the group drains."""
    topic = make_topic("poison", partitions=PARTITIONS)
    dead, name, table = f"poison-dlq-{unique}", f"poison-{unique}", f"poison_{unique}"
    chooser = random.Random(6)
    undecodable = set(chooser.sample(range(RECORDS), RECORDS // 100))
    refused = set(chooser.sample(sorted(set(range(RECORDS)) - undecodable), RECORDS // 200))
    values: list[bytes] = []
    for n in range(RECORDS):
        if n in undecodable:
            values.append(b"\xff not json " + str(n).encode())
        else:
            cost = -1 if n in refused else n % 97
            values.append(orjson.dumps({"tenant": "acme", "cost": cost}))
    keys = [f"k{n}".encode() for n in range(RECORDS)]
    with psycopg.connect(postgres.conninfo(), autocommit=True) as pg:
        pg.execute(
            f"CREATE TABLE {table} (id text PRIMARY KEY, tenant text NOT NULL, "
            "cost numeric CHECK (cost >= 0))"
        )
        worker = make_worker(kafka.bootstrap, protocol)
        try:
            worker.create(
                name,
                sql_config(
                    topic,
                    postgres.url(),
                    **dead_letters_to(dead),
                    **{
                        "tasks.max": "3",
                        "table.name.format": table,
                        "insert.mode": "upsert",
                        "pk.mode": "record_key",
                        "pk.fields": "id",
                    },
                ),
            )
            # Produced once the group has settled: a dead letter is at-least-once, and a
            # rebalance while tasks join would redeliver (and dead-letter again) the
            # uncommitted ones — the fault under test is the poison, not the churn.
            wait_for(lambda: _members_with_partitions(kafka.bootstrap, f"connect-{name}") == 3)
            produce(kafka.bootstrap, topic, values, keys=keys)
            began = time.monotonic()
            expected = len(undecodable) + len(refused)
            letters = read_dead_letters(kafka.bootstrap, dead, expected=expected, timeout=300)
            wait_for(
                lambda: (
                    committed(kafka.bootstrap, f"connect-{name}", topic, PARTITIONS)
                    == _ends(kafka.bootstrap, topic)
                ),
                timeout=300,
            )
            elapsed = time.monotonic() - began
            states = {t.status.state for t in worker.get(name).tasks}
            rows = {r[0] for r in pg.execute(f"SELECT id FROM {table}").fetchall()}
        finally:
            worker.shutdown()
        # Anything more than the expected letters arrives within a few seconds of them.
        extra = read_dead_letters(kafka.bootstrap, dead, expected=expected + 1, timeout=5)

    by_key = {(d.key or b"").decode(): d for d in letters}
    wanted = {f"k{n}" for n in undecodable | refused}
    stages = {k: d.headers.get("__connect.errors.stage") for k, d in by_key.items()}
    missing_context = [
        k
        for k, d in by_key.items()
        if not all(
            d.headers.get(h)
            for h in (
                "__connect.errors.topic",
                "__connect.errors.partition",
                "__connect.errors.offset",
                "__connect.errors.exception.class.name",
                "__connect.errors.exception.message",
            )
        )
    ]
    wrong_stage = [
        k
        for k, s in stages.items()
        if s != ("VALUE_CONVERTER" if int(k[1:]) in undecodable else "TASK_PUT")
    ]
    written_ok = rows == {f"k{n}" for n in range(RECORDS)} - wanted
    report(
        f"protocol={protocol} records={RECORDS} undecodable={len(undecodable)} "
        f"refused={len(refused)} dead_lettered={len(letters)} (read again: {len(extra)}) "
        f"rows={len(rows)} wrong_stage={len(wrong_stage)} missing_context={len(missing_context)} "
        f"task_states={sorted(str(s) for s in states)} elapsed={elapsed:.1f}s"
    )
    assert set(by_key) == wanted and len(letters) == len(wanted)
    assert len(extra) == len(wanted), "more dead letters than poison records"
    assert not wrong_stage, wrong_stage[:5]
    assert not missing_context, missing_context[:5]
    assert written_ok, f"{len(rows)} rows, {RECORDS - len(wanted)} expected"
    assert states == {"RUNNING"}
    for n in sorted(undecodable)[:3]:
        assert by_key[f"k{n}"].value == values[n]  # the original bytes, untouched


def _members_with_partitions(bootstrap: str, group: str) -> int:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    (described,) = admin.describe_consumer_groups([group], request_timeout=10).values()
    try:
        members = described.result().members
    except Exception:  # not there yet
        return 0
    return sum(1 for m in members if m.assignment and m.assignment.topic_partitions)


def _ends(bootstrap: str, topic: str) -> list[int]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"ends-{topic}"})
    try:
        return [
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(PARTITIONS)
        ]
    finally:
        consumer.close()
