"""``EdgeClient``: Qdrant Edge (the Rust engine in-process) behind the qdrant-client calls
the sink makes.

One directory holds the store; each collection is one Edge shard in
``<path>/collections/<name>`` (Edge has no collections: a shard is one). The client speaks
the subset of ``QdrantClient`` the writer, the catalog, the connector's ``check`` and the
tests use (``collection_exists``, ``get_collection(s)``, ``create_collection``, ``upsert``,
``delete``, ``count``, ``scroll``, ``retrieve``, ``query_points``), taking and returning
qdrant-client's ``models`` so the rest of the connector doesn't know which engine is
underneath. Its own calls: ``flush`` (everything durable on disk), ``optimize`` (build
indexes, merge segments) and ``close``.

What Edge does and doesn't do, measured with qdrant-edge-py 0.9 (docs/connectors/qdrant.md):

- ``update`` writes to the shard's write-ahead log before it returns (a killed process
  loses nothing acknowledged; the log is replayed on load); ``flush`` writes segments and
  the log to disk (what a commit waits for).
- ``optimize`` runs the optimizers (HNSW index build, segment merges) on the calling
  thread **holding the GIL** throughout: every other Python thread of the process waits.
  So they run in a child process (``edge_optimizer``) while this one closes the shard and
  waits without the GIL, and only when enough unindexed points piled up
  (``qdrant.optimize.points``). Opening the shard again holds the GIL too, for ~1 ms per
  1 000 points (60 ms at 60 000 points, 360 ms at 300 000, 1.3 s past a million) while
  an optimize of the new points stays flat (seconds): once opening takes longer than the
  optimize would, that collection is optimized in the worker again.
  Unindexed points are searchable anyway (a full scan of those segments).
- Edge raises plain ``Exception`` with Qdrant's message; they become ``ValueError``
  (refused: ``Wrong input: …``), ``KeyError``-like missing collections or ``RuntimeError``
  (a broken store) here, which ``outcomes.classify`` reads like local mode's.
- A shard's WAL is locked (``flock``) by whoever opened it; ``<path>/.edge.lock`` is
  locked too, so another process is refused with a clear message before anything opens.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import portalocker
import qdrant_edge as qe
from qdrant_client import models
from qdrant_client.http import models as rest

from offramp import FatalError
from offramp.connectors.qdrant.edge_types import (
    config_of,
    edge_error,
    edge_record,
    edge_vector,
    params_from_json,
    point_id,
    shard_config,
)
from offramp.connectors.qdrant.store_lock import lock_held

__all__ = [
    "EdgeClient",
    "EdgeTuning",
    "edge_storage_in_use",
    "holds_local_mode_store",
    "stalls_less_in_process",
]

COLLECTIONS = "collections"
LOCK_FILE = ".edge.lock"
log = logging.getLogger("offramp.connectors.qdrant")
_NAME = re.compile(r"^[A-Za-z0-9_.\-:@]{1,255}$")  # Qdrant refuses / \ and the like too


class EdgeTuning:
    """How shards are made and kept: HNSW parameters and the largest segment (KB of
    vectors; 0: Edge's default) for collections created here, and how many unindexed
    points make ``maybe_optimize`` run the optimizers (0: never).

    The segment bound is what keeps index builds cheap as a collection grows: without
    it the merge optimizer folds each new segment into the big one and rebuilds its whole
    index (20,000 more 384-d points cost 7, 10, 12, 14... s); with 32 MB each optimize
    indexes only the new points (~6 s per 20,000, flat), one more segment each time."""

    __slots__ = ("ef_construct", "m", "max_segment_kb", "optimize_points")

    def __init__(
        self,
        optimize_points: int = 20_000,
        m: int = 16,
        ef_construct: int = 100,
        max_segment_kb: int = 32_768,
    ):
        self.optimize_points = optimize_points
        self.m = m
        self.ef_construct = ef_construct
        self.max_segment_kb = max_segment_kb


def holds_local_mode_store(path: str) -> bool:
    """True if ``path`` holds qdrant-client local-mode data (its meta.json)."""
    return os.path.isfile(os.path.join(path, "meta.json"))


def edge_storage_in_use(path: str) -> bool:
    """True if a process (this one or another) holds the Edge store at ``path`` now."""
    return lock_held(os.path.join(path, LOCK_FILE))


class _Shard:
    """One collection: its Edge shard and the schema it was created with."""

    def __init__(self, shard: qe.EdgeShard, params: models.CollectionParams) -> None:
        self.shard = shard
        self.params = params
        self.unindexed = 0  # points upserted since the last optimize (or unindexed at load)


def stalls_less_in_process(reload_s: float, child_s: float) -> bool:
    """Whether optimizing in this process would stall it less than in a child did. In a
    child the stall is opening the shard again (``reload_s``, GIL held: ~1 ms per 1 000
    points, so it grows with the collection); here it would be the optimize itself,
    about the child's time (``child_s``) less its own opening of the shard."""
    return reload_s > child_s - reload_s


class EdgeClient:
    """A Qdrant Edge store in a directory, with qdrant-client's calls (see the module
    docstring). Not thread-safe: ``clients`` serialises its users with a lock."""

    def __init__(self, path: str, tuning: EdgeTuning | None = None, temporary: bool = False):
        self.path = Path(path)
        self.tuning = tuning or EdgeTuning()
        self.temporary = temporary
        self._shards: dict[str, _Shard] = {}
        self._closed = False
        if holds_local_mode_store(path):
            raise FatalError(
                f"{path} holds a qdrant-client local-mode store; set qdrant.embedded=local to "
                "keep using it, or give Qdrant Edge another qdrant.path"
            )
        try:
            (self.path / COLLECTIONS).mkdir(parents=True, exist_ok=True)
            self._lock_file = open(self.path / LOCK_FILE, "a+")  # noqa: SIM115
        except OSError as exc:
            raise FatalError(f"cannot open Qdrant Edge store at {path}: {exc}") from exc
        try:
            portalocker.lock(
                self._lock_file,
                portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING,
            )
        except portalocker.exceptions.LockException:
            self._lock_file.close()
            raise FatalError(
                f"Qdrant Edge store at {path} is in use by another process; one process "
                "per path (use a Qdrant server to share it)"
            ) from None
        self._guard = threading.Lock()
        # Collections whose shard now takes longer to open than to optimize.
        self._optimize_here: set[str] = set()

    # ----- shards ------------------------------------------------------------------

    def _dir(self, name: str) -> Path:
        if not _NAME.match(name) or name in (".", ".."):
            raise ValueError(f"Wrong input: collection name {name!r} is not usable as a directory")
        return self.path / COLLECTIONS / name

    def _shard(self, name: str) -> _Shard:
        shard = self._shards.get(name)
        if shard is not None:
            return shard
        where = self._dir(name)
        config_file = where / "edge_config.json"
        if not config_file.is_file():
            raise ValueError(f"Collection {name} not found")
        try:
            params = params_from_json(orjson.loads(config_file.read_bytes()))
            opened = qe.EdgeShard.load(str(where))
        except Exception as exc:
            raise edge_error(exc, f"opening collection {name!r}") from exc
        shard = self._shards[name] = _Shard(opened, params)
        info = opened.info()
        shard.unindexed = max(0, info.points_count - info.indexed_vectors_count)
        return shard

    def collection_exists(self, collection_name: str) -> bool:
        if collection_name in self._shards:
            return True
        return (self._dir(collection_name) / "edge_config.json").is_file()

    def get_collections(self) -> models.CollectionsResponse:
        root = self.path / COLLECTIONS
        names = sorted(p.name for p in root.iterdir() if (p / "edge_config.json").is_file())
        return models.CollectionsResponse(
            collections=[models.CollectionDescription(name=n) for n in names]
        )

    def get_collection(self, collection_name: str) -> Any:
        shard = self._shard(collection_name)
        info = shard.shard.info()
        return models.CollectionInfo.model_construct(
            status=models.CollectionStatus.GREEN,
            optimizer_status=models.OptimizersStatusOneOf.OK,
            points_count=info.points_count,
            indexed_vectors_count=info.indexed_vectors_count,
            segments_count=info.segments_count,
            config=config_of(shard.params),
            payload_schema={},
        )

    def create_collection(
        self,
        collection_name: str,
        vectors_config: models.VectorParams | Mapping[str, models.VectorParams],
        sparse_vectors_config: Mapping[str, models.SparseVectorParams] | None = None,
    ) -> bool:
        where = self._dir(collection_name)
        if self.collection_exists(collection_name):
            raise ValueError(f"Collection {collection_name} already exists")
        named = (
            {"": vectors_config}
            if isinstance(vectors_config, models.VectorParams)
            else dict(vectors_config)
        )
        config = shard_config(named, sparse_vectors_config, self.tuning)
        try:
            created = qe.EdgeShard.create(str(where), config)
        except Exception as exc:
            shutil.rmtree(where, ignore_errors=True)
            raise edge_error(exc, f"creating collection {collection_name!r}") from exc
        params = models.CollectionParams(
            vectors=named[""] if set(named) == {""} else named,
            sparse_vectors=dict(sparse_vectors_config) if sparse_vectors_config else None,
        )
        self._shards[collection_name] = _Shard(created, params)
        return True

    # ----- writes ------------------------------------------------------------------

    def upsert(
        self, collection_name: str, points: Sequence[models.PointStruct], wait: bool = True
    ) -> None:
        shard = self._shard(collection_name)
        try:
            edge_points = [qe.Point(p.id, edge_vector(p.vector), p.payload) for p in points]
            shard.shard.update(qe.UpdateOperation.upsert_points(edge_points))
        except Exception as exc:
            raise edge_error(exc, f"upserting into {collection_name!r}") from exc
        shard.unindexed += len(points)

    def delete(
        self,
        collection_name: str,
        points_selector: models.PointIdsList | Sequence[Any],
        wait: bool = True,
    ) -> None:
        shard = self._shard(collection_name)
        ids = (
            points_selector.points
            if isinstance(points_selector, models.PointIdsList)
            else list(points_selector)
        )
        try:
            shard.shard.update(qe.UpdateOperation.delete_points(list(ids)))
        except Exception as exc:
            raise edge_error(exc, f"deleting from {collection_name!r}") from exc

    def flush(self) -> None:
        """Everything written so far is on disk when this returns."""
        for name, shard in self._shards.items():
            try:
                shard.shard.flush()
            except Exception as exc:
                raise edge_error(exc, f"flushing {name!r}") from exc

    def maybe_optimize(self) -> list[str]:
        """Run the optimizers of every collection with at least ``optimize_points``
        unindexed points; the names of those optimized."""
        threshold = self.tuning.optimize_points
        done: list[str] = []
        if threshold <= 0:
            return done
        for name, shard in list(self._shards.items()):  # optimize() opens shards again
            if shard.unindexed >= threshold:
                self.optimize(name)
                done.append(name)
        return done

    def optimize(self, collection_name: str) -> None:
        """Run the collection's optimizers: in a child process (``edge_optimizer``), the
        shard closed meanwhile, while that stalls this process less than running them
        here would (``stalls_less_in_process``); here after that, holding the GIL."""
        shard = self._shard(collection_name)
        if collection_name in self._optimize_here:
            try:
                shard.shard.optimize()
            except Exception as exc:
                raise edge_error(exc, f"optimizing {collection_name!r}") from exc
        else:
            child_s = self._optimize_elsewhere(collection_name, shard)
            began = time.monotonic()
            shard = self._shard(collection_name)  # opened again: the new segments
            reload_s = time.monotonic() - began
            if stalls_less_in_process(reload_s, child_s):
                self._optimize_here.add(collection_name)
                log.info(
                    "Qdrant Edge %r: opening the shard again took %.1f s of a %.1f s "
                    "optimize in a child process; optimizing in the worker from now on",
                    collection_name,
                    reload_s,
                    child_s,
                )
        # Counted afresh from here: a segment below Edge's own indexing threshold stays
        # unindexed after an optimize, and must not make every later write optimize.
        shard.unindexed = 0

    def _optimize_elsewhere(self, name: str, shard: _Shard) -> float:
        """Close the shard, optimize it in a child process (this thread waits without the
        GIL), and leave it to be opened again on its next use, whatever the child did.
        Returns the child's wall-clock seconds."""
        try:
            shard.shard.flush()
            shard.shard.close()
        except Exception as exc:
            raise edge_error(exc, f"closing {name!r} to optimize it") from exc
        finally:
            del self._shards[name]
        # -P: the script's own directory (this package's modules) stays off sys.path;
        # PYTHONPATH and site-packages, where Qdrant Edge is, stay on it.
        script = Path(__file__).with_name("edge_optimizer.py")
        began = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-P", str(script), str(self._dir(name)), str(os.getpid())],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            said = done.stderr.strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
            raise RuntimeError(f"Qdrant Edge: optimizing {name!r}: {said[0]}")
        return time.monotonic() - began

    # ----- reads (check, tests, demo) -----------------------------------------------

    def count(self, collection_name: str, exact: bool = True) -> models.CountResult:
        shard = self._shard(collection_name)
        return models.CountResult(count=shard.shard.count(qe.CountRequest(exact=exact)))

    def scroll(
        self,
        collection_name: str,
        limit: int = 10,
        offset: Any = None,
        with_payload: bool = True,
        with_vectors: bool = False,
    ) -> tuple[list[models.Record], Any]:
        shard = self._shard(collection_name)
        found, following = shard.shard.scroll(
            qe.ScrollRequest(
                offset=offset, limit=limit, with_payload=with_payload, with_vector=with_vectors
            )
        )
        nxt = point_id(following) if following is not None else None
        return [edge_record(r, with_vectors) for r in found], nxt

    def retrieve(
        self,
        collection_name: str,
        ids: Iterable[Any],
        with_payload: bool = True,
        with_vectors: bool = False,
    ) -> list[models.Record]:
        shard = self._shard(collection_name)
        found = shard.shard.retrieve(list(ids), with_payload, with_vectors)
        return [edge_record(r, with_vectors) for r in found]

    def query_points(
        self,
        collection_name: str,
        query: Sequence[float],
        using: str | None = None,
        limit: int = 10,
        with_payload: bool = True,
    ) -> rest.QueryResponse:
        shard = self._shard(collection_name)
        found = shard.shard.query(
            qe.QueryRequest(
                query=qe.Query.Nearest(list(query), using),
                limit=limit,
                with_payload=with_payload,
            )
        )
        return rest.QueryResponse(
            points=[
                models.ScoredPoint.model_construct(
                    id=point_id(p.id), version=p.version, score=p.score, payload=p.payload
                )
                for p in found
            ]
        )

    # ----- lifecycle -----------------------------------------------------------------

    def close(self) -> None:
        with self._guard:
            if self._closed:
                return
            self._closed = True
        failed: list[Exception] = []
        try:
            for name, shard in self._shards.items():  # every shard is closed, whatever fails
                try:
                    shard.shard.flush()
                except Exception as exc:
                    failed.append(edge_error(exc, f"flushing {name!r}"))
                try:
                    shard.shard.close()
                except Exception as exc:
                    failed.append(edge_error(exc, f"closing {name!r}"))
            self._shards.clear()
            if failed:
                raise failed[0]
        finally:
            portalocker.unlock(self._lock_file)
            self._lock_file.close()
            if self.temporary:
                shutil.rmtree(self.path, ignore_errors=True)
