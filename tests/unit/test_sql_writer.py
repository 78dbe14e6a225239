"""The sql writer against a real SQLite file: transactions, exactly-once offsets,
refused rows, DDL and failures, driven without Kafka."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest

from offramp import FatalError, RawMessage, SinkRecord, TaskContext, TopicPartition
from offramp.connectors.sql import SqlSinkConfig, SqlSinkConnector
from offramp.connectors.sql.writer import SqlWriter
from offramp.metrics import TaskMetrics
from offramp.testing import write_all

TP = TopicPartition("calls", 0)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "billing.db"


def _config(db: Path, **keys: Any) -> SqlSinkConfig:
    return SqlSinkConfig.model_validate({"connection.url": f"sqlite:///{db}", **keys})


def _upsert(db: Path, **keys: Any) -> SqlSinkConfig:
    base = {"insert.mode": "upsert", "pk.mode": "record_key", "pk.fields": "id"}
    return _config(db, **{"auto.create": "true", **base, **keys})


def _writer(
    config: SqlSinkConfig, name: str = "billing", metrics: TaskMetrics | None = None
) -> SqlWriter:
    hook = metrics.count_write_refused if metrics is not None else None
    context = TaskContext(name, 0, {}, on_write_refused=hook)
    writer = SqlSinkConnector().create_writer(config, context)
    assert isinstance(writer, SqlWriter)
    return writer


def _record(offset: int, key: str | None, value: Any, partition: int = 0) -> SinkRecord:
    raw = None if value is None else orjson.dumps(value)
    message = RawMessage("calls", partition, offset, key=key.encode() if key else None, value=raw)
    return SinkRecord(message, key, value)


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_upserts_and_deletes_land_in_one_transaction_with_the_offsets(db: Path) -> None:
    """Upserts by key keep the last version, a tombstone deletes, and the offsets table
    holds the next offset of the partition."""
    config = _upsert(db, **{"delete.enabled": "true"})
    records = [
        _record(0, "a", {"n": 1, "tenant": "acme"}),
        _record(1, "b", {"n": 2, "tenant": "globex"}),
        _record(2, "a", {"n": 3, "tenant": "acme"}),
        _record(3, "b", None),
    ]
    failures, committed = write_all(_writer(config), records, batch_size=2)
    assert failures == [] and committed == {TP: 4}
    assert _rows(db, "SELECT id, n, tenant FROM calls") == [("a", 3, "acme")]
    assert _rows(db, "SELECT * FROM offramp_offsets") == [("billing", "calls", 0, 4, None)]


def test_redelivered_records_are_skipped_and_open_resumes_from_the_table(
    db: Path, writers: list[SqlWriter]
) -> None:
    """After a crash (no Kafka commit), a new writer seeks to the stored offset and
    skips anything below it: a keyless insert table gets no duplicate rows."""
    config = _config(db, **{"auto.create": "true", "exactly.once": "true"})
    first = _writer(config)
    writers.append(first)
    first.open([TP])
    assert first.write([_record(i, None, {"n": i}) for i in range(5)]) == []
    # "crash": no pre_commit, no close; a new task starts over from offset 0
    second = _writer(config)
    writers.append(second)
    assert second.open([TP]) == {TP: 5}
    assert second.write([_record(i, None, {"n": i}) for i in range(8)]) == []
    assert _rows(db, "SELECT count(*), count(DISTINCT n) FROM calls") == [(8, 8)]


def test_a_refused_row_is_isolated_and_reported_with_the_databases_message(
    db: Path, writers: list[SqlWriter]
) -> None:
    """A NOT NULL violation refuses only that record, with SQLite's message; the rest of
    the batch is committed in the same transaction as the offsets."""
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE calls (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, n INT)")
    writer = _writer(_upsert(db, **{"auto.create": "false"}))
    writers.append(writer)
    writer.open([TP])
    records = [_record(i, f"k{i}", {"tenant": "acme", "n": i}) for i in range(10)]
    records[6] = _record(6, "k6", {"tenant": None, "n": 6})
    failures = writer.write(records) or []
    assert [f.record.kafka_offset for f in failures] == [6]
    assert "NOT NULL constraint failed: calls.tenant" in str(failures[0].error)
    assert failures[0].context["__offramp.sql.table"] == "calls"
    assert _rows(db, "SELECT count(*) FROM calls") == [(9,)]


def test_unconfirmed_refusals_are_redelivered_until_pre_commit_confirms_them(
    db: Path, writers: list[SqlWriter]
) -> None:
    """A refused record's offset stays pending in the offsets table until pre_commit
    (dead letters flushed); a crash before that resumes at the refused record and
    hands it over again, rewriting none of the others."""
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE calls (id TEXT PRIMARY KEY, tenant TEXT NOT NULL)")
    config = _config(db, **{"pk.mode": "record_key", "pk.fields": "id"})  # plain insert
    records = [_record(i, f"k{i}", {"tenant": "acme" if i != 2 else None}) for i in range(5)]
    crashed = _writer(config)
    writers.append(crashed)
    crashed.open([TP])
    assert [f.record.kafka_offset for f in crashed.write(records) or []] == [2]
    assert _rows(db, "SELECT next_offset, pending_failures FROM offramp_offsets") == [(5, "[2]")]

    resumed = _writer(config)
    writers.append(resumed)
    assert resumed.open([TP]) == {TP: 2}
    again = resumed.write(records[2:]) or []  # inserting k3, k4 again would fail
    assert [f.record.kafka_offset for f in again] == [2]
    resumed.pre_commit({TP: 5})
    assert _rows(db, "SELECT next_offset, pending_failures FROM offramp_offsets") == [(5, None)]
    assert _rows(db, "SELECT count(*) FROM calls") == [(4,)]


def test_a_second_writer_on_the_same_partition_is_fenced_off(
    db: Path, writers: list[SqlWriter]
) -> None:
    """Two tasks believing they own a partition (a zombie): the one whose view of the
    offsets is stale notices, re-reads, and skips what the other wrote; each refused
    compare-and-set (a write's, a pre_commit's) is counted in its task's metrics."""
    config = _config(db, **{"auto.create": "true", "exactly.once": "true"})
    counted, owned = TaskMetrics(), TaskMetrics()
    zombie, owner = _writer(config, metrics=counted), _writer(config, metrics=owned)
    writers.extend([zombie, owner])
    zombie.open([TP])
    owner.open([TP])
    batch = [_record(i, None, {"n": i}) for i in range(6)]
    assert owner.write(batch) == []
    assert zombie.write(batch) == []
    assert _rows(db, "SELECT count(*) FROM calls") == [(6,)]
    assert counted.writes_refused == zombie.fenced == 1 and owned.writes_refused == 0
    assert owner.write([_record(i, None, {"n": i}) for i in range(6, 9)]) == []
    # Its position moved past records filtered out, its offsets row past that.
    assert zombie.pre_commit({TP: 8}) == {TP: 8}
    assert counted.writes_refused == zombie.fenced == 2 and owned.writes_refused == 0


def test_auto_evolve_adds_nullable_columns_and_without_it_records_are_refused(
    db: Path,
) -> None:
    """A new field becomes a nullable column with auto.evolve; without it, records that
    set the field are refused naming it and the others are written."""
    write_all(_writer(_upsert(db)), [_record(0, "a", {"n": 1})])
    failures, _ = write_all(
        _writer(_upsert(db, **{"auto.evolve": "true"})), [_record(1, "b", {"n": 2, "cost": 1.5})]
    )
    assert failures == []
    assert _rows(db, "SELECT id, n, cost FROM calls ORDER BY id") == [("a", 1, None), ("b", 2, 1.5)]
    failures, _ = write_all(
        _writer(_upsert(db)), [_record(2, "c", {"n": 3, "vat": 0.2}), _record(3, "d", {"n": 4})]
    )
    assert [f.record.kafka_offset for f in failures] == [2]
    assert "no column for field(s) vat and auto.evolve=false" in str(failures[0].error)
    assert _rows(db, "SELECT id FROM calls ORDER BY id") == [("a",), ("b",), ("d",)]


def test_a_missing_table_without_auto_create_is_fatal(db: Path, writers: list[SqlWriter]) -> None:
    """auto.create=false and no table: the task fails, saying which table and why."""
    writer = _writer(_upsert(db, **{"auto.create": "false"}))
    writers.append(writer)
    writer.open([TP])
    with pytest.raises(FatalError, match=r"table 'calls' does not exist and auto\.create=false"):
        writer.write([_record(0, "a", {"n": 1})])


def test_an_unopenable_database_fails_the_writer_and_the_check(tmp_path: Path) -> None:
    """A database file in a missing directory is a FatalError naming the URL."""
    config = _config(tmp_path / "missing" / "x.db")
    with pytest.raises(FatalError, match=r"cannot connect to sqlite:///.*unable to open"):
        _writer(config)
    with pytest.raises(FatalError, match="unable to open database file"):
        SqlSinkConnector().check(config)


def test_check_reports_the_database_version(db: Path) -> None:
    """check() connects and names the product and version."""
    assert SqlSinkConnector().check(_config(db)).startswith("SQLite 3.")


def test_when_a_keys_last_version_is_refused_the_earlier_one_still_lands(
    db: Path, writers: list[SqlWriter]
) -> None:
    """upsert keeps only a key's last version per batch; if that version is refused,
    the batch is redone in record order so the version before it is written."""
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE calls (id TEXT PRIMARY KEY, tenant TEXT NOT NULL)")
    writer = _writer(_upsert(db, **{"auto.create": "false"}))
    writers.append(writer)
    writer.open([TP])
    records = [_record(0, "a", {"tenant": "acme"}), _record(1, "a", {"tenant": None})]
    failures = writer.write(records) or []
    assert [f.record.kafka_offset for f in failures] == [1]
    assert _rows(db, "SELECT id, tenant FROM calls") == [("a", "acme")]


def test_kafka_coordinates_key_rows_so_redelivery_cannot_duplicate(db: Path) -> None:
    """pk.mode=kafka: each record's topic, partition and offset are its key."""
    config = _config(db, **{"pk.mode": "kafka", "auto.create": "true"})
    failures, _ = write_all(_writer(config), [_record(7, None, {"n": 1}), _record(8, None, {})])
    assert failures == []
    assert _rows(db, "SELECT * FROM calls ORDER BY __connect_offset") == [
        ("calls", 0, 7, 1),
        ("calls", 0, 8, None),
    ]
