"""Connectors drain topics from a broker over SASL_SSL (SCRAM-SHA-512, PLAIN) and mutual
TLS, every client the worker makes uses those settings, and a wrong password fails
with a status that says so."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from devstack.kafka import KafkaBroker
from offramp.rest.server import RestServer
from offramp.testing import recordings
from offramp.worker import Worker
from tests.conftest import wait_for
from tests.integration.runtime_support import committed, make_worker, sink_config

USER, PASSWORD = "svc-offramp", "scram-pa55-for-svc"
SCRAM = "org.apache.kafka.common.security.scram.ScramLoginModule"
PLAIN = "org.apache.kafka.common.security.plain.PlainLoginModule"


def _jaas(module: str, password: str) -> str:
    return f'{module} required username="{USER}" password="{password}";'


@pytest.fixture(scope="module")
def secure_kafka() -> Iterator[KafkaBroker]:
    """A broker of its own with SASL_SSL (SCRAM user made at format) and mTLS listeners."""
    broker = KafkaBroker(users={USER: PASSWORD}).start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def topic(secure_kafka: KafkaBroker, unique: str) -> str:
    """A topic holding 200 JSON records, made over the plaintext listener."""
    name = f"secure-{unique}"
    admin = AdminClient({"bootstrap.servers": secure_kafka.bootstrap})
    admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])[name].result(30)
    # Not tests.conftest.produce: an idempotent producer waits for a fresh broker's
    # transaction coordinator to load, seconds this module has no need to spend.
    producer = Producer({"bootstrap.servers": secure_kafka.bootstrap, "linger.ms": 5})
    for i in range(200):
        producer.produce(name, orjson.dumps({"n": i}), partition=i % 2)
    assert producer.flush(30) == 0
    return name


@pytest.fixture
def workers() -> Iterator[Callable[..., Worker]]:
    """Builds workers (shut down after the test)."""
    made: list[Worker] = []

    def build(bootstrap: str, **extra: Any) -> Worker:
        made.append(make_worker(bootstrap, **extra))
        return made[-1]

    yield build
    for worker in made:
        worker.shutdown()


def _sasl_ssl(broker: KafkaBroker, mechanism: str, jaas: str) -> dict[str, str]:
    assert broker.tls is not None
    return {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": mechanism,
        "sasl.jaas.config": jaas,
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(broker.tls.ca),
    }


def _drains(worker: Worker, broker: KafkaBroker, topic: str, name: str, **extra: str) -> None:
    # A dead-letter topic too: its admin (create) and producer connect securely as well.
    worker.create(
        name,
        sink_config(
            topic,
            **{"errors.deadletterqueue.topic.name": f"{topic}-dlq"},
            **{"errors.deadletterqueue.topic.replication.factor": "1"},
            **{"errors.tolerance": "all"},
            **extra,
        ),
    )
    wait_for(lambda: len(recordings(name)) >= 200)
    assert sorted(r.value["n"] for r in recordings(name)) == list(range(200))
    wait_for(lambda: sum(committed(broker.bootstrap, f"connect-{name}", topic, 2)) == 200)
    meta = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=10)
    assert f"{topic}-dlq" in meta.topics


def test_scram_sha_512_over_sasl_ssl_drains_a_topic_with_the_password_from_env(
    secure_kafka: KafkaBroker,
    topic: str,
    unique: str,
    workers: Callable[..., Worker],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Worker-level SCRAM-SHA-512 keys (password via ${env:}) serve the worker's admin,
    the task consumer and the dead-letter admin; the topic drains and commits."""
    monkeypatch.setenv("SINK_KAFKA_JAAS", _jaas(SCRAM, PASSWORD))
    worker = workers(
        secure_kafka.sasl_ssl_bootstrap,
        **_sasl_ssl(secure_kafka, "SCRAM-SHA-512", "${env:SINK_KAFKA_JAAS}"),
    )
    assert worker.kafka_cluster_id
    _drains(worker, secure_kafka, topic, f"scram-{unique}")


def test_plain_as_a_connector_override_and_secrets_masked_over_rest(
    secure_kafka: KafkaBroker, topic: str, unique: str, workers: Callable[..., Worker]
) -> None:
    """A connector's consumer.override.* switches its consumer to SASL PLAIN while the
    worker stays on SCRAM; the REST answer hides the JAAS line and the password."""
    worker = workers(
        secure_kafka.sasl_ssl_bootstrap,
        **_sasl_ssl(secure_kafka, "SCRAM-SHA-512", _jaas(SCRAM, PASSWORD)),
    )
    name = f"plain-{unique}"
    _drains(
        worker,
        secure_kafka,
        topic,
        name,
        **{
            "consumer.override.sasl.mechanism": "PLAIN",
            "consumer.override.sasl.jaas.config": _jaas(PLAIN, PASSWORD),
        },
    )
    server = RestServer(worker).start()
    try:
        body = httpx.get(f"{server.url}/connectors/{name}", timeout=10).text
    finally:
        server.stop()
    assert "consumer.override.sasl.jaas.config" in body
    assert PASSWORD not in body and "PlainLoginModule" not in body


def test_mutual_tls_drains_a_topic_with_a_client_certificate(
    secure_kafka: KafkaBroker, topic: str, unique: str, workers: Callable[..., Worker]
) -> None:
    """security.protocol=SSL with a client certificate (PEM) on the listener that
    requires one: the topic drains."""
    assert secure_kafka.tls is not None
    worker = workers(
        secure_kafka.ssl_bootstrap,
        **{
            "security.protocol": "SSL",
            "ssl.ca.location": str(secure_kafka.tls.ca),
            "ssl.certificate.location": str(secure_kafka.tls.client_certificate),
            "ssl.key.location": str(secure_kafka.tls.client_key),
        },
    )
    _drains(worker, secure_kafka, topic, f"mtls-{unique}")


def test_a_wrong_password_fails_the_task_and_the_worker_with_the_reason(
    secure_kafka: KafkaBroker, topic: str, unique: str, workers: Callable[..., Worker]
) -> None:
    """A connector overriding a wrong password has its task FAILED with an
    authentication trace (not RUNNING forever); a worker with one won't start and
    says the credentials were refused."""
    worker = workers(
        secure_kafka.sasl_ssl_bootstrap,
        **_sasl_ssl(secure_kafka, "SCRAM-SHA-512", _jaas(SCRAM, PASSWORD)),
    )
    name = f"badpw-{unique}"
    worker.create(
        name,
        sink_config(
            topic,
            **{"consumer.override.sasl.jaas.config": _jaas(SCRAM, "not-the-password")},
        ),
    )
    wait_for(lambda: worker.get(name).tasks and worker.get(name).tasks[0].status.trace)
    trace = worker.get(name).tasks[0].status.trace or ""
    assert "Authentication failed" in trace
    assert not recordings(name)
    with pytest.raises(RuntimeError, match="Authentication failed"):
        workers(
            secure_kafka.sasl_ssl_bootstrap,
            **_sasl_ssl(secure_kafka, "SCRAM-SHA-512", _jaas(SCRAM, "not-the-password")),
        )
