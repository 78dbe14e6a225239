"""Building in-process workers for the runtime's integration tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from offramp.config import load_worker_config
from offramp.registry import PluginRegistry
from offramp.testing import RecordingSinkConnector, ScriptedSinkConnector
from offramp.worker import Worker


def make_worker(bootstrap: str, protocol: str = "classic", **extra: Any) -> Worker:
    """A worker on the test broker with the testing sinks registered."""
    registry = PluginRegistry()
    registry.register("recording", RecordingSinkConnector)
    registry.register("scripted", ScriptedSinkConnector)
    config = load_worker_config(
        {
            "bootstrap.servers": bootstrap,
            "group.protocol": protocol,
            "offset.flush.interval.ms": 500,
            "rest.port": 0,
            **extra,
        },
        environ={},
    )
    worker = Worker(config, registry)
    worker.start()
    return worker


def sink_config(topic: str, cls: str = "recording", **extra: Any) -> dict[str, Any]:
    """A schemaless-JSON connector config for ``topic``."""
    return {
        "connector.class": cls,
        "topics": topic,
        "value.converter": "json",
        "value.converter.schemas.enable": "false",
        "key.converter": "string",
        "batch.max.age.ms": "100",
        **extra,
    }


def dead_letters_to(topic: str) -> dict[str, str]:
    """Connector settings sending failed records to ``topic`` with Kafka Connect's
    context headers (``errors.tolerance=all``)."""
    return {
        "errors.tolerance": "all",
        "errors.deadletterqueue.topic.name": topic,
        "errors.deadletterqueue.context.headers.enable": "true",
        "errors.deadletterqueue.topic.replication.factor": "1",
    }


def committed(bootstrap: str, group: str, topic: str, partitions: int = 1) -> list[int]:
    """The group's committed offsets for ``topic`` (-1001 where none)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        tps = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], 10)
        return [tp.offset for tp in tps]
    finally:
        consumer.close()


def start_standalone_worker(
    tmp: Path,
    bootstrap: str,
    name: str,
    config: dict[str, Any],
    env: dict[str, str] | None = None,
    worker_extra: dict[str, Any] | None = None,
) -> subprocess.Popen[bytes]:
    """``offramp standalone`` in a child process with one connector, logging to
    ``tmp/worker.log``: what crash tests SIGKILL. Offsets are committed every 300 ms,
    and a killed member leaves its classic group after 6 s rather than the default 45 s
    (until then every commit would fail with a rebalance in progress). ``worker_extra``:
    more worker keys (the security tests' credentials)."""
    worker = tmp / "worker.json"
    worker.write_text(
        json.dumps(
            {
                "bootstrap.servers": bootstrap,
                "rest.port": 0,
                "offset.flush.interval.ms": 300,
                "consumer.session.timeout.ms": 6000,
                **(worker_extra or {}),
            }
        )
    )
    connector = tmp / "connector.json"
    connector.write_text(json.dumps({"name": name, "config": config}))
    with open(tmp / "worker.log", "ab") as log:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "offramp.cli", "standalone", str(worker), str(connector)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "OFFRAMP_LOG_LEVEL": "WARNING", **(env or {})},
        )


# Keeps call.completed CloudEvents only, as the demo's configs do.
ONLY_COMPLETED = {
    "transforms": "onlyCompleted",
    "transforms.onlyCompleted.type": "org.apache.kafka.connect.transforms.Filter",
    "transforms.onlyCompleted.predicate": "isCompleted",
    "transforms.onlyCompleted.negate": "true",
    "predicates": "isCompleted",
    "predicates.isCompleted.type": "dev.offramp.transforms.predicates.HeaderValueMatches",
    "predicates.isCompleted.header.name": "ce-type",
    "predicates.isCompleted.pattern": "com\\.example\\.call\\.completed\\.v1",
}
