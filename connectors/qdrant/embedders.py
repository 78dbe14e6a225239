"""The embedders the Qdrant sink can use, and the API for writing more.

This is the module plug-in authors import from and the entry points name::

    from offramp.connectors.qdrant.embedders import Embedder, EmbedderConfig

Built in: ``openai`` (any OpenAI-compatible ``/v1/embeddings`` endpoint) and
``sentence-transformers`` (a local model; the ``embeddings`` extra). ``HashEmbedder`` is
a deterministic stub for tests, registered with ``register_embedder`` where needed.
"""

from __future__ import annotations

from offramp.connectors.qdrant.embedding import (
    ENTRY_POINT_GROUP,
    Embedder,
    EmbedderConfig,
    embedder_class,
    embedder_names,
    option_errors,
    register_embedder,
)
from offramp.connectors.qdrant.hash_embedder import HashEmbedder, HashEmbedderConfig, hashed_vector
from offramp.connectors.qdrant.openai_embedder import OpenAIEmbedder, OpenAIEmbedderConfig
from offramp.connectors.qdrant.sentence_transformer_embedder import (
    SentenceTransformerEmbedder,
    SentenceTransformerEmbedderConfig,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "Embedder",
    "EmbedderConfig",
    "HashEmbedder",
    "HashEmbedderConfig",
    "OpenAIEmbedder",
    "OpenAIEmbedderConfig",
    "SentenceTransformerEmbedder",
    "SentenceTransformerEmbedderConfig",
    "embedder_class",
    "embedder_names",
    "hashed_vector",
    "option_errors",
    "register_embedder",
]
