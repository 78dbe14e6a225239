"""One qdrant connector over every tenant's topic: one collection, a tenant payload field
(Qdrant's multitenancy advice), on the embedded store."""

from __future__ import annotations

from pathlib import Path

import orjson

from devstack.kafka import KafkaBroker
from offramp.connectors.qdrant.clients import borrow_edge
from offramp.worker import Worker
from tests.conftest import produce, wait_for
from tests.integration.qdrant.support import qdrant_config
from tests.integration.tenant_support import TENANTS, regex_config, tenant_id, tenant_topics


def _tenants(path: Path, collection: str) -> dict[str, set[int]]:
    """Per tenant payload value, the ``n`` of its points (empty while there is none)."""
    with borrow_edge(str(path)) as handle, handle.lock:
        if not handle.client.collection_exists(collection):
            return {}
        found, _ = handle.client.scroll(collection, limit=1000)
    by_tenant: dict[str, set[int]] = {}
    for point in found:
        assert point.payload is not None
        by_tenant.setdefault(point.payload["tenant"], set()).add(point.payload["n"])
    return by_tenant


def test_three_tenants_share_one_collection_told_apart_by_a_tenant_field(
    worker: Worker, kafka: KafkaBroker, qdrant_dir: Path, unique: str
) -> None:
    """RegexRouter turns tenant.<id>.calls into <id>, InsertField puts it in the payload
    as ``tenant``, and a second RegexRouter sends every tenant to one collection, where
    each tenant's points carry its id (the keys, the point ids, are unique across
    tenants)."""
    collection = f"calls_{unique}"
    with tenant_topics(kafka.bootstrap, unique) as topics:
        for tenant, topic in topics.items():
            values = [orjson.dumps({"vector": [1.0, float(n)], "n": n}) for n in range(4)]
            produce(
                kafka.bootstrap, topic, values, keys=[f"{tenant}-{n}".encode() for n in range(4)]
            )
        router = "org.apache.kafka.connect.transforms.RegexRouter"
        worker.create(
            f"tenants-{unique}",
            regex_config(
                qdrant_config("unused", qdrant_dir),
                unique,
                **{
                    "transforms": "byTenant,tenantField,oneCollection",
                    "transforms.byTenant.type": router,
                    "transforms.byTenant.regex": f"tenant\\.([a-z]+{unique})\\.calls",
                    "transforms.byTenant.replacement": "$1",
                    "transforms.tenantField.type": "InsertField$Value",
                    "transforms.tenantField.topic.field": "tenant",
                    "transforms.oneCollection.type": router,
                    "transforms.oneCollection.regex": ".*",
                    "transforms.oneCollection.replacement": collection,
                    "collection.create": "true",
                    "collection.vector.size": "2",
                },
            ),
        )
        want = {tenant_id(t, unique): set(range(4)) for t in TENANTS}
        wait_for(lambda: _tenants(qdrant_dir, collection) == want)
