"""Exactly-once: each partition's next offset lives in the database, next to the rows.

One row per ``(connector, topic, partition)`` in the offsets table holds
``next_offset``, written in the same transaction as the batch's rows, so after a crash
the table and the rows agree and the task resumes exactly where the rows end.

Two refinements keep that promise in the corners:

- ``pending_failures`` lists offsets below ``next_offset`` whose records were refused
  and handed to the runtime for the dead-letter topic, but whose dead letters are not
  yet known to be acknowledged. The task resumes at the first of them, rewrites none of
  the rows already there, and hands the refused ones over again. ``pre_commit`` (which
  the runtime calls after the dead letters are flushed) clears them.
- Every advance is conditional on the value read before (``WHERE next_offset =
  expected``), so a writer that lost its partition to another task (a zombie) or whose
  commit outcome is unknown (connection lost during COMMIT) notices, rolls back, and
  re-reads instead of writing a second time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from offramp import TopicPartition
from offramp.connectors.sql.statements import Statements

__all__ = ["OffsetStore", "StoredOffset"]


@dataclass(frozen=True)
class StoredOffset:
    next_offset: int
    pending: frozenset[int] = frozenset()

    @property
    def resume_at(self) -> int:
        """Where consuming must restart: the first unconfirmed failure, else the end."""
        return min(self.pending) if self.pending else self.next_offset

    def already_written(self, offset: int) -> bool:
        return offset < self.next_offset and offset not in self.pending


def _encode(pending: frozenset[int]) -> str | None:
    return orjson.dumps(sorted(pending)).decode() if pending else None


def _decode(text: str | None) -> frozenset[int]:
    return frozenset(orjson.loads(text)) if text else frozenset()


class OffsetStore:
    """The offsets table of one connector."""

    def __init__(self, table_name: str, connector: str, statements: Statements) -> None:
        self.connector = connector
        self.table = sa.Table(
            table_name,
            sa.MetaData(),
            sa.Column("connector", sa.String(255), primary_key=True),
            sa.Column("topic", sa.String(255), primary_key=True),
            sa.Column("partition", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("next_offset", sa.BigInteger, nullable=False),
            sa.Column("pending_failures", sa.Text, nullable=True),
        )
        columns = [c.name for c in self.table.columns]
        self._insert = statements.insert_if_absent(table_name, columns)
        self._update = statements.update_where(
            table_name,
            ["next_offset", "pending_failures"],
            ["connector", "topic", "partition", "next_offset"],
        )

    def ensure_table(self, conn: Connection) -> None:
        try:
            with conn.begin():
                self.table.create(conn, checkfirst=True)
        except sa.exc.DBAPIError:
            # Another task created it between the check and the CREATE.
            with conn.begin():
                if not sa.inspect(conn).has_table(self.table.name):
                    raise

    def load(
        self, conn: Connection, partitions: Iterable[TopicPartition]
    ) -> dict[TopicPartition, StoredOffset]:
        wanted = set(partitions)
        t = self.table.c
        query = sa.select(t.topic, t.partition, t.next_offset, t.pending_failures).where(
            t.connector == self.connector
        )
        found: dict[TopicPartition, StoredOffset] = {}
        with conn.begin():
            for topic, partition, next_offset, pending in conn.execute(query):
                tp = TopicPartition(topic, partition)
                if tp in wanted:
                    found[tp] = StoredOffset(int(next_offset), _decode(pending))
        return found

    def advance(
        self,
        conn: Connection,
        changes: Sequence[tuple[TopicPartition, StoredOffset | None, StoredOffset]],
    ) -> bool:
        """Store each ``(partition, expected, new)`` if its row still says ``expected``
        (None: no row yet), inside the caller's transaction: one ``executemany`` for the
        updates and one for the inserts. False means some row moved under us: roll
        back and re-read."""
        updates = [
            (
                new.next_offset,
                _encode(new.pending),
                self.connector,
                tp.topic,
                tp.partition,
                old.next_offset,
            )
            for tp, old, new in changes
            if old is not None
        ]
        inserts = [
            (self.connector, tp.topic, tp.partition, new.next_offset, _encode(new.pending))
            for tp, old, new in changes
            if old is None
        ]
        moved = 0
        if updates:
            moved += len(updates) - conn.exec_driver_sql(self._update, updates).rowcount
        if inserts:
            moved += len(inserts) - conn.exec_driver_sql(self._insert, inserts).rowcount
        return moved == 0
