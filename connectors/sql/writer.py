"""The ``sql`` connector's batch writer: one transaction per batch.

A batch goes: skip records the offsets table says are already written (exactly-once
redelivery) → rows per table → tables created or widened if allowed (own short
transaction) → one transaction with every table's rows and every partition's new
offset → commit. The rows (and PostgreSQL's COPY text) are usually built before
that, by ``prepare`` on the task thread while the previous batch is being written;
``write`` builds them itself when they weren't, or no longer fit.

If the database refuses a row (a constraint, a value that doesn't fit), the
transaction is rolled back and redone with the rows applied in halves under
savepoints, halving again where a half fails, until the refused rows stand alone;
they are returned as ``RecordFailure``s with the database's message and the rest is
committed. Transient trouble becomes ``RetriableError`` (the runtime retries the
batch), a setup problem ``FatalError``.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, NoReturn, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

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
from offramp.connectors.sql.bulk import CopyBulk, ExecuteManyBulk
from offramp.connectors.sql.config import SqlSinkConfig
from offramp.connectors.sql.connection import connect, create_engine, describe
from offramp.connectors.sql.errors import (
    ErrorKind,
    RowRejectedError,
    classify,
    database_message,
    sqlstate,
)
from offramp.connectors.sql.offsets import OffsetStore, StoredOffset
from offramp.connectors.sql.rows import RowBuilder, Segment, TableBatch
from offramp.connectors.sql.schema import Tables
from offramp.connectors.sql.statements import Statements

__all__ = ["SqlWriter"]

T = TypeVar("T")
FENCE_ATTEMPTS = 3


@dataclass
class _Coordinates:
    """Where a batch's records sit in their partitions, read once per batch.

    Keys are ``(topic, partition)`` tuples, which hash and compare like the
    ``TopicPartition`` keys of the writer's maps. A batch is in offset order within
    each partition, so the first and last offset seen per partition bound it.
    """

    keys: list[tuple[str, int]]
    offsets: list[int]
    first: dict[TopicPartition, int]
    last: dict[TopicPartition, int]

    @classmethod
    def of(cls, records: Sequence[SinkRecord]) -> _Coordinates:
        messages = [r.message for r in records]
        keys = list(
            zip(
                [m.topic() or "" for m in messages],
                [m.partition() or 0 for m in messages],
                strict=True,
            )
        )
        offsets = [m.offset() or 0 for m in messages]
        last = dict(zip(keys, offsets, strict=True))
        first = dict(zip(reversed(keys), reversed(offsets), strict=True))
        return cls(
            keys,
            offsets,
            {TopicPartition(*tp): offset for tp, offset in first.items()},
            {TopicPartition(*tp): offset for tp, offset in last.items()},
        )

    def offsets_of(self, tp: tuple[str, int]) -> set[int]:
        return {o for key, o in zip(self.keys, self.offsets, strict=True) if key == tp}


@dataclass
class _Prepared:
    """A batch's rows (and COPY text) made ahead of its write."""

    records: Sequence[SinkRecord]
    where: _Coordinates
    batches: list[TableBatch]


class _Fenced(Exception):
    """The offsets row moved under us: someone else wrote, or our last commit did."""


def _row_refused(exc: Exception) -> bool:
    """Only a refusal that is the rows' own fault is split down to the bad row; anything
    else (a lost connection, a missing table) ends the isolation for ``_guard`` to judge."""
    return classify(exc) is ErrorKind.RECORD


class SqlWriter(BatchWriter):
    # Most of a write is the database working (COPY, the upsert, the commit): reading and
    # converting the next batch meanwhile is what brings the sink close to a raw loop.
    pipelined = True

    def __init__(self, config: SqlSinkConfig, context: TaskContext) -> None:
        self.config = config
        self.log = context.logger
        self.context = context
        self.where = describe(config)
        self.engine = create_engine(config, f"offramp-{context.connector_name}-{context.task_id}")
        self._conn: Connection | None = None
        try:
            conn = self._connection()
            self.statements = Statements(conn.dialect)
            use_copy = config.bulk_method == "copy" or (
                config.bulk_method == "auto"
                and conn.dialect.name == "postgresql"
                and conn.dialect.driver == "psycopg"
            )
            bulk = CopyBulk if use_copy else ExecuteManyBulk
            self.bulk = bulk(self.statements, config.insert_mode, config.batch_size)
            self.bulk.attach(conn)
            self.rows = RowBuilder(config, self.statements.adapt)
            self.tables = Tables(config)
            self.offsets: OffsetStore | None = None
            if config.exactly_once_enabled:
                self.offsets = OffsetStore(
                    config.offsets_table_name, context.connector_name, self.statements
                )
                self._guard("creating the offsets table", lambda: self._ensure_offsets(conn))
        except BaseException:
            self.stop()
            raise
        self.positions: dict[TopicPartition, StoredOffset | None] = {}
        self._stale = False  # positions must be re-read before the next write
        # Transactions rolled back because the offsets row no longer said what this task
        # expected: the evidence that a zombie tried to write and was refused.
        self.fenced = 0
        # Upsert and update only need each key's last version; insert applies them all.
        self._dedupe = config.insert_mode != "insert"
        # Batches prepared on the task thread, oldest first: the one being written and
        # the next one at most.
        self._prepared: deque[_Prepared] = deque(maxlen=2)
        self._prepared_lock = threading.Lock()

    # ----- connection and error handling ---------------------------------------------

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = connect(self.engine, self.config)
            if hasattr(self, "bulk"):
                self.bulk.attach(self._conn)
        return self._conn

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except sa.exc.SQLAlchemyError as exc:  # it was broken anyway
                self.log.debug("closing a broken connection: %s", exc)
        if hasattr(self, "bulk"):
            self.bulk.forget()

    def _fail(self, doing: str, exc: BaseException) -> NoReturn:
        """Raise what the runtime understands for an error that isn't one record's."""
        if isinstance(exc, FatalError | RetriableError):
            raise exc
        message = f"{doing} in {self.where}: {database_message(exc)}"
        if classify(exc) is ErrorKind.TRANSIENT:
            self._drop_connection()
            self.tables.forget()
            self._stale = True  # a commit may or may not have happened
            raise RetriableError(message) from exc
        raise FatalError(message) from exc

    def _guard(self, doing: str, action: Callable[[], T]) -> T:
        try:
            return action()
        except (FatalError, RetriableError, _Fenced):
            raise
        except Exception as exc:
            self._fail(doing, exc)

    def _count_fenced(self) -> None:
        self.fenced += 1
        self.context.write_refused()  # offramp_sink_write_refused_total

    def _ensure_offsets(self, conn: Connection) -> None:
        assert self.offsets is not None
        self.offsets.ensure_table(conn)

    # ----- partitions ------------------------------------------------------------------

    def open(self, partitions: Sequence[TopicPartition]) -> Mapping[TopicPartition, int] | None:
        if self.offsets is None:
            return None
        stored = self._load(partitions)
        return {tp: s.resume_at for tp, s in stored.items()}

    def _load(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, StoredOffset]:
        offsets = self.offsets
        assert offsets is not None
        stored = self._guard(
            "reading the offsets table", lambda: offsets.load(self._connection(), partitions)
        )
        for tp in partitions:
            self.positions[tp] = stored.get(tp)
        return stored

    def close(self, partitions: Sequence[TopicPartition]) -> None:
        for tp in partitions:
            self.positions.pop(tp, None)

    def stop(self) -> None:
        self._drop_connection()
        self.engine.dispose()

    # ----- writing -----------------------------------------------------------------------

    def prepare(self, records: Sequence[SinkRecord]) -> None:
        """Rows and COPY text for the next batch, on the task thread while the database
        works on the batch before it."""
        if not records:
            return
        batches = self.rows.build(records)
        for batch in batches:
            for segment in batch.segments(self._dedupe):
                self.bulk.encode(segment)
        prepared = _Prepared(records, _Coordinates.of(records), batches)
        with self._prepared_lock:
            self._prepared.append(prepared)

    def _take_prepared(self, records: Sequence[SinkRecord]) -> _Prepared | None:
        """What ``prepare`` made of exactly this batch, if anything; used once, as a
        retry must start from fresh rows."""
        with self._prepared_lock:
            for position, prepared in enumerate(self._prepared):
                if prepared.records is records:
                    for _ in range(position + 1):  # older ones will never be written
                        self._prepared.popleft()
                    return prepared
        return None

    def write(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure] | None:
        for _ in range(FENCE_ATTEMPTS):
            try:
                return self._write(records)
            except _Fenced as fenced:
                self._count_fenced()
                self.log.warning(
                    "write refused: the offsets of %s moved under this task (another task "
                    "took them over, or our last commit landed after all); rolled back the "
                    "batch, re-reading them",
                    fenced,
                )
                self._stale = True
        raise RetriableError(
            "another writer keeps advancing the offsets of these partitions in "
            f"{self.config.offsets_table_name}; is a second worker writing them?"
        )

    def _write(self, records: Sequence[SinkRecord]) -> list[RecordFailure]:
        conn = self._connection()
        prepared = self._take_prepared(records)
        where = prepared.where if prepared else _Coordinates.of(records)
        todo = self._not_yet_written(records, where)
        # Prepared rows hold every record: unusable if some were written before.
        ready = prepared.batches if prepared and len(todo) == len(records) else None
        batches = self._guard("preparing the tables", lambda: self._prepare(conn, todo, ready))
        plans = [(batch, batch.segments(self._dedupe)) for batch in batches]
        advanced: dict[TopicPartition, StoredOffset] = {}
        try:
            with conn.begin():
                for batch, segments in plans:
                    for segment in segments:
                        self.bulk.apply(conn, batch, segment)
                advanced = self._advance(conn, where, batches)
        except _Fenced:
            raise
        except Exception as exc:
            if classify(exc) is not ErrorKind.RECORD:
                self._fail(f"writing {len(records)} records", exc)
            self.log.info("a row was refused (%s); isolating it", database_message(exc))
            # Every record in order this time: if a key's last version is the bad one,
            # its earlier versions must still be applied.
            in_order = [(batch, batch.segments(dedupe=False)) for batch in batches]
            advanced = self._guard(
                "isolating refused rows", lambda: self._isolate(conn, where, in_order)
            )
        self.positions.update(advanced)
        return [failure for batch in batches for failure in batch.failures]

    def _not_yet_written(
        self, records: Sequence[SinkRecord], where: _Coordinates
    ) -> list[SinkRecord]:
        """Records the offsets table doesn't already cover (all, without exactly-once)."""
        if self.offsets is None:
            return list(records)
        partitions = set(where.first)
        if self._stale or not partitions <= self.positions.keys():
            known = self.positions.keys() if self._stale else set()
            self._load(sorted(partitions | known))
            self._stale = False
        positions = self.positions
        covered = [
            tp
            for tp, first in where.first.items()
            if (stored := positions.get(tp)) is not None and first < stored.next_offset
        ]
        if not covered:
            return list(records)  # the usual case: nothing here was written before
        by_key: Mapping[Any, StoredOffset | None] = positions  # plain tuples find them
        todo = [
            record
            for record, tp, offset in zip(records, where.keys, where.offsets, strict=True)
            if (stored := by_key.get(tp)) is None or not stored.already_written(offset)
        ]
        skipped = len(records) - len(todo)
        if skipped:
            self.log.info("skipping %d redelivered records already in the database", skipped)
        return todo

    def _prepare(
        self, conn: Connection, records: list[SinkRecord], ready: list[TableBatch] | None
    ) -> list[TableBatch]:
        """Rows per table (unless ``prepare`` made them), each table created or widened
        if allowed, and columns it still lacks dropped."""
        batches = self.rows.build(records) if ready is None else ready
        for batch in batches:
            shape = self.tables.prepare(conn, batch)
            missing = {c.name for c in batch.columns if c.name not in shape.columns}
            batch.drop_columns(
                missing,
                f"table {batch.table!r} has no column for field(s) {{columns}} and "
                "auto.evolve=false",
            )
            self.bulk.prepare(conn, batch)
        return batches

    # ----- refused rows ----------------------------------------------------------------

    def _isolate(
        self,
        conn: Connection,
        where: _Coordinates,
        plans: list[tuple[TableBatch, list[Segment]]],
    ) -> dict[TopicPartition, StoredOffset]:
        with conn.begin():
            for batch, segments in plans:
                for segment in segments:
                    settle_in_halves(
                        range(len(segment.rows)),
                        partial(self._apply_rows, conn, batch, segment),
                        partial(self._refuse, batch, segment),
                        _row_refused,
                    )
            return self._advance(conn, where, [batch for batch, _ in plans])

    def _apply_rows(
        self, conn: Connection, batch: TableBatch, segment: Segment, rows: Sequence[int]
    ) -> None:
        """Apply the segment's ``rows`` (indices) under a savepoint of their own, so a
        refusal undoes only them and the transaction goes on."""
        savepoint = conn.begin_nested()
        try:
            self.bulk.apply(conn, batch, segment, [segment.rows[n] for n in rows])
        except Exception:
            savepoint.rollback()
            raise
        savepoint.commit()

    def _refuse(self, batch: TableBatch, segment: Segment, row: int, exc: Exception) -> None:
        context = {"__offramp.sql.table": batch.table}
        state = sqlstate(exc)
        if state:
            context["__offramp.sql.sqlstate"] = state
        error = RowRejectedError(f"table {batch.table!r} refused the row: {database_message(exc)}")
        error.__cause__ = exc
        batch.refuse(segment.origins[row], error, context)

    # ----- offsets ---------------------------------------------------------------------

    def _advance(
        self, conn: Connection, where: _Coordinates, batches: list[TableBatch]
    ) -> dict[TopicPartition, StoredOffset]:
        """Move every partition's stored offset past this batch, inside the transaction;
        the new values are returned, to be remembered once it commits."""
        if self.offsets is None:
            return {}
        refused: defaultdict[TopicPartition, set[int]] = defaultdict(set)
        for batch in batches:
            for failure in batch.failures:
                refused[failure.record.topic_partition].add(failure.record.kafka_offset)
        changes: list[tuple[TopicPartition, StoredOffset | None, StoredOffset]] = []
        for tp, last in where.last.items():
            old = self.positions.get(tp)
            pending = refused.get(tp, set())
            if old is not None and old.pending:
                # Earlier refusals stay pending unless this batch handled them again.
                here = where.offsets_of(tp)
                pending |= {o for o in old.pending if o not in here}
            new = StoredOffset(max(last + 1, old.next_offset if old else 0), frozenset(pending))
            if new != old:
                changes.append((tp, old, new))
        if changes and not self.offsets.advance(conn, changes):
            raise _Fenced(", ".join(f"{tp.topic}-{tp.partition}" for tp, _, _ in changes))
        return {tp: new for tp, _, new in changes}

    def pre_commit(self, offsets: Mapping[TopicPartition, int]) -> Mapping[TopicPartition, int]:
        """The runtime has flushed the dead letters and is about to commit ``offsets``:
        refusals below them are confirmed, and offsets of records the runtime dropped
        (filters) catch up, so the table matches the consumer's position."""
        store = self.offsets
        if store is None:
            return offsets
        changes: dict[TopicPartition, tuple[StoredOffset | None, StoredOffset]] = {}
        for tp, offset in offsets.items():
            if tp not in self.positions or offset < 0:
                continue
            old = self.positions[tp]
            if old is None:
                new = StoredOffset(offset)
            else:
                pending = frozenset(o for o in old.pending if o >= offset)
                new = StoredOffset(max(old.next_offset, offset), pending)
            if new != old:
                changes[tp] = (old, new)
        if not changes:
            return offsets
        try:
            conn = self._connection()
            with conn.begin():
                if not store.advance(conn, [(tp, old, new) for tp, (old, new) in changes.items()]):
                    raise _Fenced(", ".join(f"{tp.topic}-{tp.partition}" for tp in changes))
        except Exception as exc:
            # The table keeps the lower offsets, which is always safe: resuming there
            # skips rows already written and re-sends unconfirmed refusals.
            self.log.warning("could not record committed offsets in the database: %s", exc)
            self._stale = True
            if isinstance(exc, _Fenced):
                self._count_fenced()
            if not isinstance(exc, _Fenced) and classify(exc) is ErrorKind.TRANSIENT:
                self._drop_connection()
            return offsets
        self.positions.update({tp: new for tp, (_, new) in changes.items()})
        return offsets
