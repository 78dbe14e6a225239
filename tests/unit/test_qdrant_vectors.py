"""Vectors in qdrant-kafka's format are parsed strictly and checked against collections."""

from __future__ import annotations

from typing import Any

import pytest
from qdrant_client import models

from offramp.connectors.qdrant.vectors import VectorError, VectorSchema, parse_vector


def test_integers_and_json_booleans_count_as_numbers() -> None:
    """Ints are numbers; booleans pass as 0/1 (a server refuses them, and then the record
    is dead-lettered with its message), so the common case stays one C-speed pass."""
    assert parse_vector([1, 0.5, True]) == [1, 0.5, True]


def test_every_qdrant_kafka_shape_parses() -> None:
    """Unnamed dense, named dense, sparse, named and unnamed multi-vectors are accepted."""
    assert parse_vector([0.1, 2, -3.5]) == [0.1, 2, -3.5]
    assert parse_vector([[1.0, 2.0], [3.0, 4.0]]) == [[1.0, 2.0], [3.0, 4.0]]
    named = parse_vector(
        {
            "text": [0.1, 0.2],
            "keywords": {"indices": [3, 9], "values": [0.5, 0.25]},
            "colbert": [[1.0, 0.0], [0.0, 1.0]],
        }
    )
    assert isinstance(named, dict)
    assert named["text"] == [0.1, 0.2]
    sparse = named["keywords"]
    assert isinstance(sparse, models.SparseVector)
    assert (sparse.indices, sparse.values) == ([3, 9], [0.5, 0.25])
    assert named["colbert"] == [[1.0, 0.0], [0.0, 1.0]]


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("0.1,0.2", "a string"),
        ([], "empty"),
        ([0.1, "0.2"], "a string at position 1"),
        ([0.1, float("nan")], "not finite"),
        ([0.1, None], "null at position 1"),
        ([[1.0, 2.0], [3.0]], "rows of different sizes"),
        ([[1.0], 2.0], "a number at row 1"),
        ({}, "names no vectors"),
        ({"indices": [1], "values": [0.5]}, "needs a name"),
        ({"s": {"indices": [1, 2], "values": [0.5]}}, "2 indices but 1 values"),
        ({"s": {"indices": [1, 1], "values": [0.5, 0.5]}}, "repeats an index"),
        ({"s": {"indices": [-1], "values": [0.5]}}, "unsigned 32-bit"),
        ({"s": {"indices": [1], "values": [0.5], "x": 1}}, "must be"),
        ({"v": "nope"}, "expected a list of numbers"),
    ],
)
def test_malformed_vectors_are_refused_with_the_reason(raw: Any, says: str) -> None:
    """Each malformed shape gets a VectorError saying what is wrong and where."""
    with pytest.raises(VectorError, match=says):
        parse_vector(raw)


def _schema() -> VectorSchema:
    params = models.CollectionParams(
        vectors={
            "text": models.VectorParams(size=3, distance=models.Distance.COSINE),
            "colbert": models.VectorParams(
                size=2,
                distance=models.Distance.DOT,
                multivector_config=models.MultiVectorConfig(
                    comparator=models.MultiVectorComparator.MAX_SIM
                ),
            ),
        },
        sparse_vectors={"keywords": models.SparseVectorParams()},
    )
    return VectorSchema.of(params)


def test_schema_reads_dense_multi_and_sparse_vectors_of_a_collection() -> None:
    """A collection's params become sizes by name and sparse names."""
    schema = _schema()
    assert schema.dense == {"text": 3}
    assert schema.multi == {"colbert": 2}
    assert schema.sparse == {"keywords"}
    unnamed = VectorSchema.of(
        models.CollectionParams(vectors=models.VectorParams(size=4, distance="Cosine"))
    )
    assert unnamed.dense == {"": 4}


def test_schema_accepts_vectors_that_fit() -> None:
    """Right names, kinds and sizes pass the client-side check."""
    _schema().check(
        parse_vector(
            {
                "text": [1.0, 2.0, 3.0],
                "colbert": [[1.0, 2.0]],
                "keywords": {"indices": [1], "values": [1.0]},
            }
        )
    )


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ({"text": [1.0, 2.0]}, "expected dim: 3, got 2 for vector 'text'"),
        ({"colbert": [[1.0, 2.0, 3.0]]}, "expected dim: 2, got 3"),
        ({"colbert": [1.0, 2.0]}, "must be a multi-vector"),
        ({"text": [[1.0, 2.0, 3.0]]}, "must be a dense vector"),
        ({"image": [1.0]}, "Not existing vector name error: image"),
        ({"text": {"indices": [1], "values": [1.0]}}, "is sparse but"),
        ({"keywords": [1.0]}, "must be sparse"),
        ([1.0, 2.0, 3.0], "only named vectors"),
    ],
)
def test_schema_refuses_what_qdrant_would_refuse(raw: Any, says: str) -> None:
    """Wrong sizes, kinds and names get Qdrant-style messages before anything is sent."""
    with pytest.raises(VectorError, match=says):
        _schema().check(parse_vector(raw))
