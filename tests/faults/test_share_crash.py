"""kill -9 of a worker running a share-group connector (issue 20's must-show): the
records the dead worker had acquired come back when their acquisition lock expires,
and the restarted worker writes them. The group's lock is 5 s (devstack allows 1 s);
the share group is the connector's ``connect-<name>``."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ResourceType,
)

from devstack.kafka import KafkaBroker
from tests.conftest import wait_for
from tests.faults.support import (
    Claims,
    KeyedFeeder,
    WorkerProcess,
    count_lines,
    env_number,
    file_sink,
    read_jsonl_numbers,
    wait_until,
)

RATE = env_number("FAULT_RATE", 200)
LOCK_MS = 5000
KILLS = 3
RUN_BETWEEN = 5.0
DRAIN_TIMEOUT = 120.0

pytestmark = [pytest.mark.fault, pytest.mark.timeout(600)]


def _lock(bootstrap: str, group: str, ms: int) -> None:
    """The share group's acquisition lock (a group config; settable before it exists)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    resource = ConfigResource(
        ResourceType.GROUP,
        group,
        incremental_configs=[
            ConfigEntry(
                "share.record.lock.duration.ms",
                str(ms),
                incremental_operation=AlterConfigOpType.SET,
            )
        ],
    )
    admin.incremental_alter_configs([resource])[resource].result(30)


def test_kill_9_of_a_share_worker_loses_nothing(
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    tmp_path: Path,
    report: Callable[[str], None],
) -> None:
    """Three kill -9s of the worker, each restarted at once, while records flow to a
    2-partition topic read by a 4-task share connector: every acknowledged record is in
    the file once the locks of the records the dead worker held have expired."""
    topic, name = make_topic("share-crash", partitions=2), f"share-crash-{unique}"
    output = tmp_path / "out.jsonl"
    _lock(kafka.bootstrap, f"connect-{name}", LOCK_MS)
    config = {**file_sink(topic, output), "group.type": "share", "tasks.max": "4"}
    worker = WorkerProcess(
        tmp_path, "share", kafka.bootstrap, "consumer", {name: config}, log_level="WARNING"
    )
    feeder = KeyedFeeder(kafka.bootstrap, [topic], RATE)
    began = time.monotonic()
    resumes: list[float] = []
    try:
        worker.start().wait_running([name])
        feeder.start()
        wait_for(lambda: count_lines(output) > 0, 60)
        for _ in range(KILLS):
            time.sleep(RUN_BETWEEN)
            lines = count_lines(output)
            worker.kill()
            worker.start()
            grew = wait_until(lambda lines=lines: count_lines(output) > lines, 60, 0.05)
            resumes.append(grew if grew is not None else float("inf"))
            if grew is None:
                break
        feeder.stop()
        acked = set(feeder.acked[topic])

        def all_written() -> bool:
            return acked <= set(read_jsonl_numbers([output])[0])

        drain = wait_until(all_written, DRAIN_TIMEOUT)
        exit_status = worker.stop()
    finally:
        with contextlib.suppress(BaseException):
            feeder.stop()
        worker.stop()
    elapsed = time.monotonic() - began
    numbers, torn = read_jsonl_numbers([output])
    per_id = Counter(numbers)
    duplicates = sum(c - 1 for c in per_id.values())
    missing = len(acked - per_id.keys())
    claims = Claims()
    claims.check(f"{KILLS} kills survived", len(resumes) == KILLS)
    claims.check("no record missing", missing == 0)
    claims.check("every line a whole record", torn == 0)
    claims.check(f"all written within {DRAIN_TIMEOUT:.0f}s of the last record", drain is not None)
    claims.check("SIGTERM stops the worker with 0", exit_status == 0)
    report(
        f"share kills={len(resumes)} records={len(acked)} lines={len(numbers)} "
        f"duplicates={duplicates} missing={missing} torn={torn} lock={LOCK_MS}ms "
        f"resume_s=[{' '.join(f'{r:.1f}' for r in resumes)}] "
        f"drain={f'{drain:.1f}s' if drain is not None else 'TIMEOUT'} elapsed={elapsed:.0f}s "
        f"{claims.verdict}"
    )
    claims.verify()
