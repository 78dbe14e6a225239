"""Distributed mode with a zombie: a worker frozen (SIGSTOP) past the session timeout,
then resumed, while a sql exactly-once connector upserts into PostgreSQL."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
import pytest

from devstack.kafka import KafkaBroker
from devstack.postgres import PostgresServer
from tests.conftest import produce, wait_for
from tests.faults.support import metric_total, parse_metrics
from tests.integration.distributed.cluster import cluster, until
from tests.integration.runtime_support import sink_config

pytestmark = [pytest.mark.fault, pytest.mark.timeout(900)]

KEYS = [f"k{i}" for i in range(24)]
FREEZES = 6  # at most: stop as soon as the zombie has been refused once
REFUSED = ("write refused", "could not record committed offsets")
COUNTED = "offramp_sink_write_refused_total"


class Stream:
    """Records ``{"seq": n}`` per key, ``n`` counting up per key: the newest version of
    each key has the highest ``seq``, so a stale overwrite shows as ``seq`` going back."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.seq = dict.fromkeys(KEYS, -1)

    def send(self, rounds: int = 1) -> None:
        keys: list[bytes | None] = []
        values: list[bytes | None] = []
        for _ in range(rounds):
            for key in KEYS:
                self.seq[key] += 1
                keys.append(key.encode())
                values.append(json.dumps({"seq": self.seq[key]}).encode())
        produce(self.bootstrap, self.topic, values, keys=keys)

    def flow(self, seconds: float) -> None:
        """Keep records coming for ``seconds``, in bursts big enough that a write is
        usually in flight somewhere."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.send(rounds=40)


def _counted(url: str) -> int:
    """The worker's refused writes (``offramp_sink_write_refused_total``), all tasks."""
    text = httpx.get(f"{url}/metrics", timeout=30.0).text
    return metric_total(parse_metrics(text), COUNTED, "zombie")


def _prepare(pg: psycopg.Connection[tuple[object, ...]], table: str) -> None:
    """The upsert target, and a trigger recording every committed update that lowers a
    key's ``seq`` (a rolled-back attempt records nothing: only landed rows count)."""
    pg.execute(f"CREATE TABLE {table} (id text PRIMARY KEY, seq bigint NOT NULL)")
    pg.execute(f"CREATE TABLE {table}_regressions (id text, old_seq bigint, new_seq bigint)")
    pg.execute(
        f"CREATE FUNCTION {table}_check() RETURNS trigger AS $$ BEGIN "
        f"IF NEW.seq < OLD.seq THEN INSERT INTO {table}_regressions "
        "VALUES (OLD.id, OLD.seq, NEW.seq); END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
    )
    pg.execute(
        f"CREATE TRIGGER {table}_monotonic BEFORE UPDATE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_check()"
    )


def test_a_frozen_worker_resumed_past_the_session_timeout_lands_no_stale_row(
    kafka: KafkaBroker,
    postgres: PostgresServer,
    pg: psycopg.Connection[tuple[object, ...]],
    make_topic: Callable[..., str],
    unique: str,
    tmp_path: Path,
) -> None:
    """SIGSTOP one of three workers for 10 s (session timeout 6 s) while records flow,
    then SIGCONT it: the others carry on, the zombie tries to write and is refused by the
    offsets compare-and-set (its ``offramp_sink_write_refused_total`` counts each
    refusal), no committed update ever lowers a key's ``seq``, and every
    key ends at its last version (up to 6 freezes until the zombie is caught holding a
    batch). Prints the freezes, refusals and catch-up seconds."""
    topic = make_topic("zombie", partitions=6)
    table = f"latest_{unique}"
    _prepare(pg, table)
    stream = Stream(kafka.bootstrap, topic)
    config = sink_config(
        topic,
        "sql",
        **{
            "connection.url": postgres.url(),
            "table.name.format": table,
            "insert.mode": "upsert",
            "pk.mode": "record_key",
            "pk.fields": "id",
            "exactly.once": "true",
        },
    )

    def landed() -> dict[str, int]:
        rows = pg.execute(f"SELECT id, seq FROM {table}").fetchall()
        return {str(key): int(str(seq)) for key, seq in rows}

    with (
        cluster(tmp_path, kafka.bootstrap, unique, 3) as workers,
        httpx.Client(base_url=workers[0].url, timeout=30.0) as a,
    ):
        body = {"name": "zombie", "config": config}
        assert a.post("/connectors", json=body).status_code == 201

        def running_on() -> set[str]:
            tasks = a.get("/connectors/zombie/status").json()["tasks"]
            return {t["worker_id"] for t in tasks if t["state"] == "RUNNING"}

        wait_for(lambda: len(running_on()) == 3, timeout=60)
        stream.send(rounds=20)
        wait_for(lambda: landed() == stream.seq, timeout=60)
        zombie = workers[2]
        assert zombie.proc is not None
        freezes, catch_up = 0, []
        others = workers[:2]
        owner_refusals = 0
        while freezes < FREEZES:
            freezes += 1
            before = len(zombie.log())
            counted_before = _counted(zombie.url)
            before_others = [len(w.log()) for w in others]
            stream.flow(0.5 + 0.3 * freezes)  # freeze at a different point of the cycle
            zombie.proc.send_signal(signal.SIGSTOP)
            try:
                stream.flow(10.0)  # past the 6 s session timeout: the others take over
                catch_up.append(until(lambda: landed() == stream.seq, timeout=120))
            finally:
                zombie.proc.send_signal(signal.SIGCONT)
            stream.flow(5.0)
            catch_up.append(until(lambda: landed() == stream.seq, timeout=120))
            wait_for(lambda: len(running_on()) == 3, timeout=60)
            since = zombie.log()[before:]
            refusals = sum(since.count(text) for text in REFUSED)
            counted = _counted(zombie.url) - counted_before
            # The zombie was mid-transaction: the new owner waited on its row locks, and
            # the zombie's (still current) batch committed first, refusing the owner's.
            owned = sum(
                w.log()[b:].count(text)
                for w, b in zip(others, before_others, strict=True)
                for text in REFUSED
            )
            owner_refusals += owned
            print(
                f"freeze {freezes}: zombie refused {refusals}x ({counted} counted), "
                f"new owners refused {owned}x"
            )
            if refusals:
                break
        regressions = pg.execute(f"SELECT * FROM {table}_regressions").fetchall()
        print(f"freezes {freezes}, new owners refused {owner_refusals}x in all")
        print(f"catch-up seconds {[round(s, 2) for s in catch_up]}")
        print(f"records {sum(s + 1 for s in stream.seq.values())}, stale updates {regressions}")
        assert regressions == [], "a stale row landed"
        assert landed() == stream.seq, "a key's last version is missing"
        assert refusals, f"the zombie never tried to write in {freezes} freezes"
        # Every refused write counts; a commit-time warning may also be a lost connection.
        assert since.count(REFUSED[0]) <= counted <= refusals, "refusals the metric missed"
