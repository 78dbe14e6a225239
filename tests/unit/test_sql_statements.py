"""The DML text per dialect: quoting, placeholders, upsert syntax."""

from __future__ import annotations

import pytest
from sqlalchemy.dialects import mssql, mysql, postgresql, sqlite

from offramp import FatalError
from offramp.connectors.sql.kinds import Kind
from offramp.connectors.sql.statements import Statements


def test_postgres_upsert_uses_on_conflict_with_excluded_values() -> None:
    """PostgreSQL: INSERT … ON CONFLICT (key) DO UPDATE SET col = excluded.col."""
    sql = Statements(postgresql.psycopg.dialect()).upsert("calls", ["id", "cost"], ["id"])
    assert sql == (
        "INSERT INTO calls (id, cost) VALUES (%s, %s) "
        "ON CONFLICT (id) DO UPDATE SET cost = excluded.cost"
    )


def test_key_only_upserts_do_nothing_on_conflict() -> None:
    """With only key columns there is nothing to update."""
    sql = Statements(sqlite.dialect()).upsert("t", ["id"], ["id"])
    assert sql == "INSERT INTO t (id) VALUES (?) ON CONFLICT (id) DO NOTHING"


def test_mysql_upsert_uses_on_duplicate_key_update() -> None:
    """MySQL/MariaDB: ON DUPLICATE KEY UPDATE col = VALUES(col), backquoted names."""
    sql = Statements(mysql.dialect()).upsert("calls", ["id", "partition"], ["id"])
    assert sql.endswith("ON DUPLICATE KEY UPDATE `partition` = VALUES(`partition`)")


def test_update_and_delete_bind_keys_last() -> None:
    """UPDATE sets the non-key columns then matches the key; DELETE matches the key."""
    s = Statements(sqlite.dialect())
    assert s.update("t", ["a", "b", "c"], ["a", "b"]) == "UPDATE t SET c = ? WHERE a = ? AND b = ?"
    assert s.delete("t", ["a"]) == "DELETE FROM t WHERE a = ?"


def test_odd_names_are_quoted_and_percent_signs_escaped_for_format_drivers() -> None:
    """Names with dashes or capitals are quoted; % is doubled where %s is a placeholder."""
    s = Statements(postgresql.psycopg.dialect())
    assert s.insert("calls-eu", ["Cost%"]) == 'INSERT INTO "calls-eu" ("Cost%%") VALUES (%s)'
    assert Statements(sqlite.dialect()).quote("Cost%") == '"Cost%"'


def test_sqlite_gets_dates_and_decimals_as_text() -> None:
    """SQLite has no date or decimal type: those values are bound as ISO text / str."""
    from datetime import date
    from decimal import Decimal

    s = Statements(sqlite.dialect())
    assert s.adapt(Kind.DATE, [date(2026, 1, 2), None]) == ["2026-01-02", None]
    assert s.adapt(Kind.DECIMAL, [Decimal("1.50")]) == ["1.50"]
    assert s.adapt(Kind.TEXT, ["x"]) == ["x"]


def test_unsupported_dialects_are_refused_clearly() -> None:
    """A dialect outside PostgreSQL, SQLite, MySQL and MariaDB is a FatalError naming it."""
    with pytest.raises(FatalError, match="supports postgresql, sqlite, mysql, mariadb"):
        Statements(mssql.dialect())
