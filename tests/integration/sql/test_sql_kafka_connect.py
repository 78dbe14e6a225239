"""Confluent JDBC sink configs (``.properties``, ``jdbc:`` URLs, Confluent's class name)
run on offramp's sql connector through the real broker."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest

from devstack.kafka import KafkaBroker
from devstack.postgres import PostgresServer
from offramp.errors import ConfigError
from offramp.worker import Worker
from tests.conftest import produce, wait_for
from tests.integration.properties_support import CONFIGS, read_properties
from tests.integration.sql.support import PgConnection

ORDER_SCHEMA = {
    "type": "struct",
    "name": "orders",
    "optional": False,
    "fields": [
        {"field": "id", "type": "int32", "optional": False},
        {"field": "product", "type": "string", "optional": False},
        {"field": "quantity", "type": "int32", "optional": False},
        {"field": "price", "type": "float64", "optional": False},
    ],
}


def _order(order_id: int, product: str, quantity: int) -> bytes:
    """A JsonConverter record with its schema, as the quickstart's producer sends it."""
    payload = {"id": order_id, "product": product, "quantity": quantity, "price": 1.5 * quantity}
    return orjson.dumps({"schema": ORDER_SCHEMA, "payload": payload})


def _rows(pg: PgConnection, table: str) -> list[tuple[Any, ...]]:
    try:
        return pg.execute(f'SELECT id, product, quantity FROM "{table}" ORDER BY id').fetchall()
    except Exception:  # table not created yet
        return []


def test_confluent_jdbc_quickstart_properties_upsert_into_postgres(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    postgres: PostgresServer,
    pg: PgConnection,
    unique: str,
) -> None:
    """configs/kafka-connect/jdbc-sink.properties (Confluent's class name, a
    jdbc:postgresql:// URL with user and password in its query, upsert by a value field,
    auto.create, the JSON converter with schemas) runs with only the topic and server
    changed: the table is created with the schema's types and holds each id's last
    version."""
    config = read_properties(CONFIGS / "jdbc-sink.properties")
    assert config["connector.class"] == "io.confluent.connect.jdbc.JdbcSinkConnector"
    assert config["connection.url"].startswith("jdbc:postgresql://")
    topic, name = make_topic("orders"), f"jdbc-{unique}"
    config.update(
        name=name,
        topics=topic,
        **{
            "connection.url": f"jdbc:postgresql://{postgres.host}:{postgres.port}/"
            f"{postgres.database}?user={quote(postgres.user)}&password={quote(postgres.password)}"
        },
    )
    produce(kafka.bootstrap, topic, [_order(i, f"p{i}", i) for i in range(1, 51)])
    produce(kafka.bootstrap, topic, [_order(7, "p7-again", 70)])
    worker.create(name, config)
    try:
        wait_for(lambda: len(_rows(pg, topic)) == 50 and (7, "p7-again", 70) in _rows(pg, topic))
        rows = _rows(pg, topic)
        assert rows[0] == (1, "p1", 1)
        types = dict(
            pg.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = %s",
                (topic,),
            ).fetchall()
        )
        assert types == {
            "id": "integer",
            "product": "text",
            "quantity": "integer",
            "price": "double precision",
        }
        assert [t.status.state for t in worker.get(name).tasks] == ["RUNNING"]
    finally:
        worker.delete(name)


def test_confluent_jdbc_sqlite_quickstart_properties_run_unchanged(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """configs/kafka-connect/jdbc-sink-sqlite.properties (jdbc:sqlite:test.db, relative
    to the working directory, pk.mode=kafka) writes every record as a row keyed by its
    Kafka coordinates; only the topic is changed."""
    monkeypatch.chdir(tmp_path)
    config = read_properties(CONFIGS / "jdbc-sink-sqlite.properties")
    assert config["connection.url"] == "jdbc:sqlite:test.db"
    topic, name = make_topic("orders"), f"lite-{unique}"
    config.update(name=name, topics=topic)
    produce(kafka.bootstrap, topic, [_order(i, f"p{i}", i) for i in range(20)])
    worker.create(name, config)

    def rows() -> list[tuple[Any, ...]]:
        if not (tmp_path / "test.db").exists():
            return []
        conn = sqlite3.connect(tmp_path / "test.db")
        try:
            return conn.execute(
                f'SELECT __connect_offset, id, product FROM "{topic}" ORDER BY __connect_offset'
            ).fetchall()
        except sqlite3.OperationalError:
            return []
        finally:
            conn.close()

    try:
        wait_for(lambda: len(rows()) == 20)
        assert rows()[:2] == [(0, 0, "p0"), (1, 1, "p1")]
    finally:
        worker.delete(name)  # before the working directory is restored


def test_confluent_jdbc_keys_offramp_lacks_are_refused_before_anything_starts(
    worker: Worker, make_topic: Callable[..., str], unique: str, tmp_path: Path
) -> None:
    """A Confluent JDBC config with keys that have no same-meaning setting is refused by
    create, naming each key with why; no connector is left behind."""
    config = read_properties(CONFIGS / "jdbc-sink-sqlite.properties")
    config.update(
        name=f"refused-{unique}",
        topics=make_topic("orders"),
        **{
            "connection.url": f"jdbc:sqlite:{tmp_path / 'x.db'}",
            "max.retries": "10",
            "retry.backoff.ms": "3000",
            "connection.attempts": "3",
            "connection.loginTimeout": "10",
            "dialect.name": "MySqlDatabaseDialect",
            "db.timezone": "Europe/Berlin",
        },
    )
    with pytest.raises(ConfigError) as refused:
        worker.create(config["name"], config)
    keys = {key for key, _ in refused.value.errors}
    assert keys == {
        "max.retries",
        "retry.backoff.ms",
        "connection.attempts",
        "connection.loginTimeout",
        "dialect.name",
        "db.timezone",
    }
    assert config["name"] not in worker.names()
    assert not (tmp_path / "x.db").exists()
