"""Adaptive batching: full batches under a backlog, prompt writes when caught up."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import pytest

from offramp import BatchWriter, ConfigModel, RecordFailure, SinkConnector, SinkRecord, TaskContext
from offramp.config import ConnectorSettings
from offramp.records import RawMessage
from offramp.task.batching import LINGER, BatchPolicy
from offramp.task.ingest import Batch
from offramp.testing import run_connector

pytestmark = pytest.mark.timeout(60)

TEXT = {"value.converter": "string", "key.converter": "string", "topics": "calls"}
MINUTE = {"batch.max.age.ms": "60000"}


class _Config(ConfigModel):
    pass


class _SizeWriter(BatchWriter):
    sizes: ClassVar[list[int]] = []

    def write(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure] | None:
        self.sizes.append(len(records))
        return None


class _SizeSink(SinkConnector[_Config]):
    config_model = _Config

    def create_writer(self, config: _Config, context: TaskContext) -> BatchWriter:
        _SizeWriter.sizes = []
        return _SizeWriter()


def _settings(**keys: str) -> ConnectorSettings:
    return ConnectorSettings.model_validate({"name": "n", "connector.class": "x", **TEXT, **keys})


def _batch(records: int, started: float) -> Batch:
    batch = Batch(1, started=started, positions=True)
    batch.records = [
        SinkRecord(RawMessage("calls", 0, i, value=b"v"), None, "v") for i in range(records)
    ]
    return batch


def test_a_caught_up_task_writes_without_waiting_for_the_batch_age() -> None:
    """With batch.max.age.ms a minute, three records that are all there is get written
    (and committed) anyway: a caught-up task doesn't wait for the age."""
    result = run_connector(
        {"connector.class": "sizes", **TEXT, **MINUTE}, [b"a", b"b", b"c"], connector=_SizeSink
    )
    assert result.committed == {("calls", 0): 3}
    assert sum(_SizeWriter.sizes) == 3


def test_a_backlog_is_written_in_full_batches() -> None:
    """2000 records already there are written in batches of batch.max.records."""
    values = [str(i).encode() for i in range(2000)]
    result = run_connector(
        {"connector.class": "sizes", **TEXT, **MINUTE, "batch.max.records": "500"},
        values,
        connector=_SizeSink,
    )
    assert result.committed == {("calls", 0): 2000}
    assert _SizeWriter.sizes == [500, 500, 500, 500]


def test_policy_fills_under_a_backlog_and_lingers_when_caught_up() -> None:
    """The policy: not due under a backlog, due after LINGER when caught up, due at
    the age or the size bound either way; a writer that fills batches waits for the age."""
    policy = BatchPolicy(_settings(**{"batch.max.records": "10"}), fills_batches=False)
    young, lingered = _batch(3, started=100.0), _batch(3, started=100.0 - LINGER)
    assert not policy.write_now(young, caught_up=False, writing=False, now=100.0)
    assert not policy.write_now(young, caught_up=True, writing=False, now=100.0)
    assert policy.write_now(lingered, caught_up=True, writing=False, now=100.0)
    assert not policy.write_now(lingered, caught_up=True, writing=True, now=100.0)
    assert policy.write_now(_batch(10, started=100.0), caught_up=False, writing=True, now=100.0)
    assert policy.write_now(young, caught_up=False, writing=False, now=100.5)
    assert policy.wait(young, caught_up=True, now=100.0) == pytest.approx(LINGER)
    filling = BatchPolicy(_settings(), fills_batches=True)
    assert not filling.write_now(lingered, caught_up=True, writing=False, now=100.0)
    assert filling.wait(young, caught_up=True, now=100.0) == pytest.approx(0.5)


def test_a_batch_of_only_filtered_records_is_handled_at_once() -> None:
    """Positions without records (everything filtered) are due immediately."""
    policy = BatchPolicy(_settings(), fills_batches=False)
    assert policy.write_now(Batch(1, positions=True), caught_up=False, writing=True, now=0.0)
    assert not policy.write_now(Batch(1), caught_up=True, writing=False, now=0.0)


def test_linger_grows_with_the_cost_of_a_write() -> None:
    """A sink whose writes take 40 ms lingers 80 ms when caught up; a fast sink 10 ms."""
    from offramp.metrics import TaskMetrics

    metrics = TaskMetrics()
    policy = BatchPolicy(_settings(), fills_batches=False, metrics=metrics)
    assert policy.linger() == LINGER
    metrics.observe_write(10, 0.001)
    assert policy.linger() == LINGER
    metrics.observe_write(10, 0.079)
    assert policy.linger() == pytest.approx(0.08)
    batch = _batch(3, started=100.0)
    assert not policy.write_now(batch, caught_up=True, writing=False, now=100.05)
    assert policy.write_now(batch, caught_up=True, writing=False, now=100.09)
