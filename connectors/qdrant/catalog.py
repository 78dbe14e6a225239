"""Collections the writer has seen: present (created if allowed), and what vectors they take.

The first record for a collection costs one lookup (and, with ``collection.create``, one
create); after that its ``VectorSchema`` is cached so vectors are checked client-side.
A collection that vanishes later is forgotten and looked up again on the retry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qdrant_client import models

from offramp import FatalError, RetriableError
from offramp.connectors.qdrant.clients import ClientHandle
from offramp.connectors.qdrant.config import QdrantSinkConfig
from offramp.connectors.qdrant.outcomes import Verdict, classify
from offramp.connectors.qdrant.vectors import VectorSchema

__all__ = ["CollectionCatalog", "raise_for"]


def raise_for(exc: BaseException, doing: str, where: str) -> RetriableError | FatalError:
    """The runtime error for a failed Qdrant call that isn't about one point."""
    outcome = classify(exc)
    message = f"{where}: {doing} failed: {outcome.message}"
    if outcome.verdict is Verdict.RETRY:
        return RetriableError(message, outcome.retry_after)
    return FatalError(message)


class CollectionCatalog:
    def __init__(
        self,
        handle: ClientHandle,
        config: QdrantSinkConfig,
        embedder_dimension: Callable[[], int] | None,
    ) -> None:
        self.handle = handle
        self.config = config
        self._embedder_dimension = embedder_dimension
        self._schemas: dict[str, VectorSchema] = {}

    def schema(self, name: str) -> VectorSchema:
        """The vectors collection ``name`` takes; creates it if missing and allowed, else
        raises ``FatalError`` saying so."""
        schema = self._schemas.get(name)
        if schema is None:
            schema = self._schemas[name] = self._load(name)
        return schema

    def forget(self, name: str) -> None:
        self._schemas.pop(name, None)

    def _load(self, name: str) -> VectorSchema:
        where = self.config.location
        client = self.handle.client
        try:
            with self.handle.lock:
                exists = client.collection_exists(name)
        except Exception as exc:
            raise raise_for(exc, f"looking up collection {name!r}", where) from exc
        if not exists:
            if not self.config.collection_create:
                raise FatalError(
                    f"{where}: collection {name!r} does not exist and collection.create is "
                    "false (create it, or set collection.create=true with its vector size)"
                )
            self._create(name)
        try:
            with self.handle.lock:
                info = client.get_collection(name)
        except Exception as exc:
            raise raise_for(exc, f"reading collection {name!r}", where) from exc
        return VectorSchema.of(info.config.params)

    def _vectors_config(self) -> Any:
        c = self.config
        size = c.collection_vector_size
        if size is None and self._embedder_dimension is not None:
            size = self._embedder_dimension()
        if size is None:
            return {}  # sparse vectors only
        params = models.VectorParams(
            size=size,
            distance=models.Distance(c.collection_distance.value),
            multivector_config=(
                models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM)
                if c.collection_multivector
                else None
            ),
        )
        return {c.vector_name: params} if c.vector_name else params

    def _create(self, name: str) -> None:
        sparse = {n: models.SparseVectorParams() for n in self.config.collection_sparse_vectors}
        vectors = self._vectors_config()
        try:
            with self.handle.lock:
                self.handle.client.create_collection(
                    name, vectors_config=vectors, sparse_vectors_config=sparse or None
                )
        except Exception as exc:
            if classify(exc).verdict is Verdict.EXISTS:
                return  # another task created it first: fine
            raise raise_for(exc, f"creating collection {name!r}", self.config.location) from exc
