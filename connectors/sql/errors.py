"""Which database errors are whose fault: the network's, a record's, or the setup's.

- ``TRANSIENT``: lost or refused connections, deadlocks, serialization failures, lock
  timeouts, a server shutting down or out of connections, a table altered under us.
  The batch is retried (``RetriableError``).
- ``RECORD``: a row broke a constraint or its value doesn't fit its column. The batch
  is bisected to the bad rows, which are dead-lettered with the database's message.
- ``FATAL``: bad credentials, a missing database, missing privileges, or SQL the
  database won't run. The task fails with the message (``FatalError``).

PostgreSQL is judged by SQLSTATE class; SQLite by its exception type and message;
MySQL/MariaDB by error number. Connection failures carry no SQLSTATE, so their text
decides between "wrong settings" and "not reachable right now".
"""

from __future__ import annotations

import enum
import sqlite3

import sqlalchemy as sa

__all__ = ["ErrorKind", "RowRejectedError", "classify", "database_message", "sqlstate"]


class RowRejectedError(Exception):
    """The database refused one row; the message carries the database's own words."""


class ErrorKind(enum.Enum):
    TRANSIENT = "transient"
    RECORD = "record"
    FATAL = "fatal"


_PG_TRANSIENT_CLASSES = ("08", "40", "53", "57", "58")
_PG_RECORD_CLASSES = ("22", "23", "21", "54")
_PG_TRANSIENT = {"55P03", "55006", "42P01", "42703"}  # lock timeout; table/column dropped
_PG_RECORD = {"42804", "42846"}  # datatype mismatch, cannot coerce: the value's fault
_PG_FATAL_CLASSES = ("28", "3D", "3F", "42", "0A", "25", "2B", "44")

_SETUP_PHRASES = (
    "password authentication failed",
    "authentication failed",
    "no pg_hba.conf entry",
    "does not exist",
    "access denied",
    "unknown database",
    "permission denied",
    "unable to open database file",
    "readonly database",
    "invalid dsn",
    "invalid connection option",
)

_MYSQL_TRANSIENT = {1205, 1213, 1040, 1053, 2002, 2003, 2006, 2013, 2055, 1317}
_MYSQL_RECORD = {1048, 1062, 1264, 1265, 1292, 1364, 1366, 1406, 1451, 1452, 3819, 4025}


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a PostgreSQL error (psycopg puts it on the driver exception)."""
    orig = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    state = getattr(orig, "sqlstate", None)
    return state if isinstance(state, str) else None


def database_message(exc: BaseException) -> str:
    """The database's own words, without SQLAlchemy's statement dump."""
    orig = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    return str(orig).strip() or type(orig).__name__


def _classify_postgres(state: str) -> ErrorKind:
    if state in _PG_TRANSIENT:
        return ErrorKind.TRANSIENT
    if state in _PG_RECORD:
        return ErrorKind.RECORD
    if state.startswith(_PG_TRANSIENT_CLASSES):
        return ErrorKind.TRANSIENT
    if state.startswith(_PG_RECORD_CLASSES):
        return ErrorKind.RECORD
    return ErrorKind.FATAL


def _classify_sqlite(orig: sqlite3.Error) -> ErrorKind:
    message = str(orig).lower()
    if isinstance(orig, sqlite3.IntegrityError | sqlite3.DataError | sqlite3.InterfaceError):
        return ErrorKind.RECORD
    if isinstance(orig, sqlite3.OperationalError):
        if "locked" in message or "busy" in message or "disk i/o" in message:
            return ErrorKind.TRANSIENT
        if "no such table" in message or "no such column" in message or "has no column" in message:
            return ErrorKind.TRANSIENT  # altered under us: re-read it and retry
        if "datatype mismatch" in message:
            return ErrorKind.RECORD
    if isinstance(orig, sqlite3.ProgrammingError) and "binding" in message:
        return ErrorKind.RECORD
    return ErrorKind.FATAL


def _mysql_code(orig: BaseException) -> int | None:
    args = getattr(orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _is(orig: BaseException, name: str) -> bool:
    """PEP 249 exception classes by name, whatever the driver module."""
    return any(cls.__name__ == name for cls in type(orig).__mro__)


def classify(exc: BaseException) -> ErrorKind:
    """Whose fault ``exc`` is (see the module docstring). Takes SQLAlchemy's wrapped
    errors and raw driver errors (the COPY path talks to psycopg directly)."""
    if isinstance(exc, OverflowError | ValueError | TypeError | UnicodeError):
        return ErrorKind.RECORD  # the driver could not bind a value
    if isinstance(exc, sa.exc.TimeoutError | sa.exc.DisconnectionError):
        return ErrorKind.TRANSIENT
    if isinstance(exc, sa.exc.DBAPIError):
        if exc.connection_invalidated:
            return ErrorKind.TRANSIENT
        orig: BaseException = exc.orig if exc.orig is not None else exc
    elif isinstance(exc, sa.exc.SQLAlchemyError):
        return ErrorKind.FATAL
    else:
        orig = exc
    state = sqlstate(orig)
    if state:
        return _classify_postgres(state)
    if isinstance(orig, sqlite3.Error):
        return _classify_sqlite(orig)
    code = _mysql_code(orig)
    if code is not None and _is(orig, "Error"):
        if code in _MYSQL_TRANSIENT:
            return ErrorKind.TRANSIENT
        if code in _MYSQL_RECORD:
            return ErrorKind.RECORD
        return ErrorKind.FATAL
    if _is(orig, "IntegrityError") or _is(orig, "DataError"):
        return ErrorKind.RECORD
    if _is(orig, "OperationalError") or _is(orig, "InterfaceError"):
        # No code: a connection that failed. Wrong settings are fatal; anything else
        # (refused, reset, timed out) is worth another try.
        message = database_message(orig).lower()
        if any(phrase in message for phrase in _SETUP_PHRASES):
            return ErrorKind.FATAL
        return ErrorKind.TRANSIENT
    return ErrorKind.FATAL
