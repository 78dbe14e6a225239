"""A share group's settings, read and set through the admin client at task start.

A new share group starts at the latest offset (``share.auto.offset.reset`` defaults
to ``latest``); a connector starts from the earliest, as a consumer-group connector
does, so the runtime sets ``earliest`` while the group still has the broker's
default (an operator's own setting is left alone). The acquisition lock
(``share.record.lock.duration.ms``, the broker's ``group.share.record.lock.duration.ms``
unless the group overrides it) bounds how long a task may hold a poll's records.
"""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka.admin import (  # type: ignore[attr-defined]  # exported, but not in __all__
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    ResourceType,
)

from offramp.kafka_refusals import RefusalWatch

__all__ = ["DEFAULT_LOCK_MS", "prepare_share_group"]

log = logging.getLogger("offramp.task")

DEFAULT_LOCK_MS = 30000  # Kafka's group.share.record.lock.duration.ms default


def prepare_share_group(admin_conf: dict[str, Any], group: str, timeout: float = 30.0) -> int:
    """Set ``share.auto.offset.reset=earliest`` on ``group`` unless it was set; return its
    record lock duration in ms."""
    watch = RefusalWatch(f"the admin client of share group {group}", log)
    admin = AdminClient(watch.conf(admin_conf))
    resource = ConfigResource(ResourceType.GROUP, group)
    asked = admin.describe_configs([resource], request_timeout=timeout)[resource]
    entries = watch.result(asked, admin, timeout)
    reset = entries.get("share.auto.offset.reset")
    if reset is None or reset.source == ConfigSource.DEFAULT_CONFIG.value:
        change = ConfigResource(
            ResourceType.GROUP,
            group,
            incremental_configs=[
                ConfigEntry(
                    "share.auto.offset.reset",
                    "earliest",
                    incremental_operation=AlterConfigOpType.SET,
                )
            ],
        )
        altered = admin.incremental_alter_configs([change], request_timeout=timeout)[change]
        watch.result(altered, admin, timeout)
    lock = entries.get("share.record.lock.duration.ms")
    return int(lock.value) if lock is not None and lock.value else DEFAULT_LOCK_MS
