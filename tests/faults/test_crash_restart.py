"""Crash restarts on the real broker: a worker running a file sink under a fixed
``worker.id`` is killed with kill -9 and started again at once, ``FAULT_CRASHES`` (10)
times in a row while a producer keeps writing keyed records to 6 partitions, with the
group's default session timeout (classic: the client's 45 s; consumer protocol: the
broker's ``group.consumer.session.timeout.ms``). On the classic protocol static
membership is what lets each restart take its partitions back at once instead of after
the dead session expired."""

from __future__ import annotations

import contextlib
import statistics
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from devstack.kafka import KafkaBroker
from tests.conftest import wait_for
from tests.faults.support import (
    Claims,
    KeyedFeeder,
    WorkerProcess,
    count_lines,
    end_offsets,
    env_number,
    file_drained,
    file_sink,
    read_jsonl_numbers,
    wait_until,
)

CRASHES = int(env_number("FAULT_CRASHES", 10))
RATE = env_number("FAULT_RATE", 200)
PARTITIONS = 6
RESUME_TARGET = 10.0  # seconds from kill -9 to the restarted worker writing again
# The consumer protocol has no fast resume to give: Kafka 4.3 refuses a static member
# back before its dead predecessor's session expired, so tasks there are dynamic and a
# restart waits out the broker's group.consumer.session.timeout.ms (devstack: 10 s).
BROKER_SESSION = 10.0
TARGETS = {"classic": RESUME_TARGET, "consumer": BROKER_SESSION + RESUME_TARGET}
RUN_BETWEEN = 3.0  # seconds of work between a resume and the next crash
DRAIN_TIMEOUT = 120.0

pytestmark = [pytest.mark.fault, pytest.mark.timeout(int(CRASHES * 60 + DRAIN_TIMEOUT + 120))]


def _grew(output: Path, lines: int) -> bool:
    """The output has more whole lines than ``lines``: the worker writes again."""
    return count_lines(output) > lines


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_kill_and_restart_at_once_resumes_in_seconds(
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    tmp_path: Path,
    protocol: str,
    report: Callable[[str], None],
) -> None:
    """Ten kill -9s each followed by an immediate restart under the same worker.id:
    every acknowledged record written, no partition left behind, and each restart
    writing again within 10 s of the kill on the classic protocol (static membership,
    well inside the 45 s session); within the broker's session timeout + 10 s on the
    consumer protocol."""
    topic, name = make_topic("crash", partitions=PARTITIONS), f"crash-{unique}"
    output = tmp_path / "out.jsonl"
    worker = WorkerProcess(
        tmp_path,
        "crashing",
        kafka.bootstrap,
        protocol,
        {name: file_sink(topic, output)},
        log_level="WARNING",
        # The session timeouts stay the defaults: the point is not to need short ones.
        worker_keys={
            "worker.id": f"crash-{unique}",
            "consumer.session.timeout.ms": None,
            "consumer.heartbeat.interval.ms": None,
        },
    )
    feeder = KeyedFeeder(kafka.bootstrap, [topic], RATE)
    resumes: list[float] = []
    began = time.monotonic()
    try:
        worker.start().wait_running([name])
        feeder.start()
        wait_for(lambda: count_lines(output) > 0, 60)
        for _ in range(CRASHES):
            time.sleep(RUN_BETWEEN)
            lines = count_lines(output)
            worker.kill()
            worker.start()
            resumed = wait_until(partial(_grew, output, lines), 60, 0.05)
            resumes.append(resumed if resumed is not None else float("inf"))
            if resumed is None:
                break
        feeder.stop()
        ends = end_offsets(kafka.bootstrap, topic, PARTITIONS)
        acked = set(feeder.acked[topic])
        drained = file_drained(kafka.bootstrap, name, topic, ends, [output], acked)
        drain = wait_until(drained, DRAIN_TIMEOUT)
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
    claims.check(f"{CRASHES} crashes survived", len(resumes) == CRASHES)
    claims.check("no record missing", missing == 0)
    claims.check("every line a whole record", torn == 0)
    claims.check(f"drained within {DRAIN_TIMEOUT:.0f}s", drain is not None)
    target = TARGETS[protocol]
    claims.check(f"each resume within {target:.0f}s", max(resumes) <= target)
    claims.check("SIGTERM stops the worker with 0", exit_status == 0)
    report(
        f"protocol={protocol} crashes={len(resumes)} records={len(acked)} "
        f"lines={len(numbers)} duplicates={duplicates} missing={missing} torn_lines={torn} "
        f"resume_s median={statistics.median(resumes):.2f} max={max(resumes):.2f} "
        f"all=[{' '.join(f'{r:.1f}' for r in resumes)}] "
        f"drain={f'{drain:.1f}s' if drain is not None else 'TIMEOUT'} elapsed={elapsed:.0f}s "
        f"{claims.verdict}"
    )
    claims.verify()
