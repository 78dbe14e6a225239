"""Connector and worker configs are validated up front, every error named by its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from offramp.config import load_connector_file, load_worker_config, validate_connector
from offramp.errors import ConfigError
from offramp.registry import PluginRegistry
from offramp.testing import RecordingSinkConnector

WORKER = load_worker_config({}, environ={})


def _registry() -> PluginRegistry:
    registry = PluginRegistry()
    registry.register("recording", RecordingSinkConnector)
    return registry


def _errors(raw: dict[str, object]) -> dict[str, str]:
    with pytest.raises(ConfigError) as err:
        validate_connector("c", raw, WORKER, _registry())
    return dict(err.value.errors)


def test_string_values_are_coerced_like_kafka_connect() -> None:
    """ "2" becomes 2, "true" becomes True, comma lists become lists."""
    config = validate_connector(
        "c",
        {
            "connector.class": "recording",
            "topics": "a, b",
            "tasks.max": "2",
            "errors.log.enable": "true",
        },
        WORKER,
        _registry(),
    )
    assert config.settings.tasks_max == 2 and config.settings.topics == ["a", "b"]
    assert config.settings.errors_log_enable is True


def test_every_problem_is_reported_at_once() -> None:
    """Unknown keys, bad values and conflicting keys all come back, each with its key."""
    errors = _errors(
        {
            "connector.class": "recording",
            "topics": "a",
            "topics.regex": "b.*",
            "tasks.max": "zero",
            "errors.tolerance": "some",
            "recording.nmae": "x",
        }
    )
    assert "tasks.max" in errors and "errors.tolerance" in errors
    assert errors["recording.nmae"] == "unknown configuration key"
    assert any("exactly one of topics and topics.regex" in r for r in errors.values())


def test_unknown_plugin_gets_a_did_you_mean() -> None:
    """A misspelt connector.class names the closest registered plug-in."""
    errors = _errors({"connector.class": "recordng", "topics": "a"})
    assert "did you mean 'recording'" in errors["connector.class"]


def test_an_empty_connector_class_is_refused_by_its_own_name() -> None:
    """connector.class "" is an error about connector.class (found by the config fuzz:
    it used to be accepted and every other key blamed as unknown)."""
    errors = _errors({"connector.class": "", "topics": "a", "file": "x"})
    assert "connector.class" in errors


@pytest.mark.parametrize("value", [[""], ["a", "b"], {"x": "y"}])
def test_a_topics_regex_of_the_wrong_type_is_an_error_not_a_traceback(value: object) -> None:
    """A JSON list or map as topics.regex is refused naming topics.regex (found by
    the config fuzz: a list reached re.compile and raised TypeError)."""
    errors = _errors({"connector.class": "recording", "topics.regex": value})
    assert "topics.regex" in errors


def test_dead_letter_topic_must_not_be_consumed() -> None:
    """The DLQ can't be one of the connector's own topics."""
    errors = _errors(
        {"connector.class": "recording", "topics": "a,b", "errors.deadletterqueue.topic.name": "b"}
    )
    assert any("must not be a consumed topic" in r for r in errors.values())


def test_env_references_resolve_at_validation_and_stay_in_raw(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """${env:…} is resolved to validate but the stored config keeps the reference."""
    monkeypatch.setenv("OFFRAMP_TEST_TOPIC", "calls")
    config = validate_connector(
        "c",
        {"connector.class": "recording", "topics": "${env:OFFRAMP_TEST_TOPIC}"},
        WORKER,
        _registry(),
    )
    assert config.settings.topics == ["calls"]
    assert config.raw["topics"] == "${env:OFFRAMP_TEST_TOPIC}"
    assert (
        "is not set"
        in _errors({"connector.class": "recording", "topics": "${env:OFFRAMP_NOT_SET_ANYWHERE}"})[
            "topics"
        ]
    )


def test_worker_config_reads_env_overrides_and_families() -> None:
    """OFFRAMP_WORKER_BOOTSTRAP_SERVERS overrides; consumer.* is passed through as a family."""
    worker = load_worker_config(
        {"bootstrap.servers": "a:1", "consumer.fetch.max.bytes": "1000"},
        environ={"OFFRAMP_WORKER_BOOTSTRAP_SERVERS": "b:2"},
    )
    assert worker.bootstrap_servers == "b:2"
    assert worker.family("consumer.") == {"fetch.max.bytes": "1000"}
    with pytest.raises(ConfigError) as err:
        load_worker_config({"group.protocol": "eager"}, environ={})
    assert err.value.errors[0][0] == "group.protocol"


def test_connector_files_in_both_kafka_connect_shapes(tmp_path: Path) -> None:
    """{"name", "config"} and a flat map with "name" both load."""
    wrapped, flat = tmp_path / "a.json", tmp_path / "b.json"
    wrapped.write_text('{"name": "a", "config": {"topics": "t"}}')
    flat.write_text('{"name": "b", "topics": "t"}')
    assert load_connector_file(wrapped) == ("a", {"topics": "t", "name": "a"})
    assert load_connector_file(flat) == ("b", {"name": "b", "topics": "t"})
    (tmp_path / "c.json").write_text("{nope")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_connector_file(tmp_path / "c.json")
