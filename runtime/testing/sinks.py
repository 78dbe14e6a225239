"""Sinks for tests: one that records what it is given, one that fails on cue.

What the sinks write goes to every ``recording()`` scope open at the time, or, when
none is, to a default store read by ``recordings(name)`` (kept for older tests; new
tests open a scope, so nothing leaks from one test into the next):

    with recording() as rec:
        ...  # run a connector whose class is RecordingSinkConnector
    assert [r.value for r in rec["my-connector"]] == [...]
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from pydantic import Field

from offramp.errors import BatchError, FatalError, RetriableError
from offramp.plugin import (
    BatchWriter,
    CommaList,
    ConfigModel,
    RecordFailure,
    SinkConnector,
    TaskContext,
)
from offramp.records import SinkRecord

__all__ = [
    "Recorder",
    "RecordingSinkConnector",
    "ScriptedSinkConnector",
    "recording",
    "recordings",
]


class Recorder:
    """What the testing sinks wrote while a ``recording()`` scope was open, by
    recording name (the connector's name unless ``recording.name`` is set)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_name: defaultdict[str, list[SinkRecord]] = defaultdict(list)

    def add(self, name: str, records: Iterable[SinkRecord]) -> None:
        with self._lock:
            self._by_name[name].extend(records)

    def __getitem__(self, name: str) -> list[SinkRecord]:
        """A copy of what was recorded under ``name`` (empty if nothing)."""
        with self._lock:
            return list(self._by_name.get(name, ()))

    def values(self, name: str) -> list[object]:
        """The recorded records' values, in the order they were written."""
        return [r.value for r in self[name]]

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._by_name)

    def all(self) -> dict[str, list[SinkRecord]]:
        with self._lock:
            return {name: list(records) for name, records in self._by_name.items()}

    def clear(self) -> None:
        with self._lock:
            self._by_name.clear()


_scopes_lock = threading.Lock()
_scopes: list[Recorder] = []
_default = Recorder()


@contextmanager
def recording() -> Iterator[Recorder]:
    """Open a scope that receives what the testing sinks write until it closes (on any
    thread: a task's, a write thread). Scopes may nest; each receives everything."""
    recorder = Recorder()
    with _scopes_lock:
        _scopes.append(recorder)
    try:
        yield recorder
    finally:
        with _scopes_lock:
            _scopes.remove(recorder)


def _record(name: str, records: Sequence[SinkRecord]) -> None:
    with _scopes_lock:
        targets = list(_scopes) or [_default]
    for target in targets:
        target.add(name, records)


def recordings(name: str) -> list[SinkRecord]:
    """A copy of what the testing sink called ``name`` wrote outside any ``recording()``
    scope (the older, process-wide store; prefer ``with recording() as rec``)."""
    return _default[name]


class RecordingConfig(ConfigModel):
    recording_name: str = Field("", description="Key to read recordings by (default: connector)")


class _RecordingWriter(BatchWriter):
    def __init__(self, name: str) -> None:
        self.name = name

    def write(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure] | None:
        _record(self.name, records)
        return None


class RecordingSinkConnector(SinkConnector[RecordingConfig]):
    """Records everything in memory; read it back from a ``recording()`` scope."""

    config_model = RecordingConfig

    def create_writer(self, config: RecordingConfig, context: TaskContext) -> BatchWriter:
        return _RecordingWriter(config.recording_name or context.connector_name)


class ScriptConfig(ConfigModel):
    recording_name: str = ""
    script_transient_seconds: float = Field(0.0, description="Fail transiently this long")
    script_transient_writes: int = Field(0, ge=0, description="...or the first N writes")
    script_fail_values: CommaList = Field(
        default_factory=list, description="Values containing these fail alone"
    )
    script_batch_fail_values: CommaList = Field(
        default_factory=list, description="...or fail the batch unnamed"
    )
    script_fatal: bool = False
    script_retry_after: float | None = None
    script_pipelined: bool = Field(False, description="Write on a thread of its own")


class _ScriptedWriter(BatchWriter):
    def __init__(self, config: ScriptConfig, name: str) -> None:
        self.config = config
        self.name = config.recording_name or name
        self.failing_until: float | None = None
        self.transient_left = config.script_transient_writes

    def _text(self, record: SinkRecord) -> str:
        return str(record.value)

    def write(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure] | None:
        c = self.config
        if c.script_fatal:
            raise FatalError("scripted fatal failure")
        if c.script_transient_seconds:
            if self.failing_until is None:
                self.failing_until = time.monotonic() + c.script_transient_seconds
            if time.monotonic() < self.failing_until:
                raise RetriableError("scripted outage", c.script_retry_after)
        if self.transient_left > 0:
            self.transient_left -= 1
            raise RetriableError("scripted outage", c.script_retry_after)
        if any(v in self._text(r) for r in records for v in c.script_batch_fail_values):
            raise BatchError("scripted batch refusal")
        failures = [
            RecordFailure(
                r,
                ValueError(f"scripted failure for {r.value!r}"),
                {"__offramp.errors.reason": "scripted"},
            )
            for r in records
            if any(v in self._text(r) for v in c.script_fail_values)
        ]
        failed = {id(f.record) for f in failures}
        _record(self.name, [r for r in records if id(r) not in failed])
        return failures


class _PipelinedScriptedWriter(_ScriptedWriter):
    pipelined = True


class ScriptedSinkConnector(SinkConnector[ScriptConfig]):
    """Fails on cue; what it does write is kept like the recording sink's."""

    config_model = ScriptConfig

    def create_writer(self, config: ScriptConfig, context: TaskContext) -> BatchWriter:
        kind = _PipelinedScriptedWriter if config.script_pipelined else _ScriptedWriter
        return kind(config, context.connector_name)
