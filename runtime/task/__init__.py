"""A task: one thread running a consume loop that feeds one ``BatchWriter``.

The loop in a few rooms, each with one job (read them in this order):

- ``supervisor``: the thread, status, restarts with backoff (``TaskRunner``), and
  ``status``, the states it reports;
- ``run``: one run — build, loop, flush, the only commit, shut down (``TaskRun``);
- ``ingest``: consumed chunks → converted, transformed records of the open batch;
- ``batching``: when a batch is written (adaptive: full under a backlog, within
  milliseconds when caught up) and how long the loop may wait;
- ``delivery``: a batch → the writer, retried, bisected, dead-lettered;
- ``pipeline``: a ``pipelined`` writer's write thread, one batch in flight;
- ``rebalance``: what assign, revoke and lost do;
- ``waits``: how a retry backoff waits on each thread;
- ``pausing``: fetching stops for a reason (an operator, a retry), polling goes on;
- ``ledger``: the commit rule, as plain data (``OffsetLedger``), and ``commits``, the
  one place it is applied;
- ``failures``: where a bad record goes (dead letter, skip, or task failure);
- ``contracts``: what the rooms that serve a run may ask of it (so arrows run one way).

The loop talks to Kafka through ``offramp.consumer`` (``confluent_kafka.Consumer`` in
production, ``offramp.testing.ScriptedConsumer`` in tests).
"""

from offramp.task.settings import consumer_config
from offramp.task.status import TaskState, TaskStatus
from offramp.task.supervisor import TaskRunner

__all__ = ["TaskRunner", "TaskState", "TaskStatus", "consumer_config"]
