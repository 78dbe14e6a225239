"""The supervisor: a task's thread, its status, and restarts with backoff.

A run (``TaskRun``, or ``ShareRun`` for ``group.type=share``) either returns — asked
to stop or restart — or raises, and the task is FAILED with the trace. A failed task
restarts itself after ``task.restart.backoff.initial.ms``, doubling up to
``task.restart.backoff.max.ms``, at most ``task.restart.max.attempts`` times in a row
(a run that wrote something starts the count over); then it stays FAILED until an
operator restarts or stops it. A stop or restart request is never a failure: the run
commits what is durable and returns.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, cast

from confluent_kafka import Consumer, ShareConsumer

from offramp.config import ConnectorConfig, WorkerConfig
from offramp.consumer import ConsumerFactory, ProducerFactory, ShareConsumerFactory
from offramp.metrics import TaskMetrics
from offramp.retry import RetryPolicy
from offramp.task import share_group
from offramp.task.breaker import BreakerTripped
from offramp.task.fencing import MemberFenced, fenced_error
from offramp.task.run import TaskRun
from offramp.task.settings import instance_id
from offramp.task.share_run import ShareRun
from offramp.task.status import TaskState, TaskStatus

__all__ = ["TaskRunner", "TaskState", "TaskStatus"]

log = logging.getLogger("offramp.task")


class TaskRunner:
    """Runs task ``task_id`` of a connector in its own thread."""

    def __init__(
        self,
        config: ConnectorConfig,
        task_id: int,
        worker: WorkerConfig,
        on_state: Callable[[TaskRunner], None] | None = None,
        consumer_factory: ConsumerFactory | None = None,
        producer_factory: ProducerFactory | None = None,
        share_consumer_factory: ShareConsumerFactory | None = None,
        prepare_share_group: Callable[[dict[str, Any], str], int] | None = None,
    ) -> None:
        self.config = config
        self.settings = config.settings
        self.task_id = task_id
        self.worker = worker
        self.metrics = TaskMetrics()
        self.consumer_factory = consumer_factory or cast(ConsumerFactory, Consumer)
        self.producer_factory = producer_factory
        self.share_consumer_factory = share_consumer_factory or cast(
            ShareConsumerFactory, ShareConsumer
        )
        self.prepare_share_group = prepare_share_group or share_group.prepare_share_group
        self.retry = RetryPolicy(
            self.settings.errors_retry_timeout, self.settings.errors_retry_delay_max_ms
        )
        self._on_state = on_state
        self._status = TaskStatus(TaskState.UNASSIGNED, worker.worker_id)
        self._status_lock = threading.Lock()  # the write thread reports retries too
        self._stop = threading.Event()
        self._restart = threading.Event()
        self._paused = threading.Event()
        self._thread: threading.Thread | None = None

    # ----- control, from any thread -------------------------------------------------

    @property
    def status(self) -> TaskStatus:
        return self._status

    @property
    def name(self) -> str:
        return f"{self.config.name}-{self.task_id}"

    def start(self, paused: bool = False) -> None:
        if paused:
            self._paused.set()
        self._thread = threading.Thread(target=self._main, name=f"task-{self.name}", daemon=True)
        self._thread.start()

    def pause(self) -> None:
        self._paused.set()

    def resume(self) -> None:
        self._paused.clear()

    def restart(self) -> None:
        """Stop the current run (if any) and start again at once, with a fresh count."""
        self._restart.set()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    # ----- what a run asks of its task ------------------------------------------------

    def exit_requested(self) -> bool:
        return self._stop.is_set() or self._restart.is_set()

    def stop_requested(self) -> bool:
        """Stopping for good (not restarting): the task's consumer leaves its group."""
        return self._stop.is_set()

    def pause_requested(self) -> bool:
        return self._paused.is_set()

    def set_status(
        self, state: TaskState, trace: str | None = None, message: str | None = None
    ) -> None:
        with self._status_lock:
            self._status = TaskStatus(state, self.worker.worker_id, trace, message)
        if self._on_state is not None:
            self._on_state(self)

    def show_waiting(self, message: str | None) -> None:
        """A running task says why it waits (``message``), or that it no longer does."""
        if message is not None:
            log.warning("task %s: %s", self.name, message)
        if self._status.message != message:
            self.set_status(self._running_state(), message=message)

    def _running_state(self) -> TaskState:
        return TaskState.PAUSED if self._paused.is_set() else TaskState.RUNNING

    # ----- supervision ----------------------------------------------------------------

    def _main(self) -> None:
        attempts = 0
        while not self._stop.is_set():
            self._restart.clear()
            self.set_status(self._running_state())
            run: TaskRun | ShareRun | None = None
            try:
                run = ShareRun(self) if self.settings.group_type == "share" else TaskRun(self)
                run.execute()
            except BreakerTripped as exc:
                # Not a failure: the task pauses itself, as an operator would, and a
                # resume (or restart) goes on from the last commit with a fresh window.
                log.error("task %s paused: %s", self.name, exc)
                self._paused.set()
                self.set_status(TaskState.PAUSED, message=str(exc))
                while self._paused.is_set() and not self.exit_requested():
                    self._stop.wait(0.2)
                self._paused.clear()
                continue
            except Exception as exc:
                fenced = fenced_error(exc)
                if fenced is not None:
                    self._fenced(exc, fenced)
                    if self._stop.is_set():
                        return
                    attempts = 0  # an operator's restart
                    self.set_status(TaskState.RESTARTING)
                    continue
                trace = "".join(traceback.format_exception(exc))
                log.error("task %s failed: %s", self.name, exc)
                self.set_status(TaskState.FAILED, trace)
                if run is not None and run.progressed:
                    attempts = 0  # it wrote something since the last failure
                if not self._wait_before_restart(attempts):
                    return
                attempts = 0 if self._restart.is_set() else attempts + 1
                self.metrics.restarts += 1
                self.set_status(TaskState.RESTARTING, trace)
                continue
            if self._stop.is_set():
                return
            attempts = 0  # an operator's restart
            self.set_status(TaskState.RESTARTING)

    def _fenced(self, exc: Exception, detail: str) -> None:
        """FAILED, saying which ``worker.id`` is shared, until an operator restarts or
        stops the task: restarting by itself would shut the other process out in turn."""
        worker_id = self.worker.worker_id
        fenced = MemberFenced(
            worker_id, instance_id(worker_id, self.config.name, self.task_id), detail
        )
        fenced.__cause__ = exc
        log.error("task %s failed: %s", self.name, fenced)
        self.set_status(TaskState.FAILED, "".join(traceback.format_exception(fenced)), str(fenced))
        while not (self._stop.is_set() or self._restart.is_set()):
            self._stop.wait(0.2)

    def _wait_before_restart(self, attempts: int) -> bool:
        """Back off before restart number ``attempts + 1``; False when stopping."""
        s = self.settings
        can_retry = s.task_restart_enable and (
            s.task_restart_max_attempts < 0 or attempts < s.task_restart_max_attempts
        )
        if not can_retry:
            # FAILED for good, until an operator restarts it or stops it.
            while not (self._stop.is_set() or self._restart.is_set()):
                self._stop.wait(0.2)
        else:
            delay = min(
                s.task_restart_backoff_initial_ms * 2**attempts, s.task_restart_backoff_max_ms
            )
            deadline = time.monotonic() + delay / 1000.0
            while time.monotonic() < deadline and not self.exit_requested():
                self._stop.wait(min(0.2, max(0.0, deadline - time.monotonic())))
        return not self._stop.is_set()
