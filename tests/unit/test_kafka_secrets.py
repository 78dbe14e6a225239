"""Kafka client secrets: given through config providers, resolved for the clients,
shown as references or hidden, masked in logs; a refusal of them reported, not waited
out."""

from __future__ import annotations

import concurrent.futures
import logging
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError

from offramp.config import load_worker_config, validate_connector
from offramp.errors import ConfigError, CredentialsRefused
from offramp.kafka_refusals import RefusalWatch
from offramp.kafka_security import jaas_passwords, librdkafka_keys
from offramp.masking import (
    HIDDEN,
    SECRETS,
    mask_config,
    register_config_secrets,
    register_worker_secrets,
)
from offramp.registry import PluginRegistry
from offramp.testing import RecordingSinkConnector

SCRAM = "org.apache.kafka.common.security.scram.ScramLoginModule"


def _login(password: str) -> str:
    return f'{SCRAM} required username="svc" password="{password}";'


def _registry() -> PluginRegistry:
    registry = PluginRegistry()
    registry.register("recording", RecordingSinkConnector)
    return registry


def test_jaas_passwords_finds_quoted_and_bare_passwords() -> None:
    """Every password option of a login line, unquoted, whether or not the line parses."""
    assert jaas_passwords(_login('a\\"b')) == ['a"b']
    assert jaas_passwords("com.example.Odd required password=bare-pw") == ["bare-pw"]
    assert jaas_passwords("garbage") == []


def test_an_unreadable_login_line_is_refused_without_quoting_it() -> None:
    """A sasl.jaas.config that doesn't parse is refused by key; the reason never
    repeats the line (it holds the password)."""
    with pytest.raises(ConfigError) as caught:
        librdkafka_keys({"sasl.jaas.config": 'username="svc" password="leak-me-not";'})
    reason = dict(caught.value.errors)["sasl.jaas.config"]
    assert "leak-me-not" not in reason and "ScramLoginModule" in reason


def test_worker_secrets_from_file_and_env_reach_the_clients_and_are_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sasl.jaas.config from ${file:} and ssl.key.password from ${env:} resolve into
    every client's settings, and both secrets are registered for log masking."""
    secrets = tmp_path / "kafka.properties"
    secrets.write_text(f"jaas={_login('pw-from-a-file')}\n")
    monkeypatch.setenv("SINK_KEY_PASSWORD", "key-pw-from-env")
    worker = load_worker_config(
        {
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.jaas.config": f"${{file:{secrets}:jaas}}",
            "ssl.key.password": "${env:SINK_KEY_PASSWORD}",
        },
        environ={},
    )
    for kind in ("consumer", "producer", "admin"):
        conf = worker.client_config(kind)
        assert conf["sasl.username"] == "svc" and conf["sasl.password"] == "pw-from-a-file"
        assert conf["ssl.key.password"] == "key-pw-from-env"
    register_worker_secrets(worker)
    line = "connecting with pw-from-a-file and key-pw-from-env"
    assert SECRETS.redact(line) == f"connecting with {HIDDEN} and {HIDDEN}"


def test_connector_overrides_resolve_references_and_show_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A connector's consumer.override.sasl.jaas.config as ${env:} is resolved for its
    consumer, shown as the reference, and its password alone is masked in logs."""
    monkeypatch.setenv("SINK_CONNECTOR_JAAS", _login("pw-of-the-connector"))
    worker = load_worker_config({}, environ={})
    raw: dict[str, Any] = {
        "connector.class": "recording",
        "topics": "t",
        "consumer.override.sasl.jaas.config": "${env:SINK_CONNECTOR_JAAS}",
        "producer.override.sasl.password": "literal-dlq-password",
    }
    config = validate_connector("c", raw, worker, _registry())
    assert config.consumer_overrides["sasl.password"] == "pw-of-the-connector"
    model = RecordingSinkConnector.config_model
    shown = mask_config(raw, model)
    assert shown["consumer.override.sasl.jaas.config"] == "${env:SINK_CONNECTOR_JAAS}"
    assert shown["producer.override.sasl.password"] == HIDDEN
    register_config_secrets(raw, model, worker.providers.resolve)
    assert SECRETS.redact("auth as pw-of-the-connector") == f"auth as {HIDDEN}"
    assert SECRETS.redact("dlq literal-dlq-password") == f"dlq {HIDDEN}"


def _refused() -> KafkaError:
    return KafkaError(KafkaError._AUTHENTICATION, "SASL authentication error: bad password")


class _Client:
    """What RefusalWatch.result polls: a client whose callback reports a refusal."""

    def __init__(self, watch: RefusalWatch) -> None:
        self.watch = watch

    def poll(self, timeout: float) -> int:
        self.watch(_refused())
        return 0


def test_a_refusal_watch_names_the_client_and_the_reason() -> None:
    """Other errors leave it quiet; a refusal makes check() and explain() raise
    CredentialsRefused naming the client and the broker's reason."""

    watch = RefusalWatch("the status topic's clients", logging.getLogger("test"))
    watch(KafkaError(KafkaError._TRANSPORT, "broker down"))
    watch.check()
    timeout = RuntimeError("timed out")
    assert watch.explain(timeout) is timeout
    watch(_refused())
    with pytest.raises(CredentialsRefused, match=r"status topic's clients.*bad password"):
        watch.check()
    assert "timed out" in str(watch.explain(timeout))


def test_a_refusal_ends_the_wait_for_an_admin_request() -> None:
    """An admin request that would wait out its timeout: result() raises
    CredentialsRefused once the client reports the refusal."""

    watch = RefusalWatch("the share group's admin", logging.getLogger("test"))
    never: concurrent.futures.Future[int] = concurrent.futures.Future()
    with pytest.raises(CredentialsRefused, match="bad password"):
        watch.result(never, _Client(watch), timeout=600)
    done: concurrent.futures.Future[int] = concurrent.futures.Future()
    done.set_result(7)
    assert RefusalWatch("x", logging.getLogger("test")).result(done, _Client(watch), 1) == 7
