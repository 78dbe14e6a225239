"""The benchmark's latency-bound sink, a plug-in loaded by ``offramp distributed``
workers from ``plugin.path`` (``bench/bench_distributed.py`` copies this module there
with an entry point; it is not part of offramp).

Every write sleeps ``latency.ms`` whatever its size — the round trip of a remote sink
that answers slowly — then appends one line to a file of its own in ``latency.out.dir``:
the time the write ended and the values it wrote. The bench reads those files to learn
which task thread wrote what, and when, across worker processes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from pydantic import Field

from offramp import BatchWriter, ConfigModel, RecordFailure, SinkConnector, SinkRecord, TaskContext


class LatencyConfig(ConfigModel):
    latency_ms: int = Field(20, ge=0, description="Sleep per write, whatever its size")
    latency_out_dir: str = Field(description="Where each task thread appends its writes")


class LatencyWriter(BatchWriter):
    def __init__(self, config: LatencyConfig, context: TaskContext) -> None:
        self.latency = config.latency_ms / 1000.0
        # One file per task thread of this process: lines from different writers never
        # interleave, and the name says which worker process and task wrote them.
        path = os.path.join(config.latency_out_dir, f"{os.getpid()}-{context.task_id}.log")
        self.out = open(path, "a", buffering=1)  # noqa: SIM115 - closed in stop()

    def write(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure] | None:
        time.sleep(self.latency)
        values = " ".join((r.message.value() or b"").decode() for r in records)
        # CLOCK_MONOTONIC is system-wide on Linux: comparable across the processes.
        self.out.write(f"{time.monotonic():.6f} {values}\n")
        return None

    def stop(self) -> None:
        self.out.close()


class LatencySink(SinkConnector[LatencyConfig]):
    config_model = LatencyConfig

    def create_writer(self, config: LatencyConfig, context: TaskContext) -> BatchWriter:
        return LatencyWriter(config, context)
