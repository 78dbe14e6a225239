"""The sql writer's head start on PostgreSQL: rows and COPY text made by ``prepare``
(on the task thread) are what ``write`` applies, and never when they no longer fit."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from devstack.postgres import PostgresServer
from offramp import RawMessage, SinkRecord, TaskContext, TopicPartition
from offramp.connectors.sql import SqlSinkConfig, SqlSinkConnector
from offramp.connectors.sql.bulk import CopyBulk
from offramp.connectors.sql.rows import Segment, TableBatch
from offramp.connectors.sql.writer import SqlWriter
from tests.integration.sql.support import PgConnection

AWKWARD = [
    {"plan": "tab\there", "note": "line\nbreak\r\n", "n": 1, "ok": True},
    {"plan": "back\\slash \\N", "note": None, "n": -(2**62), "ok": False},
    {"plan": "ünïcødé ✓", "note": "", "n": 0, "ok": None, "cost": 1.5e-7},
    {"plan": "nested", "note": "x", "n": 3, "ok": True, "meta": {"a": [1, "\t"]}},
]


@pytest.fixture
def payloads(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each COPY a write makes: whether it sent COPY text encoded ahead."""
    seen: list[bool] = []
    apply = CopyBulk.apply

    def spy(
        self: CopyBulk,
        conn: Any,
        batch: TableBatch,
        segment: Segment,
        rows: Any = None,
    ) -> None:
        if not segment.delete and rows is None:
            seen.append(segment.payload is not None)
        apply(self, conn, batch, segment, rows)

    monkeypatch.setattr(CopyBulk, "apply", spy)
    return seen


def _writer(
    postgres: PostgresServer, writers: list[SqlWriter], name: str, **keys: str
) -> SqlWriter:
    config = SqlSinkConfig.model_validate(
        {
            "connection.url": postgres.url(),
            "insert.mode": "upsert",
            "pk.mode": "record_key",
            "pk.fields": "id",
            "auto.create": "true",
            "auto.evolve": "true",
            **keys,
        }
    )
    writer = SqlSinkConnector().create_writer(config, TaskContext(name, 0, {}))
    assert isinstance(writer, SqlWriter)
    writers.append(writer)
    return writer


def _records(topic: str, values: list[Any], first: int = 0) -> list[SinkRecord]:
    out = []
    for offset, value in enumerate(values, start=first):
        key = f"k{offset}"
        message = RawMessage(topic, 0, offset, key=key.encode(), value=orjson.dumps(value))
        out.append(SinkRecord(message, key, value))
    return out


def _table(pg: PgConnection, table: str) -> list[tuple[Any, ...]]:
    return pg.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()


def test_copy_text_encoded_ahead_lands_exactly_like_rows_sent_one_by_one(
    postgres: PostgresServer,
    pg: PgConnection,
    writers: list[SqlWriter],
    payloads: list[bool],
    unique: str,
) -> None:
    """Tabs, line breaks, backslashes, a literal \\N, Unicode, NULLs, extreme integers,
    floats and nested JSON come out the same whether the COPY text was made by
    ``prepare`` or while writing."""
    ahead, inline = f"ahead_{unique}", f"inline_{unique}"
    first = _writer(postgres, writers, f"ahead-{unique}", **{"table.name.format": ahead})
    batch = _records("awkward", AWKWARD)
    first.open([TopicPartition("awkward", 0)])
    first.prepare(batch)
    assert first.write(batch) == []
    second = _writer(postgres, writers, f"inline-{unique}", **{"table.name.format": inline})
    second.open([TopicPartition("awkward", 0)])
    assert second.write(_records("awkward", AWKWARD)) == []
    assert payloads == [True, False]
    assert _table(pg, ahead) == _table(pg, inline)
    assert len(_table(pg, ahead)) == len(AWKWARD)


def test_a_prepared_batch_holding_records_already_written_writes_only_the_rest(
    postgres: PostgresServer, pg: PgConnection, writers: list[SqlWriter], unique: str
) -> None:
    """Redelivered records the offsets table covers are skipped even when the batch was
    prepared whole: the rows are rebuilt from the records not yet written."""
    table, topic = f"redo_{unique}", f"redo-{unique}"
    writer = _writer(postgres, writers, f"redo-{unique}", **{"table.name.format": table})
    writer.open([TopicPartition(topic, 0)])
    assert writer.write(_records(topic, [{"v": "first"}] * 10)) == []
    again = _records(topic, [{"v": "second"}] * 10, first=5)  # offsets 5..14
    writer.prepare(again)
    assert writer.write(again) == []
    values = dict(pg.execute(f"SELECT id, v FROM {table}").fetchall())
    assert values == {f"k{i}": "first" if i < 10 else "second" for i in range(15)}


def test_copy_text_made_before_a_column_was_dropped_is_not_sent(
    postgres: PostgresServer,
    pg: PgConnection,
    writers: list[SqlWriter],
    payloads: list[bool],
    unique: str,
) -> None:
    """With auto.evolve=false a field the table lacks refuses its records; the rows
    prepared with that column are re-planned without it, and the rest land."""
    table, topic = f"narrow_{unique}", f"narrow-{unique}"
    pg.execute(f"CREATE TABLE {table} (id text PRIMARY KEY, v text)")
    writer = _writer(
        postgres,
        writers,
        f"narrow-{unique}",
        **{"table.name.format": table, "auto.evolve": "false"},
    )
    writer.open([TopicPartition(topic, 0)])
    batch = _records(topic, [{"v": "a"}, {"v": "b", "extra": 1}, {"v": "c"}])
    writer.prepare(batch)
    failures = writer.write(batch)
    assert [f.record.kafka_offset for f in failures or []] == [1]
    assert "no column for field(s) extra" in str((failures or [])[0].error)
    assert payloads == [False]
    assert _table(pg, table) == [("k0", "a"), ("k2", "c")]
