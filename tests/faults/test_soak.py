"""The soak: ``FAULT_SOAK_MINUTES`` (30) at the seed's rate (``FAULT_SOAK_RATE``, 833
events/s) into one 24-partition topic read by five file-sink connectors on one worker
(the seed's fan-out: five connectors, five groups, one topic), with a fault every
``FAULT_SOAK_FAULT_MINUTES`` (3): in turn, a second worker with the same five connectors
joins for a minute and is killed with kill -9, the same leaving by SIGTERM, and a REST
restart of every connector of the soaking worker. The soaking worker itself is never
killed: its anonymous memory (RssAnon) is sampled every 10 s and compared, at the end,
with its value at minute 5. Run by ``scripts/chaos`` (marker ``soak``), not by
``scripts/test-faults``."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
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

MINUTES = env_number("FAULT_SOAK_MINUTES", 30)
RATE = env_number("FAULT_SOAK_RATE", 833)
FAULT_EVERY = env_number("FAULT_SOAK_FAULT_MINUTES", 3) * 60
BASELINE_MINUTE = 5.0
JOIN_SECONDS = 60.0
PARTITIONS = 24
CONNECTORS = ("billing", "crm", "embeddings", "archive", "training")
MEMORY_TOLERANCE = 0.10
DRAIN_TIMEOUT = 300.0

pytestmark = [
    pytest.mark.fault,
    pytest.mark.soak,
    pytest.mark.timeout(int(MINUTES * 60 + DRAIN_TIMEOUT + 600)),
]


def rss_anon_kb(pid: int) -> int:
    """RssAnon of a process, in kB, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    raise AssertionError(f"no RssAnon in /proc/{pid}/status")


def _restart_all(worker: WorkerProcess, names: list[str]) -> None:
    with httpx.Client(timeout=30.0) as client:
        for name in names:
            response = client.post(f"{worker.url}/connectors/{name}/restart?includeTasks=true")
            assert response.status_code in (200, 202, 204), response.text


def test_soak_at_the_seeds_rate_with_a_fault_every_three_minutes(
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    tmp_path: Path,
    report: Callable[[str], None],
) -> None:
    """Five connectors at 833 events/s through a fault every 3 min: every acknowledged
    record written by every connector, each group at the end of every partition, and
    the worker's RssAnon at the end within 10 % of its value at minute 5."""
    topic = make_topic("soak", partitions=PARTITIONS)
    names = [f"{c}-{unique}" for c in CONNECTORS]
    outputs = {n: [tmp_path / f"soak-{n}.jsonl", tmp_path / f"guest-{n}.jsonl"] for n in names}
    soaking = WorkerProcess(
        tmp_path,
        "soak",
        kafka.bootstrap,
        "classic",
        {n: file_sink(topic, outputs[n][0], batch_age_ms=500) for n in names},
        log_level="WARNING",
        worker_keys={"worker.id": f"soak-{unique}"},
    )
    guest = WorkerProcess(
        tmp_path,
        "guest",
        kafka.bootstrap,
        "classic",
        {n: file_sink(topic, outputs[n][1], batch_age_ms=500) for n in names},
        log_level="WARNING",
        worker_keys={"worker.id": f"guest-{unique}"},
    )
    feeder = KeyedFeeder(kafka.bootstrap, [topic], RATE)
    memory: list[tuple[float, int]] = []
    faults: list[str] = []
    began = time.monotonic()
    try:
        soaking.start().wait_running(names)
        assert soaking.proc is not None
        pid = soaking.proc.pid
        feeder.start()
        wait_for(lambda: all(read_jsonl_numbers([outputs[n][0]])[0] for n in names), 120)
        started = time.monotonic()
        next_fault = started + FAULT_EVERY
        guest_leaves_at: float | None = None
        while (now := time.monotonic()) < started + MINUTES * 60:
            if not soaking.alive():
                raise AssertionError(f"the soaking worker exited:\n{soaking.log_tail()}")
            failure = feeder.failure()
            if failure is not None:
                raise failure
            memory.append(((now - started) / 60.0, rss_anon_kb(pid)))
            if guest_leaves_at is not None and now >= guest_leaves_at:
                if len(faults) % 3 == 1:
                    guest.kill()
                else:
                    assert guest.stop() == 0, guest.log_tail()
                guest_leaves_at = None
            if now >= next_fault:
                kind = ("join, kill -9", "join, SIGTERM", "REST restart")[len(faults) % 3]
                faults.append(kind)
                if kind == "REST restart":
                    _restart_all(soaking, names)
                else:
                    guest.start()
                    guest_leaves_at = now + JOIN_SECONDS
                next_fault += FAULT_EVERY
            time.sleep(10.0)
        if guest.alive():
            guest.stop()
        feeder.stop()
        ends = end_offsets(kafka.bootstrap, topic, PARTITIONS)
        acked = set(feeder.acked[topic])

        checks = [file_drained(kafka.bootstrap, n, topic, ends, outputs[n], acked) for n in names]
        drain = wait_until(lambda: all(check() for check in checks), DRAIN_TIMEOUT, 2.0)
        end_memory = rss_anon_kb(pid)
        exit_status = soaking.stop()
    finally:
        with contextlib.suppress(BaseException):
            feeder.stop()
        guest.stop()
        soaking.stop()
    elapsed = time.monotonic() - began

    baseline = next((kb for minute, kb in memory if minute >= BASELINE_MINUTE), None)
    missing: dict[str, int] = {}
    duplicates: dict[str, int] = {}
    torn = 0
    for n in names:
        numbers, broken = read_jsonl_numbers(outputs[n])
        per_id = Counter(numbers)
        torn += broken
        missing[n] = len(acked - per_id.keys())
        duplicates[n] = sum(c - 1 for c in per_id.values())
    growth = (end_memory - baseline) / baseline if baseline else float("nan")
    claims = Claims()
    claims.check("a RssAnon sample at minute 5", baseline is not None)
    claims.check(
        f"RssAnon at the end within {MEMORY_TOLERANCE:.0%} of minute 5",
        baseline is not None and abs(growth) <= MEMORY_TOLERANCE,
    )
    claims.check("no record missing in any connector", sum(missing.values()) == 0)
    claims.check("every line a whole record", torn == 0)
    claims.check(f"drained within {DRAIN_TIMEOUT:.0f}s", drain is not None)
    claims.check("SIGTERM stops the soaking worker with 0", exit_status == 0)
    report(
        f"minutes={MINUTES:g} rate={RATE:g}/s records={len(acked)} connectors={len(names)} "
        f"faults={len(faults)} ({', '.join(faults)}) "
        f"rss_anon_kb minute5={baseline} end={end_memory} growth={growth:+.1%} "
        f"peak={max(kb for _, kb in memory)} missing={sum(missing.values())} "
        f"duplicates={sum(duplicates.values())} torn_lines={torn} "
        f"drain={f'{drain:.1f}s' if drain is not None else 'TIMEOUT'} elapsed={elapsed:.0f}s "
        f"{claims.verdict}"
    )
    claims.verify()
