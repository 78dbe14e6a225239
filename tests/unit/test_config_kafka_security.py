"""TLS/SASL client keys: Java names mapped to librdkafka's, the unreadable ones refused
by name, set once for every client, and the override policy enforced per connector."""

from __future__ import annotations

from typing import Any

import pytest

from offramp.config import load_worker_config, validate_connector
from offramp.errors import ConfigError
from offramp.kafka_security import librdkafka_keys
from offramp.masking import mask_config
from offramp.registry import PluginRegistry
from offramp.task.settings import consumer_config
from offramp.testing import RecordingSinkConnector

SCRAM_JAAS = (
    "org.apache.kafka.common.security.scram.ScramLoginModule required "
    'username="svc" password="p\\"w;d";'
)


def _registry() -> PluginRegistry:
    registry = PluginRegistry()
    registry.register("recording", RecordingSinkConnector)
    return registry


def _connector(worker_raw: dict[str, Any], **extra: str) -> Any:
    worker = load_worker_config(worker_raw, environ={})
    raw = {"connector.class": "recording", "topics": "t", **extra}
    return worker, validate_connector("c", raw, worker, _registry())


def _refusals(worker_raw: dict[str, Any], **extra: str) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        _connector(worker_raw, **extra)
    return dict(caught.value.errors)


def test_scram_jaas_config_becomes_username_and_password() -> None:
    """A ScramLoginModule line gives sasl.username/sasl.password, quotes unescaped."""
    conf = librdkafka_keys(
        {
            "security.protocol": "sasl_ssl",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.jaas.config": SCRAM_JAAS,
        }
    )
    assert conf == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "svc",
        "sasl.password": 'p"w;d',
    }


def test_java_stores_map_or_are_refused_by_name() -> None:
    """PEM stores map to ssl.ca/ssl.certificate/ssl.key; a JKS truststore or keystore is
    refused naming ssl.ca.location; host checks off ('') become 'none'."""
    conf = librdkafka_keys(
        {
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": "/ca.pem",
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": "/me.pem",
            "ssl.endpoint.identification.algorithm": "",
            "ssl.enabled.protocols": "TLSv1.2,TLSv1.3",
        }
    )
    assert conf == {
        "ssl.ca.location": "/ca.pem",
        "ssl.certificate.location": "/me.pem",
        "ssl.key.location": "/me.pem",
        "ssl.endpoint.identification.algorithm": "none",
    }
    with pytest.raises(ConfigError) as caught:
        librdkafka_keys(
            {
                "ssl.truststore.location": "/t.jks",
                "ssl.keystore.type": "JKS",
                "ssl.keystore.location": "/k.jks",
            },
            "consumer.",
        )
    reasons = dict(caught.value.errors)
    assert "ssl.ca.location" in reasons["consumer.ssl.truststore.location"]
    assert "PKCS12" in reasons["consumer.ssl.keystore.location"]


def test_unreadable_jaas_and_protocols_are_refused() -> None:
    """Kerberos' login module, a mechanism that disagrees with the module and an unknown
    security.protocol are each refused under their key."""
    with pytest.raises(ConfigError) as caught:
        librdkafka_keys(
            {"sasl.jaas.config": "com.sun.security.auth.module.Krb5LoginModule required;"}
        )
    assert "ScramLoginModule" in dict(caught.value.errors)["sasl.jaas.config"]
    with pytest.raises(ConfigError) as caught:
        librdkafka_keys(
            {"sasl.mechanism": "PLAIN", "sasl.jaas.config": SCRAM_JAAS, "security.protocol": "TLS"}
        )
    reasons = dict(caught.value.errors)
    assert "PLAIN" in reasons["sasl.jaas.config"]
    assert "SASL_SSL" in reasons["security.protocol"]


def test_worker_top_level_keys_reach_every_client_and_prefixed_ones_win() -> None:
    """Top-level security keys go to the consumer, producer and admin; consumer.* and
    then consumer.override.* replace them for the consumer only."""
    worker, config = _connector(
        {
            "bootstrap.servers": "b:9093",
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.jaas.config": SCRAM_JAAS,
            "ssl.ca.location": "/ca.pem",
            "consumer.sasl.mechanism": "SCRAM-SHA-256",
        },
        **{"consumer.override.sasl.username": "other"},
    )
    for kind in ("producer", "admin"):
        assert worker.client_config(kind)["sasl.username"] == "svc"
        assert worker.client_config(kind)["sasl.mechanism"] == "SCRAM-SHA-512"
    conf = consumer_config(config, worker, 0)
    assert conf["bootstrap.servers"] == "b:9093"
    assert conf["security.protocol"] == "SASL_SSL"
    assert conf["sasl.mechanism"] == "SCRAM-SHA-256"
    assert conf["sasl.username"] == "other"
    assert conf["sasl.password"] == 'p"w;d'


def test_worker_security_errors_name_the_key_as_written() -> None:
    """A JKS truststore in the worker file is refused under its (prefixed) key."""
    with pytest.raises(ConfigError) as caught:
        load_worker_config(
            {"ssl.truststore.location": "/a.jks", "admin.ssl.truststore.location": "/b.jks"},
            environ={},
        )
    assert set(dict(caught.value.errors)) == {
        "ssl.truststore.location",
        "admin.ssl.truststore.location",
    }


def test_connector_overrides_are_mapped_and_masked() -> None:
    """consumer/producer/admin.override.sasl.jaas.config is mapped for its client and
    hidden when the config is shown."""
    _, config = _connector(
        {},
        **{
            "consumer.override.sasl.jaas.config": SCRAM_JAAS,
            "producer.override.security.protocol": "ssl",
            "admin.override.ssl.key.pem": "-----BEGIN PRIVATE KEY-----",
        },
    )
    assert config.consumer_overrides["sasl.username"] == "svc"
    assert config.producer_overrides == {"security.protocol": "SSL"}
    shown = mask_config(config.raw, RecordingSinkConnector.config_model)
    assert shown["consumer.override.sasl.jaas.config"] == "[hidden]"
    assert shown["admin.override.ssl.key.pem"] == "[hidden]"


def test_policy_none_refuses_every_override_by_key() -> None:
    """Under None each consumer/producer/admin.override.* is refused, named."""
    reasons = _refusals(
        {"connector.client.config.override.policy": "None"},
        **{
            "consumer.override.max.poll.records": "10",
            "producer.override.security.protocol": "SSL",
        },
    )
    assert set(reasons) == {
        "consumer.override.max.poll.records",
        "producer.override.security.protocol",
    }
    assert "None" in reasons["consumer.override.max.poll.records"]


def test_policy_principal_allows_only_the_principal_keys() -> None:
    """Under Principal (also given as Kafka's class name) sasl.jaas.config,
    sasl.mechanism and security.protocol pass, and librdkafka's names of the same
    principal; anything else is refused by key."""
    policy = (
        "org.apache.kafka.connect.connector.policy.PrincipalConnectorClientConfigOverridePolicy"
    )
    _, config = _connector(
        {"connector.client.config.override.policy": policy},
        **{
            "consumer.override.sasl.jaas.config": SCRAM_JAAS,
            "consumer.override.sasl.mechanism": "SCRAM-SHA-512",
            "consumer.override.security.protocol": "SASL_SSL",
        },
    )
    assert config.consumer_overrides["sasl.username"] == "svc"
    _, config = _connector(
        {"connector.client.config.override.policy": "Principal"},
        **{
            "admin.override.sasl.username": "svc",
            "admin.override.sasl.password": "pw-of-svc",
            "admin.override.sasl.mechanisms": "PLAIN",
        },
    )
    assert config.admin_overrides["sasl.username"] == "svc"
    reasons = _refusals(
        {"connector.client.config.override.policy": "Principal"},
        **{"consumer.override.fetch.max.bytes": "1"},
    )
    assert list(reasons) == ["consumer.override.fetch.max.bytes"]
    assert "sasl.jaas.config" in reasons["consumer.override.fetch.max.bytes"]


def test_policy_all_is_the_default() -> None:
    """With no policy set, any override is accepted, as Kafka Connect's All."""
    _, config = _connector({}, **{"consumer.override.fetch.max.bytes": "1"})
    assert config.consumer_overrides == {"fetch.max.bytes": "1"}
