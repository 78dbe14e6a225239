"""Where a bad record goes: the error log, the dead-letter topic, or the end of the task.

One record failed at one stage (conversion, a transform, the sink's write). With
``errors.tolerance=none`` the task fails naming the record; with ``all`` the record goes
to the dead-letter topic with Kafka Connect's context headers, or is skipped when no
topic is set. Either way it is counted, and logged if ``errors.log.enable``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from offramp.config import ConnectorSettings
from offramp.deadletter import DeadLetterWriter
from offramp.errors import FatalError
from offramp.metrics import TaskMetrics
from offramp.task.breaker import DeadLetterBreaker

__all__ = ["FailureReporter", "qualified_name"]

log = logging.getLogger("offramp.task")


def qualified_name(exc: BaseException) -> str:
    return type(exc).__module__ + "." + type(exc).__qualname__


class FailureReporter:
    """Reports one task's failed records (thread-safe: the producer is)."""

    def __init__(
        self,
        connector: str,
        task_id: int,
        settings: ConnectorSettings,
        dead_letters: DeadLetterWriter | None,
        metrics: TaskMetrics,
    ) -> None:
        self.breaker = (
            DeadLetterBreaker(
                settings.errors_breaker_threshold, settings.errors_breaker_window_records
            )
            if settings.errors_breaker_enable and settings.errors_tolerance == "all"
            else None
        )
        self._connector = connector
        self._task_id = task_id
        self._settings = settings
        self.dead_letters = dead_letters
        self._metrics = metrics

    def failed(
        self,
        message: Any,
        stage: str,
        error: BaseException,
        class_name: str,
        context: Mapping[str, str] | None = None,
    ) -> None:
        """Dead-letter (or skip) one record, or raise ``FatalError`` under tolerance none."""
        s = self._settings
        if self.breaker is not None:
            self.breaker.failed(stage, error)  # raises instead, when most records fail
        self._metrics.records_failed += 1
        where = f"{message.topic()}-{message.partition()}@{message.offset()}"
        if s.errors_log_enable:
            detail = f" ({where})" if s.errors_log_include_messages else ""
            log.error(
                "connector %s task %d: %s failed%s: %s",
                self._connector,
                self._task_id,
                stage,
                detail,
                error,
            )
        if s.errors_tolerance == "none":
            raise FatalError(
                f"{stage} failed for {where} and errors.tolerance=none: {error}"
            ) from error
        if self.dead_letters is not None:
            self.dead_letters.send(message, stage, error, class_name, context)
            self._metrics.records_dead_lettered += 1
        else:
            self._metrics.records_skipped += 1
