"""``QdrantWriter``: a batch of records becomes upserts and deletes, in order, idempotently.

For each batch:

1. plan: every record becomes an upsert (collection, point id, payload, and a vector or
   the text to embed) or, for a tombstone, a delete of the point its key names; a record
   that can't (no id, malformed vector, no text...) is returned as a ``RecordFailure``;
2. embed: texts are embedded in the embedder's batches (identical texts once; the last
   batch's vectors are kept, so a retried batch doesn't pay twice), up to the embedder's
   ``max_concurrency`` calls in flight at once (a thread pool of the writer's), all
   awaited before anything is written, so writes keep record order; a refused call is
   split until the texts that fail alone are found;
3. check: each vector against its collection's vectors (names, kinds, sizes), so a bad
   one is dead-lettered alone with a Qdrant-style message;
4. apply, per collection, in record order: runs of upserts (the last record per id wins)
   in requests of ``qdrant.batch.size`` with ``wait=True``, and before any delete the
   upserts pending for that collection, so a tombstone after an upsert really deletes.
   Should Qdrant still refuse a request, it is split until the points it refuses alone
   are found; those records fail with Qdrant's message, and an id whose last record
   failed gets its previous record from the batch instead.

Point ids are a pure function of the record, and upserts overwrite: a batch redelivered
after a crash writes the same points again, which is what makes the sink exactly-once in
effect.

With Qdrant Edge (the embedded default) a write is in the shard's write-ahead log when
``write`` returns (a killed process replays it); ``pre_commit`` flushes the store, so what
the runtime commits is on disk; and after a write that leaves ``qdrant.optimize.points``
unindexed points in a collection, its optimizers run, in a child process (Edge holds the
GIL while they run: in the worker every other task would wait).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from qdrant_client import models

from offramp import (
    BatchWriter,
    FatalError,
    RecordFailure,
    RetriableError,
    SinkRecord,
    TaskContext,
    TopicPartition,
    settle_in_halves,
)
from offramp.connectors.qdrant.catalog import CollectionCatalog
from offramp.connectors.qdrant.clients import ClientHandle, open_client
from offramp.connectors.qdrant.config import QdrantSinkConfig
from offramp.connectors.qdrant.edge import EdgeClient
from offramp.connectors.qdrant.embedding import Embedder
from offramp.connectors.qdrant.fields import MISSING, FieldPath, describe
from offramp.connectors.qdrant.outcomes import Verdict, classify
from offramp.connectors.qdrant.payload import PayloadError, PayloadSelector
from offramp.connectors.qdrant.point_ids import PointId, PointIdError, to_point_id
from offramp.connectors.qdrant.vectors import VectorError, VectorStruct, parse_vector

__all__ = ["QdrantRefusedError", "QdrantWriter"]

REASON_HEADER = "__offramp.errors.reason"
COLLECTION_HEADER = "__offramp.qdrant.collection"


class CollectionNameError(ValueError):
    """The record doesn't name a usable collection."""


class TextError(ValueError):
    """The record has no text to embed."""


class EmbeddingError(ValueError):
    """The embedder refused this text."""


class QdrantRefusedError(ValueError):
    """Qdrant refused this point; the message is Qdrant's."""


_REASONS: dict[type[BaseException], str] = {
    PointIdError: "invalid_point_id",
    VectorError: "invalid_vector",
    PayloadError: "invalid_payload",
    CollectionNameError: "invalid_collection",
    TextError: "invalid_text",
    EmbeddingError: "embedding_refused",
    QdrantRefusedError: "refused_by_qdrant",
}


@dataclass(slots=True)
class _Upsert:
    record: SinkRecord
    collection: str
    point_id: PointId
    payload: dict[str, Any]
    vector: VectorStruct | None
    text: str | None = None


@dataclass(slots=True)
class _Delete:
    record: SinkRecord
    collection: str
    point_id: PointId


_Op = _Upsert | _Delete


def _point(op: _Upsert) -> models.PointStruct:
    # Vectors were checked already, so skip pydantic's second pass over every float.
    vector: Any = op.vector
    return models.PointStruct.model_construct(id=op.point_id, vector=vector, payload=op.payload)


class QdrantWriter(BatchWriter):
    def __init__(self, config: QdrantSinkConfig, context: TaskContext) -> None:
        self.config = config
        self.log = context.logger
        self.embedder: Embedder[Any] | None = config.build_embedder()
        try:
            self.handle: ClientHandle = open_client(config, context.connector_name)
        except BaseException:
            if self.embedder is not None:
                self.embedder.close()
            raise
        embedder = self.embedder
        self.catalog = CollectionCatalog(
            self.handle, config, (lambda: embedder.dimension) if embedder is not None else None
        )
        self.id_path = FieldPath(config.point_id_field) if config.point_id_field else None
        self.collection_path = (
            FieldPath(config.collection_name_field) if config.collection_name_field else None
        )
        self.text_path = (
            FieldPath(config.embedder_text_field) if config.embedder_text_field else None
        )
        self.vector_path = FieldPath(config.vector_path) if embedder is None else None
        exclude = list(config.payload_exclude)
        if config.payload_field is None and self.vector_path is not None:
            exclude.append(self.vector_path.text)  # the vector is not payload
        self.payload = PayloadSelector(
            config.payload_field, config.payload_include, exclude, config.payload_kafka_coordinates
        )
        self._embedded: dict[str, VectorStruct] = {}  # the last batch's vectors by text
        self._pool: ThreadPoolExecutor | None = None  # embed calls in flight, if allowed

    # ----- 1. plan ------------------------------------------------------------------

    def _collection(self, record: SinkRecord) -> str:
        if self.collection_path is not None and record.value is not None:
            name = self.collection_path.get(record.value)
            if not isinstance(name, str) or not name:
                found = "missing" if name is MISSING else describe(name)
                raise CollectionNameError(
                    f"collection.name.field {self.collection_path.text!r} is {found}; "
                    "it must be a non-empty string"
                )
            return name
        return self.config.collection_name.replace("${topic}", record.topic)

    def _point_id(self, record: SinkRecord) -> PointId:
        if self.id_path is not None and record.value is not None:
            raw = self.id_path.get(record.value)
            if raw is MISSING:
                raise PointIdError(f"point.id.field {self.id_path.text!r} is missing")
            try:
                return to_point_id(raw, self.config.point_id_namespace)
            except PointIdError as exc:
                raise PointIdError(f"point.id.field {self.id_path.text!r}: {exc}") from None
        try:
            return to_point_id(record.key, self.config.point_id_namespace)
        except PointIdError as exc:
            raise PointIdError(f"record key: {exc}") from None

    def _plan_one(self, record: SinkRecord) -> _Op:
        if record.value is None:  # a tombstone: delete the point the key names
            return _Delete(record, self._collection(record), self._point_id(record))
        collection, point_id = self._collection(record), self._point_id(record)
        payload = self.payload.select(record)
        if self.text_path is not None:
            text = self.text_path.get(record.value)
            if not isinstance(text, str) or not text.strip():
                found = (
                    "missing"
                    if text is MISSING
                    else "blank"
                    if isinstance(text, str)
                    else describe(text)
                )
                raise TextError(f"embedder.text.field {self.text_path.text!r} is {found}")
            return _Upsert(record, collection, point_id, payload, None, text)
        assert self.vector_path is not None
        raw = self.vector_path.get(record.value)
        if raw is MISSING:
            raise VectorError(f"vector.field {self.vector_path.text!r} is missing")
        try:
            vector = parse_vector(raw)
        except VectorError as exc:
            raise VectorError(f"vector.field {self.vector_path.text!r}: {exc}") from None
        return _Upsert(record, collection, point_id, payload, vector)

    def _fail(
        self,
        failures: list[RecordFailure],
        record: SinkRecord,
        exc: Exception,
        collection: str = "",
    ) -> None:
        context = {REASON_HEADER: _REASONS.get(type(exc), "invalid_record")}
        if collection:
            context[COLLECTION_HEADER] = collection
        failures.append(RecordFailure(record, exc, context))

    # ----- 2. embed -----------------------------------------------------------------

    def _embed_texts(
        self,
        found: dict[str, VectorStruct],
        refused: dict[str, Exception],
        texts: Sequence[str],
    ) -> None:
        """Embed ``texts`` into ``found``, or ``refused`` for an unusable vector. A call
        the embedder refuses without naming a text raises ``EmbeddingError``: the only
        exception ``settle_in_halves`` splits the call for."""
        assert self.embedder is not None
        try:
            vectors = self.embedder.embed(texts)
        except (RetriableError, FatalError):
            raise
        except Exception as exc:
            raise EmbeddingError(str(exc)) from exc
        if len(vectors) != len(texts):
            raise FatalError(
                f"embedder {self.config.embedder} returned {len(vectors)} vectors "
                f"for {len(texts)} texts"
            )
        name = self.config.vector_name
        for text, vector in zip(texts, vectors, strict=True):
            try:
                dense = parse_vector(vector)
                if isinstance(dense, dict):
                    raise VectorError("an object instead of a list of numbers")
            except VectorError as exc:
                refused[text] = EmbeddingError(f"the embedder returned an unusable vector: {exc}")
                continue
            found[text] = {name: dense} if name else dense

    def _embed(self, ops: list[_Op], failures: list[RecordFailure]) -> list[_Op]:
        assert self.embedder is not None
        wanted = [op for op in ops if isinstance(op, _Upsert) and op.vector is None]
        if not wanted:
            return ops
        found: dict[str, VectorStruct] = {}
        missing: list[str] = []
        seen: set[str] = set()
        for op in wanted:
            assert op.text is not None
            if op.text in seen:
                continue
            seen.add(op.text)
            cached = self._embedded.get(op.text)
            if cached is not None:
                found[op.text] = cached
            else:
                missing.append(op.text)
        # The cache becomes this batch's vectors, filled as chunks succeed: if a later chunk
        # fails transiently, the retry embeds only what is still missing.
        self._embedded = found
        refused: dict[str, Exception] = {}

        def refuse(text: str, exc: Exception) -> None:
            # The dead letter's error is a fresh one: the raised one's stack trace would
            # show this writer's frames rather than anything about the record.
            refused[text] = EmbeddingError(str(exc))

        def split(texts: Sequence[str], exc: Exception) -> None:
            self.log.info("embedder refused %d texts (%s); splitting", len(texts), exc)

        def settle(texts: Sequence[str]) -> None:
            settle_in_halves(
                texts,
                partial(self._embed_texts, found, refused),
                refuse,
                lambda exc: isinstance(exc, EmbeddingError),
                on_split=split,
            )

        step = max(1, self.embedder.max_batch)
        chunks = [missing[start : start + step] for start in range(0, len(missing), step)]
        in_flight = min(max(1, self.embedder.max_concurrency), len(chunks))
        if in_flight <= 1:
            for chunk in chunks:
                settle(chunk)
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    self.embedder.max_concurrency, thread_name_prefix="qdrant-embed"
                )
            futures: list[Future[None]] = [self._pool.submit(settle, c) for c in chunks]
            errors = [exc for f in futures if (exc := f.exception()) is not None]
            if errors:  # every chunk has settled: what succeeded is kept for the retry
                raise errors[0]
        kept: list[_Op] = []
        for planned in ops:
            if isinstance(planned, _Upsert) and planned.vector is None:
                assert planned.text is not None
                if planned.text in refused:
                    self._fail(failures, planned.record, refused[planned.text], planned.collection)
                    continue
                planned.vector = found[planned.text]
            kept.append(planned)
        return kept

    # ----- 3. check -----------------------------------------------------------------

    def _check(self, ops: list[_Op], failures: list[RecordFailure]) -> list[_Op]:
        kept: list[_Op] = []
        for op in ops:
            schema = self.catalog.schema(op.collection)  # may create it, or stop the task
            if isinstance(op, _Upsert):
                assert op.vector is not None
                try:
                    schema.check(op.vector)
                except VectorError as exc:
                    self._fail(failures, op.record, exc, op.collection)
                    continue
            kept.append(op)
        return kept

    # ----- 4. apply -----------------------------------------------------------------

    def _apply(self, ops: list[_Op], failures: list[RecordFailure]) -> None:
        by_collection: dict[str, list[_Op]] = {}
        for op in ops:
            by_collection.setdefault(op.collection, []).append(op)
        for collection, sequence in by_collection.items():
            run: list[_Op] = []
            for item in [*sequence, None]:
                if run and (item is None or type(item) is not type(run[0])):
                    self._apply_run(collection, run, failures)
                    run = []
                if item is not None:
                    run.append(item)

    def _apply_run(self, collection: str, run: list[_Op], failures: list[RecordFailure]) -> None:
        """One run of upserts (or of deletes) for a collection: the last record per id is
        sent; if Qdrant refuses it, it fails and the id's previous record takes its place,
        so a refused record never hides an earlier good one."""
        versions: dict[PointId, list[_Op]] = {}
        for op in run:
            versions.setdefault(op.point_id, []).append(op)
        send = self._upsert if isinstance(run[0], _Upsert) else self._delete
        size = self.config.qdrant_batch_size
        pending = [history[-1] for history in versions.values()]
        while pending:
            refused: list[tuple[_Op, str]] = []
            for start in range(0, len(pending), size):
                refused += self._isolating(collection, pending[start : start + size], send)
            pending = []
            for op, message in refused:
                self._fail(failures, op.record, QdrantRefusedError(message), collection)
                history = versions[op.point_id]
                history.pop()
                if history:
                    pending.append(history[-1])

    def _upsert(self, collection: str, ops: Sequence[_Op]) -> None:
        points = [_point(op) for op in ops if isinstance(op, _Upsert)]
        with self.handle.lock:
            self.handle.client.upsert(collection, points, wait=True)

    def _delete(self, collection: str, ops: Sequence[_Op]) -> None:
        selector = models.PointIdsList(points=[op.point_id for op in ops])
        with self.handle.lock:
            self.handle.client.delete(collection, selector, wait=True)

    def _isolating(
        self, collection: str, ops: Sequence[_Op], send: Callable[[str, Sequence[_Op]], None]
    ) -> list[tuple[_Op, str]]:
        """``send`` the ops; if Qdrant refuses them as invalid, split until the ones it
        refuses alone are found; returns those, each with Qdrant's message."""
        refused: list[tuple[_Op, str]] = []

        def split(part: Sequence[_Op], exc: Exception) -> None:
            what = f"{len(part)} points of collection {collection!r}"
            self.log.info("Qdrant refused %s (%s); splitting", what, exc)

        settle_in_halves(
            ops,
            partial(self._send_ops, collection, send),
            lambda op, exc: refused.append((op, str(exc))),
            lambda exc: isinstance(exc, QdrantRefusedError),
            on_split=split,
        )
        return refused

    def _send_ops(
        self, collection: str, send: Callable[[str, Sequence[_Op]], None], ops: Sequence[_Op]
    ) -> None:
        """``send``, with Qdrant's exception as the sink's: retry, fail the task, or
        ``QdrantRefusedError`` (Qdrant's message) when it refused the request as invalid."""
        try:
            send(collection, ops)
            return
        except Exception as exc:
            outcome = classify(exc)
            cause: Exception = exc
        where, what = self.config.location, f"{len(ops)} points of collection {collection!r}"
        if outcome.verdict is Verdict.RETRY:
            raise RetriableError(
                f"{where}: writing {what}: {outcome.message}", outcome.retry_after
            ) from cause
        if outcome.verdict is Verdict.MISSING:
            self.catalog.forget(collection)  # the retry looks it up (and creates it if allowed)
            raise RetriableError(
                f"{where}: collection {collection!r} disappeared: {outcome.message}"
            ) from cause
        if outcome.verdict is not Verdict.REFUSED:
            raise FatalError(f"{where}: writing {what}: {outcome.message}") from cause
        raise QdrantRefusedError(outcome.message) from cause

    # ----- the BatchWriter contract ---------------------------------------------------

    def write(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure] | None:
        failures: list[RecordFailure] = []
        ops: list[_Op] = []
        for record in records:
            try:
                ops.append(self._plan_one(record))
            except (PointIdError, VectorError, PayloadError, CollectionNameError, TextError) as exc:
                self._fail(failures, record, exc)
        if self.embedder is not None:
            ops = self._embed(ops, failures)
        ops = self._check(ops, failures)
        self._apply(ops, failures)
        self._maintain()
        if len(failures) > 1:  # dead letters in record order, whichever step found them
            position = {id(record): i for i, record in enumerate(records)}
            failures.sort(key=lambda f: position[id(f.record)])
        return failures

    def _maintain(self) -> None:
        """Edge: build indexes where enough points are unindexed. A failure here loses
        nothing written (the points are stored and searchable unindexed): logged."""
        client = self.handle.client
        if not isinstance(client, EdgeClient):
            return
        began = time.perf_counter()
        try:
            with self.handle.lock:
                done = client.maybe_optimize()
        except Exception as exc:
            self.log.warning("%s: optimizing failed: %s", self.config.location, exc)
            return
        if done:
            self.log.info(
                "%s: optimized %s in %.1f s",
                self.config.location,
                ", ".join(repr(n) for n in done),
                time.perf_counter() - began,
            )

    def pre_commit(self, offsets: Mapping[TopicPartition, int]) -> Mapping[TopicPartition, int]:
        """Edge: flush, so what is committed is on disk, not only in the write-ahead log."""
        client = self.handle.client
        if not isinstance(client, EdgeClient):
            return offsets  # a server applied it (wait=True); local mode commits per point
        try:
            with self.handle.lock:
                client.flush()
        except Exception as exc:
            self.log.warning("%s: flush failed, nothing committed: %s", self.config.location, exc)
            return {}
        return offsets

    def stop(self) -> None:
        try:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
            if self.embedder is not None:
                self.embedder.close()
        finally:
            self.handle.release()
