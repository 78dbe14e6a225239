"""``stdout``: prints one line per record (debugging and the demo)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from pydantic import Field

from offramp import BatchWriter, ConfigModel, RecordFailure, SinkConnector, SinkRecord, TaskContext
from offramp.connectors.file import render_line

__all__ = ["StdoutSinkConfig", "StdoutSinkConnector"]


class StdoutSinkConfig(ConfigModel):
    stdout_prefix: str = Field("", description="Text printed before each line")


class StdoutWriter(BatchWriter):
    def __init__(self, config: StdoutSinkConfig) -> None:
        self.prefix = config.stdout_prefix.encode()

    def write(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure] | None:
        out = sys.stdout.buffer
        out.write(b"".join([self.prefix + render_line(r.value) + b"\n" for r in records]))
        out.flush()
        return None


class StdoutSinkConnector(SinkConnector[StdoutSinkConfig]):
    """Prints records to standard output, one line each."""

    config_model = StdoutSinkConfig
    description = "Prints one line per record to standard output"
    check_at_start = True

    def check(self, config: StdoutSinkConfig) -> str:
        return "standard output is available"

    def create_writer(self, config: StdoutSinkConfig, context: TaskContext) -> BatchWriter:
        return StdoutWriter(config)
