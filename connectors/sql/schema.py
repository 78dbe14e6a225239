"""Tables as the connector sees them: reflected once, created (``auto.create``) and
widened with nullable columns (``auto.evolve``) when a batch needs it.

DDL runs in its own short transaction before the batch's rows, so the data
transaction never holds a table-wide lock. Two tasks racing to create the same table
or column are fine: the loser re-reads the table and finds what it wanted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeEngine

from offramp import FatalError, RetriableError
from offramp.connectors.sql.config import SqlSinkConfig
from offramp.connectors.sql.kinds import ColumnSpec, Kind
from offramp.connectors.sql.rows import TableBatch

__all__ = ["TableShape", "Tables", "column_type"]


def column_type(spec: ColumnSpec, dialect_name: str, is_key: bool = False) -> TypeEngine[Any]:
    """The SQL type for a column of ``spec.kind`` on this dialect."""
    kind = spec.kind
    mysql = dialect_name in ("mysql", "mariadb")
    if kind in (Kind.TEXT, Kind.NULL):
        # MySQL can't index TEXT: keys get a bounded VARCHAR there.
        return sa.String(255) if is_key and mysql else sa.Text()
    if kind is Kind.JSON:
        return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    if kind is Kind.DECIMAL:
        if spec.scale is None:
            return sa.Numeric()
        # The schema's precision where the database can hold it (PostgreSQL 1000 digits,
        # MySQL 65), else 38 (Kafka Connect's JDBC sink gives none: DECIMAL).
        most = 65 if mysql else 1000
        digits = spec.precision if spec.precision and spec.scale <= spec.precision <= most else 38
        return sa.Numeric(digits, spec.scale)
    types: dict[Kind, Callable[[], TypeEngine[Any]]] = {
        Kind.BOOLEAN: sa.Boolean,
        Kind.SMALLINT: sa.SmallInteger,
        Kind.INTEGER: sa.Integer,
        Kind.BIGINT: sa.BigInteger,
        Kind.REAL: lambda: sa.Float(24),
        Kind.DOUBLE: lambda: sa.Float(53),
        Kind.BYTES: sa.LargeBinary,
        Kind.DATE: sa.Date,
        Kind.TIME: sa.Time,
        Kind.TIMESTAMP: lambda: sa.DateTime(timezone=True),
    }
    return types[kind]()


@dataclass(frozen=True)
class TableShape:
    """What the writer needs to know about an existing table."""

    name: str
    columns: frozenset[str]
    primary_key: tuple[str, ...]
    unique_sets: tuple[frozenset[str], ...]  # the primary key and unique constraints

    def is_unique_on(self, columns: tuple[str, ...]) -> bool:
        return frozenset(columns) in self.unique_sets


class Tables:
    """The shapes of the tables written so far, kept until a write fails on them."""

    def __init__(self, config: SqlSinkConfig) -> None:
        self.config = config
        self._shapes: dict[str, TableShape] = {}

    def forget(self, name: str | None = None) -> None:
        """Re-read a table (or all) next time: someone may have altered it."""
        if name is None:
            self._shapes.clear()
        else:
            self._shapes.pop(name, None)

    def reflect(self, conn: Connection, name: str) -> TableShape | None:
        with conn.begin():
            inspector = sa.inspect(conn)
            if not inspector.has_table(name):
                return None
            columns = frozenset(c["name"] for c in inspector.get_columns(name))
            pk = tuple(inspector.get_pk_constraint(name).get("constrained_columns") or ())
            uniques = [frozenset(u["column_names"]) for u in inspector.get_unique_constraints(name)]
            uniques += [
                frozenset(str(c) for c in i["column_names"] if c is not None)
                for i in inspector.get_indexes(name)
                if i.get("unique")
            ]
        sets = ([frozenset(pk)] if pk else []) + uniques
        return TableShape(name, columns, pk, tuple(sets))

    def shape(self, conn: Connection, name: str) -> TableShape | None:
        shape = self._shapes.get(name)
        if shape is None:
            shape = self.reflect(conn, name)
            if shape is not None:
                self._shapes[name] = shape
        return shape

    def prepare(self, conn: Connection, batch: TableBatch) -> TableShape:
        """Make sure the table exists with the batch's key columns; with
        ``auto.evolve`` add missing value columns. Returns the table's shape; columns
        still missing are the caller's to refuse."""
        cfg = self.config
        shape = self.shape(conn, batch.table)
        if shape is None:
            if not cfg.auto_create:
                raise FatalError(
                    f"table {batch.table!r} does not exist and auto.create=false; create it "
                    "or set auto.create=true"
                )
            shape = self._ddl(conn, batch.table, lambda: self._create(conn, batch))
            if shape is None:
                raise FatalError(f"table {batch.table!r} could not be created")
        missing_keys = [c for c in batch.key_columns if c not in shape.columns]
        if missing_keys:
            raise FatalError(
                f"table {batch.table!r} has no column for key field(s) "
                f"{', '.join(missing_keys)} (pk.mode={cfg.pk_mode})"
            )
        missing = [c for c in batch.columns if c.name not in shape.columns]
        if missing and cfg.auto_evolve:
            shape = self._ddl(conn, batch.table, lambda: self._add_columns(conn, batch, missing))
            if shape is None:  # dropped while we altered it: start over on the next try
                raise RetriableError(f"table {batch.table!r} disappeared while adding columns")
        if cfg.insert_mode == "upsert" and not shape.is_unique_on(batch.key_columns):
            raise FatalError(
                f"insert.mode=upsert needs a primary key or unique constraint on "
                f"({', '.join(batch.key_columns)}) in table {batch.table!r}"
            )
        return shape

    def _ddl(self, conn: Connection, name: str, change: Callable[[], None]) -> TableShape | None:
        try:
            with conn.begin():
                change()
        except sa.exc.DBAPIError:
            # Another task may have made the same change first: look again before
            # deciding it failed.
            self.forget(name)
            if self.shape(conn, name) is None:
                raise
        self.forget(name)
        return self.shape(conn, name)

    def _create(self, conn: Connection, batch: TableBatch) -> None:
        dialect = conn.dialect.name
        keys = set(batch.key_columns)
        columns = [
            sa.Column(
                spec.name,
                column_type(spec, dialect, spec.name in keys),
                primary_key=spec.name in keys,
                nullable=spec.name not in keys and spec.nullable,
                autoincrement=False,
            )
            for spec in batch.columns
        ]
        table = sa.Table(batch.table, sa.MetaData(), *columns)
        table.create(conn, checkfirst=True)

    def _add_columns(self, conn: Connection, batch: TableBatch, specs: list[ColumnSpec]) -> None:
        dialect = conn.dialect
        quote = dialect.identifier_preparer.quote
        for spec in specs:
            sql_type = column_type(spec, dialect.name).compile(dialect=dialect)
            # Added columns are always nullable: existing rows have no value for them.
            # (Empty parameters: the driver then undoes the %-doubling in quoted names.)
            conn.exec_driver_sql(
                f"ALTER TABLE {quote(batch.table)} ADD COLUMN {quote(spec.name)} {sql_type}", {}
            )
