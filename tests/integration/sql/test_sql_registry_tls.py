"""The registry converters against a registry that requires TLS and basic auth (the
devstack stand-in behind a TLS listener with certificates made on the fly): with the
right CA and credentials Avro records land in PostgreSQL; a wrong password or an
untrusted CA fails the task with a status naming the registry, instead of hanging."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from devstack.certs import make_certs
from devstack.kafka import KafkaBroker
from devstack.postgres import PostgresServer
from devstack.schema_registry import SchemaRegistry
from offramp.worker import Worker
from tests.conftest import wait_for
from tests.integration.registry_support import send
from tests.integration.sql.support import PgConnection, scalar, sql_config

USER_INFO = "sink:s3cret-registry"
ORDER: dict[str, Any] = {
    "type": "record",
    "name": "Order",
    "fields": [{"name": "id", "type": "long"}, {"name": "sku", "type": "string"}],
}


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[SchemaRegistry]:
    """A registry over TLS that requires basic auth."""
    with SchemaRegistry.secured(tmp_path / "registry-tls", USER_INFO) as secured:
        yield secured


def _produce(registry: SchemaRegistry, bootstrap: str, topic: str, count: int) -> None:
    """``count`` orders through AvroSerializer, registered over TLS with basic auth."""
    conf = {
        "url": registry.url,
        "ssl.ca.location": str(registry.ca),
        "basic.auth.user.info": USER_INFO,
    }
    with SchemaRegistryClient(conf) as client:
        serialize = AvroSerializer(client, json.dumps(ORDER))
        ctx = SerializationContext(topic, MessageField.VALUE)
        send(bootstrap, topic, [serialize({"id": n, "sku": f"A-{n}"}, ctx) for n in range(count)])


def _converter(registry: SchemaRegistry, ca: Path, user_info: str) -> dict[str, str]:
    return {
        "auto.create": "true",
        "value.converter": "io.confluent.connect.avro.AvroConverter",
        "value.converter.schema.registry.url": registry.url,
        "value.converter.basic.auth.credentials.source": "USER_INFO",
        "value.converter.basic.auth.user.info": user_info,
        "value.converter.schema.registry.ssl.truststore.location": str(ca),
        "value.converter.schema.registry.ssl.truststore.type": "PEM",
    }


def _failed_trace(worker: Worker, name: str) -> str:
    wait_for(lambda: worker.get(name).tasks and worker.get(name).tasks[0].status.trace)
    task = worker.get(name).tasks[0]
    print("status:", task.status.state, task.status.trace)
    return task.status.trace or ""


def test_avro_lands_through_a_registry_that_requires_tls_and_basic_auth(
    worker: Worker,
    kafka: KafkaBroker,
    postgres: PostgresServer,
    pg: PgConnection,
    registry: SchemaRegistry,
    make_topic: Callable[..., str],
    unique: str,
) -> None:
    """schema.registry.ssl.truststore.location and basic.auth.user.info reach a TLS
    registry that answers 401 without them: every record lands as a typed row."""
    topic = make_topic("orders-tls")
    _produce(registry, kafka.bootstrap, topic, 4)
    assert registry.ca is not None
    config = sql_config(topic, postgres.url(), **_converter(registry, registry.ca, USER_INFO))
    worker.create(f"registry-tls-{unique}", config)
    wait_for(lambda: scalar(pg, f'SELECT count(*) FROM "{topic}"') == 4)
    rows = pg.execute(f'SELECT id, sku FROM "{topic}" ORDER BY id').fetchall()
    assert rows == [(n, f"A-{n}") for n in range(4)]


def test_a_wrong_registry_password_fails_the_task_naming_the_registry(
    worker: Worker,
    kafka: KafkaBroker,
    postgres: PostgresServer,
    pg: PgConnection,
    registry: SchemaRegistry,
    make_topic: Callable[..., str],
    unique: str,
) -> None:
    """The registry's 401 fails the task even under errors.tolerance=all (not retried
    forever, no record skipped): its trace names the registry's URL, the 401 and the
    keys to check; with the password mended every record lands."""
    topic = make_topic("orders-badpw")
    _produce(registry, kafka.bootstrap, topic, 2)
    assert registry.ca is not None
    converter = _converter(registry, registry.ca, "sink:not-the-password")
    name = f"registry-badpw-{unique}"
    config = sql_config(topic, postgres.url(), **converter, **{"errors.tolerance": "all"})
    worker.create(name, config)
    trace = _failed_trace(worker, name)
    assert f"the schema registry at {registry.url} refused the credentials (401" in trace
    assert "basic.auth.user.info" in trace and "not-the-password" not in trace
    assert scalar(pg, f"SELECT count(*) FROM pg_tables WHERE tablename = '{topic}'") == 0
    worker.put(name, {**config, "value.converter.basic.auth.user.info": USER_INFO})
    wait_for(lambda: scalar(pg, f'SELECT count(*) FROM "{topic}"') == 2)


def test_an_untrusted_registry_certificate_fails_the_task_naming_the_registry(
    worker: Worker,
    kafka: KafkaBroker,
    postgres: PostgresServer,
    pg: PgConnection,
    registry: SchemaRegistry,
    make_topic: Callable[..., str],
    unique: str,
    tmp_path: Path,
) -> None:
    """A truststore holding another CA: the certificate check fails the task even
    under errors.tolerance=all (before, each record was skipped as not converting),
    the trace naming the registry's URL and schema.registry.ssl.truststore.location."""
    topic = make_topic("orders-untrusted")
    _produce(registry, kafka.bootstrap, topic, 2)
    other_ca = make_certs(tmp_path / "other-ca").ca
    name = f"registry-untrusted-{unique}"
    converter = _converter(registry, other_ca, USER_INFO)
    worker.create(
        name, sql_config(topic, postgres.url(), **converter, **{"errors.tolerance": "all"})
    )
    trace = _failed_trace(worker, name)
    assert (
        f"the schema registry at {registry.url} presented a certificate that isn't trusted" in trace
    )
    assert "CERTIFICATE_VERIFY_FAILED" in trace
    assert "schema.registry.ssl.truststore.location" in trace
    assert scalar(pg, f"SELECT count(*) FROM pg_tables WHERE tablename = '{topic}'") == 0
