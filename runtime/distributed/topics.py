"""The cluster's compacted topics, created on first start."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from confluent_kafka import KafkaError
from confluent_kafka.cimpl import NewTopic

from offramp.kafka_refusals import admin_and_metadata

__all__ = ["ensure_compacted_topic"]

log = logging.getLogger("offramp.distributed")


def ensure_compacted_topic(admin_config: Mapping[str, Any], topic: str) -> None:
    """One partition (the log order is the order of changes), ``cleanup.policy=compact``,
    replication factor ``min(3, brokers)``. An existing topic is left as it is.
    ``CredentialsRefused`` if the brokers refuse the admin client's credentials."""
    admin, metadata = admin_and_metadata(admin_config, f"the admin client for topic {topic}", log)
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
