"""Distributed mode: several workers share the connectors through Kafka alone.

Every worker runs every connector's tasks; each connector's own consumer group spreads
its partitions over all of them (and fences a task that lost its partitions when it
commits). What the workers must agree on goes through two compacted topics:

- ``config_log``  the config topic: every change, appended by one cluster-wide
                  transactional id, so the log order decides conflicts for everyone
- ``status_log``  the status topic: each worker's task statuses, for ``GET …/status``
- ``topics``      creates both topics on first start
- ``worker``      ``DistributedWorker``: the standalone ``Worker`` whose changes go
                  through the config topic and are applied when read back
- ``run``         ``run_distributed``: REST, Kafka, the topics, then ready
"""

from offramp.distributed.run import run_distributed

__all__ = ["run_distributed"]
