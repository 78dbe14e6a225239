"""The demo's vector search section: transcripts embedded by the stand-in embeddings
server into an embedded Qdrant collection (Qdrant Edge, the default for ``qdrant.path``;
``configs/connectors/embeddings-qdrant.json``), then a similarity query for the calls
nearest a question.

The worker holds the store's lock on ``var/demo/qdrant`` while it runs (one process per
path), and the demo asks for its report before stopping it. So neither step opens the
store in place: ``ready`` asks Kafka instead (the sink commits an offset only after its
points are written, and with Edge only after flushing them, so all offsets committed
means every point is on disk), and ``report`` copies the store (for local mode sqlite's
backup API gives a consistent copy of a database in use) and opens the copy for the query.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition
from qdrant_client import QdrantClient

from devstack.demo_base import DemoContext
from devstack.embeddings_server import EmbeddingsServer
from offramp.connectors.qdrant.edge import COLLECTIONS, LOCK_FILE, EdgeClient
from offramp.connectors.qdrant.openai_embedder import OpenAIEmbedder

CONNECTOR = "calls-qdrant"
COLLECTION = "calls"
DIMENSION = 64
QUESTION = "I was charged twice this month, can I get my money back?"


def snapshot(store: Path, into: Path) -> None:
    """A copy of an embedded store that another process holds: consistent for local mode
    while it is written, and for Edge once what it wrote is committed (flushed)."""
    for source in store.rglob("*"):
        target = into / source.relative_to(store)
        if source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif source.name in (".lock", LOCK_FILE):
            continue  # the lock belongs to the live store, not to the copy
        elif source.suffix == ".sqlite":
            target.parent.mkdir(parents=True, exist_ok=True)
            src, dst = sqlite3.connect(source), sqlite3.connect(target)
            try:
                src.backup(dst)
            finally:
                src.close()
                dst.close()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


class QdrantSection:
    title = "vector search in Qdrant Edge (configs/connectors/embeddings-qdrant.json)"

    def __init__(self) -> None:
        self.server: EmbeddingsServer | None = None

    def _store(self, ctx: DemoContext) -> Path:
        return ctx.workdir / "qdrant"  # the config's qdrant.path, var/demo/qdrant

    def setup(self, ctx: DemoContext) -> None:
        shutil.rmtree(self._store(ctx), ignore_errors=True)
        self.server = EmbeddingsServer(dimension=DIMENSION).start()
        ctx.env["DEMO_EMBEDDINGS_URL"] = self.server.url

    def ready(self, ctx: DemoContext) -> bool:
        if not ctx.events:
            return False
        consumer = Consumer(
            {"bootstrap.servers": ctx.bootstrap, "group.id": f"connect-{CONNECTOR}"}
        )
        try:
            offsets = consumer.committed([TopicPartition("calls", p) for p in range(6)], 10)
        except KafkaException:
            return False  # the group coordinator isn't ready yet
        finally:
            consumer.close()
        return sum(max(0, tp.offset) for tp in offsets) >= len(ctx.events)

    def report(self, ctx: DemoContext) -> str:
        assert self.server is not None
        query = OpenAIEmbedder.from_options({"url": self.server.url, "model": "demo"})
        try:
            vector = query.embed([QUESTION])[0]
        finally:
            query.close()
        with tempfile.TemporaryDirectory(prefix="qdrant-snapshot-") as copy:
            snapshot(self._store(ctx), Path(copy))
            edge = (Path(copy) / COLLECTIONS).is_dir()
            client: Any = EdgeClient(copy) if edge else QdrantClient(path=copy)
            try:
                count = client.count(COLLECTION).count
                nearest = client.query_points(COLLECTION, query=vector, limit=3).points
            finally:
                client.close()
        calls = {str(e.data["call_id"]) for e in ctx.completed}
        lines = [
            f"{count} points in collection {COLLECTION!r} for {len(calls)} completed calls "
            f"({DIMENSION}-dim vectors; the stand-in embedder answered {self.server.requests} "
            f"requests for {self.server.texts} texts: a batch embeds each distinct transcript "
            "once); caller emails left out of the payload",
            f"nearest calls to {QUESTION!r}:",
        ]
        for point in nearest:
            p = point.payload or {}
            lines.append(
                f"  {point.score:.3f}  call {str(point.id)[:8]}  {p.get('topic', '?'):<9}"
                f"tenant={p.get('tenant', '?'):<9} {str(p.get('transcript', ''))[:56]}..."
            )
        return "\n".join(lines)

    def teardown(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
