"""The ``s3`` writer's exactly-once logic, against an in-memory object store: rotation,
what may be committed, retries, redelivery after a crash."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
import pytest

from offramp import (
    FatalError,
    RawMessage,
    RetriableError,
    SinkRecord,
    TaskContext,
    TopicPartition,
)
from offramp.connectors.s3 import S3SinkConfig, S3Writer
from offramp.connectors.s3.uploader import END_OFFSET, ObjectExists, StoredObject
from offramp.metrics import TaskMetrics
from offramp.testing import write_all

TP0, TP1 = TopicPartition("calls", 0), TopicPartition("calls", 1)


class MemoryStore:
    """Keeps objects in a dict; fails the next ``fail_next`` puts transiently; holds every
    put until ``gate`` is set. ``conditional`` refuses a put to a key that is taken, as
    ``If-None-Match: *`` does; the next ``blind_heads`` heads find nothing (an object
    stored after the writer looked)."""

    def __init__(self, conditional: bool = False) -> None:
        self.conditional = conditional
        self.blind_heads = 0
        self.objects: dict[str, bytes] = {}
        self.ends: dict[str, int] = {}  # each object's end offset (its metadata)
        self.puts = 0
        self.fail_next = 0
        self.closed = False
        self.gate = threading.Event()
        self.gate.set()
        self.uploading = 0
        self.most_at_once = 0  # puts in progress at the same time, at most
        self._lock = threading.Lock()  # the writer puts from several threads

    def put(
        self,
        key: str,
        body: Iterable[bytes | memoryview],
        content_type: str,
        metadata: Mapping[str, str],
    ) -> None:
        data = b"".join(bytes(chunk) for chunk in body)
        with self._lock:
            self.uploading += 1
            self.most_at_once = max(self.most_at_once, self.uploading)
        try:
            assert self.gate.wait(10)
            with self._lock:
                if self.fail_next:
                    self.fail_next -= 1
                    raise RetriableError("store unavailable")
                if self.conditional and key in self.objects:
                    raise ObjectExists(key, len(data))
                self.puts += 1
                self.objects[key] = data
                self.ends[key] = int(metadata[END_OFFSET])
        finally:
            with self._lock:
                self.uploading -= 1

    def head(self, key: str) -> StoredObject | None:
        with self._lock:
            if self.blind_heads:
                self.blind_heads -= 1
                return None
            data = self.objects.get(key)
            return None if data is None else StoredObject(len(data), self.ends.get(key))

    def close(self) -> None:
        self.closed = True


def _writer(
    store: MemoryStore, settings: dict[str, str] | None = None, in_flight: int = 0
) -> S3Writer:
    """A writer that waits for its uploads before returning, unless ``in_flight``."""
    config = S3SinkConfig.model_validate(
        {"s3.bucket.name": "archive", "flush.size": "3", **(settings or {})}
    )
    return S3Writer(config, store, uploads_in_flight=in_flight)


def _records(
    count: int, partition: int = 0, start: int = 0, step_ms: int = 100, **value: Any
) -> list[SinkRecord]:
    return [
        SinkRecord(
            RawMessage("calls", partition, offset, timestamp=1_000_000 + offset * step_ms),
            None,
            {"n": offset, "g": offset % 2, **value},
        )
        for offset in range(start, start + count)
    ]


def _lines(data: bytes) -> list[int]:
    return [orjson.loads(line)["n"] for line in data.splitlines()]


def test_full_files_are_stored_and_only_they_are_committable() -> None:
    """Files rotate every flush.size records; ``pre_commit`` stops at the open file's
    first offset, per partition."""
    store = MemoryStore()
    records = _records(8) + _records(2, partition=1)
    failures, committable = write_all(_writer(store), records)
    assert failures == []
    assert {k: _lines(v) for k, v in store.objects.items()} == {
        "topics/calls/partition=0/calls+0+0000000000.json": [0, 1, 2],
        "topics/calls/partition=0/calls+0+0000000003.json": [3, 4, 5],
    }
    assert committable == {TP0: 6, TP1: 0}


def test_a_partition_with_no_open_file_commits_what_it_was_given() -> None:
    """After an exact rotation, every offset up to the position (including records
    filtered before the writer saw them) is committable."""
    writer = _writer(MemoryStore())
    writer.open([TP0])
    writer.write(_records(3))
    assert writer.pre_commit({TP0: 9}) == {TP0: 9}
    writer.stop()


def test_uploads_run_behind_writes_and_commits_wait_for_them() -> None:
    """A write returns while its files upload; ``pre_commit`` waits for them, so the
    commit covers what was stored and nothing still in flight."""
    store = MemoryStore()
    writer = _writer(store, in_flight=2)
    store.gate.clear()
    assert writer.write(_records(7)) == []  # 0-2 and 3-5 sealed, both held at the store
    assert store.objects == {}
    store.gate.set()
    assert writer.pre_commit({TP0: 7}) == {TP0: 6}
    assert len(store.objects) == 2
    writer.stop()
    assert store.closed


@pytest.mark.parametrize("concurrency", [1, 3])
def test_rotated_files_upload_s3_upload_concurrency_at_once(concurrency: int) -> None:
    """Sealed segments of one partition upload side by side, up to
    ``s3.upload.concurrency``; a write waits for the oldest beyond that."""
    store = MemoryStore()
    writer = _writer(store, {"s3.upload.concurrency": str(concurrency)}, in_flight=concurrency)
    store.gate.clear()
    writer.write(_records(3 * concurrency))  # one segment per upload thread, all held
    deadline = time.monotonic() + 10
    while store.uploading < concurrency and time.monotonic() < deadline:
        time.sleep(0.01)
    assert store.uploading == concurrency
    store.gate.set()
    assert writer.write(_records(3, start=3 * concurrency)) == []  # one more: over the cap
    assert writer.pre_commit({TP0: 3 * concurrency + 3}) == {TP0: 3 * concurrency + 3}
    assert store.most_at_once == concurrency
    assert len(store.objects) == concurrency + 1
    writer.stop()


def test_a_failed_upload_is_retried_by_the_retried_write_without_duplicates() -> None:
    """When an upload fails the write raises; the runtime's retry of the same batch
    uploads the file again and adds no record twice."""
    store = MemoryStore()
    writer = _writer(store)
    batch = _records(4)
    store.fail_next = 1
    with pytest.raises(RetriableError, match="store unavailable"):
        writer.write(batch)
    assert writer.pre_commit({TP0: 4}) == {TP0: 0}
    assert writer.write(batch) == []
    assert writer.pre_commit({TP0: 4}) == {TP0: 3}
    assert {k: _lines(v) for k, v in store.objects.items()} == {
        "topics/calls/partition=0/calls+0+0000000000.json": [0, 1, 2]
    }
    writer.stop()


def test_an_idle_writer_retries_a_failed_upload_at_each_commit() -> None:
    """With no more writes, ``pre_commit`` waits for the upload in flight and, if it
    failed, tries it again behind and says "not yet"; the commit moves once stored."""
    store = MemoryStore()
    writer = _writer(store, in_flight=2)
    store.gate.clear()
    store.fail_next = 1
    writer.write(_records(3))
    store.gate.set()
    with pytest.raises(RetriableError):  # "not yet": the task shows why, tries again
        writer.pre_commit({TP0: 3})
    assert writer.pre_commit({TP0: 3}) == {TP0: 3}
    assert list(store.objects) == ["topics/calls/partition=0/calls+0+0000000000.json"]
    writer.stop()


def test_failures_found_by_a_write_that_then_raised_are_returned_by_its_retry() -> None:
    """A bad record taken in by a write that raised (an earlier upload failed) still
    reaches the DLQ: the retry of that write returns it, once."""
    store = MemoryStore()
    writer = _writer(store, {"partitioner.class": "field", "partition.field.name": "g"})
    writer.write(_records(3))
    store.fail_next = 1
    batch = _records(4, start=3)  # 3, 5 and 6 fill the next file
    batch[1] = SinkRecord(batch[1].message, None, {"n": 4})  # no "g"
    with pytest.raises(RetriableError):
        writer.write(batch)
    failures = writer.write(batch) or []
    assert [f.record.kafka_offset for f in failures] == [4]
    assert dict(failures[0].context) == {"__offramp.errors.reason": "s3.partitioner"}
    assert writer.write(batch) == []
    writer.stop()


def test_a_field_partitioned_segment_rotates_as_a_whole() -> None:
    """flush.size counts the partition's records across its files; each file is named by
    its own first offset, and every file of the segment is stored at the rotation."""
    store = MemoryStore()
    _, committable = write_all(
        _writer(store, {"partitioner.class": "field", "partition.field.name": "g"}),
        _records(7),
    )
    assert {k: _lines(v) for k, v in store.objects.items()} == {
        "topics/calls/g=0/calls+0+0000000000.json": [0, 2],
        "topics/calls/g=1/calls+0+0000000001.json": [1],
        "topics/calls/g=0/calls+0+0000000004.json": [4],
        "topics/calls/g=1/calls+0+0000000003.json": [3, 5],
    }
    assert committable == {TP0: 6}


def test_record_time_rotation_and_hourly_files() -> None:
    """rotate.interval.ms closes a file when a record that much later (record time)
    arrives; with a time partitioner a new time bucket closes it too."""
    store = MemoryStore()
    write_all(
        _writer(store, {"flush.size": "1000", "rotate.interval.ms": "250"}),
        _records(6),  # 100 ms apart: 0-2 | 3-5 (open)
    )
    assert list(store.objects) == ["topics/calls/partition=0/calls+0+0000000000.json"]
    hourly = MemoryStore()
    write_all(
        _writer(
            hourly,
            {
                "flush.size": "1000",
                "rotate.interval.ms": "86400000",
                "partitioner.class": "hourly",
            },
        ),
        _records(5, step_ms=1_000_000),  # 1000 s apart, starting 00:16:40
    )
    assert {k: _lines(v) for k, v in hourly.objects.items()} == {
        "topics/calls/year=1970/month=01/day=01/hour=00/calls+0+0000000000.json": [0, 1, 2]
    }


def test_nulls_fail_or_are_ignored_and_a_bug_fails_the_task() -> None:
    """A tombstone is a failure by default and skipped with ``ignore``; an unexpected
    error is fatal (the task restarts from committed offsets) rather than bisected."""
    tombstone = [SinkRecord(RawMessage("calls", 0, 0), None, None)]
    failing = _writer(MemoryStore())
    assert [f.record for f in failing.write(tombstone) or []] == tombstone
    ignoring = _writer(MemoryStore(), {"behavior.on.null.values": "ignore"})
    assert ignoring.write(tombstone) == []
    not_a_message = SinkRecord(object(), None, {"n": 1})  # type: ignore[arg-type]
    with pytest.raises(FatalError, match="failed unexpectedly"):
        _writer(MemoryStore()).write([not_a_message])


def test_close_discards_open_files_of_revoked_partitions() -> None:
    """Revoked partitions forget their open files; the new owner rebuilds them."""
    writer = _writer(MemoryStore())
    writer.open([TP0, TP1])
    writer.write(_records(2) + _records(2, partition=1))
    writer.close([TP0])
    assert writer.pre_commit({TP0: 2, TP1: 2}) == {TP0: 2, TP1: 0}
    writer.stop()


def test_bulk_runs_fall_back_to_one_by_one_for_odd_records() -> None:
    """The default partitioner takes each partition's run in bulk; a run with a null, an
    unencodable value or a renamed topic is taken record by record, with the same result
    as if every record had been."""
    records = _records(5) + _records(4, partition=1) + _records(5, start=5)
    records[2] = SinkRecord(records[2].message, None, None)
    records[6] = SinkRecord(records[6].message, None, b"raw bytes")
    records[12] = records[12].replace(topic="renamed")
    store = MemoryStore()
    failures, committable = write_all(_writer(store), records)
    assert sorted((f.record.kafka_partition, f.record.kafka_offset) for f in failures) == [
        (0, 2),
        (1, 1),
    ]
    assert {k: _lines(v) for k, v in store.objects.items()} == {
        "topics/calls/partition=0/calls+0+0000000000.json": [0, 1, 3],
        "topics/calls/partition=0/calls+0+0000000004.json": [4, 5, 6],
        "topics/calls/partition=1/calls+1+0000000000.json": [0, 2, 3],
        "topics/renamed/partition=0/renamed+0+0000000008.json": [8],
        "topics/calls/partition=0/calls+0+0000000007.json": [7, 9],
    }
    assert committable == {TP0: 10, TP1: 4}


SETTINGS = {
    "bulk": {"flush.size": "7", "s3.compression.type": "gzip", "s3.spill.threshold.bytes": "64"},
    "one by one": {
        "partitioner.class": "field",
        "partition.field.name": "g",
        "flush.size": "7",
        "rotate.interval.ms": "450",
        "s3.compression.type": "gzip",
        "s3.spill.threshold.bytes": "64",
    },
}


@pytest.mark.parametrize("path", sorted(SETTINGS))
@pytest.mark.parametrize("seed", range(4))
def test_redelivery_after_crashes_rebuilds_identical_objects(path: str, seed: int) -> None:
    """Whatever the batch sizes and wherever a crash restarts from the committed offset,
    the store ends with the same objects, byte for byte, as one uninterrupted run."""
    settings = SETTINGS[path]
    records = _records(200, step_ms=37) + _records(150, partition=1, step_ms=53)
    records.sort(key=lambda r: r.kafka_offset)
    reference = MemoryStore()
    write_all(_writer(reference, settings), records, batch_size=1000)

    rng = random.Random(seed)
    store = MemoryStore()
    committed = {TP0: 0, TP1: 0}
    pending = records
    while pending:
        writer = _writer(store, settings, in_flight=2)  # a fresh worker after a crash
        writer.open([TP0, TP1])
        pending = [r for r in records if r.kafka_offset >= committed[r.topic_partition]]
        for _ in range(rng.randrange(1, 6)):
            if not pending:
                break
            size = rng.randrange(1, 40)
            batch, pending = pending[:size], pending[size:]
            writer.write(batch)
            if rng.random() < 0.5:  # the crash may come before the commit
                positions = {r.topic_partition: r.kafka_offset + 1 for r in batch}
                committed.update(writer.pre_commit(positions))
        writer.stop()
    assert store.objects == reference.objects
    assert store.puts > len(reference.objects)  # some ranges really were redelivered


def _zombie_object(store: MemoryStore, start: int, end: int) -> str:
    """Store offsets start..end-1 of ``_records`` as another writer would have."""
    key = f"topics/calls/partition=0/calls+0+{start:010d}.json"
    lines = b"".join(orjson.dumps(r.value) + b"\n" for r in _records(end - start, start=start))
    store.objects[key], store.ends[key] = lines, end
    return key


@pytest.mark.parametrize("end", [2, 5], ids=["shorter", "longer"])
def test_an_object_stored_after_the_writer_looked_is_never_overwritten(end: int) -> None:
    """A key taken between the writer's look and its upload, by an object with another
    end offset: the task fails without writing it; the restarted writer rebuilds its
    files around that object, every record in exactly one object."""
    store = MemoryStore(conditional=True)
    key = _zombie_object(store, 0, end)
    zombie = store.objects[key]
    store.blind_heads = 1
    writer = _writer(store)
    writer.open([TP0])
    with pytest.raises(FatalError, match="not overwritten"):
        writer.write(_records(3))
    assert writer.writes_refused == 1
    writer.stop()
    assert store.objects == {key: zombie}
    restarted = _writer(store)
    failures, committable = write_all(restarted, _records(9))
    assert failures == [] and committable == {TP0: 8}  # 8 is in the open file
    stored = {int(k[-15:-5]): _lines(v) for k, v in sorted(store.objects.items())}
    assert stored == (
        {0: [0, 1], 2: [2, 3, 4], 5: [5, 6, 7]}
        if end == 2
        else {
            0: [0, 1, 2, 3, 4],
            5: [5, 6, 7],
        }
    )
    assert store.objects[key] == zombie and restarted.writes_refused == 1


def test_a_zombies_refused_uploads_are_counted_through_its_task_context() -> None:
    """A zombie and the new owner of its partition: the zombie, uploading second, is
    refused (412) for each of its two objects, keeps the owner's, and reports both
    refusals through its task context to its metrics; the owner reports none."""
    store = MemoryStore(conditional=True)
    metrics = {"zombie": TaskMetrics(), "owner": TaskMetrics()}

    def writer(who: str) -> S3Writer:
        config = S3SinkConfig.model_validate({"s3.bucket.name": "archive", "flush.size": "3"})
        context = TaskContext("archive", 0, {}, on_write_refused=metrics[who].count_write_refused)
        return S3Writer(config, store, uploads_in_flight=0, on_write_refused=context.write_refused)

    zombie, owner = writer("zombie"), writer("owner")
    zombie.open([TP0])
    zombie.write(_records(2))  # held in its open file when it froze
    owner.open([TP0])
    owner.write(_records(6))
    stored = dict(store.objects)
    zombie.write(_records(4, start=2))  # resumed: seals 0..2, then 3..5
    assert zombie.pre_commit({TP0: 6}) == {TP0: 6}
    assert store.objects == stored and len(stored) == 2
    assert metrics["zombie"].writes_refused == zombie.writes_refused == 2
    assert metrics["owner"].writes_refused == owner.writes_refused == 0
    zombie.stop()
    owner.stop()


def test_an_object_without_end_offset_of_another_size_fails_the_task() -> None:
    """An object an older offramp stored (no end offset) is kept as ours only at the
    same size; otherwise the task fails and the object stays as it was."""
    for end, fails in ((3, False), (2, True)):
        store = MemoryStore(conditional=True)
        key = _zombie_object(store, 0, end)
        del store.ends[key]
        zombie = store.objects[key]
        writer = _writer(store)
        if fails:
            with pytest.raises(FatalError, match="without offramp-end-offset"):
                write_all(writer, _records(3))
            writer.stop()
        else:
            assert write_all(writer, _records(3)) == ([], {TP0: 3})
        assert store.objects == {key: zombie}


def test_conditional_writes_off_overwrites_as_before() -> None:
    """``s3.conditional.writes=false``: no look for stored objects, the key is written."""
    store = MemoryStore()
    key = _zombie_object(store, 0, 2)
    _, committable = write_all(_writer(store, {"s3.conditional.writes": "false"}), _records(3))
    assert committable == {TP0: 3} and _lines(store.objects[key]) == [0, 1, 2]
