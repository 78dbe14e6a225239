"""``HashEmbedder``: deterministic vectors from word hashing, in-process. A stub for tests.

Each word of the text is hashed (blake2b, so the same in every process) to one of
``dimension`` buckets with a sign; the counts are L2-normalised. Texts that share words
get close vectors, so similarity search gives sensible answers on sample data, with no
model and no service. The stand-in embeddings server (devstack) returns the same vectors.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections.abc import Sequence

from pydantic import Field

from offramp.connectors.qdrant.embedding import Embedder, EmbedderConfig

__all__ = ["HashEmbedder", "HashEmbedderConfig", "hashed_vector"]

_WORD = re.compile(r"[a-z0-9]+")


def hashed_vector(text: str, dimension: int) -> list[float]:
    """A unit vector for ``text``: a signed bag of hashed words."""
    vector = [0.0] * dimension
    for word in _WORD.findall(text.lower()):
        digest = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
        vector[digest % dimension] += 1.0 if (digest >> 63) & 1 else -1.0
    norm = math.sqrt(sum(x * x for x in vector))
    if norm == 0.0:  # no words: a fixed pseudo-random direction for this exact text
        seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
        rng = random.Random(seed)
        vector = [rng.gauss(0.0, 1.0) for _ in range(dimension)]
        norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector]


class HashEmbedderConfig(EmbedderConfig):
    dimension: int = Field(64, ge=2, le=65536, description="Size of the vectors")


class HashEmbedder(Embedder[HashEmbedderConfig]):
    """Word-hashing vectors computed in-process (tests and examples; not a real model)."""

    config_model = HashEmbedderConfig

    @property
    def dimension(self) -> int:
        return self.config.dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [hashed_vector(text, self.config.dimension) for text in texts]
