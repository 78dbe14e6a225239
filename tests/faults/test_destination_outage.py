"""A destination outage under default settings: the SQL sink's PostgreSQL is shut down
for ``FAULT_OUTAGE_SECONDS`` (60 by default) and started again on the same port, while a
file sink in the same worker reads another topic. The run lasts ``FAULT_SECONDS`` (120
by default; at least the outage plus 30 s), then the producer stops and both drain."""

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
from tests.conftest import wait_for
from tests.faults.support import (
    OBSERVER,
    Claims,
    KeyedFeeder,
    RestartablePostgres,
    StatusSampler,
    WorkerProcess,
    count_lines,
    end_offsets,
    env_number,
    hold,
    max_stall,
    read_jsonl_numbers,
    wait_until,
)
from tests.integration.sql.support import group_offsets, stored_offsets

SECONDS = env_number("FAULT_SECONDS", 120)
OUTAGE = env_number("FAULT_OUTAGE_SECONDS", 60)
RATE = env_number("FAULT_RATE", 200) / 2  # per topic: two topics share the budget
WARMUP = 15.0
PARTITIONS = 3
DRAIN_TIMEOUT = 180.0
# The file sink counts as flowing if its output never stands still longer than this
# (it reads with batch.max.age.ms=100 from a topic produced to every 50 ms).
MAX_FILE_STALL = 5.0
PROTOCOLS = ["classic", "consumer"]

pytestmark = [
    pytest.mark.fault,
    pytest.mark.timeout(int(max(SECONDS, WARMUP + OUTAGE + 30) + DRAIN_TIMEOUT + 300)),
]


def _common(topic: str) -> dict[str, Any]:
    return {
        "topics": topic,
        "key.converter": "string",
        "value.converter": "json",
        "value.converter.schemas.enable": "false",
        "batch.max.records": "500",
        "batch.max.age.ms": "100",
    }


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_destination_outage_under_default_settings(
    kafka: KafkaBroker,
    restartable_postgres: RestartablePostgres,
    make_topic: Callable[..., str],
    unique: str,
    tmp_path: Path,
    protocol: str,
    report: Callable[[str], None],
) -> None:
    """Under default retry settings, a 60 s PostgreSQL outage loses nothing, never fails a
    task, causes no rebalance, ends by itself, and a file sink in the same worker keeps
    flowing throughout."""
    pg = restartable_postgres
    sql_topic, file_topic = make_topic("outage-sql", PARTITIONS), make_topic("outage-file", 3)
    sql_name, file_name = f"outage-sql-{unique}", f"outage-file-{unique}"
    table, output = f"rows_{unique}", tmp_path / "file.jsonl"
    connectors = {
        sql_name: {
            **_common(sql_topic),
            "connector.class": "sql",
            "connection.url": pg.url(),
            "table.name.format": table,
            "insert.mode": "insert",
            "pk.mode": "record_key",
            "pk.fields": "id",
            # Deliberately no errors.retry.* and no task.restart.*: the defaults are
            # what is tested.
        },
        file_name: {**_common(file_topic), "connector.class": "file", "file": str(output)},
    }
    with psycopg.connect(pg.conninfo(), autocommit=True) as setup:
        # No primary key, so a record written twice shows as two rows.
        setup.execute(f"CREATE TABLE {table} (id text, n bigint)")

    def rows() -> int:
        # A fresh short connection each time: the server goes away under it.
        with psycopg.connect(pg.conninfo(), connect_timeout=2, application_name=OBSERVER) as c:
            found = c.execute(f"SELECT count(*) FROM {table}").fetchone()
            return int(found[0]) if found else 0

    worker = WorkerProcess(tmp_path, "worker", kafka.bootstrap, protocol, connectors)
    feeder = KeyedFeeder(kafka.bootstrap, [sql_topic, file_topic], RATE)
    sampler = StatusSampler(
        worker, [sql_name, file_name], {"rows": rows, "lines": lambda: count_lines(output)}
    )
    began = time.monotonic()
    try:
        worker.start().wait_running([sql_name, file_name])
        feeder.start()
        sampler.start()
        wait_for(lambda: rows() > 0 and count_lines(output) > 0, 60)
        hold(WARMUP, [worker], [feeder, sampler])
        assigned_before = sampler.metric_last("offramp_partitions_assigned_total", sql_name)
        rows_before = rows()  # nothing can be written from the halt to the restart
        down = time.monotonic()
        pg.halt()
        hold(OUTAGE, [worker], [feeder, sampler])
        pg.resume()
        up = time.monotonic()
        resumed = wait_until(lambda: rows() > rows_before, 120)
        hold(max(10.0, SECONDS - (time.monotonic() - began)), [worker], [feeder, sampler])
        feeder.stop()
        sql_ends = end_offsets(kafka.bootstrap, sql_topic, PARTITIONS)
        file_ends = end_offsets(kafka.bootstrap, file_topic, 3)
        acked_sql, acked_file = set(feeder.acked[sql_topic]), set(feeder.acked[file_topic])

        def drained() -> bool:
            with psycopg.connect(pg.conninfo(), application_name=OBSERVER) as c:
                stored = stored_offsets(c, sql_name)
            return (
                rows() >= len(acked_sql)
                and [stored.get((sql_topic, p)) for p in range(PARTITIONS)] == sql_ends
                and acked_file <= set(read_jsonl_numbers([output])[0])
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

    with psycopg.connect(pg.conninfo(), autocommit=True) as check:
        per_id = Counter(int(n) for (n,) in check.execute(f"SELECT n FROM {table}").fetchall())
        stored = stored_offsets(check, sql_name)
    sql_group = group_offsets(kafka.bootstrap, f"connect-{sql_name}", sql_topic, PARTITIONS)
    file_numbers, torn = read_jsonl_numbers([output])
    times = [s.at for s in sampler.samples]
    stall = max_stall(times, [s.probes["lines"] for s in sampler.samples], down, up)
    not_running = {n: sampler.not_running(n) for n in (sql_name, file_name)}
    failed = {n: sum(1 for s in found if s[1] == "FAILED") for n, found in not_running.items()}
    revoked = sampler.metric_max("offramp_partitions_revoked_total", sql_name)
    assigned_after = sampler.metric_max("offramp_partitions_assigned_total", sql_name)
    restarts = sampler.metric_max("offramp_task_restarts_total", sql_name)
    file_revoked = sampler.metric_max("offramp_partitions_revoked_total", file_name)
    duplicates = sum(c - 1 for c in per_id.values())
    missing = len(acked_sql - per_id.keys())
    file_missing = len(acked_file - set(file_numbers))
    states = sorted({state for _, state, _ in not_running[sql_name]})
    during = [s for s in sampler.samples if down <= s.at <= up]
    sql_stored = [stored.get((sql_topic, p)) for p in range(PARTITIONS)]
    claims = Claims()
    claims.check(
        "the topics hold each acknowledged record once",
        sum(sql_ends) == len(acked_sql) and sum(file_ends) == len(acked_file),
    )
    claims.check("status sampled throughout the outage", len(during) >= OUTAGE / 2)
    claims.check("nothing lost", missing == 0 and file_missing == 0)
    claims.check("exactly once in the table", duplicates == 0)
    claims.check("no task ever FAILED", failed == {sql_name: 0, file_name: 0})
    claims.check("every task RUNNING at every sample", not any(not_running.values()))
    claims.check("no task restart", restarts == 0)
    claims.check("no partition revoked", revoked == 0 and file_revoked == 0)
    claims.check("no partition reassigned", assigned_after == assigned_before)
    claims.check("writes resumed by themselves", resumed is not None)
    claims.check(f"drained within {DRAIN_TIMEOUT:.0f}s", drain is not None)
    claims.check(
        f"the file sink never stalled over {MAX_FILE_STALL:.0f}s in the outage",
        stall <= MAX_FILE_STALL,
    )
    claims.check("offsets table == group offsets == topic end", sql_stored == sql_ends == sql_group)
    claims.check("every line a whole record", torn == 0)
    claims.check("SIGTERM stops the worker with 0", exit_status == 0)
    report(
        f"protocol={protocol} outage={up - down:.0f}s records={len(acked_sql)}+"
        f"{len(acked_file)} rows={sum(per_id.values())} duplicates={duplicates} "
        f"missing={missing} file_missing={file_missing} "
        f"sql_not_running_samples={len(not_running[sql_name])} {states} "
        f"failed_samples={failed[sql_name]}+{failed[file_name]} restarts={restarts} "
        f"revoked={revoked} assigned={assigned_before}->{assigned_after} "
        f"file_max_stall={stall:.1f}s resumed_after="
        f"{f'{resumed:.1f}s' if resumed is not None else 'NEVER'} "
        f"drain={f'{drain:.1f}s' if drain is not None else 'TIMEOUT'} "
        f"samples={len(sampler.samples)} unanswered={sampler.unanswered} "
        f"elapsed={elapsed:.0f}s {claims.verdict}"
    )
    if not_running[sql_name]:
        print("first non-RUNNING sample of the SQL task:", not_running[sql_name][0])
    claims.verify()
