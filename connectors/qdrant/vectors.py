"""Vectors in qdrant-kafka's message format, and what a collection will accept.

A record's vector field holds one of (the shapes Qdrant's own Kafka sink reads):

- an unnamed dense vector: ``[0.1, 0.2, ...]``;
- named vectors: ``{"text": [...], "image": [...]}``, where each value is a dense
  vector, a sparse vector ``{"indices": [1, 7], "values": [0.5, 0.2]}`` or a
  multi-vector ``[[...], [...]]``;
- an unnamed multi-vector ``[[...], [...]]`` (for a collection whose unnamed vector is
  a multi-vector).

``parse_vector`` checks the shape and the numbers (``VectorError`` names what is wrong);
``VectorSchema`` checks names, kinds and sizes against the collection before anything is
sent, so one bad record is dead-lettered alone instead of failing a whole upsert.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from qdrant_client import models

from offramp.connectors.qdrant.fields import describe

__all__ = ["VectorError", "VectorSchema", "VectorStruct", "parse_vector", "size_of"]

Dense = list[float]
Multi = list[list[float]]
VectorStruct = Dense | Multi | dict[str, Dense | Multi | models.SparseVector]


class VectorError(ValueError):
    """A vector is malformed, or doesn't fit the collection."""


def _is_number(x: Any) -> bool:
    return (type(x) is float and math.isfinite(x)) or type(x) is int


def _dense(raw: list[Any], name: str) -> Dense:
    if not raw:
        raise VectorError(f"vector {name!r} is empty")
    # The common case in one C-speed pass: sum() refuses strings, nulls, lists and
    # objects, and a finite sum rules out NaN and infinity. (JSON booleans add up as 0
    # and 1: local mode stores them so, a server refuses them and the record is then
    # dead-lettered with the server's message.) The slow pass only says what is wrong.
    try:
        if math.isfinite(sum(raw)):
            return raw
    except TypeError:
        pass
    for i, x in enumerate(raw):
        if not (_is_number(x) or type(x) is bool):
            what = "a value that is not finite" if isinstance(x, float) else describe(x)
            raise VectorError(f"vector {name!r} has {what} at position {i}; numbers only")
    return raw  # finite numbers whose sum overflows: still valid


def _multi(raw: list[Any], name: str) -> Multi:
    width = len(raw[0])
    for i, row in enumerate(raw):
        if not isinstance(row, list):
            raise VectorError(f"multi-vector {name!r} has {describe(row)} at row {i}")
        _dense(row, f"{name}[{i}]")
        if len(row) != width:
            raise VectorError(
                f"multi-vector {name!r} has rows of different sizes ({width} and {len(row)} "
                f"at row {i})"
            )
    return raw


def _sparse(raw: Mapping[str, Any], name: str) -> models.SparseVector:
    extra = set(raw) - {"indices", "values"}
    if extra or "indices" not in raw or "values" not in raw:
        raise VectorError(
            f"sparse vector {name!r} must be {{'indices': [...], 'values': [...]}}, "
            f"got keys {sorted(raw)}"
        )
    indices, values = raw["indices"], raw["values"]
    if not isinstance(indices, list) or not isinstance(values, list):
        raise VectorError(f"sparse vector {name!r}: indices and values must be lists")
    if len(indices) != len(values):
        raise VectorError(
            f"sparse vector {name!r} has {len(indices)} indices but {len(values)} values"
        )
    for i in indices:
        if type(i) is not int or not 0 <= i < 2**32:
            raise VectorError(
                f"sparse vector {name!r} has index {i!r}; indices are unsigned 32-bit integers"
            )
    if len(set(indices)) != len(indices):
        raise VectorError(f"sparse vector {name!r} repeats an index")
    if not all(map(_is_number, values)):
        raise VectorError(f"sparse vector {name!r} has a value that is not a finite number")
    return models.SparseVector.model_construct(indices=indices, values=values)


def _one(raw: Any, name: str) -> Dense | Multi | models.SparseVector:
    if isinstance(raw, list):
        if raw and isinstance(raw[0], list):
            return _multi(raw, name)
        return _dense(raw, name)
    if isinstance(raw, Mapping):
        return _sparse(raw, name)
    raise VectorError(
        f"vector {name!r} is {describe(raw)}; expected a list of numbers, a list of lists "
        "(multi-vector) or {'indices', 'values'} (sparse)"
    )


def parse_vector(raw: Any) -> VectorStruct:
    """A vector struct for Qdrant from a field in qdrant-kafka's format."""
    if isinstance(raw, list):
        if raw and isinstance(raw[0], list):
            return _multi(raw, "")
        return _dense(raw, "")
    if isinstance(raw, Mapping):
        if not raw:
            raise VectorError("the vector object names no vectors")
        if set(raw) == {"indices", "values"}:
            raise VectorError(
                "a sparse vector needs a name: {'<name>': {'indices': [...], 'values': [...]}}"
            )
        named: dict[str, Dense | Multi | models.SparseVector] = {}
        for name, value in raw.items():
            named[str(name)] = _one(value, str(name))
        return named
    raise VectorError(
        f"the vector is {describe(raw)}; expected a list of numbers or an object of named vectors"
    )


def size_of(vector: Dense | Multi) -> int:
    """The dimension of a dense vector, or of each row of a multi-vector."""
    return len(vector[0]) if vector and isinstance(vector[0], list) else len(vector)


@dataclass(frozen=True)
class VectorSchema:
    """The vectors a collection has: dense and multi-vector sizes by name ("" is the
    unnamed vector), and sparse vector names."""

    dense: Mapping[str, int] = field(default_factory=dict)
    multi: Mapping[str, int] = field(default_factory=dict)
    sparse: frozenset[str] = frozenset()

    @classmethod
    def of(cls, params: models.CollectionParams) -> VectorSchema:
        dense: dict[str, int] = {}
        multi: dict[str, int] = {}
        vectors = params.vectors
        named: Mapping[str, models.VectorParams] = (
            {"": vectors} if isinstance(vectors, models.VectorParams) else (vectors or {})
        )
        for name, vp in named.items():
            (multi if vp.multivector_config is not None else dense)[name] = vp.size
        return cls(dense, multi, frozenset(params.sparse_vectors or {}))

    def _names(self) -> str:
        names = sorted({*self.dense, *self.multi, *self.sparse} - {""})
        return ", ".join(repr(n) for n in names) or "none"

    def _check_one(self, name: str, vector: Dense | Multi | models.SparseVector) -> None:
        label = f"vector {name!r}" if name else "the unnamed vector"
        if isinstance(vector, models.SparseVector):
            if name not in self.sparse:
                raise VectorError(
                    f"Wrong input: {label} is sparse but the collection has no sparse vector "
                    f"by that name (named vectors: {self._names()})"
                )
            return
        is_multi = bool(vector) and isinstance(vector[0], list)
        if name in self.multi:
            expected = self.multi[name]
            if not is_multi:
                raise VectorError(f"Wrong input: {label} must be a multi-vector (a list of lists)")
        elif name in self.dense:
            expected = self.dense[name]
            if is_multi:
                raise VectorError(
                    f"Wrong input: {label} must be a dense vector, not a list of lists"
                )
        elif name in self.sparse:
            raise VectorError(f"Wrong input: {label} must be sparse {{'indices', 'values'}}")
        elif name:
            raise VectorError(
                f"Wrong input: Not existing vector name error: {name} "
                f"(the collection's named vectors: {self._names()})"
            )
        else:
            raise VectorError(
                "Wrong input: the collection has only named vectors "
                f"({self._names()}); give {{'<name>': [...]}}"
            )
        got = size_of(vector)
        if got != expected:
            raise VectorError(
                f"Wrong input: Vector dimension error: expected dim: {expected}, got {got}"
                + (f" for vector {name!r}" if name else "")
            )

    def check(self, vector: VectorStruct) -> None:
        """Raise ``VectorError`` with a Qdrant-style message if the collection would refuse it."""
        if isinstance(vector, dict):
            for name, one in vector.items():
                self._check_one(name, one)
        else:
            self._check_one("", vector)
