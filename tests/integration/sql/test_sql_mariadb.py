"""The sql connector against a real MariaDB (the MySQL dialect, PyMySQL) through the
real broker: upserts, deletes, evolution and exactly-once offsets, refused rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pymysql
import pytest

from devstack.kafka import KafkaBroker
from devstack.mariadb import MariaDBServer
from offramp.connectors.sql import SqlSinkConfig, SqlSinkConnector
from offramp.testing import read_dead_letters
from offramp.worker import Worker
from tests.conftest import produce, wait_for
from tests.integration.runtime_support import dead_letters_to
from tests.integration.sql.support import group_offsets, offsets_agree, sql_config

MariaDBConnection = pymysql.connections.Connection


@pytest.fixture
def db(mariadb: MariaDBServer) -> Iterator[MariaDBConnection]:
    """An autocommit connection for a test's own queries."""
    conn = pymysql.connect(
        host=mariadb.host,
        port=mariadb.port,
        user=mariadb.user,
        password=mariadb.password,
        database=mariadb.database,
        autocommit=True,
    )
    try:
        yield conn
    finally:
        conn.close()


def _query(conn: MariaDBConnection, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of ``sql``; none while the table doesn't exist yet."""
    with conn.cursor() as cursor:
        try:
            cursor.execute(sql, params or None)
        except pymysql.err.ProgrammingError:
            return []
        return list(cursor.fetchall())


def _stored_offsets(conn: MariaDBConnection, connector: str) -> dict[tuple[str, int], int]:
    rows = _query(
        conn,
        "SELECT topic, `partition`, next_offset FROM offramp_offsets WHERE connector = %s",
        connector,
    )
    return {(topic, partition): offset for topic, partition, offset in rows}


def _produce_json(bootstrap: str, topic: str, rows: list[tuple[str, Any]]) -> None:
    produce(
        bootstrap,
        topic,
        [None if v is None else orjson.dumps(v) for _, v in rows],
        keys=[k.encode() for k, _ in rows],
    )


def test_upserts_deletes_and_new_columns_land_exactly_once_with_the_offsets(
    worker: Worker,
    kafka: KafkaBroker,
    mariadb: MariaDBServer,
    db: MariaDBConnection,
    make_topic: Callable[..., str],
    unique: str,
) -> None:
    """Auto-created table (VARCHAR key), ON DUPLICATE KEY UPDATE keeping each key's last
    version, tombstones deleting, a new field adding a nullable column; the offsets
    table in MariaDB matches the committed consumer offsets."""
    topic, name, table = make_topic("calls", partitions=2), f"maria-{unique}", f"m_{unique}"
    rows: list[tuple[str, Any]] = [(f"c{i}", {"cost": i, "tenant": "acme"}) for i in range(300)]
    rows += [("c3", None), ("c7", {"cost": 70, "tenant": "globex", "currency": "EUR"})]
    rows += [("c9", None)]
    _produce_json(kafka.bootstrap, topic, rows)
    worker.create(
        name,
        sql_config(
            topic,
            mariadb.url(),
            **{
                "table.name.format": table,
                "insert.mode": "upsert",
                "pk.mode": "record_key",
                "pk.fields": "id",
                "delete.enabled": "true",
                "auto.create": "true",
                "auto.evolve": "true",
            },
        ),
    )

    wait_for(
        lambda: offsets_agree(
            kafka.bootstrap, name, topic, 2, _stored_offsets(db, name), len(rows)
        ),
        timeout=60,
    )
    got = {k: (c, t, cur) for k, c, t, cur in _query(db, f"SELECT * FROM {table}")}
    expected = {f"c{i}": (i, "acme", None) for i in range(300) if i not in (3, 9)}
    expected["c7"] = (70, "globex", "EUR")
    assert got == expected
    kinds = dict(
        _query(
            db,
            f"SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_name = '{table}'",
        )
    )
    assert kinds == {"id": "varchar", "cost": "bigint", "tenant": "text", "currency": "text"}


def test_refused_rows_are_dead_lettered_with_mariadbs_message(
    worker: Worker,
    kafka: KafkaBroker,
    mariadb: MariaDBServer,
    db: MariaDBConnection,
    make_topic: Callable[..., str],
    unique: str,
) -> None:
    """A NOT NULL violation and a CHECK violation are isolated and dead-lettered with
    MariaDB's message and SQLSTATE; the rest of the batch is committed."""
    topic, dead, name = make_topic("poison"), f"mpoison-dlq-{unique}", f"mpoison-{unique}"
    table = f"mpoison_{unique}"
    _query(
        db,
        f"CREATE TABLE {table} (id VARCHAR(64) PRIMARY KEY, tenant TEXT NOT NULL, "
        "cost BIGINT CHECK (cost >= 0))",
    )
    rows: list[tuple[str, Any]] = [(f"c{i}", {"tenant": "acme", "cost": i}) for i in range(100)]
    rows[40] = ("c40", {"tenant": None, "cost": 1})
    rows[70] = ("c70", {"tenant": "acme", "cost": -5})
    _produce_json(kafka.bootstrap, topic, rows)
    worker.create(
        name,
        sql_config(
            topic,
            mariadb.url(),
            **dead_letters_to(dead),
            **{
                "table.name.format": table,
                "insert.mode": "upsert",
                "pk.mode": "record_key",
                "pk.fields": "id",
                "batch.max.age.ms": "1000",
            },
        ),
    )
    letters = read_dead_letters(kafka.bootstrap, dead, expected=2, timeout=60)
    by_key = {(d.key or b"").decode(): d.headers for d in letters}
    assert set(by_key) == {"c40", "c70"}
    assert "cannot be null" in by_key["c40"]["__connect.errors.exception.message"]
    assert "CONSTRAINT" in by_key["c70"]["__connect.errors.exception.message"]
    assert {h["__offramp.sql.sqlstate"] for h in by_key.values()} == {"23000"}
    wait_for(lambda: group_offsets(kafka.bootstrap, f"connect-{name}", topic) == [100])
    assert _query(db, f"SELECT count(*) FROM {table}") == [(98,)]


def test_check_reports_mariadb_and_bad_credentials_fail_clearly(
    worker: Worker, mariadb: MariaDBServer, make_topic: Callable[..., str], unique: str
) -> None:
    """check() names MariaDB and its version; a wrong password puts the task in FAILED
    with MariaDB's reason and the URL, password hidden."""
    found = SqlSinkConnector().check(
        SqlSinkConfig.model_validate({"connection.url": mariadb.url()})
    )
    assert found.startswith("MariaDB 10.") and "mysql+pymysql://offramp:***@" in found
    name = f"mbadpass-{unique}"
    url = mariadb.url()
    worker.create(name, sql_config(make_topic("mcreds"), url, **{"connection.password": "no"}))
    task = worker.get(name).tasks[0]
    wait_for(lambda: task.status.state == "FAILED", timeout=30)
    trace = task.status.trace or ""
    assert "FatalError" in trace and "Access denied" in trace
    assert "mysql+pymysql://offramp:***@" in trace
