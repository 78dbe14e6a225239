"""Connecting: one engine per task, one connection held for the task's life.

No pool (``NullPool``): a task uses one connection at a time, and after a transient
failure the connection is thrown away rather than handed back. SQLite gets the
settings that make one transaction per batch behave: transactions opened by us with
``BEGIN IMMEDIATE`` (so SAVEPOINTs work and two tasks never deadlock upgrading a read
lock), a busy timeout to wait out the other writer, and WAL so readers don't block it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from offramp import FatalError, RetriableError
from offramp.connectors.sql.config import SqlSinkConfig
from offramp.connectors.sql.errors import ErrorKind, classify, database_message

__all__ = ["connect", "create_engine", "describe", "server_version"]

SQLITE_BUSY_TIMEOUT_S = 30.0


def describe(config: SqlSinkConfig) -> str:
    """The URL as it is safe to show: no password."""
    return config.url.render_as_string(hide_password=True)


def create_engine(config: SqlSinkConfig, application_name: str = "offramp") -> Engine:
    url = config.url
    backend = url.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend == "postgresql" and url.get_driver_name() == "psycopg":
        connect_args = {"connect_timeout": 10, "application_name": application_name}
    elif backend == "sqlite":
        connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_S}
    engine = sa.create_engine(url, poolclass=NullPool, connect_args=connect_args)
    if backend == "sqlite":
        _tune_sqlite(engine, file_backed=url.database not in (None, "", ":memory:"))
    return engine


def _tune_sqlite(engine: Engine, file_backed: bool) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling defeats SAVEPOINT: take it over.
        dbapi_connection.isolation_level = None
        if file_backed:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def connect(engine: Engine, config: SqlSinkConfig) -> Connection:
    """A connection, or the reason there is none: ``FatalError`` for settings that can
    never work (bad credentials, missing database), ``RetriableError`` otherwise."""
    try:
        return engine.connect()
    except sa.exc.DBAPIError as exc:
        message = f"cannot connect to {describe(config)}: {database_message(exc)}"
        if classify(exc) is ErrorKind.FATAL:
            raise FatalError(message) from exc
        raise RetriableError(message) from exc


def server_version(conn: Connection) -> str:
    """The database product and version, e.g. ``PostgreSQL 18.6``."""
    name = conn.dialect.name
    with conn.begin():
        if name == "postgresql":
            text = str(conn.exec_driver_sql("SELECT version()").scalar())
            return " ".join(text.split()[:2])  # "PostgreSQL 18.6 on x86_64..." → 2 words
        if name == "sqlite":
            return f"SQLite {conn.exec_driver_sql('SELECT sqlite_version()').scalar()}"
        if name in ("mysql", "mariadb"):
            version = str(conn.exec_driver_sql("SELECT VERSION()").scalar())
            product = "MariaDB" if "mariadb" in version.lower() else "MySQL"
            return f"{product} {version}"
    info = conn.dialect.server_version_info or ()
    return f"{name} {'.'.join(map(str, info))}".strip()
