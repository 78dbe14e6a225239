"""Connector configs for the ``qdrant`` tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.integration.runtime_support import sink_config


def qdrant_config(topic: str, path: Path, **extra: Any) -> dict[str, Any]:
    """A schemaless-JSON ``qdrant`` connector config writing to the embedded store at
    ``path`` (Qdrant Edge unless ``qdrant.embedded`` says otherwise)."""
    return sink_config(topic, "qdrant", **{"qdrant.path": str(path), **extra})
