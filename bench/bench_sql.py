"""Rows/s into PostgreSQL through offramp's ``sql`` sink vs raw psycopg COPY + upsert.

Same broker, same PostgreSQL server, same rows, same run. The rows are billing rows
from ``call.completed`` CloudEvents (devstack.generator, binary mode, keyed by call id):
call_id (primary key), tenant, agent, duration_s, cost_usd, currency, ended_at.

- offramp: the rows are produced to a topic first, then a connector drains it (upsert
  by record key, exactly-once offsets table, COPY path). ``--format json`` (default)
  produces each row as a flat JSON object; ``--format cloudevents`` produces the
  original CloudEvents and maps ``data.*`` to columns with ``fields.mapping``. Timed
  from the first committed batch to the last, so the consumer group join doesn't
  count.
- raw: the same rows, already as Python tuples, written the fastest way psycopg
  knows: per batch ``COPY`` into a temporary table then ``INSERT … ON CONFLICT``, one
  transaction each, same batch size. No Kafka, no conversion, no offsets.

    .venv/bin/python bench/bench_sql.py [--records 200000] [--runs 3] [--batch 5000]
        [--tasks 1] [--partitions 6] [--format json|cloudevents]
        [--method auto|copy|executemany]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import psycopg
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devstack.generator import CALL_COMPLETED, Event, call_events
from devstack.kafka import KafkaBroker, produce_waiting
from devstack.postgres import PostgresServer
from offramp.config import load_worker_config
from offramp.registry import PluginRegistry
from offramp.worker import Worker

COMPRESSION = "zstd"  # as the voice platform produces
COLUMNS = ("call_id", "tenant", "agent", "duration_s", "cost_usd", "currency", "ended_at")
MAPPING = (
    "data.tenant,data.agent,data.duration_s,data.billing.cost_usd:cost_usd,"
    "data.billing.currency:currency,data.ended_at"
)
DDL = """CREATE TABLE {table} (
    call_id text PRIMARY KEY, tenant text, agent text, duration_s bigint,
    cost_usd double precision, currency text, ended_at timestamptz)"""


def billing_events(count: int) -> list[Event]:
    """``count`` distinct call.completed events (the generator's call.started skipped)."""
    events: list[Event] = []
    for event in call_events(count * 2, seed=7):
        if event.ce_type == CALL_COMPLETED:
            events.append(event)
            if len(events) == count:
                break
    return events


def row_of(event: Event) -> tuple[Any, ...]:
    d: dict[str, Any] = event.data
    return (
        d["call_id"],
        d["tenant"],
        d["agent"],
        d["duration_s"],
        d["billing"]["cost_usd"],
        d["billing"]["currency"],
        d["ended_at"],
    )


def produce(bootstrap: str, topic: str, events: list[Event], form: str) -> None:
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 20, "compression.type": COMPRESSION}
    )
    for event in events:
        if form == "json":
            value, headers = orjson.dumps(dict(zip(COLUMNS, row_of(event), strict=True))), None
        else:
            value, headers = event.value, event.headers
        produce_waiting(producer, topic, value, key=event.key, headers=headers)
    if producer.flush(120):
        raise RuntimeError("not every event was acknowledged")


def raw_copy_upsert(
    pg: PostgresServer, table: str, rows: list[tuple[Any, ...]], batch: int
) -> float:
    cols = ", ".join(COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])
    with psycopg.connect(pg.conninfo()) as conn:
        conn.execute(DDL.format(table=table))
        conn.execute(
            f"CREATE TEMP TABLE stage ON COMMIT DELETE ROWS AS SELECT * FROM {table} WITH NO DATA"
        )
        conn.commit()
        began = time.perf_counter()
        for start in range(0, len(rows), batch):
            with conn.transaction():
                with conn.cursor().copy(f"COPY stage ({cols}) FROM STDIN") as copy:
                    for row in rows[start : start + batch]:
                        copy.write_row(row)
                conn.execute(
                    f"INSERT INTO {table} ({cols}) SELECT {cols} FROM stage "
                    f"ON CONFLICT (call_id) DO UPDATE SET {updates}"
                )
        elapsed = time.perf_counter() - began
    return len(rows) / elapsed


def _stored_total(conn: psycopg.Connection[Any], name: str) -> int:
    """Rows the connector has committed: the sum of its stored next offsets."""
    try:
        done = conn.execute(
            "SELECT coalesce(sum(next_offset), 0) FROM offramp_offsets WHERE connector = %s",
            (name,),
        ).fetchone()
    except psycopg.errors.UndefinedTable:
        return 0  # the first task hasn't created it yet
    return int(done[0]) if done else 0


def offramp_path(
    pg: PostgresServer, bootstrap: str, topic: str, table: str, count: int, args: argparse.Namespace
) -> float:
    with psycopg.connect(pg.conninfo()) as conn:
        conn.execute(DDL.format(table=table))
    name = f"bench-{table}"
    worker = Worker(
        load_worker_config(
            {"bootstrap.servers": bootstrap, "offset.flush.interval.ms": 5000, "rest.port": 0},
            environ={},
        ),
        PluginRegistry(),
    )
    worker.start()
    try:
        worker.create(
            name,
            {
                "connector.class": "sql",
                "topics": topic,
                "tasks.max": str(args.tasks),
                "key.converter": "string",
                "batch.max.records": str(args.batch),
                "batch.max.age.ms": "100",
                "connection.url": pg.url(),
                "table.name.format": table,
                "insert.mode": "upsert",
                "pk.mode": "record_key",
                "pk.fields": "call_id",
                "bulk.method": args.method,
                **(
                    {"value.converter": "json", "value.converter.schemas.enable": "false"}
                    if args.format == "json"
                    else {"value.converter": "cloudevents", "fields.mapping": MAPPING}
                ),
            },
        )
        first: tuple[float, int] | None = None
        deadline = time.monotonic() + 600
        with psycopg.connect(pg.conninfo(), autocommit=True) as conn:
            while time.monotonic() < deadline:
                written = _stored_total(conn, name)
                now = time.perf_counter()
                if written and first is None:
                    first = (now, written)
                if written >= count:
                    break
                time.sleep(0.02)
            else:
                raise TimeoutError("offramp did not write every row within 600 s")
            rows = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            assert rows and rows[0] == count, f"expected {count} rows, found {rows}"
    finally:
        worker.shutdown()
    assert first is not None
    return (count - first[1]) / (now - first[0])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=5000, help="rows per transaction")
    parser.add_argument("--tasks", type=int, default=1, help="tasks.max of the connector")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--method", default="auto", choices=["auto", "copy", "executemany"])
    parser.add_argument("--format", default="json", choices=["json", "cloudevents"])
    args = parser.parse_args()
    events = billing_events(args.records)
    rows = [row_of(e) for e in events]
    ratios: list[float] = []
    with KafkaBroker(heap="1g") as broker, PostgresServer() as pg:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        for run in range(args.runs):
            topic = f"billing-{run}"
            admin.create_topics([NewTopic(topic, args.partitions, 1)])[topic].result(30)
            produce(broker.bootstrap, topic, events, args.format)
            raw = raw_copy_upsert(pg, f"raw_{run}", rows, args.batch)
            ours = offramp_path(pg, broker.bootstrap, topic, f"offramp_{run}", len(rows), args)
            ratios.append(ours / raw)
            print(
                f"run {run + 1}: raw psycopg COPY+upsert {raw:>9,.0f} rows/s  "
                f"offramp {ours:>9,.0f} rows/s  ratio {ours / raw:.2f}",
                flush=True,
            )
    print(
        f"median ratio offramp/raw: {statistics.median(ratios):.2f}  "
        f"(runs: {', '.join(f'{r:.2f}' for r in ratios)}; {args.records} rows, "
        f"{args.format} records, batch {args.batch}, tasks.max {args.tasks}, "
        f"bulk.method {args.method})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
