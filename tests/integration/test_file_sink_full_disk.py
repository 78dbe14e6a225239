"""The file sink on a full disk (a small tmpfs mounted by the test, which runs as root):
a batch that doesn't fit is taken back whole and retried, never left half written."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from offramp import RawMessage, RetriableError, SinkRecord, TaskContext
from offramp.connectors.file import FileSinkConfig, FileSinkConnector


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 KiB tmpfs, unmounted afterwards."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", mount_point], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", mount_point], check=True)


def test_a_batch_that_does_not_fit_is_taken_back_and_retried_once_space_returns(
    small_disk: Path,
) -> None:
    """ENOSPC raises RetriableError naming it and leaves the file as before the batch;
    the same batch written after the disk grows lands whole, once."""
    path = small_disk / "out.jsonl"
    config = FileSinkConfig.model_validate({"file": str(path)})
    writer = FileSinkConnector().create_writer(config, TaskContext("c", 0, {}))
    first = [SinkRecord(RawMessage("t", 0, 0), None, "fits")]
    assert writer.write(first) is None
    big = [SinkRecord(RawMessage("t", 0, i), None, "x" * 1000) for i in range(1, 41)]
    with pytest.raises(RetriableError, match="No space left"):
        writer.write(big)
    assert path.read_bytes() == b"fits\n", "the part that fit was taken back"
    subprocess.run(["mount", "-o", "remount,size=1m", small_disk], check=True)
    assert writer.write(big) is None
    writer.stop()
    lines = path.read_text().splitlines()
    assert lines == ["fits", *["x" * 1000] * 40]
