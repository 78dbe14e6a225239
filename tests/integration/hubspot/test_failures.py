"""Records HubSpot refuses land in the dead-letter topic, and only there; a refused
token or scope fails the task with the reason."""

from __future__ import annotations

import re
from collections.abc import Callable

import orjson

from devstack.hubspot import ALL_SCOPES, HubSpotStub
from devstack.kafka import KafkaBroker
from offramp.testing import read_dead_letters
from offramp.worker import Worker
from tests.conftest import produce, wait_for
from tests.integration.hubspot.conftest import committed_offsets, hubspot_config
from tests.integration.runtime_support import dead_letters_to


def test_refused_records_land_in_the_dlq_and_only_there(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    stubs: Callable[..., HubSpotStub],
) -> None:
    """Inputs failed in a 207 and inputs that make HubSpot refuse a whole batch (found by
    bisecting) are dead-lettered with HubSpot's category and message; HubSpot holds every
    other contact with its last values and none of the refused ones; all is committed."""
    stub = stubs(
        fail_when={"email": r"^reject-"},  # 207, named by objectWriteTraceId
        reject_when={"tenant": r"^poison$"},  # 400 for the whole call
    )
    topic, dlq, name = make_topic("refusals", partitions=2), f"crm-dlq-{unique}", f"bad-{unique}"
    values, keys, expected_last = [], [], {}
    bad_offsets: dict[bytes, str] = {}
    for seq in range(1200):
        email, tenant = f"caller{seq % 300}@example.com", "acme"
        if seq % 150 == 7:
            email = f"reject-{seq}@example.com"
        elif seq % 400 == 11:
            email, tenant = f"poisoned-{seq}@example.com", "poison"
        value = orjson.dumps({"email": email, "seq": seq, "agent": "kim", "tenant": tenant})
        values.append(value)
        keys.append(email.encode())
        if email.startswith(("reject-", "poisoned-")):
            bad_offsets[value] = "VALIDATION_ERROR"
        else:
            expected_last[email] = seq
    produce(kafka.bootstrap, topic, values, keys=keys)
    worker.create(name, hubspot_config(topic, stub, **dead_letters_to(dlq)))
    wait_for(lambda: sum(committed_offsets(kafka.bootstrap, f"connect-{name}", topic, 2)) == 1200)
    letters = read_dead_letters(kafka.bootstrap, dlq, expected=len(bad_offsets) + 1, timeout=5)
    assert sorted(d.value or b"" for d in letters) == sorted(bad_offsets)
    for letter in letters:
        headers = letter.headers
        assert headers["__connect.errors.stage"] == "TASK_PUT"
        assert headers["__offramp.errors.hubspot.category"] == "VALIDATION_ERROR"
        assert headers["__offramp.errors.hubspot.message"].startswith(
            "Property values were not valid"
        )
        assert headers["__offramp.errors.hubspot.stage"] == "upsert"
        assert headers["__connect.errors.connector.name"] == name
    contacts = {c["properties"]["email"]: c["properties"] for c in stub.objects()}
    assert {e: int(p["last_seq"]) for e, p in contacts.items()} == expected_last
    task = worker.get(name).tasks[0]
    assert task.metrics.records_dead_lettered == len(bad_offsets)


def test_a_refused_token_or_scope_fails_the_task_saying_which(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    stubs: Callable[..., HubSpotStub],
) -> None:
    """401 puts the task in FAILED with a trace blaming hubspot.access.token; 403 with one
    naming the missing scope; nothing is committed."""
    stub = stubs(tokens={"reader": ALL_SCOPES - {"crm.objects.contacts.write"}})
    topic = make_topic("auth")
    produce(kafka.bootstrap, topic, [orjson.dumps({"email": "a@example.com", "seq": 1})])
    bad_token, no_scope = f"token-{unique}", f"scope-{unique}"
    worker.create(bad_token, hubspot_config(topic, stub, **{"hubspot.access.token": "expired"}))
    worker.create(no_scope, hubspot_config(topic, stub, **{"hubspot.access.token": "reader"}))
    for name, reason in (
        (bad_token, r"HubSpot refused hubspot\.access\.token \(401 INVALID_AUTHENTICATION"),
        (no_scope, r"lacks the scopes this call needs \(crm\.objects\.contacts\.write\)"),
    ):
        task = worker.get(name).tasks[0]
        wait_for(lambda t=task: t.status.trace is not None)  # type: ignore[misc]
        assert task.status.state in ("FAILED", "RESTARTING")
        assert re.search(reason, task.status.trace or "")
        assert committed_offsets(kafka.bootstrap, f"connect-{name}", topic) in ([], [-1001])
    assert stub.count() == 0
