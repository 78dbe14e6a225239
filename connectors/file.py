"""``file``: appends one line per record to a local file (debugging, tests, benchmarks).

A string value is written as its text; anything else as compact JSON. Each batch is
written with one ``write`` call and flushed before ``write()`` returns, so a crashed
worker never loses an acknowledged record (it may repeat uncommitted ones). A full disk
(or quota) takes back the part of the batch that fit and is retried until space
returns, the task's status saying so; no half line stays behind to be repeated.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from typing import Any

import orjson
from pydantic import Field

from offramp import (
    BatchWriter,
    ConfigModel,
    FatalError,
    RecordFailure,
    RetriableError,
    SinkConnector,
    SinkRecord,
    TaskContext,
)

__all__ = ["FileSinkConfig", "FileSinkConnector", "render_line"]

# Out of space rather than broken: it ends when someone frees space, so it is retried.
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


class FileSinkConfig(ConfigModel):
    file: str = Field(description="Path of the file to append to (created if missing)")
    file_fsync: bool = Field(False, description="fsync after every batch")


def render_line(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


class FileWriter(BatchWriter):
    def __init__(self, config: FileSinkConfig) -> None:
        self.config = config
        try:
            # Unbuffered: after a failed write nothing is left in a buffer for close() or
            # the retry to append behind the truncated tail.
            self._file = open(config.file, "ab", buffering=0)  # noqa: SIM115 - task-long
        except OSError as exc:
            raise FatalError(f"cannot open {config.file} for appending: {exc.strerror}") from exc

    def write(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure] | None:
        data = b"\n".join([render_line(r.value) for r in records]) + b"\n"
        fd = self._file.fileno()
        start = os.fstat(fd).st_size
        written = 0
        try:
            while written < len(data):  # a full disk may take part of it
                written += self._file.write(memoryview(data)[written:])
            if self.config.file_fsync:
                os.fsync(fd)
        except OSError as exc:
            if exc.errno not in _NO_SPACE:
                raise
            # Take back what fit, so the retry appends whole lines once. Only if no one
            # else (another task on the same file) appended meanwhile.
            if os.fstat(fd).st_size == start + written:
                os.ftruncate(fd, start)
            raise RetriableError(
                f"{exc.strerror} writing {self.config.file} ({len(data)} bytes to append); "
                "retrying until space returns"
            ) from exc
        return None

    def stop(self) -> None:
        self._file.close()


class FileSinkConnector(SinkConnector[FileSinkConfig]):
    """Appends records to a local file, one line each."""

    config_model = FileSinkConfig
    description = "Appends one line per record to a local file"
    check_at_start = True  # one access() call

    def check(self, config: FileSinkConfig) -> str:
        directory = os.path.dirname(os.path.abspath(config.file))
        if not os.access(directory, os.W_OK):
            raise FatalError(f"directory {directory} is not writable", key="file")
        return f"{config.file} is writable"

    def create_writer(self, config: FileSinkConfig, context: TaskContext) -> BatchWriter:
        return FileWriter(config)
