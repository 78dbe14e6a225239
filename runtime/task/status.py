"""A task's state and status, as the REST API reports them (Kafka Connect's states)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["TaskState", "TaskStatus"]


class TaskState(enum.StrEnum):
    UNASSIGNED = "UNASSIGNED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    FAILED = "FAILED"
    RESTARTING = "RESTARTING"


@dataclass(frozen=True)
class TaskStatus:
    state: TaskState
    worker_id: str
    trace: str | None = None
    message: str | None = None  # why a running task is waiting (throttled, retrying)
