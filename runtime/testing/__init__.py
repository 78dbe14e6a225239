"""Test helpers shipped to plug-in authors and used by offramp's own tests.

- ``run_connector``: run a connector without Kafka through the worker's own delivery
  code (converters, transforms, ``prepare``, retries, bisection, dead letters,
  offsets) over scripted records; returns a ``RunResult`` (``offramp.testing.kit``).
- ``write_all``: drive a ``BatchWriter`` alone through open → write → pre_commit →
  close, for a writer's unit tests.
- ``recording()``: a scope receiving what the testing sinks write
  (``with recording() as rec: ... rec["name"]``); ``recordings(name)`` reads the older
  process-wide store, used outside any scope.
- ``RecordingSinkConnector`` (alias ``recording`` in ``run_connector``): keeps every
  record it is given. ``ScriptedSinkConnector`` (``scripted``): fails on cue
  (transiently, per record, a whole batch, fatally).
- ``DeadLetter``, ``read_dead_letters``: dead letters with headers decoded (the latter
  from a real broker).
- ``ScriptedConsumer`` / ``ScriptedProducer``: a task's Kafka clients without a broker,
  with rebalances, commit failures and dead-letter failures on cue
  (``TaskRunner(..., consumer_factory=consumer.factory)``).
"""

from offramp.scripted_kafka import CommitResult, ScriptedConsumer, ScriptedProducer
from offramp.scripted_share import ScriptedShareConsumer
from offramp.testing.dead_letters import DeadLetter, decode_headers, read_dead_letters
from offramp.testing.kit import Record, RunResult, RunTimeout, drained, run_connector, write_all
from offramp.testing.sinks import (
    Recorder,
    RecordingSinkConnector,
    ScriptedSinkConnector,
    recording,
    recordings,
)

__all__ = [
    "CommitResult",
    "DeadLetter",
    "Record",
    "Recorder",
    "RecordingSinkConnector",
    "RunResult",
    "RunTimeout",
    "ScriptedConsumer",
    "ScriptedProducer",
    "ScriptedShareConsumer",
    "ScriptedSinkConnector",
    "decode_headers",
    "drained",
    "read_dead_letters",
    "recording",
    "recordings",
    "run_connector",
    "write_all",
]

# Configs name these plug-ins ``offramp.testing:RecordingSinkConnector``, where plug-in
# authors import them from; the class name a registry shows follows ``__module__``.
RecordingSinkConnector.__module__ = __name__
ScriptedSinkConnector.__module__ = __name__
