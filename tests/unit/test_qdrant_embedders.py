"""Embedders: discovered by entry point, and the OpenAI one against the stand-in server."""

from __future__ import annotations

import math
import socket
import sys
from collections.abc import Iterator
from email.utils import formatdate
from time import time

import httpx
import pytest

from devstack.embeddings_server import EmbeddingsServer
from offramp import BatchError, FatalError, RetriableError
from offramp.connectors.qdrant.embedders import (
    Embedder,
    EmbedderConfig,
    HashEmbedder,
    OpenAIEmbedder,
    OpenAIEmbedderConfig,
    SentenceTransformerEmbedder,
    embedder_class,
    embedder_names,
    hashed_vector,
    register_embedder,
)
from offramp.connectors.qdrant.openai_embedder import retry_after_seconds


@pytest.fixture
def server() -> Iterator[EmbeddingsServer]:
    with EmbeddingsServer(dimension=16) as running:
        yield running


def _openai(url: str, **options: str) -> OpenAIEmbedder:
    embedder = OpenAIEmbedder.from_options({"url": url, "model": "m", **options})
    assert isinstance(embedder, OpenAIEmbedder)
    return embedder


def test_builtins_are_found_through_the_entry_point_group() -> None:
    """``openai`` and ``sentence-transformers`` resolve by alias and by module:Class."""
    assert embedder_class("openai") is OpenAIEmbedder
    assert embedder_class("sentence-transformers") is SentenceTransformerEmbedder
    assert embedder_class("offramp.connectors.qdrant.embedders:OpenAIEmbedder") is OpenAIEmbedder
    assert {"openai", "sentence-transformers"} <= set(embedder_names())


def test_third_party_embedders_register_in_process() -> None:
    """``register_embedder`` makes an Embedder subclass nameable; non-embedders are refused."""
    register_embedder("unit-hash", HashEmbedder)
    assert embedder_class("unit-hash") is HashEmbedder
    assert embedder_class("offramp.connectors.qdrant.hash_embedder:HashEmbedder") is HashEmbedder
    with pytest.raises(TypeError):
        register_embedder("bad", dict)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no embedder named 'os:system'"):
        embedder_class("os:system")


def test_hash_vectors_are_deterministic_unit_length_and_word_sensitive() -> None:
    """Same text → same vector; shared words → higher cosine than unrelated text."""
    a = hashed_vector("refund for a double charge", 64)
    assert a == hashed_vector("refund for a double charge", 64)
    assert math.isclose(sum(x * x for x in a), 1.0)
    near = hashed_vector("double charge refund please", 64)
    far = hashed_vector("parcel tracking shows no update", 64)

    def cos(u: list[float], v: list[float]) -> float:
        return sum(x * y for x, y in zip(u, v, strict=True))

    assert cos(a, near) > cos(a, far)
    assert math.isclose(sum(x * x for x in hashed_vector("!!!", 8)), 1.0)  # no words


def test_openai_embedder_batches_and_returns_the_servers_vectors(
    server: EmbeddingsServer,
) -> None:
    """Seven texts with batch.size 3 take three requests and come back in order."""
    embedder = _openai(server.url, **{"batch.size": "3", "api.key": "sk-test"})
    try:
        texts = [f"text number {i}" for i in range(7)]
        assert embedder.embed(texts) == [hashed_vector(t, 16) for t in texts]
        assert server.requests == 3 and server.texts == 7
        assert server.last_authorization == "Bearer sk-test"
        assert embedder.dimension == 16  # probed once
    finally:
        embedder.close()


def test_openai_embedder_asks_for_configured_dimensions(server: EmbeddingsServer) -> None:
    """``embedder.dimensions`` is sent, and is the dimension without a probe."""
    embedder = _openai(server.url + "/embeddings", dimensions="8")
    try:
        assert embedder.dimension == 8 and server.requests == 0
        assert len(embedder.embed(["hello"])[0]) == 8
    finally:
        embedder.close()


@pytest.mark.parametrize(
    ("status", "error", "says"),
    [
        (429, RetriableError, "answered 429"),
        (503, RetriableError, "answered 503"),
        (500, RetriableError, "answered 500"),
        (401, FatalError, "check embedder.api.key"),
        (403, FatalError, "check embedder.api.key"),
        (400, BatchError, "answered 400"),
        (413, BatchError, "answered 413"),
    ],
)
def test_openai_embedder_maps_statuses_to_the_runtimes_errors(
    server: EmbeddingsServer, status: int, error: type[Exception], says: str
) -> None:
    """429/5xx are transient, 401/403 fatal, other 4xx refuse the batch."""
    embedder = _openai(server.url)
    try:
        server.fail_next(status, retry_after=2 if status == 429 else None)
        with pytest.raises(error, match=says) as info:
            embedder.embed(["a"])
        if status == 429:
            assert isinstance(info.value, RetriableError) and info.value.retry_after == 2.0
        assert embedder.embed(["a"]) == [hashed_vector("a", 16)]  # the next call is fine
    finally:
        embedder.close()


def test_a_wrong_url_is_fatal_and_an_unreachable_one_transient(server: EmbeddingsServer) -> None:
    """404 names embedder.url; a closed port is a RetriableError."""
    wrong = _openai(server.url.replace("/v1", "/v2"))
    try:
        with pytest.raises(FatalError, match=r"check embedder\.url"):
            wrong.embed(["a"])
    finally:
        wrong.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    closed = _openai(f"http://127.0.0.1:{port}/v1", **{"timeout.ms": "2000"})
    try:
        with pytest.raises(RetriableError, match="unreachable"):
            closed.embed(["a"])
    finally:
        closed.close()


def test_retry_after_reads_milliseconds_seconds_and_dates() -> None:
    """retry-after-ms wins, then seconds, then an HTTP date; junk gives None."""
    assert retry_after_seconds(httpx.Headers({"retry-after-ms": "1500"})) == 1.5
    assert retry_after_seconds(httpx.Headers({"retry-after": "7"})) == 7.0
    later = retry_after_seconds(
        httpx.Headers({"retry-after": formatdate(time() + 30, usegmt=True)})
    )
    assert later is not None and 25 < later <= 30
    assert retry_after_seconds(httpx.Headers({"retry-after": "soon"})) is None
    assert retry_after_seconds(httpx.Headers({})) is None


def test_openai_config_refuses_a_non_http_url() -> None:
    """``embedder.url`` must be http(s)."""
    with pytest.raises(ValueError, match="not an http"):
        OpenAIEmbedderConfig.model_validate({"url": "ftp://x", "model": "m"})


def test_sentence_transformers_without_the_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With sentence-transformers absent the embedder fails the task naming the extra."""
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(FatalError, match=r"offramp\[embeddings\]"):
        SentenceTransformerEmbedder.from_options({})


def test_the_embedder_base_is_abstract() -> None:
    """A plug-in must implement ``dimension`` and ``embed``."""
    with pytest.raises(TypeError):
        Embedder(EmbedderConfig())  # type: ignore[abstract]
