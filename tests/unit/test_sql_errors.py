"""Database errors are sorted into transient, bad-record and fatal, per database."""

from __future__ import annotations

import sqlite3

import psycopg
import psycopg.errors
import pytest
import sqlalchemy as sa

from offramp.connectors.sql.errors import ErrorKind, classify, database_message, sqlstate

TRANSIENT, RECORD, FATAL = ErrorKind.TRANSIENT, ErrorKind.RECORD, ErrorKind.FATAL


def _wrapped(orig: BaseException) -> BaseException:
    """``orig`` as SQLAlchemy raises it from a statement."""
    return sa.exc.DBAPIError.instance("INSERT …", None, orig, Exception)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (psycopg.errors.SerializationFailure("could not serialize"), TRANSIENT),
        (psycopg.errors.DeadlockDetected("deadlock detected"), TRANSIENT),
        (psycopg.errors.AdminShutdown("terminating connection"), TRANSIENT),
        (psycopg.errors.TooManyConnections("too many clients"), TRANSIENT),
        (psycopg.errors.LockNotAvailable("lock timeout"), TRANSIENT),
        (psycopg.OperationalError("connection failed: Connection refused"), TRANSIENT),
        (psycopg.errors.UniqueViolation("duplicate key"), RECORD),
        (psycopg.errors.NotNullViolation("null value in column"), RECORD),
        (psycopg.errors.CheckViolation("violates check constraint"), RECORD),
        (psycopg.errors.InvalidTextRepresentation("invalid input syntax"), RECORD),
        (psycopg.errors.NumericValueOutOfRange("bigint out of range"), RECORD),
        (psycopg.errors.StringDataRightTruncation("value too long"), RECORD),
        (psycopg.errors.DatatypeMismatch("column is of type bigint"), RECORD),
        (psycopg.errors.CardinalityViolation("affect row a second time"), RECORD),
        (psycopg.errors.InsufficientPrivilege("permission denied"), FATAL),
        (psycopg.errors.InvalidPassword("password authentication failed"), FATAL),
        (psycopg.errors.SyntaxError("syntax error"), FATAL),
        (
            psycopg.OperationalError('FATAL:  password authentication failed for user "x"'),
            FATAL,
        ),
        (psycopg.OperationalError('FATAL:  database "nope" does not exist'), FATAL),
    ],
)
def test_postgres_errors_by_sqlstate_or_connection_message(
    error: BaseException, kind: ErrorKind
) -> None:
    """PostgreSQL: SQLSTATE decides; a connect failure without one is fatal only when it
    names wrong settings. Raw (COPY) and SQLAlchemy-wrapped errors agree."""
    assert classify(error) is kind
    assert classify(_wrapped(error)) is kind


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (sqlite3.OperationalError("database is locked"), TRANSIENT),
        (sqlite3.OperationalError("no such table: calls"), TRANSIENT),
        (sqlite3.IntegrityError("NOT NULL constraint failed: calls.tenant"), RECORD),
        (sqlite3.IntegrityError("UNIQUE constraint failed: calls.id"), RECORD),
        (sqlite3.OperationalError("unable to open database file"), FATAL),
        (sqlite3.OperationalError("attempt to write a readonly database"), FATAL),
    ],
)
def test_sqlite_errors_by_type_and_message(error: BaseException, kind: ErrorKind) -> None:
    """SQLite: locks wait, constraints are the record's, an unopenable file is fatal."""
    assert classify(_wrapped(error)) is kind


def test_values_the_driver_cannot_bind_are_the_records_fault() -> None:
    """OverflowError (an int too large for SQLite) and friends count as bad records."""
    assert classify(OverflowError("Python int too large")) is RECORD


def test_a_dropped_connection_is_transient() -> None:
    """SQLAlchemy's invalidated-connection flag means retry, whatever the error says."""
    error = sa.exc.DBAPIError.instance(
        "SELECT 1",
        None,
        psycopg.errors.SyntaxError("x"),
        Exception,
        connection_invalidated=True,
    )
    assert classify(error) is TRANSIENT


def test_the_databases_own_message_and_sqlstate_are_kept() -> None:
    """What goes to the dead letter is the database's text, not SQLAlchemy's dump."""
    error = _wrapped(psycopg.errors.UniqueViolation("duplicate key value violates unique"))
    assert database_message(error) == "duplicate key value violates unique"
    assert sqlstate(error) == "23505"
