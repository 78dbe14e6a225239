"""A full disk under the file sink: its file lives on a small tmpfs (mounted by the test,
which runs as root) that fills while records flow; after ``FAULT_OUTAGE_SECONDS`` (60 by
default) of being full it is grown, as an operator freeing space would. The task must
say why it waits, never fail, and write every record once space returns."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from devstack.kafka import KafkaBroker
from tests.faults.support import (
    Claims,
    KeyedFeeder,
    StatusSampler,
    WorkerProcess,
    end_offsets,
    env_number,
    hold,
    read_jsonl_numbers,
    wait_until,
)
from tests.integration.sql.support import group_offsets

FULL = env_number("FAULT_OUTAGE_SECONDS", 60)
RATE = env_number("FAULT_RATE", 200)
SMALL, LARGE = "64k", "64m"  # ~5,000 lines fit in the small disk: full within a minute
AFTER = 20.0
PARTITIONS = 3
DRAIN_TIMEOUT = 180.0
PROTOCOLS = ["classic", "consumer"]

pytestmark = [pytest.mark.fault, pytest.mark.timeout(int(120 + FULL + AFTER + DRAIN_TIMEOUT + 300))]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of ``SMALL`` bytes; ``grow`` remounts it at ``LARGE`` keeping its files."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SMALL}", "tmpfs", mount_point], check=True
    )
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", mount_point], check=True)


def _grow(mount_point: Path) -> None:
    subprocess.run(["mount", "-o", f"remount,size={LARGE}", mount_point], check=True)


def _task_message(client: httpx.Client, worker: WorkerProcess, name: str) -> str:
    try:
        tasks = client.get(f"{worker.url}/connectors/{name}/status").json().get("tasks", [])
    except (httpx.HTTPError, ValueError):
        return ""
    return " ".join(str(t.get("message") or t.get("trace") or "") for t in tasks)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_file_sink_on_a_full_disk_waits_says_why_and_loses_nothing(
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    small_disk: Path,
    unique: str,
    tmp_path: Path,
    protocol: str,
    report: Callable[[str], None],
) -> None:
    """The file sink's disk fills: its task stays RUNNING with a status naming "No space
    left", and once the disk grows every record is in the file, as whole lines, once."""
    topic, name = make_topic("disk-full", PARTITIONS), f"disk-full-{unique}"
    output = small_disk / "file.jsonl"
    connector = {
        "connector.class": "file",
        "topics": topic,
        "file": str(output),
        "key.converter": "string",
        "value.converter": "json",
        "value.converter.schemas.enable": "false",
        "batch.max.records": "500",
        "batch.max.age.ms": "100",
    }
    worker = WorkerProcess(tmp_path, "worker", kafka.bootstrap, protocol, {name: connector})
    feeder = KeyedFeeder(kafka.bootstrap, [topic], RATE)
    sampler = StatusSampler(worker, [name])
    try:
        worker.start().wait_running([name])
        feeder.start()
        sampler.start()
        with httpx.Client(timeout=3.0) as client:
            began = time.monotonic()
            filled = wait_until(lambda: "No space left" in _task_message(client, worker, name), 180)
            full_at = time.monotonic()
            message = _task_message(client, worker, name)
            hold(FULL, [worker], [feeder, sampler])
            still_said = "No space left" in _task_message(client, worker, name)
            _grow(small_disk)
            grown = time.monotonic()
            cleared = wait_until(
                lambda: "No space left" not in _task_message(client, worker, name), 120
            )
        hold(AFTER, [worker], [feeder, sampler])
        feeder.stop()
        ends = end_offsets(kafka.bootstrap, topic, PARTITIONS)
        acked = set(feeder.acked[topic])

        def drained() -> bool:
            return acked <= set(read_jsonl_numbers([output])[0]) and (
                group_offsets(kafka.bootstrap, f"connect-{name}", topic, PARTITIONS) == ends
            )

        drain = wait_until(drained, DRAIN_TIMEOUT)
        sampler.stop()
        exit_status = worker.stop()
    finally:
        for part in (feeder, sampler, worker):
            with contextlib.suppress(BaseException):
                part.stop()

    numbers, torn = read_jsonl_numbers([output])
    written = Counter(numbers)
    missing = len(acked - written.keys())
    duplicates = sum(c - 1 for c in written.values())
    not_running = sampler.not_running(name)
    failed = sum(1 for _, state, _ in not_running if state == "FAILED")
    restarts = sampler.metric_max("offramp_task_restarts_total", name)
    claims = Claims()
    claims.check("the disk filled and the status said so", filled is not None)
    claims.check("the status said so while the disk stayed full", still_said)
    claims.check("the status cleared once space returned", cleared is not None)
    claims.check("nothing lost", missing == 0)
    claims.check("no duplicate lines", duplicates == 0)
    claims.check("every line a whole record", torn == 0)
    claims.check("no task ever FAILED", failed == 0)
    claims.check("no task restart", restarts == 0)
    claims.check(f"drained within {DRAIN_TIMEOUT:.0f}s", drain is not None)
    claims.check("SIGTERM stops the worker with 0", exit_status == 0)
    report(
        f"protocol={protocol} disk={SMALL}->{LARGE} filled_after="
        f"{f'{filled:.1f}s' if filled is not None else 'NEVER'} full={grown - full_at:.0f}s "
        f"produced={feeder.produced} acked={len(acked)} written={len(numbers)} lost={missing} "
        f"duplicates={duplicates} torn={torn} resumed_after="
        f"{f'{cleared:.1f}s' if cleared is not None else 'NEVER'} "
        f"not_running_samples={len(not_running)} failed_samples={failed} restarts={restarts} "
        f"drain={f'{drain:.1f}s' if drain is not None else 'TIMEOUT'} "
        f"elapsed={time.monotonic() - began:.0f}s {claims.verdict}"
    )
    print("status while full:", message[:300])
    if not_running:
        print("first non-RUNNING sample:", not_running[0])
    claims.verify()
