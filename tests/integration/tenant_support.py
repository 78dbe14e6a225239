"""Per-tenant topics for the routing tests: ``tenant.<id>.calls`` for three tenants, and
the transforms and subscription one connector uses for all of them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from confluent_kafka.admin import AdminClient, NewTopic

TENANTS = ("acme", "globex", "initech")


def tenant_id(tenant: str, unique: str) -> str:
    """A tenant id of this test only (the regex below matches no other test's topics)."""
    return f"{tenant}{unique}"


def tenant_topic(tenant: str, unique: str) -> str:
    return f"tenant.{tenant_id(tenant, unique)}.calls"


def subscription(unique: str) -> dict[str, str]:
    """topics.regex over this test's tenant topics."""
    return {"topics.regex": f"tenant\\.[a-z]+{unique}\\.calls"}


def route(replacement: str, unique: str) -> dict[str, str]:
    """A RegexRouter turning tenant.<id>.calls into ``replacement`` ($1 is the id)."""
    return {
        "transforms": "byTenant",
        "transforms.byTenant.type": "org.apache.kafka.connect.transforms.RegexRouter",
        "transforms.byTenant.regex": f"tenant\\.([a-z]+{unique})\\.calls",
        "transforms.byTenant.replacement": replacement,
    }


def regex_config(base: dict[str, Any], unique: str, **extra: Any) -> dict[str, Any]:
    """``base`` (a single-topic connector config) subscribed to every tenant instead."""
    config = {k: v for k, v in base.items() if k != "topics"}
    return {**config, **subscription(unique), **extra}


@contextlib.contextmanager
def tenant_topics(bootstrap: str, unique: str) -> Iterator[dict[str, str]]:
    """Creates the three tenants' topics (one partition each); deletes them after, with
    their dead-letter topics (``dlq.<topic>``) where a test made those."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topics = {t: tenant_topic(t, unique) for t in TENANTS}
    for future in admin.create_topics([NewTopic(t, 1, 1) for t in topics.values()]).values():
        future.result(30)
    try:
        yield topics
    finally:
        names = [*topics.values(), *(f"dlq.{t}" for t in topics.values())]
        for future in admin.delete_topics(names).values():
            with contextlib.suppress(Exception):
                future.result(30)
