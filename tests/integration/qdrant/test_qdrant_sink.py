"""The ``qdrant`` connector end to end: real broker, real worker, the embedded store
(Qdrant Edge, the default for ``qdrant.path``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import KafkaException
from qdrant_client import models

from devstack.embeddings_server import EmbeddingsServer
from devstack.generator import CALL_COMPLETED, produce_calls
from devstack.kafka import KafkaBroker
from offramp.connectors.qdrant import QdrantSinkConfig, QdrantSinkConnector
from offramp.connectors.qdrant.clients import borrow_edge, borrow_local
from offramp.connectors.qdrant.edge import EdgeClient
from offramp.connectors.qdrant.embedders import hashed_vector
from offramp.connectors.qdrant.point_ids import DEFAULT_NAMESPACE
from offramp.task import TaskState
from offramp.testing import read_dead_letters
from offramp.worker import Worker
from tests.conftest import produce, wait_for
from tests.integration.qdrant.support import qdrant_config
from tests.integration.runtime_support import (
    ONLY_COMPLETED,
    committed,
    dead_letters_to,
    make_worker,
)


def _all_committed(kafka: KafkaBroker, name: str, topic: str, partitions: int, total: int) -> bool:
    """Every record handled: the sink commits only what it wrote (or dead-lettered)."""
    try:
        offsets = committed(kafka.bootstrap, f"connect-{name}", topic, partitions)
    except KafkaException:  # the group coordinator is still loading: ask again
        return False
    return sum(max(0, o) for o in offsets) == total


def _scroll(path: Path, collection: str) -> dict[Any, models.Record]:
    with borrow_edge(str(path)) as handle, handle.lock:
        found, _ = handle.client.scroll(collection, limit=100_000, with_vectors=True)
    return {p.id: p for p in found}


def _uuid(key: str) -> str:
    return str(uuid.uuid5(DEFAULT_NAMESPACE, key))


def test_records_become_points_and_bad_vectors_are_dead_lettered(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    qdrant_dir: Path,
) -> None:
    """200 records over 3 partitions: the last good record per key is its point, a
    tombstone deletes one, and a wrong-size and a malformed vector reach the DLQ with
    Qdrant's message while everything else lands."""
    topic, dlq, name = make_topic("vec", partitions=3), f"vec-dlq-{unique}", f"vec-{unique}"
    keys = [f"k{i % 150}" for i in range(200)]
    values: list[bytes | None] = [
        orjson.dumps(
            {"vector": [1.0, float(i)], "i": i, "secret": "x", "nested": {"keep": i, "drop": 1}}
        )
        for i in range(200)
    ]
    values[50] = orjson.dumps({"vector": [1.0, 2.0, 3.0], "i": 50})
    values[60] = orjson.dumps({"vector": "oops", "i": 60})
    keys.append("k5")
    values.append(None)  # a tombstone for k5
    produce(kafka.bootstrap, topic, values, keys=[k.encode() for k in keys])
    config = qdrant_config(
        topic,
        qdrant_dir,
        **dead_letters_to(dlq),
        **{
            "collection.create": "true",
            "collection.vector.size": "2",
            "payload.exclude": "secret,nested.drop",
            "payload.kafka.coordinates": "true",
        },
    )
    worker.create(name, config)
    wait_for(lambda: _all_committed(kafka, name, topic, 3, len(values)))

    letters = read_dead_letters(kafka.bootstrap, dlq, expected=2)
    by_key = {d.key: d.headers for d in letters}
    assert set(by_key) == {b"k50", b"k60"}
    assert (
        "Vector dimension error: expected dim: 2, got 3"
        in (by_key[b"k50"]["__connect.errors.exception.message"])
    )
    assert by_key[b"k50"]["__offramp.errors.reason"] == "invalid_vector"
    assert "the vector is a string" in by_key[b"k60"]["__connect.errors.exception.message"]

    points = _scroll(qdrant_dir, topic)
    expected = {f"k{i}" for i in range(150)} - {"k5", "k50", "k60"}
    assert set(points) == {_uuid(k) for k in expected}
    for key in ("k0", "k49", "k100"):
        last = max(i for i in range(200) if f"k{i % 150}" == key)
        payload = points[_uuid(key)].payload
        assert payload is not None
        assert payload["i"] == last and payload["nested"] == {"keep": last}
        assert "secret" not in payload and payload["_kafka"]["topic"] == topic

    found = QdrantSinkConnector().check(
        QdrantSinkConfig.model_validate({"qdrant.path": str(qdrant_dir), "collection.name": topic})
    )
    assert f"collection {topic!r} has {len(expected)} points (unnamed: 2-dim)" in found


def test_call_transcripts_are_embedded_through_the_openai_stand_in(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    qdrant_dir: Path,
    embeddings: EmbeddingsServer,
) -> None:
    """CloudEvents → transcripts embedded by the OpenAI-compatible embedder (a 429 and a
    503 waited out) → one point per completed call, searchable by meaning."""
    topic, name, collection = make_topic("calls", partitions=3), f"emb-{unique}", f"calls-{unique}"
    embeddings.fail_next(429, retry_after=1)
    embeddings.fail_next(503)
    events = produce_calls(kafka.bootstrap, topic, 150)
    completed = [e for e in events if e.ce_type == CALL_COMPLETED]
    config = qdrant_config(
        topic,
        qdrant_dir,
        **ONLY_COMPLETED,
        **{
            "value.converter": "cloudevents",
            "collection.name": collection,
            "collection.create": "true",
            "embedder": "openai",
            "embedder.url": embeddings.url,
            "embedder.model": "stand-in",
            "embedder.batch.size": "16",
            "embedder.text.field": "data.transcript",
            "payload.field": "data",
            "payload.exclude": "caller.email",
            "errors.retry.timeout": "30000",
        },
    )
    worker.create(name, config)
    wait_for(lambda: _all_committed(kafka, name, topic, 3, len(events)))
    assert embeddings.refused == 2

    points = _scroll(qdrant_dir, collection)
    assert set(points) == {e.data["call_id"] for e in completed}
    sample = completed[7].data
    point = points[sample["call_id"]]
    assert point.vector == pytest.approx(hashed_vector(str(sample["transcript"]), 32), abs=1e-6)
    assert point.payload == {k: v for k, v in sample.items() if k != "caller"} | {"caller": {}}

    with borrow_edge(str(qdrant_dir)) as handle, handle.lock:
        query = hashed_vector("I was charged twice and need a refund for my subscription", 32)
        nearest = handle.client.query_points(collection, query=query, limit=5).points
    assert [p.payload["topic"] for p in nearest if p.payload] == ["billing"] * 5


def test_a_missing_collection_without_create_fails_the_task_clearly(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    qdrant_dir: Path,
) -> None:
    """The task is FAILED with a trace naming the collection and collection.create."""
    topic, name = make_topic("nocoll"), f"nocoll-{unique}"
    produce(kafka.bootstrap, topic, [orjson.dumps({"vector": [1.0]})], keys=[b"k"])
    worker.create(
        name,
        qdrant_config(
            topic, qdrant_dir, **{"collection.name": "absent", "task.restart.enable": "false"}
        ),
    )
    task = worker.get(name).tasks[0]
    wait_for(lambda: task.status.state == TaskState.FAILED)
    assert "collection 'absent' does not exist and collection.create is false" in (
        task.status.trace or ""
    )
    assert committed(kafka.bootstrap, f"connect-{name}", topic) == [-1001]


def test_two_tasks_in_one_process_share_the_local_store(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    qdrant_dir: Path,
) -> None:
    """With tasks.max=2 both tasks write through one shared Qdrant Edge client."""
    topic, name = make_topic("two", partitions=4), f"two-{unique}"
    worker.create(
        name,
        qdrant_config(
            topic,
            qdrant_dir,
            **{"tasks.max": "2", "collection.create": "true", "collection.vector.size": "2"},
        ),
    )
    tasks = worker.get(name).tasks
    wait_for(lambda: all(t.metrics.partitions_assigned > 0 for t in tasks))
    produce(
        kafka.bootstrap,
        topic,
        [orjson.dumps({"vector": [float(i), 1.0]}) for i in range(400)],
        keys=[str(i).encode() for i in range(400)],
    )
    wait_for(lambda: _all_committed(kafka, name, topic, 4, 400))
    assert all(t.metrics.records_written > 0 for t in tasks), "both tasks wrote"
    assert set(_scroll(qdrant_dir, topic)) == set(range(400))


def test_named_sparse_vectors_deletes_and_payload_persist_across_a_restart(
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    qdrant_dir: Path,
) -> None:
    """Named dense + sparse vectors and payloads land in Qdrant Edge, tombstones delete,
    and after the worker stops everything is there when the store is opened again; a
    second worker on the same store resumes from the commits and adds the rest."""
    topic, name = make_topic("edge", partitions=2), f"edge-{unique}"

    def value(i: int) -> bytes:
        vector = {
            "text": [1.0, float(i), 0.5],
            "kw": {"indices": [i % 7, 100], "values": [1.0, 0.5]},
        }
        return orjson.dumps({"vector": vector, "i": i, "tenant": f"t{i % 3}"})

    config = qdrant_config(
        topic,
        qdrant_dir,
        **{
            "collection.create": "true",
            "collection.vector.size": "3",
            "vector.name": "text",
            "collection.sparse.vectors": "kw",
            "collection.distance": "dot",
        },
    )
    produce(
        kafka.bootstrap,
        topic,
        [value(i) for i in range(300)],
        keys=[str(i).encode() for i in range(300)],
    )
    produce(kafka.bootstrap, topic, [None] * 10, keys=[str(i).encode() for i in range(10)])
    first = make_worker(kafka.bootstrap)
    try:
        first.create(name, config)
        wait_for(lambda: _all_committed(kafka, name, topic, 2, 310))
    finally:
        first.shutdown()

    client = EdgeClient(str(qdrant_dir))
    try:
        found, _ = client.scroll(topic, limit=1000, with_vectors=True)
        points = {p.id: p for p in found}
        assert set(points) == set(range(10, 300))
        vector = points[42].vector
        assert isinstance(vector, dict)
        assert vector["text"] == [1.0, 42.0, 0.5]
        assert vector["kw"] == models.SparseVector(indices=[0, 100], values=[1.0, 0.5])
        assert points[42].payload == {"i": 42, "tenant": "t0"}
        params = client.get_collection(topic).config.params
        assert set(params.vectors) == {"text"} and set(params.sparse_vectors) == {"kw"}
    finally:
        client.close()

    produce(
        kafka.bootstrap,
        topic,
        [value(i) for i in range(300, 400)],
        keys=[str(i).encode() for i in range(300, 400)],
    )
    second = make_worker(kafka.bootstrap)
    try:
        second.create(name, config)
        wait_for(lambda: _all_committed(kafka, name, topic, 2, 410))
        assert sum(t.metrics.records_written for t in second.get(name).tasks) == 100
    finally:
        second.shutdown()
    assert set(_scroll(qdrant_dir, topic)) == set(range(10, 400))


def test_local_mode_stays_available_with_qdrant_embedded_local(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    qdrant_dir: Path,
) -> None:
    """qdrant.embedded=local writes through qdrant-client's local mode, as before."""
    topic, name = make_topic("local"), f"local-{unique}"
    produce(
        kafka.bootstrap,
        topic,
        [orjson.dumps({"vector": [float(i), 1.0]}) for i in range(50)],
        keys=[str(i).encode() for i in range(50)],
    )
    worker.create(
        name,
        qdrant_config(
            topic,
            qdrant_dir,
            **{
                "qdrant.embedded": "local",
                "collection.create": "true",
                "collection.vector.size": "2",
            },
        ),
    )
    wait_for(lambda: _all_committed(kafka, name, topic, 1, 50))
    with borrow_local(str(qdrant_dir)) as handle, handle.lock:
        assert handle.client.count(topic).count == 50
