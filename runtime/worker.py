"""The worker: runs connectors, each as ``tasks.max`` task threads, and changes them live.

Every operation on one connector leaves the others alone: each has its own consumer
group, threads, retry budget and status. Lifecycle follows Kafka Connect: a connector is
RUNNING, PAUSED (tasks keep their partitions and poll without reading) or STOPPED
(tasks released, config kept), and may be restarted, reconfigured or deleted.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime.config import ConnectorConfig, WorkerConfig, validate_connector
from runtime.deadletter import ensure_topic
from runtime.errors import (
    ConnectorExistsError,
    ConnectorNotFoundError,
    IllegalStateError,
)
from runtime.registry import PluginRegistry
from runtime.task import TaskRunner, TaskState

__all__ = ["ConnectorRuntime", "ConnectorState", "Worker"]

log = logging.getLogger("offramp.worker")


class ConnectorState(enum.StrEnum):
    UNASSIGNED = "UNASSIGNED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    STOPPED = "STOPPED"
    FAILED = "FAILED"
    RESTARTING = "RESTARTING"


@dataclass
class ConnectorRuntime:
    """One connector on this worker: its validated config, target state and tasks."""

    config: ConnectorConfig
    target: ConnectorState
    tasks: list[TaskRunner] = field(default_factory=list)
    trace: str | None = None
    created_at: float = field(default_factory=time.time)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def state(self) -> ConnectorState:
        if self.trace is not None:
            return ConnectorState.FAILED
        return self.target


InitialState = str


class Worker:
    """Owns every connector on this process. Thread-safe; REST and CLI call into it."""

    def __init__(
        self,
        config: WorkerConfig,
        registry: PluginRegistry | None = None,
        on_change: Callable[[str, dict[str, Any] | None], None] | None = None,
    ) -> None:
        self.config = config
        self.registry = registry or PluginRegistry()
        self._connectors: dict[str, ConnectorRuntime] = {}
        self._lock = threading.RLock()
        self._on_change = on_change  # persists configs (standalone) or publishes them
        self.ready = False
        self.started_at = time.time()
        self.kafka_cluster_id: str | None = None
        self.last_error: str | None = None

    @property
    def worker_id(self) -> str:
        return self.config.worker_id

    # ----- readiness ----------------------------------------------------------------

    def check_kafka(self, timeout: float = 10.0) -> bool:
        """Ask the cluster for metadata; remember its id. False (and why) if unreachable."""
        from confluent_kafka.admin import AdminClient

        admin = AdminClient(
            {"bootstrap.servers": self.config.bootstrap_servers, **self.config.family("admin.")}
        )
        try:
            metadata = admin.list_topics(timeout=timeout)
        except Exception as exc:
            self.last_error = f"Kafka at {self.config.bootstrap_servers} unreachable: {exc}"
            return False
        self.kafka_cluster_id = metadata.cluster_id
        self.last_error = None
        return True

    def start(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.check_kafka(timeout=min(5.0, max(0.5, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                raise RuntimeError(self.last_error or "Kafka unreachable")
            time.sleep(0.5)
        self.ready = True

    # ----- queries --------------------------------------------------------------------

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._connectors)

    def get(self, name: str) -> ConnectorRuntime:
        with self._lock:
            runtime = self._connectors.get(name)
        if runtime is None:
            raise ConnectorNotFoundError(f"Connector {name} not found")
        return runtime

    def task(self, name: str, task_id: int) -> TaskRunner:
        runtime = self.get(name)
        for task in runtime.tasks:
            if task.task_id == task_id:
                return task
        raise ConnectorNotFoundError(f"Task {name}-{task_id} not found")

    def validate(self, name: str, raw: Mapping[str, Any]) -> ConnectorConfig:
        return validate_connector(name, raw, self.config, self.registry)

    # ----- changes --------------------------------------------------------------------

    def create(
        self, name: str, raw: Mapping[str, Any], initial_state: InitialState = "RUNNING"
    ) -> ConnectorRuntime:
        state = ConnectorState(initial_state)
        if state not in (ConnectorState.RUNNING, ConnectorState.PAUSED, ConnectorState.STOPPED):
            raise IllegalStateError("initial_state must be RUNNING, PAUSED or STOPPED")
        config = self.validate(name, raw)
        with self._lock:
            if name in self._connectors:
                raise ConnectorExistsError(f"Connector {name} already exists")
            runtime = ConnectorRuntime(config, state)
            self._connectors[name] = runtime
            self._persist(name, config.raw)
            self._start_tasks(runtime)
        return runtime

    def put(self, name: str, raw: Mapping[str, Any]) -> tuple[ConnectorRuntime, bool]:
        """Create or replace a connector's config; True if it was created."""
        config = self.validate(name, raw)
        with self._lock:
            runtime = self._connectors.get(name)
            if runtime is None:
                return self.create(name, raw), True
            self._stop_tasks(runtime)
            runtime.config = config
            runtime.trace = None
            self._persist(name, config.raw)
            self._start_tasks(runtime)
            return runtime, False

    def delete(self, name: str) -> None:
        with self._lock:
            runtime = self.get(name)
            self._stop_tasks(runtime)
            del self._connectors[name]
            self._persist(name, None)

    def pause(self, name: str) -> None:
        with self._lock:
            runtime = self.get(name)
            if runtime.target == ConnectorState.STOPPED:
                return  # Kafka Connect keeps a stopped connector stopped on pause
            runtime.target = ConnectorState.PAUSED
            for task in runtime.tasks:
                task.pause()

    def resume(self, name: str) -> None:
        with self._lock:
            runtime = self.get(name)
            was_stopped = runtime.target == ConnectorState.STOPPED
            runtime.target = ConnectorState.RUNNING
            if was_stopped:
                self._start_tasks(runtime)
            for task in runtime.tasks:
                task.resume()

    def stop_connector(self, name: str) -> None:
        with self._lock:
            runtime = self.get(name)
            runtime.target = ConnectorState.STOPPED
            self._stop_tasks(runtime)

    def restart(
        self, name: str, include_tasks: bool = False, only_failed: bool = False
    ) -> ConnectorRuntime:
        with self._lock:
            runtime = self.get(name)
            if runtime.target == ConnectorState.STOPPED:
                return runtime
            connector_failed = runtime.trace is not None
            if only_failed and not connector_failed and not include_tasks:
                return runtime
            if connector_failed or not only_failed:
                runtime.trace = None
            if include_tasks:
                for task in runtime.tasks:
                    if not only_failed or task.status.state == TaskState.FAILED:
                        task.restart()
            elif connector_failed:
                self._stop_tasks(runtime)
                self._start_tasks(runtime)
            return runtime

    def restart_task(self, name: str, task_id: int) -> None:
        self.task(name, task_id).restart()

    def shutdown(self, timeout: float | None = None) -> None:
        """Stop every task: each flushes, commits and closes within the graceful timeout."""
        grace = (
            (self.config.task_shutdown_graceful_timeout_ms / 1000.0) if timeout is None else timeout
        )
        with self._lock:
            tasks = [t for r in self._connectors.values() for t in r.tasks]
        for task in tasks:
            task.stop()
        deadline = time.monotonic() + grace + 5.0
        for task in tasks:
            task.join(max(0.0, deadline - time.monotonic()))
        self.ready = False

    # ----- internals ------------------------------------------------------------------

    def _persist(self, name: str, raw: dict[str, Any] | None) -> None:
        if self._on_change is not None:
            self._on_change(name, raw)

    def _start_tasks(self, runtime: ConnectorRuntime) -> None:
        if runtime.target == ConnectorState.STOPPED or runtime.tasks:
            return
        s = runtime.config.settings
        try:
            if s.errors_deadletterqueue_topic_name:
                ensure_topic(
                    {
                        "bootstrap.servers": self.config.bootstrap_servers,
                        **self.config.family("admin."),
                    },
                    s.errors_deadletterqueue_topic_name,
                    s.errors_deadletterqueue_topic_replication_factor,
                )
        except Exception as exc:
            runtime.trace = f"could not create the dead-letter topic: {exc}"
            log.error("connector %s: %s", runtime.name, runtime.trace)
            return
        paused = runtime.target == ConnectorState.PAUSED
        runtime.tasks = [TaskRunner(runtime.config, i, self.config) for i in range(s.tasks_max)]
        for task in runtime.tasks:
            task.start(paused=paused)

    def _stop_tasks(self, runtime: ConnectorRuntime) -> None:
        tasks, runtime.tasks = runtime.tasks, []
        for task in tasks:
            task.stop()
        grace = self.config.task_shutdown_graceful_timeout_ms / 1000.0 + 5.0
        for task in tasks:
            if not task.join(grace):
                log.warning("task %s did not stop within %.0fs", task.name, grace)
