"""One sql connector over every tenant's topic: a table per tenant on PostgreSQL, each
tenant's rejects in its own dead-letter topic."""

from __future__ import annotations

import orjson

from devstack.kafka import KafkaBroker
from devstack.postgres import PostgresServer
from offramp.testing import read_dead_letters
from offramp.worker import Worker
from tests.conftest import produce, wait_for
from tests.integration.runtime_support import committed, dead_letters_to
from tests.integration.sql.support import PgConnection, scalar, sql_config
from tests.integration.tenant_support import TENANTS, regex_config, route, tenant_id, tenant_topics


def test_three_tenants_land_in_three_tables_and_reject_to_their_own_topic(
    worker: Worker, kafka: KafkaBroker, postgres: PostgresServer, pg: PgConnection, unique: str
) -> None:
    """RegexRouter turns tenant.<id>.calls into <id>_calls, table.name.format=${topic}
    and auto.create make one table per tenant; acme's poison record goes to
    dlq.tenant.<acme>.calls only, and every tenant's good rows are written and committed."""
    with tenant_topics(kafka.bootstrap, unique) as topics:
        for tenant, topic in topics.items():
            produce(
                kafka.bootstrap, topic, [orjson.dumps({"n": n, "tenant": tenant}) for n in range(5)]
            )
        produce(kafka.bootstrap, topics["acme"], [b"{not json"])
        produce(kafka.bootstrap, topics["acme"], [orjson.dumps({"n": 5, "tenant": "acme"})])
        name = f"tenants-{unique}"
        worker.create(
            name,
            regex_config(
                sql_config("unused", postgres.url()),
                unique,
                **route("$1_calls", unique),
                **dead_letters_to("dlq.${topic}"),
                **{"table.name.format": "${topic}", "auto.create": "true"},
            ),
        )
        expected = {"acme": 6, "globex": 5, "initech": 5}
        for tenant in TENANTS:
            table = f'"{tenant_id(tenant, unique)}_calls"'
            wait_for(
                lambda t=table, c=expected[tenant]: scalar(pg, f"SELECT count(*) FROM {t}") == c
            )
            tenants = pg.execute(f"SELECT DISTINCT tenant FROM {table}").fetchall()
            assert tenants == [(tenant,)]
        (letter,) = read_dead_letters(kafka.bootstrap, f"dlq.{topics['acme']}", 1)
        assert letter.value == b"{not json"
        assert letter.headers["__connect.errors.topic"] == topics["acme"]
        for tenant, topic in topics.items():
            wait_for(
                lambda t=topic, c=expected[tenant] + (tenant == "acme"): (
                    committed(kafka.bootstrap, f"connect-{name}", t) == [c]
                )
            )
