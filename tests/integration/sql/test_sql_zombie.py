"""A zombie sql task (one that lost its partition but still writes) can't land stale
rows: its transaction's compare-and-set on the offsets row fails and rolls back, on
real PostgreSQL and SQLite."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from devstack.postgres import PostgresServer
from offramp import BatchWriter, RawMessage, SinkRecord, TaskContext, TopicPartition
from offramp.connectors.sql import SqlSinkConfig, SqlSinkConnector
from offramp.connectors.sql.writer import SqlWriter


@pytest.fixture(params=["postgresql", "sqlite"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'zombie.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.url()


def _writer(url: str, unique: str, task: int) -> SqlWriter:
    config = SqlSinkConfig.model_validate(
        {
            "connection.url": url,
            "insert.mode": "upsert",
            "pk.mode": "record_key",
            "pk.fields": "id",
            "auto.create": "true",
            "table.name.format": f"latest_{unique}",
        }
    )
    logger = logging.getLogger(f"offramp.sink.zombie-{unique}-{task}")
    context = TaskContext(f"zombie-{unique}", task, {}, logger)
    writer = SqlSinkConnector().create_writer(config, context)
    assert isinstance(writer, SqlWriter)
    return writer


def _records(topic: str, offsets: range) -> list[SinkRecord]:
    """One key whose ``seq`` is its offset: an older version overwriting a newer one
    would show as ``seq`` going back."""
    out = []
    for offset in offsets:
        value = {"seq": offset}
        out.append(SinkRecord(RawMessage(topic, 0, offset, b"k", orjson.dumps(value)), "k", value))
    return out


def _state(url: str, unique: str) -> tuple[list[tuple[Any, ...]], int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(f"SELECT id, seq FROM latest_{unique}")).all()
            stored = conn.execute(
                sa.text("SELECT next_offset FROM offramp_offsets WHERE connector = :c"),
                {"c": f"zombie-{unique}"},
            ).scalar_one()
        return [tuple(row) for row in rows], int(stored)
    finally:
        engine.dispose()


def test_a_zombies_stale_batch_is_rolled_back_and_only_newer_rows_land(
    url: str, unique: str, writers: list[BatchWriter], caplog: pytest.LogCaptureFixture
) -> None:
    """The task that lost its partition tries to write records the new owner already
    wrote: its transaction is refused and rolled back, ``seq`` never goes back, and
    each offset lands once."""
    topic = f"calls-{unique}"
    tp = TopicPartition(topic, 0)
    zombie = _writer(url, unique, 0)
    writers.append(zombie)
    assert zombie.open([tp]) == {}
    assert zombie.write(_records(topic, range(0, 5))) == []
    # The zombie freezes; its partition moves to a new task, which resumes at 5.
    owner = _writer(url, unique, 1)
    writers.append(owner)
    assert owner.open([tp]) == {tp: 5}
    assert owner.write(_records(topic, range(5, 10))) == []
    assert _state(url, unique) == ([("k", 9)], 10)

    # The zombie wakes with a batch it read before it froze: stale, all already written.
    with caplog.at_level(logging.WARNING):
        assert zombie.write(_records(topic, range(5, 8))) == []
    assert zombie.fenced == 1, "the zombie did not even try to commit"
    assert any("write refused" in r.getMessage() for r in caplog.records)
    assert _state(url, unique) == ([("k", 9)], 10), "a stale row landed"

    # Overlapping batches from both: each writes only what is past the stored offset.
    assert zombie.write(_records(topic, range(8, 13))) == []
    assert _state(url, unique) == ([("k", 12)], 13)
    assert owner.write(_records(topic, range(10, 15))) == []
    assert owner.fenced == 1
    assert _state(url, unique) == ([("k", 14)], 15)
    print(f"\n{url.split(':')[0]}: zombie refused {zombie.fenced}x, owner {owner.fenced}x")
