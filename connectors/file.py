"""``file``: appends one line per record to a local file (debugging, tests, benchmarks).

A string value is written as its text; anything else as compact JSON. Each batch is
written with one ``write`` call and flushed before ``write()`` returns, so a crashed
worker never loses an acknowledged record (it may repeat uncommitted ones).
"""

from __future__ import annotations

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
    SinkConnector,
    SinkRecord,
    TaskContext,
)

__all__ = ["FileSinkConfig", "FileSinkConnector", "render_line"]


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
            self._file = open(config.file, "ab")  # noqa: SIM115 - lives as long as the task
        except OSError as exc:
            raise FatalError(f"cannot open {config.file} for appending: {exc.strerror}") from exc

    def write(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure] | None:
        lines = b"\n".join([render_line(r.value) for r in records])
        self._file.write(lines + b"\n")
        self._file.flush()
        if self.config.file_fsync:
            os.fsync(self._file.fileno())
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
