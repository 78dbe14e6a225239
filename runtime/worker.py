"""The worker: runs connectors, each as ``tasks.max`` task threads, and changes them live.

Every operation on one connector leaves the others alone: each has its own consumer
group, threads, retry budget, status and lock, so stopping one (which waits for its
tasks to flush) never holds up a change to another. Lifecycle follows Kafka Connect: a
connector is RUNNING, PAUSED (tasks keep their partitions and poll without reading) or
STOPPED (tasks released, config kept), and may be restarted, reconfigured or deleted.

In standalone mode a ``ConnectorStore`` remembers every change made through the worker
(config and target state), so REST changes survive a restart.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from confluent_kafka import KafkaError
from confluent_kafka.admin import AdminClient

from offramp.config import ConnectorConfig, WorkerConfig, validate_connector
from offramp.deadletter import ensure_topic
from offramp.deadletter_names import is_templated
from offramp.errors import (
    ConfigError,
    ConnectorExistsError,
    ConnectorNotFoundError,
    CredentialsRefused,
    IllegalStateError,
)
from offramp.gc_tuning import tune_for_throughput
from offramp.kafka_logs import client_logger
from offramp.kafka_security import refuses_credentials
from offramp.masking import (
    install_log_redaction,
    register_config_secrets,
    register_worker_secrets,
)
from offramp.records import TopicPartition
from offramp.registry import PluginRegistry
from offramp.task import TaskRunner, TaskState

__all__ = ["ConnectorRuntime", "ConnectorState", "ConnectorStore", "RestartPlan", "Worker"]

log = logging.getLogger("offramp.worker")

T = TypeVar("T")


class ConnectorState(enum.StrEnum):
    UNASSIGNED = "UNASSIGNED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    STOPPED = "STOPPED"
    FAILED = "FAILED"
    RESTARTING = "RESTARTING"


TARGET_STATES = (ConnectorState.RUNNING, ConnectorState.PAUSED, ConnectorState.STOPPED)


class ConnectorStore(Protocol):
    """Where a worker records connector changes (standalone: ``offramp.config_store``)."""

    def save(self, name: str, config: Mapping[str, Any], state: str) -> None: ...
    def delete(self, name: str) -> None: ...


def _progressed(task: TaskRunner, baseline: Mapping[TopicPartition, int]) -> set[str]:
    # dict() copies in one step under the GIL while the task thread keeps committing.
    committed = dict(task.metrics.committed_offsets)
    return {tp.topic for tp, offset in committed.items() if baseline.get(tp) != offset}


@dataclass
class ConnectorRuntime:
    """One connector on this worker: its validated config, target state and tasks."""

    config: ConnectorConfig
    target: ConnectorState
    tasks: list[TaskRunner] = field(default_factory=list)
    trace: str | None = None
    created_at: float = field(default_factory=time.time)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    deleted: bool = False
    # Topics used: those a task has committed progress on since creation or the last
    # reset. Tasks come and go (stop, reconfigure), so their topics are kept here.
    topics_history: set[str] = field(default_factory=set)
    topics_baseline: dict[int, dict[TopicPartition, int]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def state(self) -> ConnectorState:
        if self.trace is not None:
            return ConnectorState.FAILED
        return self.target

    def active_topics(self) -> list[str]:
        topics = set(self.topics_history)
        for task in list(self.tasks):
            topics |= _progressed(task, self.topics_baseline.get(task.task_id, {}))
        return sorted(topics)


@dataclass(frozen=True)
class RestartPlan:
    """What a restart request restarted: the connector itself and which tasks."""

    connector: bool
    tasks: tuple[int, ...]


InitialState = str


class Worker:
    """Owns every connector on this process. Thread-safe; REST and CLI call into it."""

    def __init__(
        self,
        config: WorkerConfig,
        registry: PluginRegistry | None = None,
        store: ConnectorStore | None = None,
    ) -> None:
        self.config = config
        self.registry = registry or PluginRegistry()
        self.store = store
        self._connectors: dict[str, ConnectorRuntime] = {}
        self._index = threading.Lock()  # guards the dict only; held for microseconds
        self._admin_lock = threading.Lock()
        self._admin: AdminClient | None = None
        self._client_error: KafkaError | None = None
        self.ready = False
        self.started_at = time.time()
        self.kafka_cluster_id: str | None = None
        self.last_error: str | None = "connecting to Kafka"
        install_log_redaction()
        register_worker_secrets(config)

    @property
    def worker_id(self) -> str:
        return self.config.worker_id

    def bind_rest_port(self, port: int) -> None:
        """The REST listener's real port (``rest.port: 0`` picks one): ``worker_id``
        names it. Call before connectors start, so their tasks report it too."""
        if port != self.config.rest_port:
            picked = self.config.rest_port == 0
            self.config = self.config.model_copy(
                update={"rest_port": port, "rest_port_picked": picked}
            )

    # ----- readiness ----------------------------------------------------------------

    def admin(self) -> AdminClient:
        """One admin client for the worker's own requests (health, offsets)."""
        with self._admin_lock:
            if self._admin is None:
                conf: dict[str, Any] = self.config.client_config("admin")
                conf.setdefault("logger", client_logger())
                conf["error_cb"] = self._on_client_error
                self._admin = AdminClient(conf)
            return self._admin

    def _on_client_error(self, error: KafkaError) -> None:
        # A failed list_topics() only says "transport failure"; the client's own report
        # says why (a wrong password, an untrusted certificate), so status can too.
        self._client_error = error

    def _check_refused(self) -> None:
        if self._client_error is not None and refuses_credentials(self._client_error):
            raise CredentialsRefused(self.last_error or str(self._client_error))

    def check_kafka(self, timeout: float = 10.0) -> bool:
        """Ask the cluster for metadata; remember its id. False (and why) if unreachable."""
        self._client_error = None
        admin = self.admin()
        try:
            metadata = admin.list_topics(timeout=timeout)
        except Exception as exc:
            admin.poll(0)  # serves error_cb: the reason, if the client has one
            where, error = self.config.bootstrap_servers, self._client_error
            if error is not None and refuses_credentials(error):
                self.last_error = f"Kafka at {where}: authentication failed: {error.str()}"
            else:
                why = f" ({error})" if error else ""
                self.last_error = f"Kafka at {where} unreachable: {exc}{why}"
            return False
        finally:
            admin.poll(0)  # hands the client's queued log lines to offramp.kafka_logs
        self.kafka_cluster_id = metadata.cluster_id
        self.last_error = None
        return True

    def start(self, timeout: float = 30.0, mark_ready: bool = True) -> None:
        """Wait for Kafka (``RuntimeError`` after ``timeout``, ``CredentialsRefused`` at
        once if it refuses the worker's credentials); ready unless told not to be yet
        (standalone becomes ready once its connectors have started)."""
        deadline = time.monotonic() + timeout
        while not self.check_kafka(timeout=min(5.0, max(0.5, deadline - time.monotonic()))):
            self._check_refused()
            if time.monotonic() >= deadline:
                raise RuntimeError(self.last_error or "Kafka unreachable")
            time.sleep(0.5)
        tune_for_throughput()
        if mark_ready:
            self.mark_ready()

    def wait_for_kafka(self, stop: threading.Event, log_every: float = 10.0) -> bool:
        """Wait for Kafka until it answers (True) or ``stop`` is set (False);
        ``CredentialsRefused`` if it refuses the worker's credentials, which waiting
        can't mend."""
        next_log = time.monotonic()
        while not stop.is_set():
            if self.check_kafka(timeout=5.0):
                tune_for_throughput()  # as start() does
                return True
            self._check_refused()
            if time.monotonic() >= next_log:
                log.warning("waiting for Kafka: %s", self.last_error)
                next_log = time.monotonic() + log_every
            stop.wait(1.0)
        return False

    def mark_ready(self) -> None:
        self.ready = True
        self.last_error = None

    # ----- queries --------------------------------------------------------------------

    def names(self) -> list[str]:
        with self._index:
            return sorted(self._connectors)

    def get(self, name: str) -> ConnectorRuntime:
        with self._index:
            runtime = self._connectors.get(name)
        if runtime is None:
            raise ConnectorNotFoundError(f"Connector {name} not found")
        return runtime

    def peer_task_statuses(self, name: str) -> list[dict[str, Any]]:
        """Statuses of ``name``'s tasks on other workers (distributed mode; none here)."""
        return []

    def task(self, name: str, task_id: int) -> TaskRunner:
        runtime = self.get(name)
        for task in list(runtime.tasks):
            if task.task_id == task_id:
                return task
        raise ConnectorNotFoundError(f"Task {task_id} of connector {name} not found")

    def validate(self, name: str, raw: Mapping[str, Any]) -> ConnectorConfig:
        """Full validation (``ConfigError`` lists every problem); also remembers the
        config's secrets so they are masked in logs and responses from now on."""
        try:
            config = validate_connector(name, raw, self.config, self.registry)
        except ConfigError:
            self._register_secrets(raw)
            raise
        register_config_secrets(
            raw, config.plugin.connector.config_model, self.config.providers.resolve
        )
        return config

    def _register_secrets(self, raw: Mapping[str, Any]) -> None:
        model = None
        with contextlib.suppress(ConfigError):
            model = self.registry.get(str(raw.get("connector.class") or "")).connector.config_model
        register_config_secrets(raw, model, self.config.providers.resolve)

    @contextlib.contextmanager
    def _locked(self, name: str) -> Iterator[ConnectorRuntime]:
        """The connector, locked against other changes to it (not to others)."""
        runtime = self.get(name)
        with runtime.lock:
            if runtime.deleted:
                raise ConnectorNotFoundError(f"Connector {name} not found")
            yield runtime

    # ----- changes --------------------------------------------------------------------

    def create(
        self,
        name: str,
        raw: Mapping[str, Any],
        initial_state: InitialState = "RUNNING",
        persist: bool = True,
    ) -> ConnectorRuntime:
        try:
            state = ConnectorState(initial_state)
        except ValueError:
            state = ConnectorState.UNASSIGNED
        if state not in TARGET_STATES:
            raise IllegalStateError("initial_state must be RUNNING, PAUSED or STOPPED")
        return self._add(self.validate(name, raw), state, persist)

    def _add(
        self, config: ConnectorConfig, state: ConnectorState, persist: bool
    ) -> ConnectorRuntime:
        runtime = ConnectorRuntime(config, state)
        with runtime.lock:
            with self._index:
                if config.name in self._connectors:
                    raise ConnectorExistsError(f"Connector {config.name} already exists")
                self._connectors[config.name] = runtime
            if persist:
                try:
                    self._persist(runtime)
                except BaseException:
                    with self._index:
                        del self._connectors[config.name]
                    raise
            self._start_tasks(runtime)
        log.info("connector %s created (%s)", config.name, state.value)
        return runtime

    def put(self, name: str, raw: Mapping[str, Any]) -> tuple[ConnectorRuntime, bool]:
        """Create or replace a connector's config; True if it was created. An identical
        config changes nothing (its tasks keep running)."""
        config = self.validate(name, raw)
        try:
            with self._locked(name) as runtime:
                if config.raw == runtime.config.raw:
                    return runtime, False
                self._stop_tasks(runtime)
                runtime.config.close()
                runtime.config = config
                runtime.trace = None
                self._persist(runtime)
                self._start_tasks(runtime)
                log.info("connector %s reconfigured", name)
                return runtime, False
        except ConnectorNotFoundError:
            return self._add(config, ConnectorState.RUNNING, persist=True), True

    def patch(self, name: str, changes: Mapping[str, Any]) -> ConnectorRuntime:
        """Merge ``changes`` into the stored config (None removes a key) and apply it;
        atomic against other changes to the same connector."""
        with self._locked(name) as runtime:
            current = runtime.config.raw
            merged = {k: v for k, v in {**current, **changes}.items() if v is not None}
            runtime, _ = self.put(name, merged)
            return runtime

    def delete(self, name: str) -> None:
        with self._locked(name) as runtime:
            self._stop_tasks(runtime)
            runtime.config.close()
            runtime.deleted = True
            with self._index:
                del self._connectors[name]
            if self.store is not None:
                self.store.delete(name)
        log.info("connector %s deleted", name)

    def pause(self, name: str) -> None:
        with self._locked(name) as runtime:
            if runtime.target == ConnectorState.STOPPED:
                return  # Kafka Connect keeps a stopped connector stopped on pause
            runtime.target = ConnectorState.PAUSED
            for task in runtime.tasks:
                task.pause()
            self._persist(runtime)

    def resume(self, name: str) -> None:
        with self._locked(name) as runtime:
            was_stopped = runtime.target == ConnectorState.STOPPED
            runtime.target = ConnectorState.RUNNING
            if was_stopped:
                self._start_tasks(runtime)
            for task in runtime.tasks:
                task.resume()
            self._persist(runtime)

    def stop_connector(self, name: str) -> None:
        with self._locked(name) as runtime:
            runtime.target = ConnectorState.STOPPED
            self._stop_tasks(runtime)
            self._persist(runtime)

    def restart(
        self, name: str, include_tasks: bool = False, only_failed: bool = False
    ) -> RestartPlan:
        """Kafka Connect's restart: the connector (unless ``only_failed`` and it hasn't
        failed) and, with ``include_tasks``, its tasks (only the failed ones with
        ``only_failed``). A connector that failed to start gets fresh tasks."""
        with self._locked(name) as runtime:
            if runtime.target == ConnectorState.STOPPED:
                return RestartPlan(False, ())
            connector_failed = runtime.trace is not None
            restart_connector = connector_failed or not only_failed
            chosen = tuple(
                t.task_id
                for t in runtime.tasks
                if include_tasks and (not only_failed or t.status.state == TaskState.FAILED)
            )
            if connector_failed:
                runtime.trace = None
                self._stop_tasks(runtime)
                self._start_tasks(runtime)
                if include_tasks:
                    chosen = tuple(t.task_id for t in runtime.tasks)
            else:
                for task in runtime.tasks:
                    if task.task_id in chosen:
                        task.restart()
            return RestartPlan(restart_connector, chosen)

    def restart_task(self, name: str, task_id: int) -> None:
        self.task(name, task_id).restart()

    def topics(self, name: str) -> list[str]:
        return self.get(name).active_topics()

    def reset_topics(self, name: str) -> None:
        """Forget the topics used so far; they count again once progress is committed."""
        with self._locked(name) as runtime:
            runtime.topics_history.clear()
            runtime.topics_baseline = {
                t.task_id: dict(t.metrics.committed_offsets) for t in runtime.tasks
            }

    def while_stopped(self, name: str, action: Callable[[ConnectorRuntime], T]) -> T:
        """Run ``action`` while the connector is STOPPED and kept so (offsets changes);
        ``IllegalStateError`` otherwise, as in Kafka Connect."""
        with self._locked(name) as runtime:
            if runtime.target != ConnectorState.STOPPED:
                raise IllegalStateError(
                    "Connectors must be in the STOPPED state before their offsets can be "
                    "modified. This can be done for the specified connector by issuing a "
                    f"'PUT' request to the '/connectors/{name}/stop' endpoint"
                )
            return action(runtime)

    def shutdown(self, timeout: float | None = None) -> None:
        """Stop every task: each flushes, commits and closes within the graceful timeout."""
        grace = (
            (self.config.task_shutdown_graceful_timeout_ms / 1000.0) if timeout is None else timeout
        )
        with self._index:
            runtimes = list(self._connectors.values())
        tasks = [t for r in runtimes for t in r.tasks]
        for task in tasks:
            task.stop()
        deadline = time.monotonic() + grace + 5.0
        for task in tasks:
            task.join(max(0.0, deadline - time.monotonic()))
        for runtime in runtimes:
            runtime.config.close()
        self.ready = False
        with self._admin_lock:
            self._admin = None  # no close() in the client: dropping it lets it go

    # ----- internals ------------------------------------------------------------------

    def _persist(self, runtime: ConnectorRuntime) -> None:
        if self.store is not None:
            self.store.save(runtime.name, runtime.config.raw, runtime.target.value)

    def _start_tasks(self, runtime: ConnectorRuntime) -> None:
        if runtime.target == ConnectorState.STOPPED or runtime.tasks:
            return
        s = runtime.config.settings
        try:
            # A ${topic} name is one topic per source topic: each task creates its own
            # as records fail (offramp.deadletter.DeadLetterWriter).
            if s.errors_deadletterqueue_topic_name and not is_templated(
                s.errors_deadletterqueue_topic_name
            ):
                ensure_topic(
                    {
                        "logger": client_logger(),
                        **self.config.client_config("admin"),
                        **runtime.config.admin_overrides,
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
        for task in tasks:
            runtime.topics_history |= _progressed(
                task, runtime.topics_baseline.get(task.task_id, {})
            )
        runtime.topics_baseline = {}
