"""What the status page shows over time, which the task counters alone can't say.

Every few seconds the sampler reads each connector's ``records_written`` (summed over
its tasks) and keeps the last minutes of samples, so the page can draw records per
second; and it remembers the last error a connector or task reported, with its time,
so an error that a retry or restart has since cleared is still there to read.
Counters restart from zero when a task is restarted: a sample lower than the one
before counts as a reset, not as negative throughput.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import dataclass, field

from offramp.errors import ConnectorNotFoundError
from offramp.worker import ConnectorRuntime, Worker

__all__ = ["ConnectorHistory", "LastError"]


@dataclass(frozen=True)
class LastError:
    at: float  # wall-clock seconds
    text: str


@dataclass
class _Series:
    samples: deque[tuple[float, int]]
    total: int = 0  # records written, across counter resets
    last_raw: int = 0
    last_error: LastError | None = None


@dataclass
class ConnectorHistory:
    """Samples per connector, ``window_seconds`` of them at most."""

    window_seconds: float = 15 * 60
    interval_seconds: float = 5.0
    _series: dict[str, _Series] = field(default_factory=dict)

    def sample(self, worker: Worker, now: float | None = None) -> None:
        now = time.time() if now is None else now
        names = set(worker.names())
        for gone in set(self._series) - names:
            del self._series[gone]
        keep = int(self.window_seconds / self.interval_seconds) + 1
        for name in names:
            try:
                runtime = worker.get(name)
            except ConnectorNotFoundError:
                continue  # deleted between names() and get()
            series = self._series.get(name)
            if series is None:
                series = self._series[name] = _Series(deque(maxlen=keep))
            raw = sum(task.metrics.records_written for task in list(runtime.tasks))
            series.total += raw - series.last_raw if raw >= series.last_raw else raw
            series.last_raw = raw
            series.samples.append((now, series.total))
            error = _current_error(runtime)
            if error and (series.last_error is None or series.last_error.text != error):
                series.last_error = LastError(now, error)

    def rates(self, name: str) -> list[tuple[float, float]]:
        """``(time, records per second)`` between consecutive samples."""
        series = self._series.get(name)
        if series is None:
            return []
        points = list(series.samples)
        return [
            (t1, (n1 - n0) / (t1 - t0))
            for (t0, n0), (t1, n1) in itertools.pairwise(points)
            if t1 > t0
        ]

    def last_error(self, name: str) -> LastError | None:
        series = self._series.get(name)
        return series.last_error if series else None


def _current_error(runtime: ConnectorRuntime) -> str | None:
    if runtime.trace:
        return runtime.trace
    for task in list(runtime.tasks):
        status = task.status
        if status.trace:
            return f"task {task.task_id}: {status.trace}"
    for task in list(runtime.tasks):
        if task.status.message:
            return f"task {task.task_id}: {task.status.message}"
    return None
