"""The sql connector against a real PostgreSQL through the real broker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from devstack.generator import CALL_COMPLETED, call_events
from devstack.kafka import KafkaBroker
from devstack.postgres import PostgresServer
from offramp.connectors.sql import SqlSinkConfig, SqlSinkConnector
from offramp.testing import read_dead_letters
from offramp.worker import Worker
from tests.conftest import produce, wait_for
from tests.integration.runtime_support import ONLY_COMPLETED, dead_letters_to
from tests.integration.sql.support import (
    PgConnection,
    column_types,
    group_offsets,
    offsets_agree,
    scalar,
    sql_config,
    stored_offsets,
)

BILLING_MAPPING = (
    "data.tenant,data.agent,data.duration_s,data.billing.cost_usd:cost_usd,"
    "data.billing.currency:currency,data.ended_at"
)


def _produce_json(bootstrap: str, topic: str, rows: list[tuple[str, Any]]) -> None:
    produce(
        bootstrap,
        topic,
        [None if v is None else orjson.dumps(v) for _, v in rows],
        keys=[k.encode() for k, _ in rows],
    )


def test_billing_events_become_rows_exactly_once_with_offsets_in_the_database(
    worker: Worker,
    kafka: KafkaBroker,
    postgres: PostgresServer,
    pg: PgConnection,
    make_topic: Callable[..., str],
    unique: str,
) -> None:
    """call.completed CloudEvents land as one row per call (nested data mapped to
    columns, call.started filtered out); the offsets table matches the committed
    consumer offsets, also past filtered records."""
    topic, name = make_topic("billing", partitions=3), f"billing-{unique}"
    events = list(call_events(600, seed=11))
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "enable.idempotence": True})
    for e in events:
        producer.produce(topic, e.value, key=e.key, headers=e.headers)
    assert producer.flush(30) == 0
    completed = {e.key.decode(): e.data for e in events if e.ce_type == CALL_COMPLETED}
    worker.create(
        name,
        sql_config(
            topic,
            postgres.url(),
            **ONLY_COMPLETED,
            **{
                "value.converter": "cloudevents",
                "insert.mode": "upsert",
                "pk.mode": "record_key",
                "pk.fields": "call_id",
                "fields.mapping": BILLING_MAPPING,
                "auto.create": "true",
            },
        ),
    )
    table = f'"{topic}"'
    wait_for(lambda: scalar(pg, f"SELECT count(*) FROM {table}") == len(completed))
    call_id, data = next(iter(completed.items()))
    row = pg.execute(
        f"SELECT tenant, agent, duration_s, cost_usd, currency, ended_at FROM {table} "
        "WHERE call_id = %s",
        (call_id,),
    ).fetchone()
    billing: Any = data["billing"]
    assert row == (
        data["tenant"],
        data["agent"],
        data["duration_s"],
        billing["cost_usd"],
        billing["currency"],
        data["ended_at"],
    )

    wait_for(
        lambda: offsets_agree(
            kafka.bootstrap, name, topic, 3, stored_offsets(pg, name), len(events)
        ),
        timeout=30,
    )


def test_tombstones_delete_rows_by_key(
    worker: Worker,
    kafka: KafkaBroker,
    postgres: PostgresServer,
    pg: PgConnection,
    make_topic: Callable[..., str],
    unique: str,
) -> None:
    """With delete.enabled a null value deletes the row with that key."""
    topic, name = make_topic("deletes"), f"deletes-{unique}"
    rows: list[tuple[str, Any]] = [(f"c{i}", {"cost": i}) for i in range(20)]
    rows += [("c3", None), ("c7", None), ("c7", {"cost": 70}), ("c9", None)]
    _produce_json(kafka.bootstrap, topic, rows)
    worker.create(
        name,
        sql_config(
            topic,
            postgres.url(),
            **{
                "insert.mode": "upsert",
                "pk.mode": "record_key",
                "pk.fields": "id",
                "delete.enabled": "true",
                "auto.create": "true",
            },
        ),
    )
    wait_for(lambda: stored_offsets(pg, name).get((topic, 0)) == len(rows))
    got: dict[str, int] = dict(pg.execute(f'SELECT id, cost FROM "{topic}"').fetchall())
    expected = {f"c{i}": i for i in range(20) if i not in (3, 9)} | {"c7": 70}
    assert got == expected


def test_schema_evolution_adds_nullable_columns(
    worker: Worker,
    kafka: KafkaBroker,
    postgres: PostgresServer,
    pg: PgConnection,
    make_topic: Callable[..., str],
    unique: str,
) -> None:
    """auto.create makes the table from the values' types; a field seen later becomes a
    new nullable column (auto.evolve) and older rows read NULL there."""
    topic, name = make_topic("evolve"), f"evolve-{unique}"
    _produce_json(kafka.bootstrap, topic, [("a", {"n": 1, "tenant": "acme"})])
    worker.create(
        name,
        sql_config(
            topic,
            postgres.url(),
            **{
                "insert.mode": "upsert",
                "pk.mode": "record_key",
                "pk.fields": "id",
                "auto.create": "true",
                "auto.evolve": "true",
            },
        ),
    )
    wait_for(lambda: scalar(pg, f'SELECT count(*) FROM "{topic}"') == 1)
    _produce_json(
        kafka.bootstrap,
        topic,
        [("b", {"n": 2, "tenant": "globex", "cost_usd": 1.25, "tags": ["vip"], "paid": True})],
    )
    wait_for(lambda: scalar(pg, f'SELECT count(*) FROM "{topic}"') == 2)
    columns = column_types(pg, topic)
    assert columns["id"] == ("text", "NO")
    assert columns["n"] == ("bigint", "YES")
    assert columns["cost_usd"] == ("double precision", "YES")
    assert columns["tags"] == ("jsonb", "YES")
    assert columns["paid"] == ("boolean", "YES")
    rows = pg.execute(f'SELECT id, cost_usd, tags, paid FROM "{topic}" ORDER BY id').fetchall()
    assert rows == [("a", None, None, None), ("b", 1.25, ["vip"], True)]


def test_poison_rows_are_dead_lettered_with_the_databases_message(
    worker: Worker,
    kafka: KafkaBroker,
    postgres: PostgresServer,
    pg: PgConnection,
    make_topic: Callable[..., str],
    unique: str,
) -> None:
    """Rows breaking a CHECK, a NOT NULL or a column type are isolated and dead-lettered
    with PostgreSQL's message and SQLSTATE; the rest of their batch is committed."""
    topic, dead, name = make_topic("poison"), f"poison-dlq-{unique}", f"poison-{unique}"
    table = f"poison_{unique}"
    pg.execute(
        f"CREATE TABLE {table} (id text PRIMARY KEY, tenant text NOT NULL, "
        "cost numeric CHECK (cost >= 0))"
    )
    rows: list[tuple[str, Any]] = [(f"c{i}", {"tenant": "acme", "cost": i}) for i in range(200)]
    rows[50] = ("c50", {"tenant": "acme", "cost": -1})
    rows[120] = ("c120", {"tenant": None, "cost": 3})
    rows[199] = ("c199", {"tenant": "acme", "cost": "lots"})
    _produce_json(kafka.bootstrap, topic, rows)
    worker.create(
        name,
        sql_config(
            topic,
            postgres.url(),
            **dead_letters_to(dead),
            **{
                "table.name.format": table,
                "insert.mode": "upsert",
                "pk.mode": "record_key",
                "pk.fields": "id",
                "batch.max.records": "500",
                "batch.max.age.ms": "1000",
            },
        ),
    )
    letters = read_dead_letters(kafka.bootstrap, dead, expected=3, timeout=60)
    by_key = {(d.key or b"").decode(): d for d in letters}
    assert set(by_key) == {"c50", "c120", "c199"}
    states = {k: d.headers["__offramp.sql.sqlstate"] for k, d in by_key.items()}
    assert states == {"c50": "23514", "c120": "23502", "c199": "22P02"}
    check = by_key["c50"].headers
    assert check["__connect.errors.stage"] == "TASK_PUT"
    assert check["__connect.errors.exception.class.name"].endswith("RowRejectedError")
    assert "violates check constraint" in check["__connect.errors.exception.message"]
    assert check["__offramp.sql.table"] == table
    assert by_key["c199"].value == orjson.dumps(rows[199][1])
    assert scalar(pg, f"SELECT count(*) FROM {table}") == 197
    wait_for(lambda: group_offsets(kafka.bootstrap, f"connect-{name}", topic) == [200])


def test_the_database_offsets_win_over_the_consumer_group(
    worker: Worker,
    kafka: KafkaBroker,
    postgres: PostgresServer,
    pg: PgConnection,
    make_topic: Callable[..., str],
    unique: str,
) -> None:
    """Exactly-once: with the consumer group deleted, a restarted connector resumes from
    the offsets table, so a key-less table gets no duplicate rows."""
    topic, name, table = make_topic("resume"), f"resume-{unique}", f"resume_{unique}"
    pg.execute(f"CREATE TABLE {table} (id text, n bigint)")  # no key: duplicates would show
    config = sql_config(
        topic,
        postgres.url(),
        **{"table.name.format": table, "pk.mode": "record_key", "pk.fields": "id"},
    )
    _produce_json(kafka.bootstrap, topic, [(f"k{i}", {"n": i}) for i in range(300)])
    worker.create(name, config)
    wait_for(lambda: stored_offsets(pg, name).get((topic, 0)) == 300)
    worker.delete(name)
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
    admin.delete_consumer_groups([f"connect-{name}"])[f"connect-{name}"].result(30)
    _produce_json(kafka.bootstrap, topic, [(f"k{i}", {"n": i}) for i in range(300, 400)])
    worker.create(name, config)
    wait_for(lambda: stored_offsets(pg, name).get((topic, 0)) == 400)
    assert pg.execute(f"SELECT count(*), count(DISTINCT id) FROM {table}").fetchone() == (
        400,
        400,
    )


def test_json_schema_envelopes_create_typed_columns(
    worker: Worker,
    kafka: KafkaBroker,
    postgres: PostgresServer,
    pg: PgConnection,
    make_topic: Callable[..., str],
    unique: str,
) -> None:
    """With the JSON converter's schemas, auto.create uses the declared types (logical
    Timestamp and Decimal included) and NOT NULL for required fields."""
    topic, name = make_topic("schema"), f"schema-{unique}"
    schema = {
        "type": "struct",
        "fields": [
            {"field": "call", "type": "int64", "optional": False},
            {"field": "minutes", "type": "int32", "optional": True},
            {
                "field": "ended",
                "type": "int64",
                "name": "org.apache.kafka.connect.data.Timestamp",
                "optional": True,
            },
            {
                "field": "cost",
                "type": "bytes",
                "name": "org.apache.kafka.connect.data.Decimal",
                "parameters": {"scale": "2"},
                "optional": True,
            },
        ],
    }
    payload = {"call": 7, "minutes": 3, "ended": 1_790_000_000_000, "cost": "MDk="}
    produce(kafka.bootstrap, topic, [orjson.dumps({"schema": schema, "payload": payload})])
    worker.create(
        name,
        sql_config(
            topic,
            postgres.url(),
            **{"value.converter.schemas.enable": "true", "auto.create": "true"},
        ),
    )
    wait_for(lambda: scalar(pg, f'SELECT count(*) FROM "{topic}"') == 1)
    columns = column_types(pg, topic)
    assert columns["call"] == ("bigint", "NO")
    assert columns["minutes"] == ("integer", "YES")
    assert columns["ended"] == ("timestamp with time zone", "YES")
    assert columns["cost"] == ("numeric", "YES")
    row = pg.execute(f'SELECT cost::text, extract(epoch FROM ended)::float FROM "{topic}"')
    assert row.fetchone() == ("123.45", 1_790_000_000.0)


def test_bad_credentials_and_a_missing_database_fail_the_task_clearly(
    worker: Worker, postgres: PostgresServer, make_topic: Callable[..., str], unique: str
) -> None:
    """A wrong password or database name puts the task in FAILED with PostgreSQL's
    reason and the URL (password hidden)."""
    topic = make_topic("creds")
    cases = {
        f"badpass-{unique}": (
            {"connection.url": postgres.url(), "connection.password": "wrong"},
            "password authentication failed",
        ),
        f"nodb-{unique}": (
            {"connection.url": postgres.url(database=f"nope_{unique}")},
            "does not exist",
        ),
    }
    for name, (keys, _) in cases.items():
        worker.create(name, sql_config(topic, keys["connection.url"], **keys))
    for name, (_, reason) in cases.items():
        task = worker.get(name).tasks[0]
        wait_for(lambda t=task: t.status.state == "FAILED", timeout=30)
        trace = task.status.trace or ""
        assert "FatalError" in trace and reason in trace
        assert "cannot connect to postgresql+psycopg://offramp:***@" in trace


def test_check_reports_the_postgres_version(postgres: PostgresServer) -> None:
    """check() connects and reports PostgreSQL's version."""
    config = SqlSinkConfig.model_validate({"connection.url": postgres.url()})
    found = SqlSinkConnector().check(config)
    assert found.startswith(f"PostgreSQL {postgres.version} at postgresql+psycopg://offramp:***@")


def test_a_lost_connection_is_retried_without_losing_or_repeating_rows(
    worker: Worker,
    kafka: KafkaBroker,
    postgres: PostgresServer,
    pg: PgConnection,
    make_topic: Callable[..., str],
    unique: str,
) -> None:
    """PostgreSQL terminating the task's connection is a transient error: the batch is
    retried on a new connection and each row lands once (key-less table, so a repeat
    would show)."""
    topic, name, table = make_topic("lost"), f"lost-{unique}", f"lost_{unique}"
    pg.execute(f"CREATE TABLE {table} (id text, n bigint)")
    config = sql_config(
        topic,
        postgres.url(),
        **{
            "table.name.format": table,
            "pk.mode": "record_key",
            "pk.fields": "id",
            "errors.retry.timeout": "60000",
            "errors.retry.delay.max.ms": "1000",
        },
    )
    _produce_json(kafka.bootstrap, topic, [(f"k{i}", {"n": i}) for i in range(500)])
    worker.create(name, config)
    wait_for(lambda: scalar(pg, f"SELECT count(*) FROM {table}") == 500)
    killed = pg.execute(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s",
        (f"offramp-{name}-0",),
    ).fetchone()
    assert killed == (1,)
    _produce_json(kafka.bootstrap, topic, [(f"k{i}", {"n": i}) for i in range(500, 1000)])
    wait_for(lambda: stored_offsets(pg, name).get((topic, 0)) == 1000)
    rows = pg.execute(f"SELECT count(*), count(DISTINCT id) FROM {table}").fetchone()
    assert rows == (1000, 1000)
    assert worker.get(name).tasks[0].metrics.retries >= 1


def test_update_mode_changes_existing_rows_only(
    worker: Worker,
    kafka: KafkaBroker,
    postgres: PostgresServer,
    pg: PgConnection,
    make_topic: Callable[..., str],
    unique: str,
) -> None:
    """insert.mode=update (COPY into a stage, then UPDATE … FROM) sets the columns of
    rows whose key exists, last version winning, and creates nothing."""
    topic, name, table = make_topic("update"), f"update-{unique}", f"update_{unique}"
    pg.execute(f"CREATE TABLE {table} (id text PRIMARY KEY, plan text, seats int)")
    pg.execute(f"INSERT INTO {table} VALUES ('a', 'free', 1), ('b', 'free', 1)")
    rows: list[tuple[str, Any]] = [
        ("a", {"plan": "pro", "seats": 5}),
        ("zz", {"plan": "pro", "seats": 9}),
        ("a", {"plan": "team", "seats": 12}),
    ]
    _produce_json(kafka.bootstrap, topic, rows)
    worker.create(
        name,
        sql_config(
            topic,
            postgres.url(),
            **{
                "table.name.format": table,
                "insert.mode": "update",
                "pk.mode": "record_key",
                "pk.fields": "id",
            },
        ),
    )
    query = f"SELECT id, plan, seats FROM {table} ORDER BY id"
    wait_for(lambda: pg.execute(query).fetchall()[0] == ("a", "team", 12))
    assert pg.execute(query).fetchall() == [("a", "team", 12), ("b", "free", 1)]
