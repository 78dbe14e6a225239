"""The ``s3`` connector on a full spill directory: a write is whole or not at all, the
records wait in memory uncommitted, the write is retried, and once space returns every
record is stored once. The disk is made full by refusing ``pwrite`` (after taking part
of the first write it refuses, as a nearly full disk does)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from offramp import FatalError, RetriableError
from offramp.connectors.s3.buffer import MemoryBudget, SpillBuffer, SpillFull
from tests.unit.test_s3_writer import TP0, MemoryStore, _lines, _records, _writer


class FullDisk:
    """While ``full``: the first ``pwrite`` writes half of its bytes, then every one is
    refused with ENOSPC."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.full = False
        self.refused = 0
        self._torn = False
        self._pwrite = os.pwrite
        monkeypatch.setattr(os, "pwrite", self._write)

    def _write(self, fd: int, data: bytes | memoryview, offset: int) -> int:
        if not self.full:
            return self._pwrite(fd, data, offset)
        if not self._torn and len(data) > 1:
            self._torn = True
            return self._pwrite(fd, memoryview(data)[: len(data) // 2], offset)
        self.refused += 1
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fill(self) -> None:
        self.full, self._torn = True, False

    def free(self) -> None:
        self.full = False


@pytest.fixture
def disk(monkeypatch: pytest.MonkeyPatch) -> FullDisk:
    return FullDisk(monkeypatch)


def _content(buffer: SpillBuffer) -> bytes:
    return b"".join(bytes(chunk) for chunk in buffer.chunks(size=7))


def test_a_write_the_disk_cannot_hold_leaves_the_spilled_file_as_it_was(
    disk: FullDisk, tmp_path: Path
) -> None:
    """The part of a refused write that fit is cut off again; the same write succeeds
    once space returns, and the file holds each byte once."""
    buffer = SpillBuffer(threshold=0, directory=str(tmp_path))
    buffer.write(b"a" * 10)
    assert buffer.spilled
    disk.fill()
    with pytest.raises(
        SpillFull, match=f"No space left on device in the spill directory {tmp_path}"
    ):
        buffer.write(b"b" * 100)
    assert disk.refused == 1
    assert buffer.size == 10
    assert _content(buffer) == b"a" * 10
    assert buffer._file is not None and os.fstat(buffer._file.fileno()).st_size == 10
    disk.free()
    buffer.write(b"b" * 100)
    assert _content(buffer) == b"a" * 10 + b"b" * 100
    buffer.close()


def test_a_spill_the_disk_cannot_hold_keeps_the_pieces_in_memory(
    disk: FullDisk, tmp_path: Path
) -> None:
    """Moving to a file past the threshold on a full disk drops the new file and keeps
    the buffer in memory, without the refused bytes (nor counts them in the task's
    memory budget); it spills once space returns and gives its memory back."""
    budget = MemoryBudget(1024)
    buffer = SpillBuffer(threshold=16, directory=str(tmp_path), budget=budget)
    buffer.write(b"0123456789")
    disk.fill()
    with pytest.raises(SpillFull):
        buffer.write(b"abcdefghij")
    assert not buffer.spilled
    assert (buffer.size, _content(buffer), budget.used) == (10, b"0123456789", 10)
    disk.free()
    buffer.write(b"abcdefghij")
    assert buffer.spilled
    assert (_content(buffer), budget.used) == (b"0123456789abcdefghij", 0)
    buffer.close()


def test_a_full_spill_directory_is_retried_and_stores_each_record_once(
    disk: FullDisk, tmp_path: Path
) -> None:
    """A batch with two rotations in it meets a full disk: the write raises a
    ``RetriableError`` naming the directory, nothing is committable or stored, retries
    while full change nothing, and the retry once space returns stores each file once."""
    store = MemoryStore()
    writer = _writer(store, {"s3.spill.threshold.bytes": "0", "s3.spill.dir": str(tmp_path)})
    writer.open([TP0])
    assert writer.write(_records(2)) == []
    batch = _records(6, start=2)  # 2 closes 0-2, 5 closes 3-5, 6 and 7 stay open
    disk.fill()
    for _ in range(3):
        with pytest.raises(RetriableError, match=f"No space left on device .* {tmp_path}"):
            writer.write(batch)
        assert writer.pre_commit({TP0: 8}) == {TP0: 0}
    assert store.objects == {}
    disk.free()
    assert writer.write(batch) == []
    assert writer.pre_commit({TP0: 8}) == {TP0: 6}
    assert {k: _lines(v) for k, v in store.objects.items()} == {
        "topics/calls/partition=0/calls+0+0000000000.json": [0, 1, 2],
        "topics/calls/partition=0/calls+0+0000000003.json": [3, 4, 5],
    }
    assert store.puts == 2
    writer.stop()


def test_uploads_go_on_while_the_spill_directory_is_full(disk: FullDisk, tmp_path: Path) -> None:
    """A rotated file already on disk is uploaded by a write that finds the disk full
    for the open one (each upload frees space); that write still says the disk is full."""
    store = MemoryStore()
    writer = _writer(store, {"s3.spill.threshold.bytes": "0", "s3.spill.dir": str(tmp_path)})
    writer.open([TP0])
    store.fail_next = 1
    with pytest.raises(RetriableError, match="store unavailable"):
        writer.write(_records(4))  # 0-2 rotated and on disk, its upload failed
    disk.fill()
    with pytest.raises(RetriableError, match="No space left on device"):
        writer.write(_records(5))  # the retry, and 4 for the open file
    assert list(store.objects) == ["topics/calls/partition=0/calls+0+0000000000.json"]
    assert writer.pre_commit({TP0: 5}) == {TP0: 3}
    disk.free()
    assert writer.write(_records(5)) == []
    assert writer.write(_records(1, start=5)) == []
    assert writer.pre_commit({TP0: 6}) == {TP0: 6}
    assert {k: _lines(v) for k, v in store.objects.items()} == {
        "topics/calls/partition=0/calls+0+0000000000.json": [0, 1, 2],
        "topics/calls/partition=0/calls+0+0000000003.json": [3, 4, 5],
    }
    writer.stop()


def test_a_spill_directory_that_cannot_be_written_fails_the_task(tmp_path: Path) -> None:
    """Any other error of the directory (here: it does not exist) is a setting to fix,
    not a wait: the task fails, naming the directory."""
    missing = tmp_path / "missing"
    writer = _writer(MemoryStore(), {"s3.spill.threshold.bytes": "0", "s3.spill.dir": str(missing)})
    writer.open([TP0])
    with pytest.raises(FatalError, match=f"cannot buffer records in {missing}"):
        writer.write(_records(2))
    writer.stop()
