"""JDBC URLs from Confluent JDBC sink configs become SQLAlchemy URLs, or are refused
naming what can't be translated."""

from __future__ import annotations

import pytest

from offramp.connectors.sql.config import SqlSinkConfig
from offramp.connectors.sql.jdbc import from_jdbc


@pytest.mark.parametrize(
    ("jdbc", "url"),
    [
        (
            "jdbc:postgresql://db:5432/billing?user=kim&password=p%40ss",
            "postgresql+psycopg://kim:p%40ss@db:5432/billing",
        ),
        (
            "jdbc:postgresql://db/billing?sslmode=require&currentSchema=eu",
            "postgresql+psycopg://db/billing?options=-csearch_path%3Deu&sslmode=require",
        ),
        ("jdbc:mysql://root:pw@127.0.0.1:3306/test", "mysql+pymysql://root:pw@127.0.0.1:3306/test"),
        ("jdbc:mariadb://h/db?user=a", "mysql+pymysql://a@h/db"),
        ("jdbc:sqlite:test.db", "sqlite:///test.db"),
        ("jdbc:sqlite:/var/lib/x.db", "sqlite:////var/lib/x.db"),
        ("postgresql+psycopg://h/db", "postgresql+psycopg://h/db"),
    ],
)
def test_jdbc_urls_are_translated(jdbc: str, url: str) -> None:
    """Each supported JDBC form maps to the SQLAlchemy URL with the same meaning."""
    assert from_jdbc(jdbc) == url


@pytest.mark.parametrize(
    ("jdbc", "message"),
    [
        ("jdbc:oracle:thin:@h:1521:x", "jdbc:oracle URLs are not supported"),
        ("jdbc:sqlserver://h;databaseName=x", "jdbc:sqlserver URLs are not supported"),
        ("jdbc:mysql://h/db?useSSL=true&requireSSL=true", "useSSL, requireSSL have no"),
        ("jdbc:postgresql://a,b/db", "several hosts"),
        ("jdbc:sqlite::memory:", "one database per connection"),
        ("jdbc:sqlite:x.db?journal_mode=WAL", "jdbc:sqlite parameters"),
    ],
)
def test_untranslatable_jdbc_urls_are_refused_by_what(jdbc: str, message: str) -> None:
    """What can't be translated is named, never passed on."""
    with pytest.raises(ValueError, match=message):
        from_jdbc(jdbc)


def test_connection_user_and_password_win_over_the_query() -> None:
    """connection.user/connection.password replace the JDBC query's user and password."""
    config = SqlSinkConfig.model_validate(
        {
            "connection.url": "jdbc:postgresql://h/db?user=a&password=b",
            "connection.user": "c",
            "connection.password": "d",
        }
    )
    assert config.url.username == "c"
    assert config.url.password == "d"
    assert config.url.drivername == "postgresql+psycopg"
