"""Qdrant clients for writers, and the one-per-path rule of embedded stores.

An embedded store (``qdrant.path``: Qdrant Edge, ``edge.EdgeClient``, by default, or
qdrant-client's local mode with ``qdrant.embedded=local``) holds an exclusive file lock
on its directory, and its state is not safe to share between threads unsynchronised. So
within a process every writer for the same path borrows one shared client from a small
registry: counted by reference, used under its lock, closed when the last writer lets go.
``:memory:`` stores are shared per connector (each connector gets its own; for Edge, a
temporary directory removed when the last user lets go). A server client is private to
its writer, its lock uncontended.
"""

from __future__ import annotations

import math
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from qdrant_client import QdrantClient

from offramp import FatalError
from offramp.connectors.qdrant.config import Embedded, QdrantSinkConfig
from offramp.connectors.qdrant.edge import EdgeClient, EdgeTuning, edge_storage_in_use
from offramp.connectors.qdrant.store_lock import lock_held

__all__ = [
    "ClientHandle",
    "borrow_edge",
    "borrow_local",
    "edge_storage_in_use",
    "local_storage_in_use",
    "open_client",
]

MEMORY = ":memory:"

Client = QdrantClient | EdgeClient


@dataclass
class ClientHandle:
    """A client to use under ``lock``; ``release()`` exactly once when done. ``local``
    is True for an embedded store (Edge or local mode), ``edge`` for Qdrant Edge."""

    client: Client
    lock: threading.RLock
    description: str
    local: bool
    _release: Callable[[], None] | None = field(repr=False, default=None)
    edge: bool = False

    def release(self) -> None:
        releaser, self._release = self._release, None
        if releaser is not None:
            releaser()


@dataclass
class _Shared:
    client: Client
    lock: threading.RLock = field(default_factory=threading.RLock)
    users: int = 0


_registry_lock = threading.Lock()
_shared: dict[str, _Shared] = {}


def local_storage_in_use(path: str) -> bool:
    """True if another client (this process or another) holds ``path``'s lock now."""
    return lock_held(os.path.join(path, ".lock"))


def _registry_key(path: str, owner: str, engine: str = "local") -> str:
    where = f"{MEMORY}{owner}" if path == MEMORY else os.path.realpath(path)
    return f"{engine}:{where}"


def _open_local(path: str) -> QdrantClient:
    # qdrant-client loads the whole store before it tries the lock, and leaks what it
    # opened when the lock is taken: look first, and say clearly who holds it.
    if path != MEMORY and local_storage_in_use(path):
        raise FatalError(
            f"local-mode Qdrant at {path} is in use by another process; qdrant-client "
            "allows one process per path (use a Qdrant server to share it)"
        )
    try:
        # Access is serialised by the handle's lock, so sqlite may be used from any
        # task thread (the check exists for unsynchronised use).
        return QdrantClient(path=path, force_disable_check_same_thread=True)
    except (OSError, RuntimeError, ValueError) as exc:
        raise FatalError(f"cannot open local-mode Qdrant at {path}: {exc}") from exc


def _open_edge(path: str, tuning: EdgeTuning) -> EdgeClient:
    if path == MEMORY:
        return EdgeClient(tempfile.mkdtemp(prefix="offramp-qdrant-edge-"), tuning, temporary=True)
    return EdgeClient(path, tuning)


def _borrow(
    path: str, owner: str, tuning: EdgeTuning | None = None, edge: bool = False
) -> ClientHandle:
    key = _registry_key(path, owner, "edge" if edge else "local")
    with _registry_lock:
        shared = _shared.get(key)
        if shared is None:
            opened: Client = _open_edge(path, tuning or EdgeTuning()) if edge else _open_local(path)
            shared = _shared[key] = _Shared(opened)
        shared.users += 1

    def release() -> None:
        with _registry_lock:
            shared.users -= 1
            if shared.users == 0:
                del _shared[key]
                with shared.lock:
                    shared.client.close()

    what = "Qdrant Edge" if edge else "local-mode Qdrant"
    return ClientHandle(shared.client, shared.lock, f"{what} at {path}", True, release, edge)


@contextmanager
def borrow_local(path: str, owner: str = "") -> Iterator[ClientHandle]:
    """Use the shared local-mode client of ``path`` (opening it if nobody has): how code
    in the same process as a worker reads what the worker writes."""
    handle = _borrow(path, owner)
    try:
        yield handle
    finally:
        handle.release()


@contextmanager
def borrow_edge(path: str, owner: str = "") -> Iterator[ClientHandle]:
    """Use the shared Qdrant Edge store of ``path`` (opening it if nobody has), as
    ``borrow_local`` does for local mode."""
    handle = _borrow(path, owner, edge=True)
    try:
        yield handle
    finally:
        handle.release()


def open_client(config: QdrantSinkConfig, owner: str) -> ClientHandle:
    """A client for ``config``: shared for local mode, private for a server."""
    if config.qdrant_path is not None:
        if config.qdrant_embedded is Embedded.LOCAL:
            return _borrow(config.qdrant_path, owner)
        tuning = EdgeTuning(
            config.qdrant_optimize_points,
            config.qdrant_hnsw_m,
            config.qdrant_hnsw_ef_construct,
            config.qdrant_segment_max_kb,
        )
        return _borrow(config.qdrant_path, owner, tuning, edge=True)
    assert config.qdrant_url is not None
    api_key = config.qdrant_api_key.get_secret_value() if config.qdrant_api_key else None
    try:
        client = QdrantClient(
            url=config.qdrant_url,
            api_key=api_key,
            prefer_grpc=config.qdrant_prefer_grpc,
            grpc_port=config.qdrant_grpc_port,
            timeout=max(1, math.ceil(config.qdrant_timeout_ms / 1000)),
            # check() asks for the version itself; the built-in check only warns.
            check_compatibility=False,
        )
    except ValueError as exc:
        raise FatalError(f"qdrant.url {config.qdrant_url!r} is not usable: {exc}") from exc
    return ClientHandle(client, threading.RLock(), config.location, False, client.close)
