"""The sql connector against SQLite through the real broker."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from devstack.kafka import KafkaBroker
from offramp.testing import read_dead_letters
from offramp.worker import Worker
from tests.conftest import produce, wait_for
from tests.integration.runtime_support import dead_letters_to
from tests.integration.sql.support import group_offsets, sql_config


def _query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    if not db.exists():
        return []
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # table not created yet
        return []
    finally:
        conn.close()


def test_two_tasks_upsert_delete_and_dead_letter_into_one_sqlite_file(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    tmp_path: Path,
) -> None:
    """Two tasks share one SQLite file (they take turns on its write lock): upserts keep
    the last version per key, tombstones delete, a NOT NULL violation is dead-lettered
    with SQLite's message, and the offsets table matches the committed offsets."""
    topic, dead, name = make_topic("lite", partitions=4), f"lite-dlq-{unique}", f"lite-{unique}"
    db = tmp_path / "billing.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE billing (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, cost REAL)")
    conn.close()
    rows: list[tuple[str, Any]] = [(f"c{i}", {"tenant": "acme", "cost": i}) for i in range(400)]
    rows += [(f"c{i}", {"tenant": "globex", "cost": i * 2}) for i in range(0, 400, 10)]
    rows += [(f"c{i}", None) for i in range(1, 400, 10)]
    rows.append(("c5", {"tenant": None, "cost": 5}))
    produce(
        kafka.bootstrap,
        topic,
        [None if v is None else orjson.dumps(v) for _, v in rows],
        keys=[k.encode() for k, _ in rows],
    )
    worker.create(
        name,
        sql_config(
            topic,
            f"sqlite:///{db}",
            **dead_letters_to(dead),
            **{
                "tasks.max": "2",
                "table.name.format": "billing",
                "insert.mode": "upsert",
                "pk.mode": "record_key",
                "pk.fields": "id",
                "delete.enabled": "true",
            },
        ),
    )
    [letter] = read_dead_letters(kafka.bootstrap, dead, expected=1, timeout=60)
    assert letter.key == b"c5"
    assert (
        "NOT NULL constraint failed: billing.tenant"
        in letter.headers["__connect.errors.exception.message"]
    )
    expected = {f"c{i}": ("acme", float(i)) for i in range(400) if i % 10 != 1}
    expected |= {f"c{i}": ("globex", float(i * 2)) for i in range(0, 400, 10)}

    def table() -> dict[str, tuple[str, float]]:
        return {k: (t, c) for k, t, c in _query(db, "SELECT id, tenant, cost FROM billing")}

    wait_for(lambda: table() == expected)

    def offsets_match() -> bool:
        group = group_offsets(kafka.bootstrap, f"connect-{name}", topic, 4)
        stored = dict(
            _query(
                db, f"SELECT partition, next_offset FROM offramp_offsets WHERE connector='{name}'"
            )
        )
        if group is None or sum(group) != len(rows):
            return False
        return [stored.get(p) for p in range(4)] == group

    wait_for(offsets_match, timeout=30)
