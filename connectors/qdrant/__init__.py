"""``qdrant``: the vector database sink.

One point per record, upserted into a Qdrant collection (a server over HTTP or gRPC, or
an embedded store: Qdrant Edge by default, qdrant-client's local mode on request),
idempotently: point ids are a pure function of the record. Vectors come from the record
in qdrant-kafka's message format, or from a pluggable embedder
(``offramp.connectors.qdrant.embedders``) that turns a text field into one. A tombstone
deletes the point its key names. See docs/connectors/qdrant.md.

Modules: ``config`` (keys), ``fields`` (dotted paths), ``point_ids``, ``vectors``
(parsing and per-collection checks), ``payload``, ``embedding`` (the embedder API) with
``openai_embedder``/``sentence_transformer_embedder``/``hash_embedder`` (re-exported by
``embedders``), ``edge`` (Qdrant Edge behind qdrant-client's calls) with ``edge_types`` (between the
two libraries' types) and ``edge_optimizer`` (its optimizers in a child process), ``clients``
(embedded-store sharing), ``outcomes`` (what an error means), ``catalog`` (collections),
``writer`` and ``connector``.
"""

from offramp.connectors.qdrant.config import QdrantSinkConfig
from offramp.connectors.qdrant.connector import QdrantSinkConnector
from offramp.connectors.qdrant.embedding import Embedder, EmbedderConfig, register_embedder
from offramp.connectors.qdrant.writer import QdrantWriter

__all__ = [
    "Embedder",
    "EmbedderConfig",
    "QdrantSinkConfig",
    "QdrantSinkConnector",
    "QdrantWriter",
    "register_embedder",
]
