"""Avro records through the real AvroConverter into the SQL writer on SQLite: the
writer's schema becomes typed columns, NOT NULL where the field can't be null."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from devstack.schema_registry import SchemaRegistry
from offramp import RawMessage, SinkRecord, TaskContext
from offramp.connectors.sql import SqlSinkConfig, SqlSinkConnector
from offramp.converters import create_converter
from offramp.schemas.converters import RegistryConverter
from offramp.testing import write_all

SCHEMA = {
    "type": "record",
    "name": "Order",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "qty", "type": "int"},
        {"name": "ok", "type": "boolean"},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    ],
}


def test_avro_schema_makes_typed_sqlite_columns(tmp_path: Path) -> None:
    """auto.create from an Avro schema: INTEGER/BOOLEAN/DATE columns, id and qty NOT NULL."""
    db = tmp_path / "orders.db"
    with SchemaRegistry() as registry:
        with SchemaRegistryClient({"url": registry.url}) as client:
            ser = AvroSerializer(client, json.dumps(SCHEMA))
            ctx = SerializationContext("orders", MessageField.VALUE)
            datas = [
                ser({"id": i, "qty": i * 2, "ok": True, "note": None, "day": 19000 + i}, ctx)
                for i in range(3)
            ]
        conv = create_converter(
            "io.confluent.connect.avro.AvroConverter", {"schema.registry.url": registry.url}, False
        )
        assert isinstance(conv, RegistryConverter)
        try:
            batch = conv.convert_batch(datas, None)
        finally:
            conv.close()
    assert not batch.errors and batch.schemas is not None
    records = [
        SinkRecord(RawMessage("orders", 0, i, value=d), None, v, None, s)
        for i, (d, v, s) in enumerate(zip(datas, batch.values, batch.schemas, strict=True))
    ]
    config = SqlSinkConfig.model_validate(
        {"connection.url": f"sqlite:///{db}", "auto.create": "true", "table.name.format": "orders"}
    )
    writer = SqlSinkConnector().create_writer(config, TaskContext("orders", 0, {}))
    failures, _ = write_all(writer, records, batch_size=3)
    assert failures == []
    with sqlite3.connect(db) as conn:
        columns = {row[1]: (row[2], row[3]) for row in conn.execute("PRAGMA table_info(orders)")}
        rows = conn.execute("SELECT id, qty, ok, note, day FROM orders ORDER BY id").fetchall()
    print("columns:", columns)
    assert columns["id"][1] == 1 and columns["qty"][1] == 1  # NOT NULL
    assert columns["note"][1] == 0
    assert "INT" in columns["qty"][0].upper() and "BOOL" in columns["ok"][0].upper()
    assert "DATE" in columns["day"][0].upper()
    assert rows[1][:4] == (1, 2, 1, None) and str(rows[1][4]).startswith("2022-01-0")
    assert Decimal(rows[2][1]) == 4
