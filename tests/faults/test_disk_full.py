"""A full disk under the file sink and under the s3 sink's spill directory: the file, or
the spilled open files, live on a small tmpfs (mounted by the test, which runs as root)
that fills while records flow; after ``FAULT_OUTAGE_SECONDS`` (60 by default) of being
full it is grown, as an operator freeing space would. The task must say why it waits,
never fail, and write every record once space returns (for s3: commit nothing that is
not in an object meanwhile, and store each record in exactly one object)."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from devstack.kafka import KafkaBroker
from devstack.s3 import S3Server
from tests.faults.support import (
    Claims,
    KeyedFeeder,
    StatusSampler,
    WorkerProcess,
    end_offsets,
    env_number,
    file_sink,
    hold,
    read_jsonl_numbers,
    wait_until,
)
from tests.faults.test_service_outages import _close_by_record_time
from tests.integration.s3.support import body, keys, s3_sink, version_hashes
from tests.integration.sql.support import group_offsets

FULL = env_number("FAULT_OUTAGE_SECONDS", 60)
RATE = env_number("FAULT_RATE", 200)
SMALL, LARGE = "64k", "64m"  # ~5,000 lines fit in the small disk: full within a minute
AFTER = 20.0
PARTITIONS = 3
DRAIN_TIMEOUT = 180.0
PROTOCOLS = ["classic", "consumer"]
# Records of ~1 KiB (200 KiB/s): the three open files fill the disk in ~10 s, long before
# their first rotation (2,000 records, ~2 MiB each), and are larger than an I/O buffer.
S3_SMALL = "2m"
S3_FLUSH = 2000
S3_PAD = "x" * 1000
S3_ROTATE_MS = 1_800_000  # record time: no time rotation in the run; the closers rotate

pytestmark = [pytest.mark.fault, pytest.mark.timeout(int(120 + FULL + AFTER + DRAIN_TIMEOUT + 300))]


@contextlib.contextmanager
def _tmpfs(mount_point: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` at ``mount_point``; ``_grow`` remounts it at ``LARGE`` keeping
    its files."""
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", mount_point], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", mount_point], check=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of ``SMALL`` bytes for the file sink's output."""
    with _tmpfs(tmp_path / "disk", SMALL) as mount_point:
        yield mount_point


@pytest.fixture
def spill_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of ``S3_SMALL`` bytes for the s3 sink's spilled files."""
    with _tmpfs(tmp_path / "spill", S3_SMALL) as mount_point:
        yield mount_point


def _grow(mount_point: Path) -> None:
    subprocess.run(["mount", "-o", f"remount,size={LARGE}", mount_point], check=True)


def _task_message(client: httpx.Client, worker: WorkerProcess, name: str) -> str:
    try:
        tasks = client.get(f"{worker.url}/connectors/{name}/status").json().get("tasks", [])
    except (httpx.HTTPError, ValueError):
        return ""
    return " ".join(str(t.get("message") or t.get("trace") or "") for t in tasks)


def _seconds(value: float | None, never: str = "NEVER") -> str:
    return f"{value:.1f}s" if value is not None else never


@dataclass
class Filling:
    """How the disk filled and emptied: seconds from the start to the status saying "No
    space left" (None: never), that status, whether it still said so at the end, how
    long the disk stayed full, and seconds from growing it to the status clearing."""

    began: float
    filled: float | None
    message: str
    still_said: bool
    full_for: float
    cleared: float | None


def _fill_hold_grow(
    worker: WorkerProcess,
    feeder: KeyedFeeder,
    sampler: StatusSampler,
    name: str,
    disk: Path,
    while_full: Callable[[], None] = lambda: None,
) -> Filling:
    """Start the worker and the records, wait for the status to say the disk is full,
    keep it full ``FULL`` seconds (calling ``while_full`` halfway and at the end), grow
    it, wait for the status to clear, run ``AFTER`` seconds more and stop the records."""
    worker.start().wait_running([name])
    feeder.start()
    sampler.start()
    with httpx.Client(timeout=3.0) as client:
        began = time.monotonic()
        filled = wait_until(lambda: "No space left" in _task_message(client, worker, name), 180)
        full_at = time.monotonic()
        message = _task_message(client, worker, name)
        for _ in range(2):
            hold(FULL / 2, [worker], [feeder, sampler])
            while_full()
        still_said = "No space left" in _task_message(client, worker, name)
        _grow(disk)
        grown = time.monotonic()
        cleared = wait_until(
            lambda: "No space left" not in _task_message(client, worker, name), 120
        )
    hold(AFTER, [worker], [feeder, sampler])
    feeder.stop()
    return Filling(began, filled, message, still_said, grown - full_at, cleared)


def _task_trouble(
    sampler: StatusSampler, name: str
) -> tuple[list[tuple[float, str, str]], int, int]:
    """Samples where a task was not RUNNING, how many of them FAILED, task restarts."""
    not_running = sampler.not_running(name)
    failed = sum(1 for _, state, _ in not_running if state == "FAILED")
    return not_running, failed, sampler.metric_max("offramp_task_restarts_total", name)


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
    connector = file_sink(topic, output, tasks=1)
    worker = WorkerProcess(tmp_path, "worker", kafka.bootstrap, protocol, {name: connector})
    feeder = KeyedFeeder(kafka.bootstrap, [topic], RATE)
    sampler = StatusSampler(worker, [name])
    try:
        run = _fill_hold_grow(worker, feeder, sampler, name, small_disk)
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
    not_running, failed, restarts = _task_trouble(sampler, name)
    claims = Claims()
    claims.check("the disk filled and the status said so", run.filled is not None)
    claims.check("the status said so while the disk stayed full", run.still_said)
    claims.check("the status cleared once space returned", run.cleared is not None)
    claims.check("nothing lost", missing == 0)
    claims.check("no duplicate lines", duplicates == 0)
    claims.check("every line a whole record", torn == 0)
    claims.check("no task ever FAILED", failed == 0)
    claims.check("no task restart", restarts == 0)
    claims.check(f"drained within {DRAIN_TIMEOUT:.0f}s", drain is not None)
    claims.check("SIGTERM stops the worker with 0", exit_status == 0)
    report(
        f"protocol={protocol} disk={SMALL}->{LARGE} filled_after={_seconds(run.filled)} "
        f"full={run.full_for:.0f}s produced={feeder.produced} acked={len(acked)} "
        f"written={len(numbers)} lost={missing} duplicates={duplicates} torn={torn} "
        f"resumed_after={_seconds(run.cleared)} not_running_samples={len(not_running)} "
        f"failed_samples={failed} restarts={restarts} drain={_seconds(drain, 'TIMEOUT')} "
        f"elapsed={time.monotonic() - run.began:.0f}s {claims.verdict}"
    )
    print("status while full:", run.message[:300])
    if not_running:
        print("first non-RUNNING sample:", not_running[0])
    claims.verify()


# ----- the s3 sink's spill directory -----------------------------------------------------


@dataclass
class Stored:
    """What the bucket holds: every ``n`` (once per copy), lines that were not a whole
    record, versions per key, and per Kafka partition the offsets it covers."""

    numbers: list[int]
    torn: int
    versions: dict[str, int]
    covered: dict[int, list[tuple[int, int]]]  # partition → [start, end) of each object

    def stored_prefix(self, partition: int) -> int:
        """The offset up to which the partition's records are all in objects."""
        end = 0
        for start, stop in sorted(self.covered.get(partition, [])):
            if start > end:
                break
            end = max(end, stop)
        return end


def _stored(server: S3Server, bucket: str) -> Stored:
    client = server.client()
    try:
        numbers: list[int] = []
        torn = 0
        covered: dict[int, list[tuple[int, int]]] = {}
        for key in keys(client, bucket):
            lines = body(client, bucket, key).splitlines()
            for line in lines:
                try:
                    numbers.append(int(orjson.loads(line)["n"]))
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                    torn += 1
            # <topic>+<partition>+<start offset>.json: the object holds consecutive offsets
            _, partition, start = key.rsplit("/", 1)[1].removesuffix(".json").rsplit("+", 2)
            begin = int(start)
            covered.setdefault(int(partition), []).append((begin, begin + len(lines)))
        versions = {key: len(hashes) for key, hashes in version_hashes(client, bucket).items()}
    finally:
        client.close()
    return Stored(numbers, torn, versions, covered)


def _committed_beyond_stored(
    bootstrap: str, group: str, topic: str, server: S3Server, bucket: str
) -> int:
    """Records committed by the group that no object holds (the committed offsets are
    read first, so an upload that lands meanwhile can only lower the count)."""
    offsets = group_offsets(bootstrap, group, topic, PARTITIONS) or [0] * PARTITIONS
    stored = _stored(server, bucket)
    return sum(max(0, c - stored.stored_prefix(p)) for p, c in enumerate(offsets))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_s3_sink_on_a_full_spill_disk_waits_says_why_and_loses_nothing(
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    spill_disk: Path,
    unique: str,
    tmp_path: Path,
    protocol: str,
    report: Callable[[str], None],
) -> None:
    """The s3 sink's spill directory fills: its task stays RUNNING with a status naming
    the directory and "No space left on device", commits nothing not in S3, and once the
    disk grows every record is in exactly one object, each key written once."""
    topic, name = make_topic("s3-disk-full", PARTITIONS), f"s3-disk-full-{unique}"
    server = S3Server().start()
    bucket = f"disk-full-{unique}"
    server.create_bucket(bucket, versioned=True)
    connector = s3_sink(
        server,
        bucket,
        topic,
        **{
            "batch.max.records": "500",
            "flush.size": str(S3_FLUSH),
            "rotate.interval.ms": str(S3_ROTATE_MS),
            # Every open file on the small disk from its first record.
            "s3.spill.threshold.bytes": "0",
            "s3.spill.dir": str(spill_disk),
        },
    )
    group = f"connect-{name}"
    worker = WorkerProcess(tmp_path, "worker", kafka.bootstrap, protocol, {name: connector})
    feeder = KeyedFeeder(kafka.bootstrap, [topic], RATE, value_of=lambda n: {"n": n, "pad": S3_PAD})
    sampler = StatusSampler(worker, [name])
    beyond: list[int] = []  # records committed that no object held, at each look

    def look() -> None:
        beyond.append(_committed_beyond_stored(kafka.bootstrap, group, topic, server, bucket))

    try:
        run = _fill_hold_grow(worker, feeder, sampler, name, spill_disk, while_full=look)
        _close_by_record_time(kafka.bootstrap, topic)
        ends = [e - 1 for e in end_offsets(kafka.bootstrap, topic, PARTITIONS)]
        acked = set(feeder.acked[topic])

        def drained() -> bool:
            return group_offsets(kafka.bootstrap, group, topic, PARTITIONS) == ends

        drain = wait_until(drained, DRAIN_TIMEOUT)
        sampler.stop()
        exit_status = worker.stop()
        stored = _stored(server, bucket)
        look()
    finally:
        for part in (feeder, sampler, worker):
            with contextlib.suppress(BaseException):
                part.stop()
        server.stop()

    written = Counter(n for n in stored.numbers if n != -1)
    missing = len(acked - written.keys())
    duplicates = sum(c - 1 for c in written.values())
    rewritten = sum(1 for count in stored.versions.values() if count > 1)
    said_where = str(spill_disk) in run.message and "No space left on device" in run.message
    not_running, failed, restarts = _task_trouble(sampler, name)
    claims = Claims()
    claims.check("the disk filled and the status said so", run.filled is not None)
    claims.check("the status named the spill directory and the error", said_where)
    claims.check("the status said so while the disk stayed full", run.still_said)
    claims.check("nothing committed that no object holds", max(beyond) == 0)
    claims.check("the status cleared once space returned", run.cleared is not None)
    claims.check("nothing lost", missing == 0)
    claims.check("no record in two objects", duplicates == 0)
    claims.check("every key written once", rewritten == 0)
    claims.check("every line a whole record", stored.torn == 0)
    claims.check("no task ever FAILED", failed == 0)
    claims.check("no task restart", restarts == 0)
    claims.check(f"drained within {DRAIN_TIMEOUT:.0f}s", drain is not None)
    claims.check("SIGTERM stops the worker with 0", exit_status == 0)
    report(
        f"protocol={protocol} disk={S3_SMALL}->{LARGE} filled_after={_seconds(run.filled)} "
        f"full={run.full_for:.0f}s produced={feeder.produced} acked={len(acked)} "
        f"stored={len(stored.numbers)} objects={len(stored.versions)} lost={missing} "
        f"duplicates={duplicates} rewritten_keys={rewritten} torn={stored.torn} "
        f"committed_not_stored={beyond} resumed_after={_seconds(run.cleared)} "
        f"not_running_samples={len(not_running)} failed_samples={failed} restarts={restarts} "
        f"drain={_seconds(drain, 'TIMEOUT')} elapsed={time.monotonic() - run.began:.0f}s "
        f"{claims.verdict}"
    )
    print("status while full:", run.message[:300])
    if not_running:
        print("first non-RUNNING sample:", not_running[0])
    claims.verify()
