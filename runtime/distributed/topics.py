"""The cluster's compacted topics, created on first start."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from confluent_kafka import KafkaError
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

__all__ = ["ensure_compacted_topic"]

log = logging.getLogger("offramp.distributed")


def ensure_compacted_topic(admin_config: Mapping[str, Any], topic: str) -> None:
    """One partition (the log order is the order of changes), ``cleanup.policy=compact``,
    replication factor ``min(3, brokers)``. An existing topic is left as it is."""
    admin = AdminClient(dict(admin_config))
    metadata = admin.list_topics(timeout=15)
    if topic in metadata.topics:
        return
    replication = min(3, max(1, len(metadata.brokers)))
    new = NewTopic(
        topic,
        num_partitions=1,
        replication_factor=replication,
        config={"cleanup.policy": "compact"},
    )
    try:
        admin.create_topics([new])[topic].result(30)
    except Exception as exc:
        error = exc.args[0] if exc.args else None
        # Two workers starting at once both try; the second finds it made.
        if not (isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS):
            raise
    log.info("created topic %s (compacted, replication factor %d)", topic, replication)
