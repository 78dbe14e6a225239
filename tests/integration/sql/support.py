"""Helpers shared by the ``sql`` connector's integration tests."""

from __future__ import annotations

from typing import Any

import psycopg

from tests.integration.runtime_support import committed, sink_config

PgConnection = psycopg.Connection[tuple[Any, ...]]


def sql_config(topic: str, url: str, **extra: Any) -> dict[str, Any]:
    """A schemaless-JSON ``sql`` connector config for ``topic`` writing to ``url``."""
    return sink_config(topic, "sql", **{"connection.url": url, **extra})


def scalar(conn: PgConnection, sql: str, *params: Any) -> Any:
    """The first column of the first row (None when there is no row or no table)."""
    try:
        row = conn.execute(sql, params or None).fetchone()
    except psycopg.errors.UndefinedTable:
        return None
    return row[0] if row else None


def column_types(conn: PgConnection, table: str) -> dict[str, tuple[str, str]]:
    """Each column of ``table``: (data type, is nullable "YES"/"NO")."""
    rows = conn.execute(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_name = %s",
        (table,),
    ).fetchall()
    return {name: (kind, nullable) for name, kind, nullable in rows}


def stored_offsets(conn: PgConnection, connector: str) -> dict[tuple[str, int], int]:
    """The exactly-once offsets table's rows for ``connector``."""
    try:
        rows = conn.execute(
            "SELECT topic, partition, next_offset FROM offramp_offsets WHERE connector = %s",
            (connector,),
        ).fetchall()
    except psycopg.errors.UndefinedTable:
        return {}
    return {(topic, partition): offset for topic, partition, offset in rows}


def group_offsets(bootstrap: str, group: str, topic: str, partitions: int = 1) -> list[int] | None:
    """The group's committed offsets, or None while the broker can't say yet (a fresh
    broker answers NOT_COORDINATOR for a moment): for polling with ``wait_for``."""
    from confluent_kafka import KafkaException

    try:
        return committed(bootstrap, group, topic, partitions)
    except KafkaException:
        return None


def offsets_agree(
    bootstrap: str,
    connector: str,
    topic: str,
    partitions: int,
    stored: dict[tuple[str, int], int],
    total: int,
) -> bool:
    """The connector's group has committed ``total`` records in all, and ``stored`` (its
    offsets table's rows) holds the same offset for every partition."""
    group = group_offsets(bootstrap, f"connect-{connector}", topic, partitions)
    if group is None or sum(group) != total:
        return False
    return [stored.get((topic, p)) for p in range(partitions)] == group
