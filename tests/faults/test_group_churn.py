"""Group churn on the real broker: a second worker process running the same connector
joins and leaves the group every 5 s (SIGTERM and kill -9 in turn) while a producer
keeps writing keyed records to 6 partitions; the SQL sink's database connections are
killed every 3 s besides. Each run lasts ``FAULT_SECONDS`` (120 by default), then the
producer stops, the connector drains, and every record is counted."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from devstack.kafka import KafkaBroker
from devstack.postgres import PostgresServer
from tests.conftest import wait_for
from tests.faults.support import (
    OBSERVER,
    Claims,
    ConnectionKiller,
    GroupChurn,
    KeyedFeeder,
    StatusSampler,
    WorkerProcess,
    end_offsets,
    env_number,
    hold,
    read_jsonl_numbers,
    wait_until,
)
from tests.integration.sql.support import group_offsets, scalar, stored_offsets

SECONDS = env_number("FAULT_SECONDS", 120)
RATE = env_number("FAULT_RATE", 200)  # records/s: modest, the machine is shared
PARTITIONS = 6
CHURN_PERIOD = 5.0
KILL_INTERVAL = 3.0
DRAIN_TIMEOUT = 180.0
PROTOCOLS = ["classic", "consumer"]

pytestmark = [pytest.mark.fault, pytest.mark.timeout(int(SECONDS + DRAIN_TIMEOUT + 300))]


def _common(topic: str) -> dict[str, Any]:
    return {
        "topics": topic,
        "tasks.max": "2",
        "key.converter": "string",
        "value.converter": "json",
        "value.converter.schemas.enable": "false",
        "batch.max.records": "500",
        "batch.max.age.ms": "100",
    }


def _sql_config(topic: str, url: str, table: str) -> dict[str, Any]:
    return {
        **_common(topic),
        "connector.class": "sql",
        "connection.url": url,
        "table.name.format": table,
        # A keyed insert: exactly.once is on by default (offsets in the same transaction).
        "insert.mode": "insert",
        "pk.mode": "record_key",
        "pk.fields": "id",
        # A killed connection is a RetriableError: retried in place for as long as it
        # takes (-1, the default since issue 15, set here so the old loop runs the same
        # retry paths), backoff capped at 5 s so a retry isn't parked behind the churn.
        "errors.retry.timeout": "-1",
        "errors.retry.delay.max.ms": "5000",
    }


def _first(failed: list[tuple[float, str, str]]) -> str:
    """The first FAILED sample's reason (the last line of its trace), for the report."""
    return f" (first: {failed[0][2]!r})" if failed else ""


def _shutdown(*parts: Any) -> None:
    """Stop whatever is still running after a failure, without hiding the failure."""
    for part in parts:
        with contextlib.suppress(BaseException):
            part.stop()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_sql_exactly_once_through_connection_kills_and_group_churn(
    kafka: KafkaBroker,
    postgres: PostgresServer,
    make_topic: Callable[..., str],
    unique: str,
    tmp_path: Path,
    protocol: str,
    report: Callable[[str], None],
) -> None:
    """Every record is in the table exactly once, and the offsets table equals the group's
    committed offsets and the topic's end, through connection kills every 3 s and a
    second worker joining and leaving every 5 s."""
    topic, name = make_topic("fault-sql", partitions=PARTITIONS), f"fault-sql-{unique}"
    database, table = f"fault_{unique}", f"rows_{unique}"
    url = postgres.create_database(database)
    config = _sql_config(topic, url, table)
    conninfo = postgres.conninfo(database)
    with psycopg.connect(conninfo, autocommit=True, application_name=OBSERVER) as db:
        # No primary key, so a record written twice shows as two rows.
        db.execute(f"CREATE TABLE {table} (id text, n bigint)")
        stable = WorkerProcess(tmp_path, "stable", kafka.bootstrap, protocol, {name: config})
        churning = WorkerProcess(
            tmp_path, "churn", kafka.bootstrap, protocol, {name: config}, log_level="WARNING"
        )
        feeder = KeyedFeeder(kafka.bootstrap, [topic], RATE)
        killer = ConnectionKiller(postgres.conninfo("postgres"), database, KILL_INTERVAL)
        churn = GroupChurn(churning, name, CHURN_PERIOD)
        sampler = StatusSampler(stable, [name])
        began = time.monotonic()
        try:
            stable.start().wait_running([name])
            feeder.start()
            wait_for(lambda: (scalar(db, f"SELECT count(*) FROM {table}") or 0) > 0, 60)
            sampler.start()
            killer.start()
            churn.start()
            hold(SECONDS, [stable], [feeder, killer, churn, sampler])
            feeder.stop()
            killer.stop()
            churn.stop()
            total = len(feeder.acked[topic])
            ends = end_offsets(kafka.bootstrap, topic, PARTITIONS)

            def drained() -> bool:
                rows = scalar(db, f"SELECT count(DISTINCT id) FROM {table}") or 0
                group = group_offsets(kafka.bootstrap, f"connect-{name}", topic, PARTITIONS)
                stored = stored_offsets(db, name)
                return (
                    rows >= total
                    and group == ends
                    and [stored.get((topic, p)) for p in range(PARTITIONS)] == ends
                )

            drain = wait_until(drained, DRAIN_TIMEOUT)
            sampler.stop()
            exit_status = stable.stop()
        finally:
            _shutdown(feeder, killer, churn, sampler, stable)
        elapsed = time.monotonic() - began

        per_id = Counter(n for (n,) in db.execute(f"SELECT n FROM {table}").fetchall())
        stored = stored_offsets(db, name)
    group = group_offsets(kafka.bootstrap, f"connect-{name}", topic, PARTITIONS)
    acked = set(feeder.acked[topic])
    duplicates = sum(c - 1 for c in per_id.values())
    missing = len(acked - per_id.keys())
    failed = [s for s in sampler.not_running(name) if s[1] == "FAILED"]
    c = churn.figures
    claims = Claims()
    claims.check("the topic holds each acknowledged record once", sum(ends) == total)
    claims.check("the connector's connections were killed", killer.backends > 0)
    claims.check("the second worker took partitions", c.joins_with_partitions > 0)
    claims.check("no record written twice", duplicates == 0)
    claims.check("no record missing", missing == 0)
    claims.check("no row for an unproduced record", per_id.keys() <= acked)
    claims.check(f"drained within {DRAIN_TIMEOUT:.0f}s", drain is not None)
    claims.check(
        "offsets table == group offsets == topic end",
        [stored.get((topic, p)) for p in range(PARTITIONS)] == ends == group,
    )
    claims.check("SIGTERM stops the stable worker with 0", exit_status == 0)
    claims.check("SIGTERM stops the churning worker with 0", c.unclean_exits == [])
    report(
        f"protocol={protocol} records={total} rows={sum(per_id.values())} "
        f"duplicates={duplicates} missing={missing} "
        f"db_kills={killer.rounds} rounds/{killer.backends} connections "
        f"joins={c.joins} ({c.joins_with_partitions} holding partitions) leaves={c.leaves} "
        f"(kill -9 {c.kills}) stable_restarts="
        f"{sampler.metric_max('offramp_task_restarts_total', name)} "
        f"failed_samples={len(failed)}{_first(failed)} "
        f"drain={f'{drain:.1f}s' if drain is not None else 'TIMEOUT'} elapsed={elapsed:.0f}s "
        f"{claims.verdict}"
    )
    claims.verify()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_file_sink_at_least_once_through_group_churn(
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    tmp_path: Path,
    protocol: str,
    report: Callable[[str], None],
) -> None:
    """Every record reaches the file sink's output at least once (no gap) and the group
    commits the topic's end, through a second worker joining and leaving every 5 s."""
    topic, name = make_topic("fault-file", partitions=PARTITIONS), f"fault-file-{unique}"
    # One file per worker process: two processes appending to one file could interleave.
    outputs = [tmp_path / "stable.jsonl", tmp_path / "churn.jsonl"]
    stable = WorkerProcess(
        tmp_path,
        "stable",
        kafka.bootstrap,
        protocol,
        {name: {**_common(topic), "connector.class": "file", "file": str(outputs[0])}},
    )
    churning = WorkerProcess(
        tmp_path,
        "churn",
        kafka.bootstrap,
        protocol,
        {name: {**_common(topic), "connector.class": "file", "file": str(outputs[1])}},
        log_level="WARNING",
    )
    feeder = KeyedFeeder(kafka.bootstrap, [topic], RATE)
    churn = GroupChurn(churning, name, CHURN_PERIOD)
    sampler = StatusSampler(stable, [name])
    began = time.monotonic()
    try:
        stable.start().wait_running([name])
        feeder.start()
        wait_for(lambda: bool(read_jsonl_numbers(outputs)[0]), 60)
        sampler.start()
        churn.start()
        hold(SECONDS, [stable], [feeder, churn, sampler])
        feeder.stop()
        churn.stop()
        total = len(feeder.acked[topic])
        ends = end_offsets(kafka.bootstrap, topic, PARTITIONS)
        acked = set(feeder.acked[topic])

        def drained() -> bool:
            seen = set(read_jsonl_numbers(outputs)[0])
            group = group_offsets(kafka.bootstrap, f"connect-{name}", topic, PARTITIONS)
            return acked <= seen and group == ends

        drain = wait_until(drained, DRAIN_TIMEOUT)
        sampler.stop()
        exit_status = stable.stop()
    finally:
        _shutdown(feeder, churn, sampler, stable)
    elapsed = time.monotonic() - began

    numbers, torn = read_jsonl_numbers(outputs)
    per_id = Counter(numbers)
    duplicates = sum(c - 1 for c in per_id.values())
    missing = len(acked - per_id.keys())
    group = group_offsets(kafka.bootstrap, f"connect-{name}", topic, PARTITIONS)
    failed = [s for s in sampler.not_running(name) if s[1] == "FAILED"]
    c = churn.figures
    claims = Claims()
    claims.check("the topic holds each acknowledged record once", sum(ends) == total)
    claims.check("the second worker took partitions", c.joins_with_partitions > 0)
    claims.check("no record missing (no gap)", missing == 0)
    claims.check("every line a whole record", torn == 0)
    claims.check("no line for an unproduced record", per_id.keys() <= acked)
    claims.check(f"drained within {DRAIN_TIMEOUT:.0f}s", drain is not None)
    claims.check("the group committed the end of every partition", group == ends)
    claims.check("SIGTERM stops the stable worker with 0", exit_status == 0)
    claims.check("SIGTERM stops the churning worker with 0", c.unclean_exits == [])
    report(
        f"protocol={protocol} records={total} lines={len(numbers)} duplicates={duplicates} "
        f"missing={missing} torn_lines={torn} "
        f"joins={c.joins} ({c.joins_with_partitions} holding partitions) leaves={c.leaves} "
        f"(kill -9 {c.kills}) stable_restarts="
        f"{sampler.metric_max('offramp_task_restarts_total', name)} "
        f"failed_samples={len(failed)}{_first(failed)} "
        f"drain={f'{drain:.1f}s' if drain is not None else 'TIMEOUT'} elapsed={elapsed:.0f}s "
        f"{claims.verdict}"
    )
    claims.verify()
