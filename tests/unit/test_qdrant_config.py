"""The Qdrant sink's config: every mistake is refused up front, naming its key."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from offramp import ConfigError
from offramp.config import load_worker_config, validate_connector
from offramp.connectors.qdrant import QdrantSinkConfig, QdrantSinkConnector
from offramp.connectors.qdrant.config import Distance, Embedded
from offramp.connectors.qdrant.embedders import OpenAIEmbedder, OpenAIEmbedderConfig
from offramp.registry import PluginRegistry


def _validate(**keys: Any) -> QdrantSinkConfig:
    raw = {"connector.class": "qdrant", "topics": "calls", **keys}
    worker = load_worker_config({}, environ={})
    config = validate_connector("q", raw, worker, PluginRegistry())
    assert isinstance(config.plugin_config, QdrantSinkConfig)
    return config.plugin_config


def _errors(**keys: Any) -> str:
    with pytest.raises(ConfigError) as info:
        _validate(**keys)
    return str(info.value)


def test_the_plugin_is_registered_under_qdrant() -> None:
    """``connector.class: qdrant`` resolves to the connector through its entry point."""
    assert PluginRegistry().get("qdrant").connector is QdrantSinkConnector


def test_defaults_for_an_embedded_config() -> None:
    """Only qdrant.path is needed: Qdrant Edge, collection per topic, ids from keys,
    vectors from vector, indexes built per 20,000 unindexed points."""
    config = _validate(**{"qdrant.path": ":memory:"})
    assert config.qdrant_embedded is Embedded.EDGE
    assert config.qdrant_optimize_points == 20000
    assert (config.qdrant_hnsw_m, config.qdrant_hnsw_ef_construct) == (16, 100)
    assert config.qdrant_segment_max_kb == 32768
    assert config.collection_name == "${topic}"
    assert config.vector_path == "vector"
    assert config.collection_distance is Distance.COSINE
    assert config.point_id_field is None and config.embedder is None


def test_strings_from_a_kafka_connect_config_are_coerced() -> None:
    """Booleans, sizes, comma lists and a distance in any case read as Kafka Connect gives them."""
    config = _validate(
        **{
            "qdrant.url": "http://localhost:6333",
            "qdrant.prefer.grpc": "true",
            "qdrant.api.key": "s3cret",
            "collection.create": "true",
            "collection.vector.size": "384",
            "collection.distance": "dot",
            "payload.include": "call_id, caller.email",
        }
    )
    assert config.qdrant_prefer_grpc is True
    assert isinstance(config.qdrant_api_key, SecretStr)
    assert config.qdrant_api_key.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(config)
    assert config.collection_vector_size == 384
    assert config.collection_distance is Distance.DOT
    assert config.payload_include == ["call_id", "caller.email"]


def test_the_api_key_comes_through_config_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    """``${env:NAME}`` in qdrant.api.key is resolved when the config is validated for a task."""
    monkeypatch.setenv("QDRANT_TEST_KEY", "from-env")
    config = _validate(
        **{"qdrant.url": "https://q.example.com", "qdrant.api.key": "${env:QDRANT_TEST_KEY}"}
    )
    assert config.qdrant_api_key is not None
    assert config.qdrant_api_key.get_secret_value() == "from-env"


def test_embedder_keys_go_to_the_embedders_own_model() -> None:
    """``embedder.url``/``embedder.model`` reach the OpenAI embedder; text field stays ours."""
    config = _validate(
        **{
            "qdrant.path": ":memory:",
            "embedder": "openai",
            "embedder.url": "http://127.0.0.1:9/v1/",
            "embedder.model": "text-embedding-3-small",
            "embedder.api.key": "k",
            "embedder.batch.size": "16",
            "embedder.text.field": "data.transcript",
        }
    )
    assert config.embedder_text_field == "data.transcript"
    assert config.embedder_options == {
        "url": "http://127.0.0.1:9/v1/",
        "model": "text-embedding-3-small",
        "api.key": "k",
        "batch.size": "16",
    }
    embedder = config.build_embedder()
    assert isinstance(embedder, OpenAIEmbedder)
    try:
        assert isinstance(embedder.config, OpenAIEmbedderConfig)
        assert embedder.endpoint == "http://127.0.0.1:9/v1/embeddings"
        assert embedder.max_batch == 16
    finally:
        embedder.close()


@pytest.mark.parametrize(
    ("keys", "says"),
    [
        ({}, "set exactly one of qdrant.url"),
        ({"qdrant.url": "http://h:6333", "qdrant.path": "/tmp/q"}, "set exactly one"),
        ({"qdrant.url": "http://h:6333", "qdrant.embedded": "edge"}, "qdrant.embedded needs"),
        ({"qdrant.path": "/tmp/q", "qdrant.embedded": "lite"}, "qdrant.embedded"),
        ({"qdrant.path": "/tmp/q", "qdrant.optimize.points": "-1"}, "qdrant.optimize.points"),
        ({"qdrant.path": "/tmp/q", "qdrant.prefer.grpc": "true"}, "qdrant.prefer.grpc needs"),
        ({"qdrant.path": "/tmp/q", "qdrant.api.key": "k"}, "qdrant.api.key needs qdrant.url"),
        ({"qdrant.path": "/tmp/q", "collection.create": "true"}, "collection.vector.size"),
        ({"qdrant.path": "/tmp/q", "collection.name": "${tenant}"}, "${tenant} is not known"),
        ({"qdrant.path": "/tmp/q", "vector.field": "a..b"}, "not a field path"),
        ({"qdrant.path": "/tmp/q", "payload.exclude": "a,,b.", "x": 1}, "not a field path"),
        ({"qdrant.path": "/tmp/q", "collection.distance": "Hamming"}, "collection.distance"),
        ({"qdrant.path": "/tmp/q", "qdrant.batch.size": "0"}, "qdrant.batch.size"),
        ({"qdrant.path": "/tmp/q", "colection.name": "x"}, "colection.name: unknown"),
        ({"qdrant.path": "/tmp/q", "embedder.text.field": "t"}, "no embedder is chosen"),
        ({"qdrant.path": "/tmp/q", "embedder": "opnai"}, "did you mean 'openai'"),
        ({"qdrant.path": "/tmp/q", "embedder": "openai"}, "needs embedder.text.field"),
        (
            {"qdrant.path": "/tmp/q", "embedder": "openai", "embedder.text.field": "t"},
            "embedder.url: missing required configuration",
        ),
        (
            {
                "qdrant.path": "/tmp/q",
                "embedder": "openai",
                "embedder.text.field": "t",
                "embedder.url": "ftp://x",
                "embedder.model": "m",
                "embedder.colour": "red",
            },
            "embedder.colour: unknown key",
        ),
        (
            {
                "qdrant.path": "/tmp/q",
                "embedder": "openai",
                "embedder.text.field": "t",
                "vector.field": "v",
            },
            "either vector.field or embedder",
        ),
    ],
)
def test_mistakes_are_refused_naming_the_key(keys: dict[str, Any], says: str) -> None:
    """Each inconsistent or unknown setting is a ConfigError that names what to fix."""
    assert says in _errors(**keys)


def test_qdrant_embedded_local_keeps_qdrant_client_local_mode() -> None:
    """qdrant.embedded=local (any case) picks qdrant-client's local mode for the path."""
    config = _validate(**{"qdrant.path": "/tmp/q", "qdrant.embedded": "LOCAL"})
    assert config.qdrant_embedded is Embedded.LOCAL
    assert config.location == "local-mode Qdrant at /tmp/q"
