"""The ``qdrant`` connector end to end: real broker, real worker, qdrant-client local mode."""

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
from offramp.connectors.qdrant.clients import borrow_local
from offramp.connectors.qdrant.embedders import hashed_vector
from offramp.connectors.qdrant.point_ids import DEFAULT_NAMESPACE
from offramp.task import TaskState
from offramp.testing import read_dead_letters
from offramp.worker import Worker
from tests.conftest import produce, wait_for
from tests.integration.qdrant.support import qdrant_config
from tests.integration.runtime_support import ONLY_COMPLETED, committed, dead_letters_to


def _all_committed(kafka: KafkaBroker, name: str, topic: str, partitions: int, total: int) -> bool:
    """Every record handled: the sink commits only what it wrote (or dead-lettered)."""
    try:
        offsets = committed(kafka.bootstrap, f"connect-{name}", topic, partitions)
    except KafkaException:  # the group coordinator is still loading: ask again
        return False
    return sum(max(0, o) for o in offsets) == total


def _scroll(path: Path, collection: str) -> dict[Any, models.Record]:
    with borrow_local(str(path)) as handle, handle.lock:
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

    with borrow_local(str(qdrant_dir)) as handle, handle.lock:
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
    """With tasks.max=2 both tasks write through one shared local-mode client."""
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
