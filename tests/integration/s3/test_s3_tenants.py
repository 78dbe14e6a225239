"""One s3 connector over every tenant's topic: a prefix per tenant."""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from devstack.kafka import KafkaBroker
from devstack.s3 import S3Server
from offramp.worker import Worker
from tests.conftest import produce, wait_for
from tests.integration.s3.support import archive, keys, s3_sink
from tests.integration.tenant_support import TENANTS, regex_config, route, tenant_id, tenant_topics

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def test_three_tenants_land_under_three_prefixes(
    worker: Worker,
    kafka: KafkaBroker,
    s3_server: S3Server,
    s3_client: S3Client,
    bucket: str,
    unique: str,
) -> None:
    """RegexRouter turns tenant.<id>.calls into <id>, and the object keys' topic part
    (topics.dir/<topic>/partition=<p>/…) makes one prefix per tenant holding only that
    tenant's records."""
    with tenant_topics(kafka.bootstrap, unique) as topics:
        for tenant, topic in topics.items():
            values = [orjson.dumps({"n": n, "tenant": tenant}) for n in range(4)]
            produce(kafka.bootstrap, topic, values)
        worker.create(
            f"tenants-{unique}",
            regex_config(
                s3_sink(s3_server, bucket, "unused", **{"flush.size": "4"}),
                unique,
                **route("$1", unique),
            ),
        )
        wait_for(lambda: len(keys(s3_client, bucket)) == len(TENANTS))
        for tenant in TENANTS:
            prefix = f"topics/{tenant_id(tenant, unique)}/"
            stored = archive(s3_client, bucket, prefix)
            assert list(stored) == [
                f"{prefix}partition=0/{tenant_id(tenant, unique)}+0+0000000000.json"
            ]
            assert list(stored.values()) == [[{"n": n, "tenant": tenant} for n in range(4)]]
