"""Per-task counters, updated once per batch, read by the REST ``/metrics`` endpoint.

Modelled on Kafka Connect's sink-task metrics. Plain attributes written by the task's
thread and read by others: a reader may see one batch's update half applied, which is
fine for monitoring and keeps the hot path free of locks.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from offramp.records import TopicPartition

__all__ = ["LATENCY_BUCKETS", "TaskMetrics"]

LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class TaskMetrics:
    records_read: int = 0
    records_written: int = 0
    records_dead_lettered: int = 0
    records_filtered: int = 0
    records_failed: int = 0
    records_skipped: int = 0
    retries: int = 0
    batches: int = 0
    batch_size_last: int = 0
    batch_size_max: int = 0
    write_seconds_sum: float = 0.0
    write_seconds_max: float = 0.0
    write_buckets: list[int] = field(default_factory=lambda: [0] * len(LATENCY_BUCKETS))
    commits: int = 0
    commit_failures: int = 0
    commit_seconds_sum: float = 0.0
    commit_seconds_max: float = 0.0
    restarts: int = 0
    breaker_trips: int = 0
    partitions_assigned: int = 0
    partitions_revoked: int = 0
    # Share groups (group.type=share): acknowledgements by type, and records that came
    # back for another delivery (their broker delivery count was above one).
    share_accepted: int = 0
    share_released: int = 0
    share_rejected: int = 0
    share_redeliveries: int = 0
    # Writes the target refused because another owner got there first (see
    # TaskContext.write_refused); reported from a writer's own threads too.
    writes_refused: int = 0
    consumer_lag: dict[TopicPartition, int] = field(default_factory=dict)
    committed_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    _refusals: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def observe_write(self, records: int, seconds: float) -> None:
        self.batches += 1
        self.batch_size_last = records
        self.batch_size_max = max(self.batch_size_max, records)
        self.write_seconds_sum += seconds
        self.write_seconds_max = max(self.write_seconds_max, seconds)
        for i, bound in enumerate(LATENCY_BUCKETS):
            if seconds <= bound:
                self.write_buckets[i] += 1
                break

    def observe_commit(self, seconds: float, ok: bool) -> None:
        self.commits += 1
        self.commit_seconds_sum += seconds
        self.commit_seconds_max = max(self.commit_seconds_max, seconds)
        if not ok:
            self.commit_failures += 1

    def count_write_refused(self, count: int = 1) -> None:
        # The only counter a writer's upload threads update at once: += isn't atomic.
        with self._refusals:
            self.writes_refused += count
