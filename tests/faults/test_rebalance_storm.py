"""A rebalance storm on the real broker: three worker processes (each its own
``worker.id`` and output file) run one file-sink connector in one group while a producer
writes keyed records to 6 partitions. Every 5 s one of them, in turn, is stopped (kill -9
and SIGTERM alternately) or started again, for ``FAULT_SECONDS`` (120). Then all three
run until the connector drains, and every record is counted."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from devstack.kafka import KafkaBroker
from tests.conftest import wait_for
from tests.faults.support import (
    Claims,
    KeyedFeeder,
    WorkerProcess,
    end_offsets,
    env_number,
    file_drained,
    file_sink,
    read_jsonl_numbers,
    wait_until,
)
from tests.integration.sql.support import group_offsets

SECONDS = env_number("FAULT_SECONDS", 120)
RATE = env_number("FAULT_RATE", 200)
PARTITIONS = 6
STEP = 5.0
FLUSH_MS = 500  # offset.flush.interval.ms of the workers (WorkerProcess)
BATCH_AGE_MS = 100
DRAIN_TIMEOUT = 180.0
# What a kill -9 may have written and not committed: one commit period, the batch being
# written and a second of slack for the commit itself and a write in flight.
UNCOMMITTED_SECONDS = (FLUSH_MS + BATCH_AGE_MS) / 1000.0 + 1.0

pytestmark = [pytest.mark.fault, pytest.mark.timeout(int(SECONDS + DRAIN_TIMEOUT + 300))]


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_three_workers_killed_and_started_in_turn_lose_nothing(
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    tmp_path: Path,
    protocol: str,
    report: Callable[[str], None],
) -> None:
    """One of three workers stopped or started every 5 s for two minutes: no record
    missing (no gap), every line whole, the group commits the end of every partition,
    and the duplicates fit the uncommitted windows of the kill -9s."""
    topic, name = make_topic("storm", partitions=PARTITIONS), f"storm-{unique}"
    outputs = [tmp_path / f"w{i}.jsonl" for i in range(3)]
    workers = [
        WorkerProcess(
            tmp_path,
            f"w{i}",
            kafka.bootstrap,
            protocol,
            {name: file_sink(topic, outputs[i], batch_age_ms=BATCH_AGE_MS)},
            log_level="WARNING",
            worker_keys={"worker.id": f"storm-{unique}-w{i}"},
        )
        for i in range(3)
    ]
    feeder = KeyedFeeder(kafka.bootstrap, [topic], RATE)
    kills = terms = starts = 0
    unclean: list[int] = []
    began = time.monotonic()
    try:
        for w in workers:
            w.start()
        for w in workers:
            w.wait_running([name])
        feeder.start()
        wait_for(lambda: bool(read_jsonl_numbers(outputs)[0]), 60)
        step = 0
        deadline = time.monotonic() + SECONDS
        while time.monotonic() < deadline:
            time.sleep(STEP)
            failure = feeder.failure()
            if failure is not None:
                raise failure
            target = workers[step % 3]
            if target.alive():
                if (step // 3) % 2 == 0:
                    target.kill()
                    kills += 1
                else:
                    status = target.stop()
                    terms += 1
                    if status != 0:
                        unclean.append(status)
            else:
                target.start()
                starts += 1
            step += 1
        for w in workers:
            if not w.alive():
                w.start()
        feeder.stop()
        ends = end_offsets(kafka.bootstrap, topic, PARTITIONS)
        acked = set(feeder.acked[topic])
        drained = file_drained(kafka.bootstrap, name, topic, ends, outputs, acked)
        drain = wait_until(drained, DRAIN_TIMEOUT)
    finally:
        with contextlib.suppress(BaseException):
            feeder.stop()
        for w in workers:
            w.stop()
    elapsed = time.monotonic() - began

    numbers, torn = read_jsonl_numbers(outputs)
    per_id = Counter(numbers)
    duplicates = sum(c - 1 for c in per_id.values())
    missing = len(acked - per_id.keys())
    allowed = int(kills * RATE * UNCOMMITTED_SECONDS)
    group = group_offsets(kafka.bootstrap, f"connect-{name}", topic, PARTITIONS)
    claims = Claims()
    claims.check("no record missing (no gap)", missing == 0)
    claims.check("every line a whole record", torn == 0)
    claims.check("no line for an unproduced record", per_id.keys() <= acked)
    claims.check(f"drained within {DRAIN_TIMEOUT:.0f}s", drain is not None)
    claims.check("the group committed the end of every partition", group == ends)
    claims.check(
        f"duplicates within the kill -9s' uncommitted windows ({allowed})", duplicates <= allowed
    )
    claims.check("SIGTERM stops a worker with 0", unclean == [])
    report(
        f"protocol={protocol} records={len(acked)} lines={len(numbers)} "
        f"duplicates={duplicates} (allowed {allowed}) missing={missing} torn_lines={torn} "
        f"kill9={kills} sigterm={terms} starts={starts} "
        f"drain={f'{drain:.1f}s' if drain is not None else 'TIMEOUT'} elapsed={elapsed:.0f}s "
        f"{claims.verdict}"
    )
    claims.verify()
