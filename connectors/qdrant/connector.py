"""``QdrantSinkConnector``: the plug-in the runtime loads for ``"connector.class": "qdrant"``."""

from __future__ import annotations

from offramp import BatchWriter, FatalError, OfframpError, SinkConnector, TaskContext
from offramp.connectors.qdrant.catalog import raise_for
from offramp.connectors.qdrant.clients import open_client
from offramp.connectors.qdrant.config import QdrantSinkConfig
from offramp.connectors.qdrant.edge import EdgeClient
from offramp.connectors.qdrant.vectors import VectorSchema
from offramp.connectors.qdrant.writer import QdrantWriter

__all__ = ["QdrantSinkConnector"]


def _describe(schema: VectorSchema) -> str:
    parts = [f"{n or 'unnamed'}: {size}-dim" for n, size in schema.dense.items()]
    parts += [f"{n or 'unnamed'}: {size}-dim multi-vector" for n, size in schema.multi.items()]
    parts += [f"{n}: sparse" for n in sorted(schema.sparse)]
    return ", ".join(parts) or "no vectors"


class QdrantSinkConnector(SinkConnector[QdrantSinkConfig]):
    """Upserts points into Qdrant: vectors from the record or from an embedder."""

    config_model = QdrantSinkConfig
    description = "Upserts points (vector + payload) into Qdrant collections, idempotently"

    def check(self, config: QdrantSinkConfig) -> str:
        handle = open_client(config, "check")
        where = config.location
        try:
            found = [f"reached {where}"]
            with handle.lock:
                try:
                    client = handle.client
                    if not handle.local and not isinstance(client, EdgeClient):
                        found[0] += f" (version {client.info().version})"
                    names = sorted(c.name for c in handle.client.get_collections().collections)
                    static = "${topic}" not in config.collection_name and (
                        config.collection_name_field is None
                    )
                    info = (
                        handle.client.get_collection(config.collection_name)
                        if static and config.collection_name in names
                        else None
                    )
                except Exception as exc:
                    raise raise_for(exc, "listing collections", where) from exc
            found.append(f"{len(names)} collection(s)")
            if info is not None:
                schema = VectorSchema.of(info.config.params)
                found.append(
                    f"collection {config.collection_name!r} has {info.points_count or 0} points "
                    f"({_describe(schema)})"
                )
            elif static:
                if not config.collection_create:
                    raise FatalError(
                        f"{where}: collection {config.collection_name!r} does not exist and "
                        "collection.create is false"
                    )
                found.append(f"collection {config.collection_name!r} will be created")
        finally:
            handle.release()
        embedder = config.build_embedder()
        if embedder is not None:
            try:
                found.append(f"embedder {config.embedder} gives {embedder.dimension}-dim vectors")
            except OfframpError as exc:
                raise FatalError(f"embedder {config.embedder} failed: {exc}") from exc
            finally:
                embedder.close()
        return "; ".join(found)

    def create_writer(self, config: QdrantSinkConfig, context: TaskContext) -> BatchWriter:
        return QdrantWriter(config, context)
