"""Records become rows: mapping, keys, kinds, tombstones and the order of operations."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest

from offramp import ConversionError, FatalError, RawMessage, SinkRecord
from offramp.connectors.sql.config import SqlSinkConfig
from offramp.connectors.sql.kinds import Kind
from offramp.connectors.sql.rows import RowBuilder, TableBatch


def _config(**keys: Any) -> SqlSinkConfig:
    return SqlSinkConfig.model_validate({"connection.url": "sqlite://", **keys})


def _record(
    offset: int,
    key: Any,
    value: Any,
    topic: str = "calls",
    key_schema: Any = None,
    value_schema: Any = None,
) -> SinkRecord:
    raw = None if value is None else orjson.dumps(value)
    message = RawMessage(topic, 0, offset, key=str(key).encode(), value=raw)
    return SinkRecord(message, key, value, key_schema, value_schema)


def _one(config: SqlSinkConfig, records: list[SinkRecord]) -> TableBatch:
    batches = RowBuilder(config).build(records)
    assert len(batches) == 1
    return batches[0]


def _event(call: str, tenant: str, cost: float) -> dict[str, Any]:
    return {"type": "call.completed", "data": {"tenant": tenant, "billing": {"cost_usd": cost}}}


def test_mapping_reaches_nested_fields_of_a_cloudevent() -> None:
    """``data.billing.cost_usd:cost`` fills column cost from the event's data; only mapped
    columns are written, a missing path is NULL, the key column comes first."""
    config = _config(
        **{
            "insert.mode": "upsert",
            "pk.mode": "record_key",
            "pk.fields": "call_id",
            "fields.mapping": "data.tenant,data.billing.cost_usd:cost,data.agent",
        }
    )
    batch = _one(config, [_record(0, "c1", _event("c1", "acme", 1.5))])
    assert batch.column_names == ["call_id", "tenant", "cost", "agent"]
    assert batch.key_columns == ("call_id",)
    assert batch.write_rows == [("c1", "acme", 1.5, None)]
    kinds = {c.name: c.kind for c in batch.columns}
    assert kinds == {
        "call_id": Kind.TEXT,
        "tenant": Kind.TEXT,
        "cost": Kind.DOUBLE,
        "agent": Kind.NULL,
    }


def test_without_mapping_top_level_fields_are_columns_and_nested_ones_json() -> None:
    """Every top-level field is a column (union over the batch); objects and lists are
    stored as JSON text; the whitelist keeps only the named columns."""
    records = [_record(0, "a", {"n": 1, "tags": ["x"]}), _record(1, "b", {"n": 2, "extra": True})]
    batch = _one(_config(), records)
    assert batch.column_names == ["n", "tags", "extra"]
    assert batch.write_rows == [(1, '["x"]', None), (2, None, True)]
    assert [c.kind for c in batch.columns] == [Kind.BIGINT, Kind.JSON, Kind.BOOLEAN]
    narrow = _one(_config(**{"fields.whitelist": "n"}), records)
    assert narrow.column_names == ["n"]


def test_kafka_key_columns_hold_the_records_coordinates() -> None:
    """pk.mode=kafka writes topic, partition and offset as the key."""
    batch = _one(_config(**{"pk.mode": "kafka"}), [_record(41, "k", {"n": 1})])
    assert batch.key_columns == ("__connect_topic", "__connect_partition", "__connect_offset")
    assert batch.write_rows == [("calls", 0, 41, 1)]


def test_object_keys_give_one_column_per_field() -> None:
    """A JSON object key becomes its fields (pk.fields picks some); the key wins over a
    value field of the same name."""
    config = _config(**{"insert.mode": "upsert", "pk.mode": "record_key"})
    record = _record(0, {"tenant": "acme", "call": 7}, {"call": 99, "cost": 2.0})
    batch = _one(config, [record])
    assert batch.key_columns == ("tenant", "call")
    assert batch.write_rows == [("acme", 7, 2.0)]


def test_record_value_keys_must_be_present() -> None:
    """pk.mode=record_value takes the key from value columns; a null one is refused."""
    config = _config(**{"insert.mode": "upsert", "pk.mode": "record_value", "pk.fields": "id"})
    batch = _one(config, [_record(0, None, {"id": 1, "x": "a"}), _record(1, None, {"x": "b"})])
    assert batch.key_columns == ("id",)
    assert [f.record.kafka_offset for f in batch.failures] == [1]
    assert "pk field 'id' is missing or null" in str(batch.failures[0].error)
    assert batch.segments(dedupe=True)[0].rows == [(1, "a")]


def test_values_that_are_not_objects_and_missing_keys_are_refused() -> None:
    """A string value can't be a row and a keyless record can't be keyed: both become
    failures with a reason; the rest of the batch is unaffected."""
    config = _config(**{"insert.mode": "upsert", "pk.mode": "record_key", "pk.fields": "id"})
    records = [_record(0, "a", {"n": 1}), _record(1, "b", "text"), _record(2, None, {"n": 3})]
    batch = _one(config, records)
    reasons = {f.record.kafka_offset: str(f.error) for f in batch.failures}
    assert set(reasons) == {1, 2}
    assert "must be a JSON object" in reasons[1]
    assert "needs a key" in reasons[2]
    assert all(isinstance(f.error, ConversionError) for f in batch.failures)
    assert batch.segments(dedupe=True)[0].rows == [("a", 1)]


def test_a_plain_key_needs_exactly_one_pk_field() -> None:
    """A string key with pk.mode=record_key and no pk.fields is a setup error."""
    config = _config(**{"insert.mode": "upsert", "pk.mode": "record_key"})
    with pytest.raises(FatalError, match=r"pk\.fields must name exactly one column"):
        RowBuilder(config).build([_record(0, "a", {"n": 1})])


def test_upserts_keep_the_last_version_of_each_key() -> None:
    """upsert: several records for one key in a batch collapse to the last; a tombstone
    after a write deletes, a write after a tombstone writes."""
    config = _config(
        **{
            "insert.mode": "upsert",
            "pk.mode": "record_key",
            "pk.fields": "id",
            "delete.enabled": "true",
        }
    )
    records = [
        _record(0, "a", {"n": 1}),
        _record(1, "a", {"n": 2}),
        _record(2, "b", {"n": 3}),
        _record(3, "b", None),
        _record(4, "c", None),
        _record(5, "c", {"n": 6}),
    ]
    segments = _one(config, records).segments(dedupe=True)
    assert [(s.delete, s.rows, s.origins) for s in segments] == [
        (True, [("b",)], [3]),
        (False, [("a", 2), ("c", 6)], [1, 5]),
    ]


def test_inserts_keep_record_order_across_tombstones() -> None:
    """insert: runs of writes and deletes stay in record order, nothing collapsed."""
    config = _config(**{"pk.mode": "record_key", "pk.fields": "id", "delete.enabled": "true"})
    records = [_record(0, "a", {"n": 1}), _record(1, "a", None), _record(2, "a", {"n": 3})]
    segments = _one(config, records).segments(dedupe=False)
    assert [(s.delete, s.rows) for s in segments] == [
        (False, [("a", 1)]),
        (True, [("a",)]),
        (False, [("a", 3)]),
    ]


def test_tombstones_are_ignored_unless_deletes_are_enabled() -> None:
    """Without delete.enabled a tombstone writes and deletes nothing."""
    config = _config(**{"pk.mode": "record_key", "pk.fields": "id"})
    batch = _one(config, [_record(0, "a", None)])
    assert batch.segments(dedupe=False) == [] and batch.failures == []


def test_dropped_columns_refuse_only_records_with_a_value_there() -> None:
    """A column the table lacks (auto.evolve off) refuses records that set it."""
    batch = _one(_config(), [_record(0, "a", {"n": 1}), _record(1, "b", {"n": 2, "new": "x"})])
    batch.drop_columns({"new"}, "no column for {columns}")
    assert batch.column_names == ["n"]
    assert [str(f.error) for f in batch.failures] == ["no column for new"]
    assert batch.segments(dedupe=False)[0].rows == [(1,)]


def test_table_name_format_routes_records_per_topic() -> None:
    """${topic} sends each topic's records to its own table."""
    config = _config(**{"table.name.format": "billing_${topic}"})
    batches = RowBuilder(config).build(
        [_record(0, "a", {"n": 1}, topic="eu"), _record(1, "b", {"n": 2}, topic="us")]
    )
    assert [b.table for b in batches] == ["billing_eu", "billing_us"]


def test_json_schema_envelopes_give_types_and_decode_logical_values() -> None:
    """With a Connect schema, kinds come from it and Timestamp/Date/Decimal/bytes values
    are decoded from their JSON encodings."""
    schema = {
        "type": "struct",
        "fields": [
            {"field": "id", "type": "int32", "optional": False},
            {"field": "at", "type": "int64", "name": "org.apache.kafka.connect.data.Timestamp"},
            {"field": "day", "type": "int32", "name": "org.apache.kafka.connect.data.Date"},
            {
                "field": "amount",
                "type": "bytes",
                "name": "org.apache.kafka.connect.data.Decimal",
                "parameters": {"scale": "2"},
            },
            {"field": "blob", "type": "bytes"},
        ],
    }
    value = {"id": 1, "at": 86_400_000, "day": 2, "amount": "MDk=", "blob": "aGk="}
    batch = _one(_config(), [_record(0, "k", value, value_schema=schema)])
    kinds = {c.name: (c.kind, c.nullable) for c in batch.columns}
    assert kinds["id"] == (Kind.INTEGER, False)
    assert kinds["at"][0] is Kind.TIMESTAMP and kinds["amount"][0] is Kind.DECIMAL
    assert batch.write_rows == [
        (1, datetime(1970, 1, 2, tzinfo=UTC), date(1970, 1, 3), Decimal("123.45"), b"hi")
    ]
