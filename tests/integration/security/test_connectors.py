"""Connectors drain topics from a broker over SASL_SSL (SCRAM-SHA-512, PLAIN) and mutual
TLS, every client the worker makes uses those settings, and a wrong password fails
with a status that says so."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from confluent_kafka.admin import AdminClient

from devstack.kafka import KafkaBroker
from offramp.errors import CredentialsRefused
from offramp.rest.server import RestServer
from offramp.testing import recordings
from offramp.worker import Worker
from tests.conftest import wait_for
from tests.integration.runtime_support import committed, sink_config
from tests.integration.security.support import PASSWORD, PLAIN, SCRAM, jaas, sasl_ssl


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
    monkeypatch.setenv("SINK_KAFKA_JAAS", jaas(SCRAM, PASSWORD))
    worker = workers(
        secure_kafka.sasl_ssl_bootstrap,
        **sasl_ssl(secure_kafka, "SCRAM-SHA-512", "${env:SINK_KAFKA_JAAS}"),
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
        **sasl_ssl(secure_kafka, "SCRAM-SHA-512", jaas(SCRAM, PASSWORD)),
    )
    name = f"plain-{unique}"
    _drains(
        worker,
        secure_kafka,
        topic,
        name,
        **{
            "consumer.override.sasl.mechanism": "PLAIN",
            "consumer.override.sasl.jaas.config": jaas(PLAIN, PASSWORD),
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
        **sasl_ssl(secure_kafka, "SCRAM-SHA-512", jaas(SCRAM, PASSWORD)),
    )
    name = f"badpw-{unique}"
    worker.create(
        name,
        sink_config(
            topic,
            **{"consumer.override.sasl.jaas.config": jaas(SCRAM, "not-the-password")},
        ),
    )
    wait_for(lambda: worker.get(name).tasks and worker.get(name).tasks[0].status.trace)
    trace = worker.get(name).tasks[0].status.trace or ""
    assert "Authentication failed" in trace
    assert not recordings(name)
    with pytest.raises(CredentialsRefused, match="Authentication failed"):
        workers(
            secure_kafka.sasl_ssl_bootstrap,
            **sasl_ssl(secure_kafka, "SCRAM-SHA-512", jaas(SCRAM, "not-the-password")),
        )


def test_a_missing_client_certificate_or_an_untrusted_broker_fails_the_worker_start(
    secure_kafka: KafkaBroker, workers: Callable[..., Worker]
) -> None:
    """The mTLS listener without a client certificate (the broker's "bad certificate"
    alert), and SASL_SSL without the CA that signed the broker's certificate: each
    worker start fails at once naming the TLS failure, instead of waiting for Kafka."""
    assert secure_kafka.tls is not None
    with pytest.raises(CredentialsRefused, match="bad certificate"):
        workers(
            secure_kafka.ssl_bootstrap,
            **{"security.protocol": "SSL", "ssl.ca.location": str(secure_kafka.tls.ca)},
        )
    untrusted = sasl_ssl(secure_kafka, "SCRAM-SHA-512", jaas(SCRAM, PASSWORD))
    del untrusted["ssl.truststore.type"], untrusted["ssl.truststore.location"]
    with pytest.raises(CredentialsRefused, match="certificate verify failed"):
        workers(secure_kafka.sasl_ssl_bootstrap, **untrusted)


def test_an_override_the_policy_forbids_is_refused_over_rest_by_key(
    secure_kafka: KafkaBroker, topic: str, unique: str, workers: Callable[..., Worker]
) -> None:
    """Under connector.client.config.override.policy=Principal, config/validate counts a
    consumer.override.fetch.max.bytes as an error under that key, naming the policy, and
    POST /connectors refuses it (400); the principal keys alone are accepted."""
    worker = workers(
        secure_kafka.sasl_ssl_bootstrap,
        **sasl_ssl(secure_kafka, "SCRAM-SHA-512", jaas(SCRAM, PASSWORD)),
        **{"connector.client.config.override.policy": "Principal"},
    )
    principal = {"consumer.override.sasl.jaas.config": jaas(SCRAM, PASSWORD)}
    forbidden = {**principal, "consumer.override.fetch.max.bytes": "1048576"}
    name = f"policy-{unique}"
    server = RestServer(worker).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30.0) as client:
            config = {"name": name, **sink_config(topic, **forbidden)}
            answer = client.put("/connector-plugins/recording/config/validate", json=config)
            result = answer.json()
            assert answer.status_code == 200 and result["error_count"] == 1, answer.text
            errors = {
                c["value"]["name"]: c["value"]["errors"]
                for c in result["configs"]
                if c["value"]["errors"]
            }
            (reason,) = errors["consumer.override.fetch.max.bytes"]
            assert "override.policy is Principal" in reason
            refused = client.post("/connectors", json={"name": name, "config": config})
            assert refused.status_code == 400
            assert "consumer.override.fetch.max.bytes" in refused.json()["message"]
            body = {"name": name, "config": sink_config(topic, **principal)}
            assert client.post("/connectors", json=body).status_code == 201
    finally:
        server.stop()
    wait_for(lambda: len(recordings(name)) == 200)
