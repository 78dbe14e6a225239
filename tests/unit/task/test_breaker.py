"""The dead-letter circuit breaker: a stream that mostly fails pauses the task instead of
being copied into the dead-letter topic; a few bad records don't trip it."""

from __future__ import annotations

import pytest

from offramp.task import TaskState
from offramp.task.breaker import BreakerTripped, DeadLetterBreaker
from offramp.testing import RunResult, run_connector

pytestmark = pytest.mark.timeout(60)

JSON_WITH_DLQ = {
    "connector.class": "recording",
    "topics": "calls",
    "value.converter": "json",
    "value.converter.schemas.enable": "false",
    "key.converter": "string",
    "errors.tolerance": "all",
    "errors.deadletterqueue.topic.name": "calls-dlq",
    "errors.breaker.window.records": "200",
}


def _paused(result: RunResult) -> bool:
    return result.status.state is TaskState.PAUSED


def test_a_stream_of_poison_pauses_the_task_with_the_reason() -> None:
    """Every record undecodable: the threshold's share of the window (counted per chunk
    read, so up to a chunk) is dead-lettered, then the task pauses saying why, nothing
    past the poison is committed, and a trip is counted."""
    result = run_connector(JSON_WITH_DLQ, [b"not json"] * 1000, until=_paused)
    message = result.status.message or ""
    assert "failed (VALUE_CONVERTER" in message
    assert "upstream format probably changed" in message
    assert 100 <= len(result.dead_letters) <= 500 // 2
    assert result.committed.get(("calls", 0), 0) < 1000
    assert result.metrics.breaker_trips == 1


def test_a_few_bad_records_are_dead_lettered_and_the_rest_written() -> None:
    """1 in 50 undecodable: each goes to the dead-letter topic, the rest are written,
    everything is committed, the breaker stays closed."""
    values = [b"{bad" if i % 50 == 0 else b'{"n": %d}' % i for i in range(1000)]
    result = run_connector(JSON_WITH_DLQ, values)
    assert len(result.dead_letters) == 20
    assert len(result.written) == 980
    assert result.committed == {("calls", 0): 1000}
    assert result.metrics.breaker_trips == 0


def test_the_breaker_can_be_turned_off() -> None:
    """errors.breaker.enable=false: a poisoned stream is dead-lettered whole, as in
    Kafka Connect."""
    config = {**JSON_WITH_DLQ, "errors.breaker.enable": "false"}
    result = run_connector(config, [b"not json"] * 600)
    assert len(result.dead_letters) == 600
    assert result.committed == {("calls", 0): 600}


def test_the_window_counts_only_the_last_records() -> None:
    """Failures older than the window no longer count; the share is of the window."""
    breaker = DeadLetterBreaker(threshold=0.5, window=100)
    breaker.read(100)
    for _ in range(40):
        breaker.failed("TASK_PUT", ValueError("refused"))
    for _ in range(10):
        breaker.read(10)  # the 40 failures age out of the window
    breaker.failed("TASK_PUT", ValueError("refused"))
    breaker.read(100)
    for _ in range(50):
        breaker.failed("TASK_PUT", ValueError("refused"))
    with pytest.raises(BreakerTripped, match="destination refuses them"):
        breaker.failed("TASK_PUT", ValueError("refused"))
