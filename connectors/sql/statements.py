"""The DML the connector runs, written per dialect.

Statements are built as text once per (table, columns) and run with positional
parameter tuples through the driver's ``executemany``: SQLAlchemy quotes the
identifiers and knows the driver's parameter style, but compiling Core statements
and binding dicts per row would cost more than the database does on SQLite.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Dialect

from offramp import FatalError
from offramp.connectors.sql.kinds import Kind

__all__ = ["SUPPORTED_DIALECTS", "Statements"]

SUPPORTED_DIALECTS = ("postgresql", "sqlite", "mysql", "mariadb")


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _naive_utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


class Statements:
    """SQL text for one database dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self.name = dialect.name
        if self.name not in SUPPORTED_DIALECTS:
            raise FatalError(
                f"the sql connector supports {', '.join(SUPPORTED_DIALECTS)}; "
                f"connection.url names {self.name!r}"
            )
        self._quote = dialect.identifier_preparer.quote
        style = dialect.paramstyle
        self._mark: Callable[[int], str]
        if style == "qmark":
            self._mark = lambda _: "?"
        elif style in ("format", "pyformat"):
            self._mark = lambda _: "%s"
        elif style == "numeric":
            self._mark = lambda i: f":{i + 1}"
        elif style == "numeric_dollar":
            self._mark = lambda i: f"${i + 1}"
        else:
            raise FatalError(
                f"the {dialect.driver} driver takes {style} parameters; use a driver with "
                "positional parameters (psycopg, pysqlite, pymysql)"
            )

    @property
    def mysql(self) -> bool:
        return self.name in ("mysql", "mariadb")

    def quote(self, name: str) -> str:
        """A quoted identifier for SQL run with parameters (SQLAlchemy doubles a % where
        %s is the placeholder)."""
        return self._quote(name)

    def _marks(self, count: int, start: int = 0) -> str:
        return ", ".join(self._mark(i) for i in range(start, start + count))

    def _names(self, columns: Sequence[str]) -> str:
        return ", ".join(self.quote(c) for c in columns)

    def adapt(self, kind: Kind, values: list[Any]) -> list[Any]:
        """Values the driver can't bind as they are (SQLite has no date or decimal
        types; MySQL's DATETIME has no time zone)."""
        if self.name == "sqlite" and kind in (Kind.DATE, Kind.TIME, Kind.TIMESTAMP, Kind.DECIMAL):
            return [
                v if v is None else (_iso(v) if kind is not Kind.DECIMAL else str(v))
                for v in values
            ]
        if self.mysql and kind is Kind.TIMESTAMP:
            return [_naive_utc(v) for v in values]
        return values

    # ----- rows ----------------------------------------------------------------------

    def insert(self, table: str, columns: Sequence[str]) -> str:
        return (
            f"INSERT INTO {self.quote(table)} ({self._names(columns)}) "
            f"VALUES ({self._marks(len(columns))})"
        )

    def upsert(self, table: str, columns: Sequence[str], keys: Sequence[str]) -> str:
        """Insert, or overwrite the non-key columns of the row with the same key."""
        insert = self.insert(table, columns)
        rest = [c for c in columns if c not in keys]
        if self.mysql:
            if not rest:
                return insert.replace("INSERT INTO", "INSERT IGNORE INTO", 1)
            updates = ", ".join(f"{self.quote(c)} = VALUES({self.quote(c)})" for c in rest)
            return f"{insert} ON DUPLICATE KEY UPDATE {updates}"
        conflict = f"ON CONFLICT ({self._names(keys)})"
        if not rest:
            return f"{insert} {conflict} DO NOTHING"
        updates = ", ".join(f"{self.quote(c)} = excluded.{self.quote(c)}" for c in rest)
        return f"{insert} {conflict} DO UPDATE SET {updates}"

    def update(self, table: str, columns: Sequence[str], keys: Sequence[str]) -> str:
        """UPDATE by key; parameters: the non-key columns, then the keys."""
        return self.update_where(table, [c for c in columns if c not in keys], keys)

    def update_where(self, table: str, sets: Sequence[str], where: Sequence[str]) -> str:
        """UPDATE ``sets`` of rows matching every ``where`` column; parameters in that
        order (a column may be in both: set it, and match its old value)."""
        assignments = ", ".join(f"{self.quote(c)} = {self._mark(i)}" for i, c in enumerate(sets))
        matches = " AND ".join(
            f"{self.quote(k)} = {self._mark(len(sets) + i)}" for i, k in enumerate(where)
        )
        return f"UPDATE {self.quote(table)} SET {assignments} WHERE {matches}"

    def delete(self, table: str, keys: Sequence[str]) -> str:
        where = " AND ".join(f"{self.quote(k)} = {self._mark(i)}" for i, k in enumerate(keys))
        return f"DELETE FROM {self.quote(table)} WHERE {where}"

    def insert_if_absent(self, table: str, columns: Sequence[str]) -> str:
        """INSERT that does nothing when the key exists (rowcount says which)."""
        insert = self.insert(table, columns)
        if self.mysql:
            return insert.replace("INSERT INTO", "INSERT IGNORE INTO", 1)
        return f"{insert} ON CONFLICT DO NOTHING"
