"""What the http sink's tests share: the stand-ins fixture's type, a connector config
that retries for ever, and numbered events of which every 50th is refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from devstack.webhooks import HttpReceiver, SlackWebhookStub
from offramp.testing import DeadLetter, read_dead_letters
from tests.integration.runtime_support import sink_config

__all__ = ["BATCHES", "StandIns", "check_delivery", "events", "http_config", "refused_ids"]

# JSON arrays of 64 items, each with its id, refusals named by index, 4 in flight.
BATCHES = {
    "http.batch.format": "json",
    "http.batch.max.records": "64",
    "http.item.id.field": "event_id",
    "http.rejected.path": "rejected[*].index",
    "http.max.in.flight": "4",
}

StandIns = tuple[Callable[..., HttpReceiver], Callable[..., SlackWebhookStub]]


def http_config(topic: str, url: str, **extra: Any) -> dict[str, Any]:
    return sink_config(
        topic,
        "http",
        **{
            "http.url": url,
            "errors.retry.timeout": "-1",
            "errors.retry.delay.max.ms": "500",
            **extra,
        },
    )


def events(count: int) -> list[bytes]:
    """Calls 0…count-1; every 50th is one the receiver refuses (kind=bad)."""
    return [
        json.dumps({"id": n, "kind": "bad" if n % 50 == 7 else "call"}).encode()
        for n in range(count)
    ]


def refused_ids(count: int) -> set[int]:
    return {n for n in range(count) if n % 50 == 7}


def check_delivery(
    bootstrap: str, receiver: HttpReceiver, dlq: str, count: int, status: str, body_has: str
) -> list[DeadLetter]:
    """Every accepted one of ``events(count)`` kept once by the receiver (repeats
    dropped), each refused one dead-lettered once with the answer's status and body."""
    kept = sorted(item["id"] for item in receiver.kept().values())
    assert kept == sorted(set(range(count)) - refused_ids(count))
    bad = refused_ids(count)
    letters = read_dead_letters(bootstrap, dlq, expected=len(bad) + 1, timeout=3)
    assert sorted(json.loads(d.value or b"")["id"] for d in letters) == sorted(bad)
    for letter in letters:
        assert letter.headers["__offramp.errors.http.status"] == status
        assert body_has in letter.headers["__offramp.errors.http.body"]
    return letters
