"""Between qdrant-client's models and Qdrant Edge's types: ids, vectors, records,
collection parameters, errors, and the config a shard is created with. ``edge.EdgeClient``
speaks qdrant-client's calls with these."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import qdrant_edge as qe
from qdrant_client import models

if TYPE_CHECKING:
    from offramp.connectors.qdrant.edge import EdgeTuning

__all__ = [
    "client_vector",
    "config_of",
    "edge_error",
    "edge_record",
    "edge_vector",
    "params_from_json",
    "point_id",
    "shard_config",
]

_DISTANCE = {
    models.Distance.COSINE: qe.Distance.Cosine,
    models.Distance.DOT: qe.Distance.Dot,
    models.Distance.EUCLID: qe.Distance.Euclid,
    models.Distance.MANHATTAN: qe.Distance.Manhattan,
}
_DISTANCE_BACK = {"Cosine": "Cosine", "Dot": "Dot", "Euclid": "Euclid", "Manhattan": "Manhattan"}


def edge_error(exc: BaseException, doing: str) -> Exception:
    """An Edge exception as the kind ``outcomes.classify`` understands."""
    text = str(exc)
    if isinstance(exc, TypeError | OverflowError):
        return ValueError(f"Wrong input: {text}")
    if "Service runtime error" in text or "WAL" in text or "No such file" in text:
        return RuntimeError(f"Qdrant Edge: {doing}: {text}")
    return ValueError(text if text.startswith("Wrong input") else f"Wrong input: {text}")


def point_id(value: Any) -> int | str:
    return str(value) if isinstance(value, uuid.UUID) else int(value)


def edge_vector(vector: Any) -> Any:
    if isinstance(vector, dict):
        out: dict[str, Any] = {}
        for name, one in vector.items():
            if isinstance(one, models.SparseVector):
                out[name] = qe.SparseVector(one.indices, one.values)
            else:
                out[name] = one
        return out
    return vector


def client_vector(vector: Any) -> Any:
    if isinstance(vector, dict):
        out: dict[str, Any] = {}
        for name, one in vector.items():
            if isinstance(one, qe.SparseVector):
                out[name] = models.SparseVector(indices=one.indices, values=one.values)
            else:
                out[name] = one
        # A collection with only the unnamed dense vector reads back as a plain list.
        return out[""] if set(out) == {""} else out
    return vector


def edge_record(found: Any, with_vectors: bool) -> models.Record:
    return models.Record.model_construct(
        id=point_id(found.id),
        payload=found.payload,
        vector=client_vector(found.vector) if with_vectors else None,
        shard_key=None,
        order_value=None,
    )


def params_from_json(raw: Mapping[str, Any]) -> models.CollectionParams:
    vectors: dict[str, models.VectorParams] = {}
    for name, v in (raw.get("vectors") or {}).items():
        multi = v.get("multivector_config")
        vectors[name] = models.VectorParams(
            size=int(v["size"]),
            distance=models.Distance(_DISTANCE_BACK[str(v["distance"])]),
            multivector_config=(
                models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM)
                if multi
                else None
            ),
        )
    sparse = {n: models.SparseVectorParams() for n in raw.get("sparse_vectors") or {}}
    dense: Any = vectors[""] if set(vectors) == {""} else vectors
    return models.CollectionParams(vectors=dense, sparse_vectors=sparse or None)


def config_of(params: models.CollectionParams) -> Any:
    build: Any = models.CollectionConfig.model_construct  # only .params is read
    return build(params=params)


def shard_config(
    named: Mapping[str, models.VectorParams],
    sparse_vectors: Mapping[str, models.SparseVectorParams] | None,
    tuning: EdgeTuning,
) -> Any:
    """The ``EdgeConfig`` of a new shard: its dense (``named``; ``""`` the unnamed one)
    and sparse vectors, HNSW parameters and largest segment from ``tuning``."""
    dense = {
        name: qe.EdgeVectorParams(
            size=vp.size,
            distance=_DISTANCE[vp.distance],
            multivector_config=(
                qe.MultiVectorConfig(qe.MultiVectorComparator.MaxSim)
                if vp.multivector_config is not None
                else None
            ),
        )
        for name, vp in named.items()
    }
    sparse = {n: qe.EdgeSparseVectorParams() for n in sparse_vectors or {}}
    return qe.EdgeConfig(
        vectors=dense or None,
        sparse_vectors=sparse or None,
        hnsw_config=qe.HnswIndexConfig(
            m=tuning.m, ef_construct=tuning.ef_construct, full_scan_threshold=10_000
        ),
        optimizers=(
            qe.EdgeOptimizersConfig(max_segment_size=tuning.max_segment_kb)
            if tuning.max_segment_kb
            else None
        ),
    )
