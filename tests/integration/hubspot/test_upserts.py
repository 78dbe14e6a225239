"""Records through the real broker end as upserted HubSpot objects: never duplicated,
always holding the last values."""

from __future__ import annotations

import random
from collections.abc import Callable

import orjson

from devstack.hubspot import HubSpotStub
from devstack.kafka import KafkaBroker
from offramp.worker import Worker
from tests.conftest import produce, wait_for
from tests.integration.hubspot.conftest import committed_offsets, hubspot_config

TOTAL, EMAILS, PARTITIONS = 20_000, 5_000, 4


def _calls(total: int, emails: int, seed: int) -> tuple[list[bytes], list[bytes], dict[str, int]]:
    """Values, keys (the email) and, per email, the sequence number of its last record.
    Some records spell the email in capitals, as callers do."""
    rng = random.Random(seed)
    values, keys, last = [], [], {}
    for seq in range(total):
        n = rng.randrange(emails) if seq >= emails else seq  # every email at least once
        email = f"caller{n}@example.com"
        spelled = email.upper() if rng.random() < 0.1 else email
        values.append(
            orjson.dumps(
                {"email": spelled, "seq": seq, "agent": f"agent{seq % 7}", "tenant": "acme"}
            )
        )
        keys.append(email.encode())
        last[email] = seq
    return values, keys, last


def test_20000_records_for_5000_emails_end_as_5000_contacts_with_the_last_values(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    stubs: Callable[..., HubSpotStub],
) -> None:
    """Two tasks upsert 20,000 records keyed by email: exactly 5,000 contacts exist, each
    with the values of its email's last record, and every offset is committed."""
    stub = stubs()
    topic, name = make_topic("crm", partitions=PARTITIONS), f"crm-{unique}"
    values, keys, last = _calls(TOTAL, EMAILS, seed=8)
    produce(kafka.bootstrap, topic, values, keys=keys)
    worker.create(
        name,
        hubspot_config(
            topic,
            stub,
            **{
                "tasks.max": "2",
                "batch.max.records": "2000",
                "hubspot.rate.limit.per.10s": "2000",
            },
        ),
    )
    wait_for(
        lambda: (
            sum(committed_offsets(kafka.bootstrap, f"connect-{name}", topic, PARTITIONS)) == TOTAL
        ),
        timeout=90,
    )
    contacts = {c["properties"]["email"]: c["properties"] for c in stub.objects("contacts")}
    assert len(contacts) == EMAILS
    assert {email: int(p["last_seq"]) for email, p in contacts.items()} == last
    assert all(p["last_agent"] == f"agent{int(p['last_seq']) % 7}" for p in contacts.values())
    upserts = [c for c in stub.calls if c.path.endswith("/batch/upsert")]
    assert all(c.status == 200 and c.inputs <= 100 for c in upserts)
    assert sum(c.inputs for c in upserts) < TOTAL  # records for one email were collapsed
    assert all(t.status.state == "RUNNING" for t in worker.get(name).tasks)
