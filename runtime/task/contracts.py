"""The task loop's contracts in one place: what each room may ask of the others.

``TaskRun`` (``run.py``) meets ``RunView``; ``TaskRunner`` (``supervisor.py``) meets
``TaskControl``. The rooms that serve a run — rebalance callbacks, retry waits, the
commit — are typed against these, so they import no room above them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from confluent_kafka import Message

from offramp.config import ConnectorConfig, ConnectorSettings, WorkerConfig
from offramp.consumer import (
    ConsumerFactory,
    ConsumerLike,
    ProducerFactory,
    ShareConsumerFactory,
)
from offramp.deadletter import DeadLetterWriter
from offramp.metrics import TaskMetrics
from offramp.plugin import BatchWriter
from offramp.records import TopicPartition
from offramp.retry import RetryPolicy
from offramp.task.ingest import Batch
from offramp.task.ledger import OffsetLedger
from offramp.task.pausing import PauseControl
from offramp.task.status import TaskState

__all__ = ["RunView", "TaskControl"]


class TaskControl(Protocol):
    """What a run reads from, and reports to, the task that supervises it."""

    config: ConnectorConfig
    task_id: int
    worker: WorkerConfig
    metrics: TaskMetrics
    retry: RetryPolicy
    consumer_factory: ConsumerFactory
    producer_factory: ProducerFactory | None
    share_consumer_factory: ShareConsumerFactory
    prepare_share_group: Callable[[dict[str, Any], str], int]  # sets it up; lock ms

    @property
    def name(self) -> str: ...

    def exit_requested(self) -> bool: ...

    def stop_requested(self) -> bool: ...

    def pause_requested(self) -> bool: ...

    def set_status(
        self, state: TaskState, trace: str | None = None, message: str | None = None
    ) -> None: ...

    def show_waiting(self, message: str | None) -> None: ...


class RunView(Protocol):
    """What rebalance callbacks, retry waits and the commit use of a run."""

    task: TaskControl
    name: str
    settings: ConnectorSettings
    metrics: TaskMetrics
    ledger: OffsetLedger
    writer: BatchWriter
    consumer: ConsumerLike | None
    dlq: DeadLetterWriter | None
    pausing: PauseControl
    open: Batch
    redo: Batch | None
    carry: list[Message]
    callback_error: BaseException | None
    closing: bool
    durability_waiting: bool

    def exit_requested(self) -> bool: ...

    def poll(self, count: int, timeout: float) -> list[Message]: ...

    def settle_in_flight(self, bounded: float | None = None) -> None: ...

    def commit(
        self, only: set[TopicPartition] | None = None, bounded: float | None = None
    ) -> None: ...
