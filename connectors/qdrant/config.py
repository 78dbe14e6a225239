"""``QdrantSinkConfig``: every key of the Qdrant sink, validated before a task starts.

Where to write: ``qdrant.url`` (a server, over HTTP or gRPC) or ``qdrant.path`` (an
embedded store in a directory, or ``:memory:``: Qdrant Edge by default, qdrant-client's
local mode with ``qdrant.embedded=local``). Which collection: ``collection.name``
(``${topic}`` is replaced by the record's topic) or ``collection.name.field``. Which point:
the record key, or ``point.id.field``. Which vector: ``vector.field`` in qdrant-kafka's
format, or ``embedder`` computing one from ``embedder.text.field``. What payload:
``payload.*``. Keys ``embedder.<key>`` other than ``embedder.text.field`` belong to the
chosen embedder's own config model and are checked against it here.
"""

from __future__ import annotations

import re
import uuid
from enum import StrEnum
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_core import PydanticCustomError

from offramp import CommaList, ConfigModel
from offramp.connectors.qdrant.embedding import Embedder, embedder_class, option_errors
from offramp.connectors.qdrant.fields import FieldPath
from offramp.connectors.qdrant.point_ids import DEFAULT_NAMESPACE

__all__ = ["Distance", "Embedded", "QdrantSinkConfig"]

_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_EMBEDDER_OPTIONS = "embedder.*"
_DEFAULT_VECTOR_FIELD = "vector"


class Embedded(StrEnum):
    EDGE = "edge"
    LOCAL = "local"


class Distance(StrEnum):
    COSINE = "Cosine"
    DOT = "Dot"
    EUCLID = "Euclid"
    MANHATTAN = "Manhattan"


def _problem(message: str) -> PydanticCustomError:
    return PydanticCustomError("qdrant_config", message)


class QdrantSinkConfig(ConfigModel):
    qdrant_url: str | None = Field(
        None, description="Qdrant server URL, e.g. http://localhost:6333 (or qdrant.path)"
    )
    qdrant_api_key: SecretStr | None = Field(
        None, description="API key for the server (use ${env:...} or ${file:...})"
    )
    qdrant_prefer_grpc: bool = Field(False, description="Talk gRPC to the server")
    qdrant_grpc_port: int = Field(6334, ge=1, le=65535, description="The server's gRPC port")
    qdrant_path: str | None = Field(
        None, description="Embedded store: a directory to keep the data in, or :memory:"
    )
    qdrant_embedded: Embedded = Field(
        Embedded.EDGE,
        description="Engine for qdrant.path: edge (Qdrant Edge) or local (qdrant-client's)",
    )
    qdrant_optimize_points: int = Field(
        20000,
        ge=0,
        description="Edge: build indexes once this many points are unindexed (0: never)",
    )
    qdrant_segment_max_kb: int = Field(
        32768, ge=0, description="Edge: largest segment (KB of vectors) of collections created"
    )
    qdrant_hnsw_m: int = Field(16, ge=0, description="Edge: HNSW m of collections created")
    qdrant_hnsw_ef_construct: int = Field(
        100, ge=4, description="Edge: HNSW ef_construct of collections created"
    )
    qdrant_timeout_ms: int = Field(30000, ge=1, description="Per-request timeout")
    qdrant_batch_size: int = Field(256, ge=1, description="Points per upsert request")

    collection_name: str = Field(
        "${topic}", min_length=1, description="Collection to write to; ${topic} is the topic"
    )
    collection_name_field: str | None = Field(
        None, description="Dotted path of a value field naming the collection (wins)"
    )
    collection_create: bool = Field(False, description="Create missing collections")
    collection_vector_size: int | None = Field(
        None, ge=1, description="Dense vector size for collection.create (default: embedder's)"
    )
    collection_distance: Distance = Field(
        Distance.COSINE, description="Cosine, Dot, Euclid or Manhattan (collection.create)"
    )
    collection_multivector: bool = Field(
        False, description="collection.create makes the dense vector a multi-vector (MAX_SIM)"
    )
    collection_sparse_vectors: CommaList = Field(
        default_factory=list, description="Sparse vector names collection.create adds"
    )

    point_id_field: str | None = Field(
        None, description="Dotted path of the point id in the value (default: the key)"
    )
    point_id_namespace: uuid.UUID = Field(
        DEFAULT_NAMESPACE, description="UUIDv5 namespace for ids that aren't ints or UUIDs"
    )

    vector_field: str | None = Field(
        None, description="Dotted path of the vector in qdrant-kafka's format (default: vector)"
    )
    vector_name: str = Field(
        "", description="Name of the dense vector the embedder fills / collection.create makes"
    )
    embedder: str | None = Field(
        None, description="Compute vectors with this embedder (openai, sentence-transformers...)"
    )
    embedder_text_field: str | None = Field(
        None, description="Dotted path of the text to embed, e.g. data.transcript"
    )
    embedder_options: dict[str, Any] = Field(
        default_factory=dict,
        alias=_EMBEDDER_OPTIONS,
        description="The embedder's own keys, e.g. embedder.url, embedder.model",
    )

    payload_field: str | None = Field(
        None, description="Dotted path of the object to take the payload from (default: value)"
    )
    payload_include: CommaList = Field(
        default_factory=list, description="Keep only these dotted paths"
    )
    payload_exclude: CommaList = Field(default_factory=list, description="Drop these dotted paths")
    payload_kafka_coordinates: bool = Field(
        False, description="Add _kafka: {topic, partition, offset, timestamp}"
    )

    @model_validator(mode="before")
    @classmethod
    def _gather_embedder_options(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        own = {"embedder", "embedder.text.field", "embedder_text_field", _EMBEDDER_OPTIONS}
        options = {k: v for k, v in data.items() if k.startswith("embedder.") and k not in own}
        if not options:
            return data
        rest = {k: v for k, v in data.items() if k not in options}
        rest[_EMBEDDER_OPTIONS] = {k[len("embedder.") :]: v for k, v in options.items()}
        return rest

    @field_validator(
        "collection_name_field",
        "point_id_field",
        "vector_field",
        "embedder_text_field",
        "payload_field",
    )
    @classmethod
    def _field_path(cls, value: str | None) -> str | None:
        if value is not None:
            FieldPath(value)  # raises with the reason
        return value

    @field_validator("payload_include", "payload_exclude")
    @classmethod
    def _field_paths(cls, value: list[str]) -> list[str]:
        for path in value:
            FieldPath(path)
        return value

    @field_validator("collection_name")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        for name in _PLACEHOLDER.findall(value):
            if name != "topic":
                raise ValueError(f"${{{name}}} is not known; only ${{topic}} is replaced")
        return value

    @field_validator("qdrant_embedded", mode="before")
    @classmethod
    def _embedded_any_case(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("collection_distance", mode="before")
    @classmethod
    def _distance_any_case(cls, value: Any) -> Any:
        if isinstance(value, str):
            for distance in Distance:
                if value.strip().lower() == distance.value.lower():
                    return distance
        return value

    @model_validator(mode="after")
    def _consistent(self) -> QdrantSinkConfig:
        if (self.qdrant_url is None) == (self.qdrant_path is None):
            raise _problem(
                "set exactly one of qdrant.url (a Qdrant server) and qdrant.path "
                "(an embedded store: a directory, or :memory:)"
            )
        if self.qdrant_prefer_grpc and self.qdrant_url is None:
            raise _problem("qdrant.prefer.grpc needs qdrant.url (an embedded store has no gRPC)")
        if self.qdrant_api_key is not None and self.qdrant_url is None:
            raise _problem("qdrant.api.key needs qdrant.url (an embedded store has no credentials)")
        if "qdrant_embedded" in self.model_fields_set and self.qdrant_url is not None:
            raise _problem("qdrant.embedded needs qdrant.path (it picks the embedded engine)")
        if self.embedder is None:
            if self.embedder_text_field or self.embedder_options:
                keys = ["embedder.text.field"] if self.embedder_text_field else []
                keys += [f"embedder.{k}" for k in self.embedder_options]
                raise _problem(f"{', '.join(keys)} set but no embedder is chosen (embedder)")
            if (
                self.collection_create
                and self.collection_vector_size is None
                and not self.collection_sparse_vectors
            ):
                raise _problem(
                    "collection.create needs collection.vector.size when vectors come "
                    "from vector.field (or list only collection.sparse.vectors)"
                )
        else:
            try:
                cls = embedder_class(self.embedder)
            except ValueError as exc:
                raise _problem(f"embedder: {exc}") from None
            if self.vector_field is not None:
                raise _problem("set either vector.field or embedder, not both")
            if not self.embedder_text_field:
                raise _problem("embedder needs embedder.text.field: the text to embed")
            errors = option_errors(cls, self.embedder_options)
            if errors:
                raise _problem("; ".join(errors))
        return self

    # ----- derived, for the writer ---------------------------------------------------

    @property
    def vector_path(self) -> str:
        return self.vector_field or _DEFAULT_VECTOR_FIELD

    @property
    def location(self) -> str:
        """Where the points go, for messages."""
        if self.qdrant_url is not None:
            return f"Qdrant at {self.qdrant_url}" + (" (gRPC)" if self.qdrant_prefer_grpc else "")
        if self.qdrant_embedded is Embedded.LOCAL:
            return f"local-mode Qdrant at {self.qdrant_path}"
        return f"Qdrant Edge at {self.qdrant_path}"

    def build_embedder(self) -> Embedder[Any] | None:
        if self.embedder is None:
            return None
        return embedder_class(self.embedder).from_options(self.embedder_options)
