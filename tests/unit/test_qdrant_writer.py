"""The Qdrant writer against both embedded engines, Qdrant Edge and qdrant-client's local
mode: ids, vectors, payloads, order, failures."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
import pytest
from qdrant_client import QdrantClient, models

from devstack.embeddings_server import EmbeddingsServer
from offramp import (
    FatalError,
    RawMessage,
    RecordFailure,
    RetriableError,
    SinkRecord,
    TaskContext,
    TopicPartition,
)
from offramp.connectors.qdrant import QdrantSinkConfig, QdrantWriter
from offramp.connectors.qdrant.clients import borrow_edge, borrow_local
from offramp.connectors.qdrant.edge import EdgeClient
from offramp.connectors.qdrant.embedders import HashEmbedder, hashed_vector, register_embedder
from offramp.connectors.qdrant.point_ids import DEFAULT_NAMESPACE
from offramp.testing import write_all


def _record(offset: int, key: str | None, value: Any, topic: str = "calls") -> SinkRecord:
    raw = orjson.dumps(value) if value is not None else None
    message = RawMessage(topic, 0, offset, key.encode() if key else None, raw, timestamp=1000)
    return SinkRecord(message, key, value)


_ENGINE: dict[str, str] = {}  # the engine of each test's store, by connector name


class Sink:
    """A writer on a private in-memory store, and a client to read that store."""

    def __init__(self, name: str, **keys: str) -> None:
        self.name = name
        self.config = QdrantSinkConfig.model_validate(
            {"qdrant.path": ":memory:", "qdrant.embedded": _ENGINE[name], **keys}
        )

    def writer(self) -> QdrantWriter:
        return QdrantWriter(self.config, TaskContext(self.name, 0, {}))

    def write(self, records: list[SinkRecord]) -> list[RecordFailure]:
        failures, _ = write_all(self.writer(), records)
        return failures


@pytest.fixture(params=["edge", "local"])
def store(unique: str, request: pytest.FixtureRequest) -> Iterator[tuple[str, QdrantClient]]:
    """Keeps the connector's in-memory store (Edge, or local mode) open for the test to
    read; the Edge client answers the same calls with the same models."""
    engine: str = request.param
    name = f"unit-{engine}-{unique}"
    _ENGINE[name] = engine
    borrow = borrow_edge if engine == "edge" else borrow_local
    with borrow(":memory:", name) as handle:
        client: Any = handle.client
        yield name, client


def _points(client: QdrantClient, collection: str) -> dict[Any, models.Record]:
    found, _ = client.scroll(collection, limit=1000, with_vectors=True)
    return {p.id: p for p in found}


def test_points_get_ids_from_keys_and_payload_without_the_vector(
    store: tuple[str, QdrantClient],
) -> None:
    """Int, UUID and other string keys name points; the payload is the value minus vector."""
    name, client = store
    u = str(uuid.uuid4())
    sink = Sink(
        name,
        **{
            "collection.create": "true",
            "collection.vector.size": "2",
            "payload.kafka.coordinates": "true",
        },
    )
    failures = sink.write(
        [
            _record(0, "7", {"vector": [1.0, 0.0], "n": 0}),
            _record(1, u, {"vector": [0.0, 1.0], "n": 1}),
            _record(2, "call-2", {"vector": [0.5, 0.5], "n": 2}),
        ]
    )
    assert failures == []
    points = _points(client, "calls")  # collection.name defaults to ${topic}
    hashed = str(uuid.uuid5(DEFAULT_NAMESPACE, "call-2"))
    assert set(points) == {7, u, hashed}
    assert points[7].payload == {
        "n": 0,
        "_kafka": {"topic": "calls", "partition": 0, "offset": 0, "timestamp": 1000},
    }
    assert points[hashed].vector == pytest.approx([0.7071, 0.7071], abs=1e-3)  # Cosine: normalised


def test_qdrant_kafka_messages_name_collection_id_vector_and_payload(
    store: tuple[str, QdrantClient],
) -> None:
    """The qdrant-kafka message format works as is: collection_name, id, vector, payload."""
    name, client = store
    client.create_collection(
        "docs",
        vectors_config={
            "text": models.VectorParams(size=3, distance=models.Distance.DOT),
            "colbert": models.VectorParams(
                size=2,
                distance=models.Distance.DOT,
                multivector_config=models.MultiVectorConfig(
                    comparator=models.MultiVectorComparator.MAX_SIM
                ),
            ),
        },
        sparse_vectors_config={"keywords": models.SparseVectorParams()},
    )
    sink = Sink(
        name,
        **{
            "collection.name.field": "collection_name",
            "point.id.field": "id",
            "payload.field": "payload",
        },
    )
    message = {
        "collection_name": "docs",
        "id": 42,
        "vector": {
            "text": [1.0, 2.0, 3.0],
            "colbert": [[1.0, 0.0], [0.0, 1.0]],
            "keywords": {"indices": [9, 2], "values": [0.5, 0.25]},
        },
        "payload": {"title": "hello", "tags": ["a"]},
    }
    assert sink.write([_record(0, None, message, topic="anything")]) == []
    point = _points(client, "docs")[42]
    assert point.payload == {"title": "hello", "tags": ["a"]}
    assert isinstance(point.vector, dict)
    assert point.vector["text"] == [1.0, 2.0, 3.0]
    assert point.vector["colbert"] == [[1.0, 0.0], [0.0, 1.0]]
    sparse = point.vector["keywords"]
    assert isinstance(sparse, models.SparseVector)
    assert dict(zip(sparse.indices, sparse.values, strict=True)) == {9: 0.5, 2: 0.25}


def test_tombstones_delete_in_order_and_the_last_record_per_id_wins(
    store: tuple[str, QdrantClient],
) -> None:
    """Upsert→tombstone deletes; tombstone→upsert recreates; repeated ids keep the last."""
    name, client = store
    sink = Sink(name, **{"collection.create": "true", "collection.vector.size": "1"})
    failures = sink.write(
        [
            _record(0, "a", {"vector": [1.0], "v": 1}),
            _record(1, "b", {"vector": [1.0], "v": 1}),
            _record(2, "a", None),  # deletes a, though its upsert is in this very batch
            _record(3, "b", {"vector": [1.0], "v": 2}),
            _record(4, "c", None),
            _record(5, "c", {"vector": [1.0], "v": 3}),
            _record(6, "b", {"vector": [1.0], "v": 4}),
        ]
    )
    assert failures == []
    points = _points(client, "calls")
    ids = {str(uuid.uuid5(DEFAULT_NAMESPACE, k)): k for k in "abc"}
    assert {ids[str(i)]: p.payload for i, p in points.items()} == {"b": {"v": 4}, "c": {"v": 3}}


def test_bad_records_fail_alone_with_a_reason_and_the_rest_is_written(
    store: tuple[str, QdrantClient],
) -> None:
    """Missing key, malformed vector, wrong size: three RecordFailures in record order."""
    name, client = store
    sink = Sink(name, **{"collection.create": "true", "collection.vector.size": "3"})
    records = [
        _record(0, "ok-1", {"vector": [1.0, 2.0, 3.0]}),
        _record(1, None, {"vector": [1.0, 2.0, 3.0]}),
        _record(2, "bad-vector", {"vector": [1.0, "2", 3.0]}),
        _record(3, "short", {"vector": [1.0, 2.0]}),
        _record(4, "no-vector", {"other": 1}),
        _record(5, "ok-2", {"vector": [3.0, 2.0, 1.0]}),
    ]
    failures = sink.write(records)
    assert [f.record.kafka_offset for f in failures] == [1, 2, 3, 4]
    reasons = [f.context["__offramp.errors.reason"] for f in failures]
    assert reasons == ["invalid_point_id", "invalid_vector", "invalid_vector", "invalid_vector"]
    assert "record key: the record has no key" in str(failures[0].error)
    assert "a string at position 1" in str(failures[1].error)
    assert "Vector dimension error: expected dim: 3, got 2" in str(failures[2].error)
    assert failures[2].context["__offramp.qdrant.collection"] == "calls"
    assert "vector.field 'vector' is missing" in str(failures[3].error)
    assert client.count("calls").count == 2


def test_a_missing_collection_without_create_stops_the_task_clearly(
    store: tuple[str, QdrantClient],
) -> None:
    """No collection and collection.create=false is a FatalError naming both."""
    name, _ = store
    sink = Sink(name, **{"collection.name": "absent"})
    writer = sink.writer()
    try:
        with pytest.raises(
            FatalError, match=r"collection 'absent' does not exist.*collection\.create"
        ):
            writer.write([_record(0, "k", {"vector": [1.0]})])
    finally:
        writer.stop()


def test_collection_create_makes_named_multi_and_sparse_vectors(
    store: tuple[str, QdrantClient],
) -> None:
    """vector.name, collection.multivector and collection.sparse.vectors shape a new collection."""
    name, client = store
    sink = Sink(
        name,
        **{
            "collection.name": "mv-${topic}",
            "collection.create": "true",
            "collection.vector.size": "2",
            "collection.distance": "euclid",
            "collection.multivector": "true",
            "collection.sparse.vectors": "keywords",
            "vector.name": "colbert",
        },
    )
    vector = {"colbert": [[1.0, 2.0]], "keywords": {"indices": [1], "values": [1.0]}}
    assert sink.write([_record(0, "1", {"vector": vector})]) == []
    params = client.get_collection("mv-calls").config.params
    assert isinstance(params.vectors, dict)
    colbert = params.vectors["colbert"]
    assert colbert.size == 2 and colbert.distance == models.Distance.EUCLID
    assert colbert.multivector_config is not None
    assert set(params.sparse_vectors or {}) == {"keywords"}


def test_an_in_process_embedder_fills_a_named_vector(store: tuple[str, QdrantClient]) -> None:
    """A registered embedder embeds ``embedder.text.field``; empty texts fail alone."""
    name, client = store
    register_embedder("unit-hash", HashEmbedder)
    sink = Sink(
        name,
        **{
            "collection.create": "true",
            "embedder": "unit-hash",
            "embedder.dimension": "8",
            "embedder.text.field": "data.transcript",
            "vector.name": "transcript",
            "payload.field": "data",
            "payload.exclude": "transcript",
        },
    )
    records = [
        _record(0, "1", {"data": {"transcript": "refund please", "tenant": "acme"}}),
        _record(1, "2", {"data": {"transcript": "   "}}),
        _record(2, "3", {"data": {"tenant": "globex"}}),
    ]
    failures = sink.write(records)
    assert [(f.record.kafka_offset, f.context["__offramp.errors.reason"]) for f in failures] == [
        (1, "invalid_text"),
        (2, "invalid_text"),
    ]
    assert "embedder.text.field 'data.transcript' is missing" in str(failures[1].error)
    point = _points(client, "calls")[1]
    assert point.payload == {"tenant": "acme"}
    assert isinstance(point.vector, dict)
    assert point.vector["transcript"] == pytest.approx(hashed_vector("refund please", 8))


def test_openai_embedder_refusals_retries_and_the_embedding_cache(
    store: tuple[str, QdrantClient],
) -> None:
    """A refused text fails alone; a 503 is retriable, and the retry embeds only the texts
    still missing; the same batch again isn't embedded again."""
    name, client = store
    with EmbeddingsServer(dimension=4) as server:
        sink = Sink(
            name,
            **{
                "collection.create": "true",
                "embedder": "openai",
                "embedder.url": server.url,
                "embedder.model": "stand-in",
                "embedder.batch.size": "4",
                "embedder.dimensions": "4",
                "embedder.text.field": "text",
                "embedder.concurrency": "1",  # the chunks in order: which one fails is known
            },
        )
        server.refuse_texts_containing("POISON")
        records = [_record(i, str(i), {"text": f"call {i % 5}"}) for i in range(10)]
        records[6] = _record(6, "6", {"text": "POISON pill"})
        writer = sink.writer()
        try:
            server.fail_next(503, after=1)  # the second request fails: one chunk is done
            with pytest.raises(RetriableError, match="answered 503"):
                writer.write(records)
            assert server.texts == 4
            failures = writer.write(records) or []
            assert [
                (f.record.kafka_offset, f.context["__offramp.errors.reason"]) for f in failures
            ] == [(6, "embedding_refused")]
            assert "refused marker 'POISON'" in str(failures[0].error)
            served = server.texts
            assert served == 5  # five distinct good texts, each embedded once
            assert writer.write(records)  # the same batch again: the poison is all it asks
            assert server.texts == served
        finally:
            writer.stop()
    assert client.count("calls").count == 9
    assert client.retrieve("calls", [3], with_vectors=True)[0].vector == pytest.approx(
        hashed_vector("call 3", 4)
    )


class _SlowEmbedder(HashEmbedder):
    """A remote-like embedder allowing 4 calls at once; counts the peak. Its first 4
    calls wait for one another (a barrier, not a clock): they can only all return if
    the writer had 4 in flight together."""

    peak = 0
    _now = 0
    _lock = threading.Lock()
    _first_four = threading.Barrier(4, timeout=30)

    @property
    def max_batch(self) -> int:
        return 8

    @property
    def max_concurrency(self) -> int:
        return 4

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        cls = type(self)
        with cls._lock:
            cls._now += 1
            cls.peak = max(cls.peak, cls._now)
        try:
            if not cls._first_four.broken and cls._first_four.n_waiting < 4:
                with contextlib.suppress(threading.BrokenBarrierError):
                    cls._first_four.wait()
                    cls._first_four.abort()  # met once: later calls go straight on
            return super().embed(texts)
        finally:
            with cls._lock:
                cls._now -= 1


def test_embedding_calls_run_several_at_once_and_writes_keep_record_order(
    store: tuple[str, QdrantClient],
) -> None:
    """An embedder allowing 4 calls in flight gets 4 at once (its first four calls meet
    at a barrier) and never more; the last record per id still wins."""
    name, client = store
    register_embedder("unit-slow", _SlowEmbedder)
    sink = Sink(
        name,
        **{
            "collection.create": "true",
            "embedder": "unit-slow",
            "embedder.dimension": "8",
            "embedder.text.field": "text",
        },
    )
    records = [_record(i, str(i % 100), {"text": f"call {i}"}) for i in range(128)]
    assert sink.write(records) == []
    assert _SlowEmbedder.peak == 4
    points = _points(client, "calls")
    assert len(points) == 100
    for i in (0, 27, 99):  # ids 0..27 were written twice: the later record wins
        last = i + 100 if i + 100 < 128 else i
        assert points[i].payload == {"text": f"call {last}"}
        assert points[i].vector == pytest.approx(hashed_vector(f"call {last}", 8), abs=1e-6)


def test_edge_optimizes_past_its_threshold_and_flushes_on_pre_commit(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Qdrant Edge: optimize runs once a write leaves qdrant.optimize.points unindexed
    points (not per batch), pre_commit flushes before offsets are offered back, and the
    points are there when the store is opened again."""
    calls: list[str] = []
    real_optimize, real_flush = EdgeClient.optimize, EdgeClient.flush

    def optimize(self: EdgeClient, name: str) -> None:
        calls.append(f"optimize {name}")
        real_optimize(self, name)

    def flush(self: EdgeClient) -> None:
        calls.append("flush")
        real_flush(self)

    monkeypatch.setattr(EdgeClient, "optimize", optimize)
    monkeypatch.setattr(EdgeClient, "flush", flush)
    config = QdrantSinkConfig.model_validate(
        {
            "qdrant.path": str(tmp_path),
            "qdrant.optimize.points": "50",
            "collection.create": "true",
            "collection.vector.size": "2",
            "collection.distance": "euclid",  # stored as given (cosine normalises)
        }
    )
    writer = QdrantWriter(config, TaskContext("edge-unit", 0, {}))
    try:
        for start in range(0, 80, 20):  # 4 batches of 20: the threshold passes in the 3rd
            batch = [
                _record(i, str(i), {"vector": [1.0, float(i)]}) for i in range(start, start + 20)
            ]
            assert writer.write(batch) == []
            calls.append(f"wrote {start + 20}")
        offsets = {TopicPartition("calls", 0): 80}
        assert writer.pre_commit(offsets) == offsets
    finally:
        writer.stop()
    assert calls == [  # 60 > 50: once; 80 is 20 since then: not again
        "wrote 20",
        "wrote 40",
        "optimize calls",
        "wrote 60",
        "wrote 80",
        "flush",
    ]
    reopened = EdgeClient(str(tmp_path))
    try:
        assert reopened.count("calls").count == 80
        assert reopened.retrieve("calls", [79], with_vectors=True)[0].vector == [1.0, 79.0]
    finally:
        reopened.close()
