"""Connector configs for the ``qdrant`` tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.integration.runtime_support import sink_config

# Keeps call.completed CloudEvents only, as the demo's configs do.
ONLY_COMPLETED = {
    "transforms": "onlyCompleted",
    "transforms.onlyCompleted.type": "org.apache.kafka.connect.transforms.Filter",
    "transforms.onlyCompleted.predicate": "isCompleted",
    "transforms.onlyCompleted.negate": "true",
    "predicates": "isCompleted",
    "predicates.isCompleted.type": "dev.offramp.transforms.predicates.HeaderValueMatches",
    "predicates.isCompleted.header.name": "ce-type",
    "predicates.isCompleted.pattern": "com\\.example\\.call\\.completed\\.v1",
}


def qdrant_config(topic: str, path: Path, **extra: Any) -> dict[str, Any]:
    """A schemaless-JSON ``qdrant`` connector config writing to local mode at ``path``."""
    return sink_config(topic, "qdrant", **{"qdrant.path": str(path), **extra})
