"""``GET /metrics``: Prometheus text exposition (format 0.0.4) from every task's
``TaskMetrics``.

Series are modelled on Kafka Connect's sink-task and task-error metrics, renamed the way
Prometheus names things (``sink-record-read-total`` → ``offramp_sink_record_read_total``)
and labelled ``connector`` and ``task``; per-partition series add ``topic`` and
``partition``. Counters are per task object: they restart from zero when a connector is
reconfigured or stopped and started (Prometheus' ``rate()`` handles resets).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from offramp.errors import ConnectorNotFoundError
from offramp.metrics import LATENCY_BUCKETS, TaskMetrics
from offramp.task import TaskRunner, TaskState
from offramp.worker import Worker

__all__ = ["CONTENT_TYPE", "render_metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Labels = tuple[tuple[str, str], ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels) + "}"


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


@dataclass
class _Family:
    name: str
    kind: str
    help: str
    samples: list[str] = field(default_factory=list)

    def add(self, labels: Labels, value: float, suffix: str = "") -> None:
        self.samples.append(f"{self.name}{suffix}{_labels(labels)} {_number(value)}")

    def render(self) -> str:
        head = f"# HELP {self.name} {self.help}\n# TYPE {self.name} {self.kind}\n"
        return head + "".join(s + "\n" for s in self.samples)


# (attribute of TaskMetrics, metric name, Kafka Connect's name, kind)
_TASK_COUNTERS = (
    ("records_read", "offramp_sink_record_read_total", "sink-record-read-total"),
    ("records_written", "offramp_sink_record_send_total", "sink-record-send-total"),
    (
        "records_dead_lettered",
        "offramp_sink_record_dead_lettered_total",
        "deadletterqueue-produce-requests",
    ),
    ("records_filtered", "offramp_sink_record_filtered_total", "dropped by transforms"),
    ("records_failed", "offramp_sink_record_failed_total", "total-record-failures"),
    ("records_skipped", "offramp_sink_record_skipped_total", "total-records-skipped"),
    ("retries", "offramp_sink_retries_total", "total-retries"),
    (
        "writes_refused",
        "offramp_sink_write_refused_total",
        "writes refused because another owner got there first (a fenced zombie)",
    ),
    ("commits", "offramp_offset_commit_total", "offset-commit-completion-total"),
    ("commit_failures", "offramp_offset_commit_failures_total", "offset-commit-failure"),
    ("restarts", "offramp_task_restarts_total", "automatic restarts of a failed task"),
    (
        "breaker_trips",
        "offramp_deadletter_breaker_trips_total",
        "tasks paused because most records failed",
    ),
    ("partitions_assigned", "offramp_partitions_assigned_total", "partitions assigned"),
    ("partitions_revoked", "offramp_partitions_revoked_total", "partitions revoked"),
    ("share_accepted", "offramp_share_ack_accept_total", "share-group records accepted"),
    ("share_released", "offramp_share_ack_release_total", "share-group records released"),
    ("share_rejected", "offramp_share_ack_reject_total", "share-group records rejected"),
    (
        "share_redeliveries",
        "offramp_share_redeliveries_total",
        "share-group records delivered more than once",
    ),
)

_TASK_STATES = tuple(s.value for s in TaskState)
_CONNECTOR_STATES = ("RUNNING", "PAUSED", "STOPPED", "FAILED")


class _Registry:
    def __init__(self) -> None:
        self.families: dict[str, _Family] = {}

    def family(self, name: str, kind: str, help_text: str) -> _Family:
        found = self.families.get(name)
        if found is None:
            found = self.families[name] = _Family(name, kind, help_text)
        return found

    def render(self) -> str:
        return "".join(f.render() for f in self.families.values())


def _task_series(reg: _Registry, connector: str, task: TaskRunner) -> None:
    m: TaskMetrics = task.metrics
    labels: Labels = (("connector", connector), ("task", str(task.task_id)))
    for attr, name, kc_name in _TASK_COUNTERS:
        reg.family(name, "counter", f"Kafka Connect: {kc_name}").add(labels, getattr(m, attr))
    reg.family("offramp_sink_put_batch_size", "gauge", "Records in the last batch written").add(
        labels, m.batch_size_last
    )
    reg.family("offramp_sink_put_batch_size_max", "gauge", "Largest batch written").add(
        labels, m.batch_size_max
    )
    # TaskMetrics counts each write in its own bucket; Prometheus wants cumulative ones.
    hist = reg.family(
        "offramp_sink_put_batch_seconds", "histogram", "Kafka Connect: put-batch-time"
    )
    running = 0
    for bound, count in zip(LATENCY_BUCKETS, list(m.write_buckets), strict=True):
        running += count
        hist.add((*labels, ("le", repr(bound))), running, "_bucket")
    hist.add((*labels, ("le", "+Inf")), m.batches, "_bucket")
    hist.add(labels, m.write_seconds_sum, "_sum")
    hist.add(labels, m.batches, "_count")
    reg.family(
        "offramp_sink_put_batch_seconds_max", "gauge", "Kafka Connect: put-batch-max-time"
    ).add(labels, m.write_seconds_max)
    commit = reg.family(
        "offramp_offset_commit_seconds", "summary", "Kafka Connect: offset-commit-avg-time"
    )
    commit.add(labels, m.commit_seconds_sum, "_sum")
    commit.add(labels, m.commits, "_count")
    reg.family(
        "offramp_offset_commit_seconds_max", "gauge", "Kafka Connect: offset-commit-max-time"
    ).add(labels, m.commit_seconds_max)
    state = task.status.state.value
    states = reg.family("offramp_task_state", "gauge", "1 for the task's current state")
    for name in _TASK_STATES:
        states.add((*labels, ("state", name)), 1 if name == state else 0)
    lag = reg.family("offramp_sink_consumer_lag", "gauge", "Records behind the partition's end")
    for (topic, partition), value in sorted(dict(m.consumer_lag).items()):
        lag.add((*labels, ("topic", topic), ("partition", str(partition))), value)
    committed = reg.family(
        "offramp_sink_committed_offset", "gauge", "Next offset committed for the partition"
    )
    for (topic, partition), value in sorted(dict(m.committed_offsets).items()):
        committed.add((*labels, ("topic", topic), ("partition", str(partition))), value)


def render_metrics(worker: Worker, names: Iterable[str] | None = None) -> str:
    reg = _Registry()
    connectors = reg.family("offramp_connectors", "gauge", "Connectors on this worker")
    ready = reg.family("offramp_worker_ready", "gauge", "1 once the worker is ready")
    ready.add((), 1 if worker.ready else 0)
    names = list(worker.names() if names is None else names)
    connectors.add((), len(names))
    for name in names:
        try:
            runtime = worker.get(name)
        except ConnectorNotFoundError:
            continue  # deleted while we were rendering
        state = runtime.state.value
        family = reg.family("offramp_connector_state", "gauge", "1 for the connector's state")
        for s in _CONNECTOR_STATES:
            family.add((("connector", name), ("state", s)), 1 if s == state else 0)
        tasks = list(runtime.tasks)
        reg.family("offramp_connector_tasks", "gauge", "Tasks the connector runs").add(
            (("connector", name),), len(tasks)
        )
        for task in tasks:
            _task_series(reg, name, task)
    return reg.render()
