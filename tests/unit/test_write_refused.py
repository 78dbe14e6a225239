"""``TaskContext.write_refused``: a writer's refused writes (another owner got there
first) reach the task's metrics and ``offramp_sink_write_refused_total``."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from offramp import (
    BatchWriter,
    ConfigModel,
    RecordFailure,
    SinkConnector,
    SinkRecord,
    TaskContext,
)
from offramp.config import load_worker_config
from offramp.metrics import TaskMetrics
from offramp.registry import PluginRegistry
from offramp.rest.prometheus import render_metrics
from offramp.task import TaskRunner
from offramp.testing import RecordingSinkConnector, run_connector
from offramp.worker import Worker


class FencedConfig(ConfigModel):
    pass


class FencedWriter(BatchWriter):
    """Reports each batch as refused once per record, from a thread of its own (as the s3
    sink's upload threads do), and writes nothing else."""

    def __init__(self, context: TaskContext) -> None:
        self.context = context

    def write(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure] | None:
        reporter = threading.Thread(target=self.context.write_refused, args=(len(records),))
        reporter.start()
        reporter.join()
        return None


class FencedConnector(SinkConnector[FencedConfig]):
    config_model = FencedConfig

    def create_writer(self, config: FencedConfig, context: TaskContext) -> BatchWriter:
        return FencedWriter(context)


def test_refusals_a_writer_reports_are_counted_in_its_tasks_metrics() -> None:
    """A writer run by the worker's task loop counts refusals through its context, from
    any thread; the task's metrics hold them."""
    result = run_connector(
        {"connector.class": "fenced", "topics": "calls", "value.converter": "string"},
        ["a", "b", "c"],
        connector=FencedConnector,
    )
    assert result.values == ["a", "b", "c"]
    assert result.metrics.writes_refused == 3


def test_refusals_from_many_threads_at_once_are_all_counted() -> None:
    """Eight threads reporting at once (an uploader's pool) lose no count."""
    metrics = TaskMetrics()
    context = TaskContext("archive", 0, {}, on_write_refused=metrics.count_write_refused)

    def report() -> None:
        for _ in range(5000):
            context.write_refused()

    threads = [threading.Thread(target=report) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert metrics.writes_refused == 40_000


def test_outside_a_worker_a_refusal_is_counted_nowhere() -> None:
    """A context made by a test, without the runtime's hook, takes the call and does
    nothing (a writer needn't check whether it runs in a worker)."""
    TaskContext("archive", 0, {}).write_refused(2)


def test_the_count_is_served_as_a_prometheus_counter() -> None:
    """``offramp_sink_write_refused_total{connector,task}`` is a counter with the task's
    count, present (0) before any refusal."""
    registry = PluginRegistry(load_entry_points=False)
    registry.register("recording", RecordingSinkConnector)
    worker = Worker(load_worker_config({"rest.port": 0}, environ={}), registry)
    runtime = worker.create(
        "archive", {"connector.class": "recording", "topics": "t"}, initial_state="STOPPED"
    )
    tasks = [TaskRunner(runtime.config, i, worker.config) for i in range(2)]
    runtime.tasks = tasks
    tasks[1].metrics.count_write_refused(3)
    text = render_metrics(worker)
    assert "# TYPE offramp_sink_write_refused_total counter" in text
    assert 'offramp_sink_write_refused_total{connector="archive",task="0"} 0' in text
    assert 'offramp_sink_write_refused_total{connector="archive",task="1"} 3' in text
