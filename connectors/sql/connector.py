"""The ``sql`` connector plug-in: its config model, a writer per task, and a check."""

from __future__ import annotations

from offramp import BatchWriter, FatalError, RetriableError, SinkConnector, TaskContext
from offramp.connectors.sql.config import SqlSinkConfig
from offramp.connectors.sql.connection import connect, create_engine, describe, server_version
from offramp.connectors.sql.errors import database_message
from offramp.connectors.sql.statements import Statements
from offramp.connectors.sql.writer import SqlWriter

__all__ = ["SqlSinkConnector"]


class SqlSinkConnector(SinkConnector[SqlSinkConfig]):
    """Writes records as rows into PostgreSQL, SQLite or MySQL, exactly once."""

    config_model = SqlSinkConfig
    description = "Writes records as rows (insert, upsert, update, delete) into SQL databases"

    def check(self, config: SqlSinkConfig) -> str:
        """Connect and report the server's version, e.g. ``PostgreSQL 18.6 at …``."""
        engine = create_engine(config, "offramp-check")
        try:
            try:
                conn = connect(engine, config)
            except RetriableError as exc:
                raise FatalError(str(exc)) from exc
            with conn:
                Statements(conn.dialect)  # refuses dialects we don't support
                try:
                    version = server_version(conn)
                except Exception as exc:
                    raise FatalError(
                        f"connected to {describe(config)} but could not read its version: "
                        f"{database_message(exc)}"
                    ) from exc
        finally:
            engine.dispose()
        return f"{version} at {describe(config)}"

    def create_writer(self, config: SqlSinkConfig, context: TaskContext) -> BatchWriter:
        return SqlWriter(config, context)
