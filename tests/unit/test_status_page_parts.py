"""The status page's parts that need no browser: sessions and the sampled history."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from offramp.rest.ui.history import ConnectorHistory
from offramp.rest.ui.sessions import SessionStore


@dataclass
class _Metrics:
    records_written: int = 0


@dataclass
class _Status:
    trace: str | None = None
    message: str | None = None


@dataclass
class _Task:
    task_id: int = 0
    metrics: _Metrics = field(default_factory=_Metrics)
    status: _Status = field(default_factory=_Status)


@dataclass
class _Runtime:
    tasks: list[_Task]
    trace: str | None = None


class _Worker:
    def __init__(self, **runtimes: _Runtime) -> None:
        self.runtimes = runtimes

    def names(self) -> list[str]:
        return list(self.runtimes)

    def get(self, name: str) -> Any:
        return self.runtimes[name]


def test_history_counts_a_counter_reset_as_a_restart_not_negative_throughput() -> None:
    """A task restarted from zero adds its new count; rates never go negative."""
    task = _Task()
    worker: Any = _Worker(c=_Runtime([task]))
    history = ConnectorHistory(interval_seconds=5)
    for now, written in ((0, 0), (5, 100), (10, 20), (15, 70)):
        task.metrics.records_written = written
        history.sample(worker, now=now)
    assert history.rates("c") == [(5, 20.0), (10, 4.0), (15, 10.0)]


def test_history_keeps_the_last_error_after_it_clears_and_forgets_deleted_connectors() -> None:
    """The page still shows an error a retry has since cleared, with when it was seen."""
    task = _Task(status=_Status(message="retrying: connection refused"))
    worker: Any = _Worker(c=_Runtime([task]))
    history = ConnectorHistory()
    history.sample(worker, now=100)
    task.status.message = None
    history.sample(worker, now=105)
    error = history.last_error("c")
    assert error is not None and error.at == 100 and "connection refused" in error.text
    worker.runtimes.clear()
    history.sample(worker, now=110)
    assert history.last_error("c") is None and history.rates("c") == []


def test_sessions_expire_are_bounded_and_check_csrf() -> None:
    """A session dies at its TTL, the oldest goes first past the bound, and only its own
    CSRF token matches."""
    now = [0.0]
    store = SessionStore(ttl_seconds=10, max_sessions=2, clock=lambda: now[0])
    first, session = store.create()
    assert store.get(first) is session
    assert SessionStore.csrf_matches(session, session.csrf)
    assert not SessionStore.csrf_matches(session, "forged") and not store.csrf_matches(
        session, None
    )
    store.create()
    store.create()
    assert store.get(first) is None  # evicted, the bound is 2
    later, _ = store.create()
    now[0] = 11.0
    assert store.get(later) is None
