"""Avro records from confluent-kafka's AvroSerializer, through the real broker and a
worker with the AvroConverter, into PostgreSQL as typed columns; a new optional field
evolves the table."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, time
from decimal import Decimal
from typing import Any

from devstack.kafka import KafkaBroker
from devstack.postgres import PostgresServer
from devstack.schema_registry import SchemaRegistry
from offramp.testing import read_dead_letters
from offramp.worker import Worker
from tests.avro_logical import AT, AT_MICROS, LOGICAL, logical_row
from tests.conftest import produce, wait_for
from tests.integration.registry_support import produce_avro
from tests.integration.runtime_support import dead_letters_to
from tests.integration.sql.support import PgConnection, column_types, scalar, sql_config

V1: dict[str, Any] = {
    "type": "record",
    "name": "Order",
    "fields": [{"name": "id", "type": "long"}, {"name": "qty", "type": "int"}],
}
V2: dict[str, Any] = {
    **V1,
    "fields": [*V1["fields"], {"name": "note", "type": ["null", "string"], "default": None}],
}


def _avro_sql(topic: str, url: str, registry: str, **extra: Any) -> dict[str, Any]:
    """A sql connector creating its table from AvroConverter records of ``registry``."""
    return sql_config(
        topic,
        url,
        **extra,
        **{
            "auto.create": "true",
            "value.converter": "io.confluent.connect.avro.AvroConverter",
            "value.converter.schema.registry.url": registry,
        },
    )


def test_avro_lands_as_typed_columns_and_evolves(
    worker: Worker,
    kafka: KafkaBroker,
    postgres: PostgresServer,
    pg: PgConnection,
    make_topic: Callable[..., str],
    unique: str,
) -> None:
    """BIGINT/INTEGER NOT NULL columns from schema v1; v2's optional note adds a column."""
    topic, name = make_topic("orders"), f"avro-{unique}"
    with SchemaRegistry() as registry:
        rows = [{"id": i, "qty": i} for i in range(5)]
        produce_avro(registry.url, kafka.bootstrap, topic, V1, rows)
        config = _avro_sql(topic, postgres.url(), registry.url, **{"auto.evolve": "true"})
        worker.create(name, config)
        wait_for(lambda: scalar(pg, f'SELECT count(*) FROM "{topic}"') == 5)
        rows = [{"id": 5 + i, "qty": 1, "note": f"n{i}"} for i in range(3)]
        produce_avro(registry.url, kafka.bootstrap, topic, V2, rows)
        wait_for(lambda: scalar(pg, f'SELECT count(*) FROM "{topic}"') == 8)
    assert scalar(pg, f'SELECT count(note) FROM "{topic}"') == 3
    columns = column_types(pg, topic)
    print("columns:", columns)
    assert columns["id"] == ("bigint", "NO")
    assert columns["qty"] == ("integer", "NO")
    assert columns["note"][1] == "YES"


def test_a_registry_outage_is_waited_out_and_a_corrupt_record_dead_lettered(
    worker: Worker,
    kafka: KafkaBroker,
    postgres: PostgresServer,
    pg: PgConnection,
    make_topic: Callable[..., str],
    unique: str,
) -> None:
    """While the registry answers 503 the task stays RUNNING, retrying the conversion in
    place (its status says so; nothing dead-lettered); once it is back every record is
    a row. A record without Confluent's magic byte goes to the DLQ at VALUE_CONVERTER."""
    topic, name, dlq = make_topic("orders"), f"avro-down-{unique}", f"avro-dlq-{unique}"
    with SchemaRegistry() as registry:
        rows = [{"id": i, "qty": i} for i in range(6)]
        produce_avro(registry.url, kafka.bootstrap, topic, V1, rows)
        produce(kafka.bootstrap, topic, [b"not avro at all"])
        registry.outage(True)
        worker.create(name, _avro_sql(topic, postgres.url(), registry.url, **dead_letters_to(dlq)))
        task = worker.get(name).tasks[0]
        wait_for(lambda: "converting: retrying" in (task.status.message or ""), timeout=60)
        assert task.status.state == "RUNNING"
        assert not read_dead_letters(kafka.bootstrap, dlq, expected=1, timeout=2)
        registry.outage(False)
        wait_for(lambda: scalar(pg, f'SELECT count(*) FROM "{topic}"') == 6, timeout=60)
        letters = read_dead_letters(kafka.bootstrap, dlq, expected=1, timeout=30)
    assert [d.value for d in letters] == [b"not avro at all"]
    assert letters[0].headers["__connect.errors.stage"] == "VALUE_CONVERTER"
    wait_for(lambda: task.status.message is None)
    assert task.metrics.retries > 0


def test_avro_logical_types_land_as_kafka_connect_maps_them(
    worker: Worker,
    kafka: KafkaBroker,
    postgres: PostgresServer,
    pg: PgConnection,
    make_topic: Callable[..., str],
    unique: str,
) -> None:
    """timestamp-millis TIMESTAMPTZ, date DATE, time-millis TIME, decimal (bytes or
    fixed) NUMERIC(precision, scale); timestamp-micros, time-micros and
    local-timestamp-millis BIGINT holding the count (as Kafka Connect's AvroConverter,
    which knows only the millis types), uuid TEXT; each value as sent."""
    topic, name = make_topic("readings"), f"avro-logical-{unique}"
    with SchemaRegistry() as registry:
        produce_avro(
            registry.url, kafka.bootstrap, topic, LOGICAL, [logical_row(n) for n in range(2)]
        )
        worker.create(name, _avro_sql(topic, postgres.url(), registry.url))
        wait_for(lambda: scalar(pg, f'SELECT count(*) FROM "{topic}"') == 2)
    columns = column_types(pg, topic)
    print("columns:", columns)
    assert columns == {
        "id": ("bigint", "NO"),
        "at_ms": ("timestamp with time zone", "NO"),
        "at_us": ("bigint", "NO"),
        "day": ("date", "NO"),
        "clock_ms": ("time without time zone", "NO"),
        "clock_us": ("bigint", "NO"),
        "price": ("numeric", "NO"),
        "weight": ("numeric", "NO"),
        "hash": ("bytea", "NO"),
        "ref": ("text", "NO"),
        "wall": ("bigint", "NO"),
        "seen": ("bigint", "YES"),
    }
    sizes = pg.execute(
        "SELECT column_name, numeric_precision, numeric_scale FROM information_schema.columns "
        "WHERE table_name = %s AND data_type = 'numeric'",
        (topic,),
    ).fetchall()
    assert sorted(sizes) == [("price", 10, 2), ("weight", 12, 3)]
    rows = pg.execute(f'SELECT * FROM "{topic}" ORDER BY id').fetchall()
    millis = AT.replace(microsecond=345000)
    wall_millis = AT_MICROS // 1000
    assert [tuple(r) for r in rows] == [
        (
            n,
            millis,
            AT_MICROS,
            date(2026, 12, 3),
            time(1, 2, 3, 456000),
            3_723_456_789,
            Decimal(1234 + n).scaleb(-2),
            Decimal(5678 + n).scaleb(-3),
            bytes([n, 1, 2, 3]),
            str(uuid.UUID(int=n)),
            wall_millis,
            None if n % 2 else AT_MICROS,
        )
        for n in range(2)
    ]
