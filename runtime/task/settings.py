"""A task's consumer settings, from the worker's and the connector's config."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from offramp.config import ConnectorConfig, WorkerConfig

__all__ = [
    "FETCH_BATCHING",
    "REGEX_METADATA_REFRESH_MS",
    "REGEX_QUEUED_MIN_MESSAGES",
    "consumer_config",
    "instance_id",
    "is_incremental",
]

# A caught-up consumer with librdkafka's defaults (fetch.min.bytes=1) sends a fetch for
# every few produced records: one bare consumer of 24 partitions at 833 records/s cost
# 7.6-8.1 % of a core, 2.9-3.3 % with these two (measured apart, same run); a bare share
# consumer got 2.6 records a poll and cost 17.9 % of a core with its producer, 47 a poll
# and 10.7 % with them. The broker now answers when 1 MiB is ready or 50 ms have
# passed: under a backlog 1 MiB is ready at once (no wait), caught up a record waits at
# most 50 ms, and each answer drains as one batch instead of many. Both consumer kinds.
FETCH_BATCHING: dict[str, Any] = {"fetch.wait.max.ms": 50, "fetch.min.bytes": 1048576}

REGEX_METADATA_REFRESH_MS = 5000  # a new topic matches within this (plus a rebalance)
# librdkafka prefetches a partition while fewer than queued.min.messages of it are queued
# (default 100 000), into one queue the task reads in order: a tenant's flood filled it
# and a quiet tenant's records waited behind all of it (measured: behind 36 500 of 36 500
# flood records; at 10 000, behind 15 000 — one fetch or so). docs/tenants.md.
REGEX_QUEUED_MIN_MESSAGES = 10000

# Kafka checks a group.instance.id as it checks a topic name: these characters, 249 long.
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9._-]")
_MAX_LENGTH = 249


def instance_id(worker_id: str, connector: str, task_id: int) -> str:
    """The static member id of one task of one worker: readable where the names allow,
    with a hash of the exact names when a character had to be replaced or the id
    shortened (two names that read alike must not share an id and fence each other)."""
    raw = f"{worker_id}-{connector}-{task_id}"
    readable = _NOT_ALLOWED.sub("_", raw)
    if readable == raw and len(raw) <= _MAX_LENGTH:
        return raw
    digest = hashlib.sha256(f"{worker_id}\0{connector}\0{task_id}".encode()).hexdigest()[:12]
    return f"{readable[: _MAX_LENGTH - 13]}-{digest}"


def consumer_config(config: ConnectorConfig, worker: WorkerConfig, task_id: int) -> dict[str, Any]:
    """The consumer's settings: ours, then the worker's top-level security keys and
    ``consumer.*``, then the connector's ``consumer.override.*``. ``group.instance.id``
    comes from the worker's identity on the classic protocol, where it is stable
    (``stable_identity``)."""
    conf: dict[str, Any] = {
        "bootstrap.servers": worker.bootstrap_servers,
        "group.id": f"connect-{config.name}",
        "client.id": f"connector-consumer-{config.name}-{task_id}",
        "group.protocol": worker.group_protocol,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "statistics.interval.ms": min(worker.offset_flush_interval_ms, 30000),
        # A task holds a batch of messages while it writes them; with librdkafka's 1 s
        # default, refilling the fetch queue afterwards stalled the consumer for a whole
        # second (measured: 0.2 of a raw loop's throughput instead of 0.7+).
        "fetch.queue.backoff.ms": 50,
        # librdkafka prefetches up to 64 MB per consumer by default, sized for one
        # consumer per process; a worker runs one per task. 32 MB keeps a task as fast
        # under a backlog (bench_runtime: 0.90 of raw, against 0.37 at 16 MB with
        # queued.min.messages=20000, which starved it between fetches).
        "queued.max.messages.kbytes": 32768,
        **FETCH_BATCHING,
    }
    if worker.group_protocol == "classic":
        conf["partition.assignment.strategy"] = "cooperative-sticky"
    if config.settings.topics_regex:
        # A regex connector reads many tenants' topics: no one's backlog fills the queue.
        conf["queued.min.messages"] = REGEX_QUEUED_MIN_MESSAGES
    if worker.group_protocol == "classic" and config.settings.topics_regex:
        # Under classic the client matches the regex against its own metadata,
        # refreshed every 5 min by default: a new tenant topic waited that long.
        # Under KIP-848 the broker resolves the regex and tells the member. A user's
        # consumer.* or consumer.override.* value, applied below, wins.
        conf["topic.metadata.refresh.interval.ms"] = REGEX_METADATA_REFRESH_MS
    if worker.group_protocol == "classic" and worker.stable_identity:
        # Static membership: a task that comes back under the same id (a restart, a
        # kill -9 and systemd starting it again) takes its partitions back at once
        # instead of waiting out its old session. An id picked at each start would
        # only strand the old member's partitions, so none is given then. Not on the
        # consumer protocol: Kafka 4.3 refuses a static member that rejoins before its
        # dead predecessor's session expired (UNRELEASED_INSTANCE_ID, fatal in
        # librdkafka), so after a kill -9 it would fail instead of resuming.
        conf["group.instance.id"] = instance_id(worker.worker_id, config.name, task_id)
    conf.update(worker.client_config("consumer"))
    conf.update(config.consumer_overrides)
    return conf


def is_incremental(conf: dict[str, Any]) -> bool:
    """Whether rebalances hand over partitions one by one (cooperative or KIP-848)."""
    if conf.get("group.protocol") == "consumer":
        return True
    return "cooperative" in str(conf.get("partition.assignment.strategy", ""))
