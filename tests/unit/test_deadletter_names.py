"""${topic} in the dead-letter topic name: one dead-letter topic per tenant, never one
the connector consumes."""

from __future__ import annotations

import pytest
from confluent_kafka import Message
from pydantic import ValidationError

from offramp.config import ConnectorSettings
from offramp.deadletter import DeadLetterWriter
from offramp.deadletter_names import dead_letter_topic
from offramp.testing import ScriptedProducer

KEY = "errors.deadletterqueue.topic.name"


def _settings(**raw: str) -> ConnectorSettings:
    return ConnectorSettings.model_validate({"name": "c", "connector.class": "recording", **raw})


def test_a_dead_letter_name_per_tenant_outside_the_regex_is_accepted() -> None:
    """dlq.${topic} and ${topic}.rejects can't match tenant\\.[a-z]+\\.calls: accepted."""
    regex = "tenant\\.[a-z]+\\.calls"
    for name in ("dlq.${topic}", "${topic}.rejects", "rejects"):
        assert _settings(**{"topics.regex": regex, KEY: name}).topics_regex == regex
    assert dead_letter_topic("dlq.${topic}", "tenant.acme.calls") == "dlq.tenant.acme.calls"


def test_a_dead_letter_name_the_regex_could_read_back_is_refused_naming_both_keys() -> None:
    """tenant.${topic}.dlq under tenant\\..* would be consumed (tenant.tenant.a.dlq
    matches): refused naming both keys; so is ${topic} itself, and a name that makes a
    listed topic's dead letters another listed topic."""
    with pytest.raises(ValidationError, match=f"{KEY}.*topics.regex"):
        _settings(**{"topics.regex": "tenant\\..*", KEY: "tenant.${topic}.dlq"})
    with pytest.raises(ValidationError, match="must not be a consumed topic"):
        _settings(**{"topics.regex": "calls|calls-dlq", KEY: "${topic}-dlq"})
    with pytest.raises(ValidationError, match="must not be a consumed topic"):
        _settings(**{"topics": "a,a.dlq", KEY: "${topic}.dlq"})
    assert _settings(**{"topics": "a,b", KEY: "${topic}.dlq"}).topics == ["a", "b"]


def test_an_unknown_placeholder_in_the_dead_letter_name_is_refused() -> None:
    """Only ${topic} is replaced; ${partition} is refused by name."""
    with pytest.raises(ValidationError, match=r"partition.*only"):
        _settings(**{"topics": "a", KEY: "dlq.${partition}"})


def test_each_tenant_dead_letters_to_its_own_topic_created_once() -> None:
    """A ${topic} writer sends each record to its source topic's dead-letter topic and
    asks for that topic to be created once, the first time."""
    producer = ScriptedProducer()
    created: list[str] = []
    writer = DeadLetterWriter({}, "dlq.${topic}", "c", 0, False, producer.factory, created.append)
    for topic in ("tenant.a.calls", "tenant.b.calls", "tenant.a.calls"):
        message = Message(topic=topic, partition=0, offset=0, key=b"k", value=b"v")
        writer.send(message, "TASK_PUT", ValueError("bad"), "x")
    assert [p[0] for p in producer.produced] == [
        "dlq.tenant.a.calls",
        "dlq.tenant.b.calls",
        "dlq.tenant.a.calls",
    ]
    assert created == ["dlq.tenant.a.calls", "dlq.tenant.b.calls"]
